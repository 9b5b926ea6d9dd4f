"""Slice-wise MSFT of an arbitrary voxel density, evaluated only at the detector pixels.

Density values are samples at voxel centres, as in the paper's MSFT: A = h³ Σ ρ_eff e^{−iq·r}.
The field reaching a voxel has been attenuated by the material in front of it (path length to
the voxel centre, d = h·(Σ_{in front} ρ + ρ/2)). Every z-slice is Fourier transformed only at the
detector's transverse wave vectors — two small matrix products instead of a zero-padded 2D FFT,
with identical values at those pixels — then phased by e^{−i q_z z} and summed. So on SPEC's
reference grid (192³ voxels of 318.75/192 nm) this *is* the paper's literal MSFT; it converges
to SPEC's A(q) as the voxels shrink. For icosahedra prefer the exact
:mod:`~wideshot.physics.polyhedron_msft`.
"""
from __future__ import annotations

import numpy as np
import torch

from wideshot.physics.detector import KGridDetector


def validate_density(density) -> np.ndarray:
    """Density as a float array (B, z, y, x); ``ValueError`` naming the problem otherwise."""
    if isinstance(density, torch.Tensor):
        density = density.detach().cpu().numpy()
    density = np.asarray(density)
    if density.ndim == 3:
        density = density[None]
    if density.ndim != 4:
        raise ValueError(f"density must be 3-D (z, y, x) or 4-D (B, z, y, x), got shape {density.shape}")
    if density.size == 0:
        raise ValueError("density is empty")
    if not np.issubdtype(density.dtype, np.number) or np.iscomplexobj(density):
        raise ValueError(f"density must be real-valued, got dtype {density.dtype}")
    if not np.all(np.isfinite(density)):
        raise ValueError("density contains non-finite values")
    return np.ascontiguousarray(density, dtype=np.float64)


def density_amplitude(density: torch.Tensor, voxel_nm: float, detector: KGridDetector,
                      attenuation: complex, real_dtype: torch.dtype) -> torch.Tensor:
    """Far-field amplitude (N, N) in nm³ of one density (z, y, x) on a k-grid detector."""
    complex_dtype = torch.complex128 if real_dtype == torch.float64 else torch.complex64
    device = density.device
    density = density.to(real_dtype)
    shape = density.shape
    # Crop to the occupied box; coordinates keep the (i − n/2)·h convention of the full grid.
    occupied = torch.nonzero(density)
    if len(occupied) == 0:
        return torch.zeros(detector.shape, dtype=complex_dtype, device=device)
    low = occupied.amin(dim=0)
    high = occupied.amax(dim=0) + 1
    density = density[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    coords = [(torch.arange(lo, hi, device=device, dtype=real_dtype) - n // 2) * voxel_nm
              for lo, hi, n in zip(low.tolist(), high.tolist(), shape)]
    z_nm, y_nm, x_nm = coords

    # Field at each voxel centre: attenuated by the path through the voxels in front of it.
    path_nm = voxel_nm * (torch.cumsum(density, dim=0) - density / 2)
    gamma = torch.tensor(attenuation, dtype=complex_dtype, device=device)
    effective = density.to(complex_dtype) * torch.exp(-gamma * path_nm.to(complex_dtype))

    k_axis = torch.as_tensor(detector.k_axis, dtype=real_dtype, device=device)
    q = torch.as_tensor(detector.q, dtype=real_dtype, device=device)          # (N, N, 3)
    illuminated = torch.as_tensor(detector.illuminated, device=device)
    dft_x = torch.exp(-1j * torch.outer(k_axis, x_nm).to(complex_dtype))      # (N, nx)
    dft_y = torch.exp(-1j * torch.outer(k_axis, y_nm).to(complex_dtype))      # (N, ny)
    slices = dft_y @ effective @ dft_x.T                                     # (nz, N, N)
    phase = torch.exp(-1j * (q[None, ..., 2] * z_nm[:, None, None]).to(complex_dtype))
    amplitude = (slices * phase).sum(dim=0) * voxel_nm**3
    return torch.where(illuminated, amplitude, torch.zeros_like(amplitude))
