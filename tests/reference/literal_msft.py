"""The paper's multi-slice Fourier transform (MSFT), taken literally from docs/conventions.md
(numpy only).

Discretisation (SPEC "Forward model", reference grid):

* 192³ voxels over a 318.75 nm box, h = 318.75/192 nm; voxel (iz, iy, ix) has its centre at
  ((ix−96)h, (iy−96)h, (iz−96)h); arrays are indexed [z, y, x] (x fastest).
* The icosahedron is the intersection of the 20 half-spaces of the convex hull of its (actively
  rotated) vertices; a voxel is inside (ρ = 1) when its centre is (point sampling; a centre
  exactly on a face counts as inside).
* Absorption: ρ_eff = ρ exp(−d/ℓ). **Choice made here**: d is the path length inside the particle
  from the entrance to the voxel *centre*, d = h·(cumsum_z ρ − ρ/2) (the voxel's own half-length
  included, the slices before it in full). For fractional densities this is the integral of ρ
  along z up to the voxel centre. With ``refractive_index = n`` the factor is instead
  exp(i k (n−1) d) (refraction + absorption through the complex index, e^{i(kz−ωt)} convention,
  Im n > 0 absorbs).
* Each z-slice is zero-padded to 512×512 and transformed with a 2D FFT. numpy's FFT computes
  Σ_m s_m e^{−2πi mn/512}, i.e. the e^{−iq·r} sign of SPEC at k_⊥ = nΔk, Δk = 2π/(512h); the
  slice is placed so that voxel index 96 sits at FFT index 0 (a circular shift by −96), which
  puts the coordinate origin on the voxel centre (96, 96).
* Detector pixel (row i, col j) is FFT frequency (k_y, k_x) index ((i−64), (j−64)) mod 512. The
  slices are summed with e^{−i q_z(pixel) z_slice}, q_z = k_z − k, z_slice = (iz−96)h, and the
  sum is multiplied by h³, so that A = Σ ρ_eff e^{−iq·r} h³ is in nm³. Pixels with
  k_x²+k_y² ≥ k² are 0.

``msft_amplitude`` is the same construction for any density/voxel size, with the transverse
transform done either by the zero-padded FFT (``method="fft"``, only possible when 2π/(n_fft·h)
divides Δk) or by an explicit DFT matrix product at the detector's k_⊥ (``method="dft"``, any h).
Both are the same sum; the tests check they agree.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft

from . import spec


def reference_axis(n: int = spec.N_VOXELS, voxel_nm: float = spec.VOXEL_NM) -> np.ndarray:
    """Voxel-centre coordinates (i − n/2)·h, i = 0..n−1."""
    return (np.arange(n) - n // 2) * voxel_nm


def voxelise_convex(vertices: np.ndarray, n: int = spec.N_VOXELS, voxel_nm: float = spec.VOXEL_NM,
                    dtype=np.float64) -> np.ndarray:
    """Binary density [z, y, x] of the convex hull of ``vertices``, sampled at voxel centres."""
    from scipy.spatial import ConvexHull

    eqs = ConvexHull(vertices).equations  # n·r + b ≤ 0 inside
    ax = reference_axis(n, voxel_nm)
    z, y, x = ax[:, None, None], ax[None, :, None], ax[None, None, :]
    worst = np.full((n, n, n), -np.inf)
    for nx, ny, nz, b in eqs:
        np.maximum(worst, (nz * z + ny * y) + (nx * x + b), out=worst)
    tol = 1e-9 * voxel_nm
    return (worst <= tol).astype(dtype)


def icosahedron_density(radius_nm: float, quaternion, n: int = spec.N_VOXELS,
                        voxel_nm: float = spec.VOXEL_NM) -> np.ndarray:
    verts, _ = spec.icosahedron(radius_nm, quaternion)
    return voxelise_convex(verts, n, voxel_nm)


def sphere_density(radius_nm: float, n: int, voxel_nm: float, supersample: int = 8,
                   centre=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Fractional occupancy [z, y, x] of a sphere: the mean of supersample³ sub-samples per
    voxel (only for voxels that the surface can cut; the rest are exactly 0 or 1)."""
    ax = reference_axis(n, voxel_nm)
    cz, cy, cx = centre
    r = np.sqrt((ax[:, None, None] - cz) ** 2 + (ax[None, :, None] - cy) ** 2
                + (ax[None, None, :] - cx) ** 2)
    rho = (r < radius_nm).astype(np.float64)
    band = np.abs(r - radius_nm) <= 0.5 * math.sqrt(3.0) * voxel_nm + 1e-12
    iz, iy, ix = np.nonzero(band)
    sub = ((np.arange(supersample) + 0.5) / supersample - 0.5) * voxel_nm
    oz, oy, ox = np.meshgrid(sub, sub, sub, indexing="ij")
    offs = np.stack([oz.ravel(), oy.ravel(), ox.ravel()], axis=1)  # (s³, 3)
    centres = np.stack([ax[iz] - cz, ax[iy] - cy, ax[ix] - cx], axis=1)
    frac = np.empty(len(iz))
    chunk = max(1, 2_000_000 // len(offs))
    for s in range(0, len(iz), chunk):
        p = centres[s:s + chunk, None, :] + offs[None, :, :]
        frac[s:s + chunk] = (np.einsum("ijk,ijk->ij", p, p) < radius_nm**2).mean(axis=1)
    rho[iz, iy, ix] = frac
    return rho


def effective_density(density: np.ndarray, voxel_nm: float, attenuation_length_nm: float = 12.5,
                      refractive_index: complex | None = None) -> np.ndarray:
    """ρ_eff [z, y, x]: ρ·exp(−d/ℓ) (or ρ·exp(i k (n−1) d)), d = h (cumsum_z ρ − ρ/2)."""
    rho = np.asarray(density, dtype=np.float64)
    d = voxel_nm * (np.cumsum(rho, axis=0) - 0.5 * rho)
    gamma = spec.attenuation_coefficient(attenuation_length_nm, refractive_index)
    if gamma == 0:
        return rho
    return rho * np.exp(-gamma * d)


def msft_amplitude(density: np.ndarray, voxel_nm: float = spec.VOXEL_NM, *,
                   attenuation_length_nm: float = spec.ATTENUATION_LENGTH_NM,
                   refractive_index: complex | None = None, method: str = "fft",
                   fft_size: int = spec.FFT_SIZE, complex64: bool = False,
                   det: spec.Detector | None = None, chunk: int = 16,
                   voxel_shape: str = "point") -> np.ndarray:
    """MSFT far field A (nm³) on the SPEC detector of a density [z, y, x] (cubic grid, voxel
    centres at (i − n/2)·voxel_nm).

    method="fft": zero-padded 2D FFT of size ``fft_size`` per slice (the paper's construction;
    requires Δk·fft_size·h = 2π·integer). method="dft": explicit DFT at the detector's k_⊥.
    voxel_shape="point": A = h³ Σ ρ_eff e^{−iq·r} (the paper); "box": each voxel a uniform cube,
    i.e. the point sum times Π_i sinc(q_i h/2) (absorption factor still taken at the centre).
    """
    det = det or spec.detector()
    rho = np.asarray(density)
    nz, ny, nx = rho.shape
    assert nz == ny == nx, "cubic grids only"
    n = nz
    ctype = np.complex64 if complex64 else np.complex128
    eff = effective_density(rho, voxel_nm, attenuation_length_nm, refractive_index)
    occupied = np.nonzero(np.any(eff != 0, axis=(1, 2)))[0]
    z_ax = reference_axis(n, voxel_nm)
    npix = det.kx.shape[0]
    qz = (det.kz - spec.K).astype(np.float64)  # (N, N)
    acc = np.zeros((npix, npix), dtype=np.complex128)
    centre = n // 2

    if method == "fft":
        ratio = spec.DK * fft_size * voxel_nm / (2.0 * math.pi)
        step = int(round(ratio))
        assert abs(ratio - step) < 1e-9 and step >= 1, "FFT grid does not contain the detector k"
        assert fft_size >= n
        freq = (((np.arange(npix) - npix // 2) * step) % fft_size)
        for s in range(0, len(occupied), chunk):
            zs = occupied[s:s + chunk]
            padded = np.zeros((len(zs), fft_size, fft_size), dtype=ctype)
            padded[:, :n, :n] = eff[zs]
            # voxel index `centre` → FFT index 0: coordinate origin on that voxel's centre
            padded = np.roll(padded, shift=(-centre, -centre), axis=(1, 2))
            spectra = scipy.fft.fft2(padded, axes=(1, 2), workers=-1)
            sub = spectra[:, freq[:, None], freq[None, :]]  # [slice, row i ↔ k_y, col j ↔ k_x]
            phase = np.exp(-1j * qz[None, :, :] * z_ax[zs][:, None, None])
            acc += np.sum(sub * phase, axis=0)
    elif method == "dft":
        x_ax = reference_axis(n, voxel_nm)
        k_line = (np.arange(npix) - npix // 2) * spec.DK
        e = np.exp(-1j * np.outer(k_line, x_ax)).astype(ctype)  # (N, n): e^{−i k x}
        for s in range(0, len(occupied), chunk):
            zs = occupied[s:s + chunk]
            sl = eff[zs].astype(ctype)
            sub = np.einsum("iy,syx,jx->sij", e, sl, e, optimize=True)
            phase = np.exp(-1j * qz[None, :, :] * z_ax[zs][:, None, None])
            acc += np.sum(sub * phase, axis=0)
    else:
        raise ValueError(method)
    acc *= voxel_nm**3
    if voxel_shape == "box":
        qv = np.stack([det.kx, det.ky, qz], axis=-1)
        acc *= np.prod(np.sinc(qv * voxel_nm / (2.0 * math.pi)), axis=-1)
    elif voxel_shape != "point":
        raise ValueError(voxel_shape)
    acc[~det.illuminated] = 0.0
    return acc.astype(ctype)


def literal_msft_amplitude(radius_nm: float | None, quaternion=(1.0, 0.0, 0.0, 0.0),
                           attenuation_length_nm: float = spec.ATTENUATION_LENGTH_NM,
                           density: np.ndarray | None = None, complex64: bool = False,
                           refractive_index: complex | None = None) -> np.ndarray:
    """The paper's MSFT on the reference 192³ grid: complex (128, 128) A in nm³.

    Either an icosahedron (radius_nm, quaternion: scalar-first, active) or ``density`` [z, y, x]
    on the 192³ reference grid. attenuation_length_nm=inf gives the Born limit.
    """
    if density is None:
        density = icosahedron_density(radius_nm, quaternion)
    density = np.asarray(density)
    assert density.shape == (spec.N_VOXELS,) * 3
    return msft_amplitude(density, spec.VOXEL_NM, attenuation_length_nm=attenuation_length_nm,
                          refractive_index=refractive_index, method="fft", complex64=complex64)


def spec_image(amplitude: np.ndarray) -> np.ndarray:
    """float32 SPEC image: log(|A|²/h⁶ + 100), min–max scaled to [0, 1] per image."""
    return spec.spec_image(amplitude)
