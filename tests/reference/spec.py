"""The conventions (docs/conventions.md), re-derived independently of ``wideshot`` (numpy only).

All lengths in nm, wave vectors in nm^-1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Wavelength λ (nm) and wave number k = 2π/λ (nm⁻¹).
WAVELENGTH_NM = 13.5
K = 2.0 * math.pi / WAVELENGTH_NM
#: Reference grid of the paper: 192 voxels over 318.75 nm, slices zero-padded to 512.
N_VOXELS = 192
BOX_NM = 318.75
VOXEL_NM = BOX_NM / N_VOXELS  # h = 1.66015625 nm
FFT_SIZE = 512
#: Detector: N×N pixels, Δk = 2π/(512 h).
N_PIXELS = 128
DK = 2.0 * math.pi / (FFT_SIZE * VOXEL_NM)  # 0.0073920 nm⁻¹
#: Reference voxel volume v₀ (nm³) and the floor of the log image.
V0 = VOXEL_NM**3
FLOOR = 100.0
#: Attenuation length ℓ of the paper's absorption-only MSFT (nm).
ATTENUATION_LENGTH_NM = 12.5
#: Bulk silver at 91.8 eV, n = 1 − δ + iβ.
SILVER_INDEX = 1.0 - 0.110 + 0.079j
PHI = (1.0 + math.sqrt(5.0)) / 2.0


@dataclass(frozen=True)
class Detector:
    """The default detector of SPEC: pixel (row i, col j) ↔ k_⊥ = ((j−N/2)Δk, (i−N/2)Δk)."""

    kx: np.ndarray  # (N, N)
    ky: np.ndarray  # (N, N)
    kz: np.ndarray  # (N, N), 0 where not illuminated
    q: np.ndarray  # (N, N, 3), 0 where not illuminated
    illuminated: np.ndarray  # (N, N) bool: k_x² + k_y² < k²

    @property
    def cos_theta(self) -> np.ndarray:
        """cos of the scattering angle, k_z/k (0 where not illuminated)."""
        return self.kz / K


def attenuation_coefficient(attenuation_length_nm: float = 12.5,
                            refractive_index: complex | None = None, k: float = K) -> complex:
    """γ (nm⁻¹) in ρ_eff = ρ·e^{−γ d}: −i k (n − 1) for a complex index, else 1/ℓ (0 for ℓ = ∞)."""
    if refractive_index is not None:
        return -1j * k * (complex(refractive_index) - 1.0)
    return 0.0 if math.isinf(attenuation_length_nm) else 1.0 / attenuation_length_nm


def detector(n: int = N_PIXELS, dk: float = DK, k: float = K) -> Detector:
    idx = np.arange(n) - n // 2
    kx = np.broadcast_to(idx[None, :] * dk, (n, n)).astype(np.float64)
    ky = np.broadcast_to(idx[:, None] * dk, (n, n)).astype(np.float64)
    kperp2 = kx**2 + ky**2
    illuminated = kperp2 < k**2
    kz = np.where(illuminated, np.sqrt(np.clip(k**2 - kperp2, 0.0, None)), 0.0)
    q = np.stack([kx, ky, kz - k], axis=-1)
    q[~illuminated] = 0.0
    return Detector(kx=kx.copy(), ky=ky.copy(), kz=kz, q=q, illuminated=illuminated)


def quaternion_to_matrix(quaternion) -> np.ndarray:
    """Active rotation matrix of a scalar-first quaternion (w, x, y, z): p_lab = R p_ref.

    The quaternion is normalised first. Written out from v' = q v q*.
    """
    w, x, y, z = np.asarray(quaternion, dtype=np.float64) / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def icosahedron_reference_vertices(radius_nm: float) -> np.ndarray:
    """SPEC's 12 vertices: R/√(1+φ²) × cyclic permutations of (0, ±1, ±φ)."""
    base = []
    for s1 in (-1.0, 1.0):
        for s2 in (-1.0, 1.0):
            v = (0.0, s1, s2 * PHI)
            base += [v, (v[2], v[0], v[1]), (v[1], v[2], v[0])]
    return np.asarray(base) * (radius_nm / math.sqrt(1.0 + PHI**2))


def oriented_hull_faces(vertices: np.ndarray) -> list[list[int]]:
    """Faces of the convex hull of ``vertices``, each ordered counter-clockwise seen from outside.

    Coplanar hull triangles are merged (so a cube gets 6 squares, an icosahedron 20 triangles).
    """
    from scipy.spatial import ConvexHull

    hull = ConvexHull(vertices)
    centre = vertices.mean(axis=0)
    faces: list[list[int]] = []
    seen: list[np.ndarray] = []
    for eq in hull.equations:
        n, off = eq[:3], eq[3]
        if any(np.allclose(eq, s, atol=1e-9 * (1 + abs(off))) for s in seen):
            continue
        seen.append(eq)
        on = np.where(np.abs(vertices @ n + off) < 1e-9 * max(1.0, np.abs(vertices).max()))[0]
        c = vertices[on].mean(axis=0)
        # in-plane basis, then sort by angle → counter-clockwise around +n
        e1 = vertices[on[0]] - c
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        ang = np.arctan2((vertices[on] - c) @ e2, (vertices[on] - c) @ e1)
        ordered = [int(i) for i in on[np.argsort(ang)]]
        assert (c - centre) @ n > 0  # scipy's hull normals point outward
        faces.append(ordered)
    return faces


def icosahedron(radius_nm: float, quaternion=(1.0, 0.0, 0.0, 0.0)):
    """Vertices (12, 3) in the laboratory and faces (20 × 3 indices, ccw from outside)."""
    verts = icosahedron_reference_vertices(radius_nm) @ quaternion_to_matrix(quaternion).T
    return verts, oriented_hull_faces(verts)


def icosahedron_volume(radius_nm: float) -> float:
    """(5/12)(3+√5) a³ with edge a = R / sin(2π/5)."""
    a = radius_nm / math.sin(2.0 * math.pi / 5.0)
    return 5.0 / 12.0 * (3.0 + math.sqrt(5.0)) * a**3


def spec_image(amplitude: np.ndarray, v0: float = V0, floor: float = FLOOR) -> np.ndarray:
    """SPEC image of amplitude(s) A (nm³), (..., N, N): log(|A|²/v₀² + 100), min–max scaled
    per image (float32)."""
    a = np.asarray(amplitude)
    f = np.log(np.abs(a) ** 2 / v0**2 + floor)
    lo = f.min(axis=(-2, -1), keepdims=True)
    hi = f.max(axis=(-2, -1), keepdims=True)
    return ((f - lo) / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)


def random_quaternions(n: int, seed: int) -> np.ndarray:
    """Uniform random unit quaternions (normalised Gaussians), w ≥ 0."""
    q = np.random.default_rng(seed).normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.sign(q[:, :1] + (q[:, :1] == 0))
