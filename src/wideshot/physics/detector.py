"""Detectors: where the scattered wave is sampled, as outgoing wave vectors.

A detector is anything with a ``k_perp`` array (H, W, 2) of transverse outgoing wave vectors
(nm⁻¹): the forward model only needs the momentum transfer q of every pixel, which follows
from k_perp and the wavelength (Ewald sphere). Two detectors are provided:

* :class:`KGridDetector` — SPEC's default 128×128 grid, uniform in k_perp (Δk = 0.0073920 nm⁻¹).
* :class:`FlatDetector` — a flat pixel array at a distance behind the particle, as in a real
  experiment, with :meth:`FlatDetector.resample_to` to bring its images onto the default grid.

Both give the solid angle of each pixel seen from the particle (``solid_angle_sr``, sr): the
photons a pixel collects are |A|²·Ω times the incident fluence (:mod:`~wideshot.physics.counts`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import map_coordinates

from wideshot.config import DEFAULT_CONFIG, SimulationConfig


def momentum_transfer(k_perp: np.ndarray, wavenumber: float) -> tuple[np.ndarray, np.ndarray]:
    """Momentum transfer q = k_out − k_in on the Ewald sphere.

    Parameters
    ----------
    k_perp : ndarray (..., 2)
        Transverse outgoing wave vector (k_x, k_y) in nm⁻¹.
    wavenumber : float
        k = 2π/λ in nm⁻¹; the incident wave is k_in = (0, 0, k).

    Returns
    -------
    q : ndarray (..., 3)
        (k_x, k_y, k_z − k) in nm⁻¹; zero where no field arrives.
    illuminated : ndarray (...) bool
        True where k_x² + k_y² < k² (the pixel receives a propagating wave).
    """
    k_perp = np.asarray(k_perp, dtype=np.float64)
    k_perp_sq = np.sum(k_perp**2, axis=-1)
    illuminated = k_perp_sq < wavenumber**2
    k_z = np.sqrt(np.where(illuminated, wavenumber**2 - k_perp_sq, wavenumber**2))
    q = np.concatenate([k_perp, (k_z - wavenumber)[..., None]], axis=-1)
    q[~illuminated] = 0.0
    return q, illuminated


class _EwaldPixels:
    """What every detector derives from its ``k_perp`` (H, W, 2) and ``config``."""

    @property
    def q(self) -> np.ndarray:
        """(H, W, 3) momentum transfer in nm⁻¹ (0 where not illuminated)."""
        return momentum_transfer(self.k_perp, self.config.wavenumber)[0]

    @property
    def illuminated(self) -> np.ndarray:
        """(H, W) bool, True where k_perp < k (a propagating wave arrives)."""
        return momentum_transfer(self.k_perp, self.config.wavenumber)[1]


@dataclass(frozen=True)
class KGridDetector(_EwaldPixels):
    """SPEC's default detector: an N×N grid uniform in the transverse outgoing wave vector.

    Pixel (row i, column j) sits at k_x = (j − N/2)·Δk, k_y = (i − N/2)·Δk.
    """

    config: SimulationConfig = DEFAULT_CONFIG

    @property
    def shape(self) -> tuple[int, int]:
        return (self.config.grid_size, self.config.grid_size)

    @property
    def k_axis(self) -> np.ndarray:
        """k values of columns (= rows) in nm⁻¹, shape (N,)."""
        n = self.config.grid_size
        return (np.arange(n) - n // 2) * self.config.pixel_dk

    @property
    def k_perp(self) -> np.ndarray:
        """(N, N, 2) array of (k_x, k_y) in nm⁻¹."""
        k_y, k_x = np.meshgrid(self.k_axis, self.k_axis, indexing="ij")
        return np.stack([k_x, k_y], axis=-1)

    @property
    def solid_angle_sr(self) -> np.ndarray:
        """(N, N) float64 solid angle of each pixel in sr; 0 where not illuminated.

        A pixel is a Δk × Δk square in k_perp; on the Ewald sphere dΩ = dk_x·dk_y/(k·k_z), with
        k_z = √(k² − k_perp²) at the pixel centre.
        """
        wavenumber = self.config.wavenumber
        k_z_sq = wavenumber**2 - np.sum(self.k_perp**2, axis=-1)
        illuminated = k_z_sq > 0
        k_z = np.sqrt(np.where(illuminated, k_z_sq, 1.0))
        return np.where(illuminated, self.config.pixel_dk**2 / (wavenumber * k_z), 0.0)

    def pixel_of_k_perp(self, k_perp: np.ndarray) -> np.ndarray:
        """Fractional (row, column) of transverse wave vectors (..., 2) on this grid."""
        k_perp = np.asarray(k_perp, dtype=np.float64)
        centre = self.config.grid_size // 2
        column = k_perp[..., 0] / self.config.pixel_dk + centre
        row = k_perp[..., 1] / self.config.pixel_dk + centre
        return np.stack([row, column], axis=-1)


@dataclass(frozen=True)
class FlatDetector(_EwaldPixels):
    """A flat pixel detector perpendicular to the beam, a distance behind the particle.

    A pixel at (X, Y) on the plane at distance D sees k_perp = k·(X, Y)/√(X² + Y² + D²).

    Parameters
    ----------
    distance_mm : float
        Particle–detector distance D.
    pixel_size_um : float
        Pixel pitch (square pixels).
    shape : (int, int)
        (rows, columns) of the detector.
    beam_center_px : (float, float) or None
        (row, column) where the undeflected beam would hit; default the geometric centre.
    config : SimulationConfig
        Wavelength (and default grid for resampling).
    """

    distance_mm: float
    pixel_size_um: float
    shape: tuple[int, int]
    beam_center_px: tuple[float, float] | None = None
    config: SimulationConfig = field(default=DEFAULT_CONFIG)

    def __post_init__(self) -> None:
        for name in ("distance_mm", "pixel_size_um"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be positive and finite, got {value!r}")
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ValueError(f"shape must be (rows, columns) >= 1, got {self.shape!r}")

    @property
    def center_px(self) -> tuple[float, float]:
        """(row, column) of the beam centre in pixels (the geometric centre by default)."""
        if self.beam_center_px is None:
            return ((self.shape[0] - 1) / 2.0, (self.shape[1] - 1) / 2.0)
        return self.beam_center_px

    @property
    def k_perp(self) -> np.ndarray:
        """(rows, columns, 2) array of (k_x, k_y) in nm⁻¹."""
        row_c, col_c = self.center_px
        rows, cols = np.meshgrid(np.arange(self.shape[0]), np.arange(self.shape[1]), indexing="ij")
        pitch_mm = self.pixel_size_um * 1e-3
        x_mm = (cols - col_c) * pitch_mm
        y_mm = (rows - row_c) * pitch_mm
        norm = np.sqrt(x_mm**2 + y_mm**2 + self.distance_mm**2)
        k = self.config.wavenumber
        return np.stack([k * x_mm / norm, k * y_mm / norm], axis=-1)

    @property
    def solid_angle_sr(self) -> np.ndarray:
        """(rows, columns) float64 solid angle of each square pixel seen from the particle, in sr.

        Exact for a rectangle [x₁, x₂]×[y₁, y₂] on the plane at distance D:
        Ω = F(x₂, y₂) − F(x₁, y₂) − F(x₂, y₁) + F(x₁, y₁) with
        F(x, y) = atan(x·y / (D·√(x² + y² + D²))), evaluated once on the pixel corners.
        """
        row_c, col_c = self.center_px
        pitch_mm = self.pixel_size_um * 1e-3
        x_edges_mm = (np.arange(self.shape[1] + 1) - 0.5 - col_c) * pitch_mm
        y_edges_mm = (np.arange(self.shape[0] + 1) - 0.5 - row_c) * pitch_mm
        return _rectangle_solid_angles_sr(x_edges_mm, y_edges_mm, self.distance_mm)

    def pixel_of_k_perp(self, k_perp: np.ndarray) -> np.ndarray:
        """Fractional (row, column) on this detector of transverse wave vectors (..., 2).

        Inverse of :attr:`k_perp`: X = D·k_x/k_z. NaN where k_perp ≥ k (no such pixel).
        """
        k_perp = np.asarray(k_perp, dtype=np.float64)
        k = self.config.wavenumber
        k_z_sq = k**2 - np.sum(k_perp**2, axis=-1)
        k_z = np.sqrt(np.where(k_z_sq > 0, k_z_sq, np.nan))
        pitch_mm = self.pixel_size_um * 1e-3
        row_c, col_c = self.center_px
        column = self.distance_mm * k_perp[..., 0] / k_z / pitch_mm + col_c
        row = self.distance_mm * k_perp[..., 1] / k_z / pitch_mm + row_c
        return np.stack([row, column], axis=-1)

    def resample_to(self, images: np.ndarray, target: KGridDetector | None = None,
                    order: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Resample flat-detector images onto a k-grid detector (SPEC's default grid).

        Parameters
        ----------
        images : ndarray (B, rows, columns) or (rows, columns)
            Values on this detector (any scaling; interpolated as given).
        target : KGridDetector, optional
            Destination grid (default: SPEC's 128×128 grid).
        order : int
            Spline order of the interpolation (1 = bilinear).

        Returns
        -------
        resampled : ndarray (B, N, N) float32
            Values at the target pixels; 0 where the target pixel is not on this detector.
        covered : ndarray (N, N) bool
            True where the target pixel falls on this detector.
        """
        target = target or KGridDetector(self.config)
        images = np.asarray(images, dtype=np.float64)
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3 or images.shape[1:] != tuple(self.shape):
            raise ValueError(f"images must have shape (B, {self.shape[0]}, {self.shape[1]}), "
                             f"got {images.shape}")
        coords = self.pixel_of_k_perp(target.k_perp)
        covered = (np.isfinite(coords).all(axis=-1)
                   & (coords[..., 0] >= -0.5) & (coords[..., 0] <= self.shape[0] - 0.5)
                   & (coords[..., 1] >= -0.5) & (coords[..., 1] <= self.shape[1] - 0.5))
        coords = np.where(np.isfinite(coords), coords, -10.0)
        out = np.stack([map_coordinates(img, [coords[..., 0], coords[..., 1]], order=order,
                                        mode="nearest") for img in images])
        out[:, ~covered] = 0.0
        return out.astype(np.float32), covered


def _rectangle_solid_angles_sr(x_edges: np.ndarray, y_edges: np.ndarray,
                               distance: float) -> np.ndarray:
    """Solid angles (len(y_edges) − 1, len(x_edges) − 1) of the rectangles between consecutive
    edges on the plane z = distance, seen from the origin (all lengths in one unit)."""
    y, x = np.meshgrid(y_edges, x_edges, indexing="ij")
    corner = np.arctan(x * y / (distance * np.sqrt(x**2 + y**2 + distance**2)))
    return corner[1:, 1:] - corner[:-1, 1:] - corner[1:, :-1] + corner[:-1, :-1]


def default_detector(config: SimulationConfig = DEFAULT_CONFIG) -> KGridDetector:
    """SPEC's default 128×128 k-grid detector."""
    return KGridDetector(config)
