"""The conventions (docs/conventions.md) in one place: wavelength, detector grid, image scaling,
ranges.

Every other module takes its constants from here, so that there is one source of truth for
each number (STYLE.md). All lengths are in nm, wave numbers in nm⁻¹.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SimulationConfig:
    """Physics and detector configuration of docs/conventions.md (defaults = the paper's setup).

    Attributes
    ----------
    wavelength_nm : float
        Photon wavelength λ (13.5 nm, FLASH).
    attenuation_length_nm : float
        Attenuation length ℓ of the exciting field in the absorption-only MSFT (12.5 nm).
    grid_size : int
        Detector pixels per side N (128).
    reference_box_nm : float
        Edge of the paper's reference simulation box (318.75 nm).
    reference_voxels : int
        Voxels per side of the paper's reference grid (192).
    fft_size : int
        Zero-padded FFT size of the paper's reference MSFT (512); fixes the pixel pitch Δk.
    intensity_floor : float
        Offset added to the intensity (grid units) before the logarithm (100).
    """

    wavelength_nm: float = 13.5
    attenuation_length_nm: float = 12.5
    grid_size: int = 128
    reference_box_nm: float = 318.75
    reference_voxels: int = 192
    fft_size: int = 512
    intensity_floor: float = 100.0

    @property
    def wavenumber(self) -> float:
        """k = 2π/λ in nm⁻¹."""
        return 2.0 * math.pi / self.wavelength_nm

    @property
    def reference_voxel_nm(self) -> float:
        """Edge of one reference voxel, 318.75/192 nm."""
        return self.reference_box_nm / self.reference_voxels

    @property
    def reference_voxel_volume_nm3(self) -> float:
        """v₀, the volume that normalises intensities to grid units (nm³)."""
        return self.reference_voxel_nm**3

    @property
    def pixel_dk(self) -> float:
        """Δk = 2π / (fft_size · voxel) in nm⁻¹ (0.0073920 for the defaults)."""
        return 2.0 * math.pi / (self.fft_size * self.reference_voxel_nm)

    def as_dict(self) -> dict:
        """Plain dict of the configuration (for HDF5 attributes, model cards)."""
        return asdict(self)


DEFAULT_CONFIG = SimulationConfig()

#: Training range of the circumradius R (nm), SPEC "Particle".
RADIUS_RANGE_NM: tuple[float, float] = (30.0, 160.0)

#: Golden ratio φ, which fixes the icosahedron's reference vertices.
GOLDEN_RATIO: float = (1.0 + math.sqrt(5.0)) / 2.0
