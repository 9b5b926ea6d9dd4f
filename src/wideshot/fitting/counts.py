"""Photon counts on a detector's own pixels, and the forward-fit objective that scores them.

:class:`CountsFrame` keeps what a detector recorded — counts in photons, which pixels hold data,
which ones sit at the saturation level or under a zero-suppression threshold — together with
where each pixel is (its transverse wave vector) and the solid angle it covers. The analytic
MSFT evaluates any pixel directly, so a fit compares the counts where they were measured instead
of on a resampled grid. Larger detectors are binned (sums of photons, which stay Poisson) to at
most :data:`MAX_FIT_SIDE_PX` pixels a side; a binned pixel is simulated at its solid-angle-
weighted centre, an approximation that costs accuracy once a fringe spans only a few binned
pixels (on a 256-pixel detector binned 2×2, R off by 0.05–0.3 nm, and a dispersion of 1.1–6 on
bright frames), so bin only what is too large to fit.

:class:`CountsObjective` scores candidate particles by the Poisson deviance of the counts with
scale and background profiled (:mod:`~wideshot.fitting.likelihood`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from wideshot.config import DEFAULT_CONFIG, SimulationConfig
from wideshot.fitting.likelihood import PixelCounts, profiled_deviance
from wideshot.fitting.objective import MIN_VALID_PIXELS, SearchObjective
from wideshot.geometry import DEFAULT_SHAPE, shape_family
from wideshot.physics import Absorption, KGridDetector, RefractiveIndex
from wideshot.physics.detector import momentum_transfer
from wideshot.physics.forward import PreparedPixels
from wideshot.physics.material import resolve_material
from wideshot.physics.particle import particle_amplitude

#: Larger detectors are binned to at most this many pixels a side for the fit.
MAX_FIT_SIDE_PX = 256

#: Counts within this of an integer count as integers (after dividing by the gain).
INTEGER_TOLERANCE = 1e-3

#: A spread of the deviance below this (with the coordinates close) ends a simplex: a 1σ step
#: changes it by 1, and Fisher scoring finishes from there (:mod:`~wideshot.fitting.search`).
DEVIANCE_TOLERANCE = 1.0


def _block_sum(values: np.ndarray, factor: int) -> np.ndarray:
    """Sums over factor×factor blocks of (H, W, ...) values (the ragged edge dropped)."""
    rows, columns = (values.shape[0] // factor) * factor, (values.shape[1] // factor) * factor
    trimmed = values[:rows, :columns]
    shape = (rows // factor, factor, columns // factor, factor) + values.shape[2:]
    return trimmed.reshape(shape).sum(axis=(1, 3))


@dataclass(frozen=True)
class CountsFrame:
    """One detector frame of photon counts on the detector's own pixels.

    Build it with :meth:`from_counts`, which checks the counts.

    Attributes
    ----------
    counts : ndarray (H, W) float64
        Photons per pixel (0 where invalid; saturated pixels at the level).
    valid : ndarray (H, W) bool
        Pixels that hold data.
    saturated : ndarray (H, W) bool
        Valid pixels at the saturation level: only "at least" is known.
    suppressed : ndarray (H, W) bool
        Valid pixels that read 0 under a zero-suppression threshold: only "at most" is known.
    threshold : ndarray (H, W) float64
        The threshold (photons) of each pixel (0 without one).
    k_perp : ndarray (H, W, 2)
        Transverse outgoing wave vector of each pixel (nm⁻¹).
    solid_angle_sr : ndarray (H, W)
        Solid angle each pixel covers (sr).
    config : SimulationConfig
        Wavelength and grid units of the simulations.
    binning : int
        Detector pixels summed per side into one pixel here.
    detector : KGridDetector or FlatDetector or None
        The detector the counts come from (for a shifted beam centre,
        :meth:`momentum_transfer`).
    detector_valid : ndarray (H₀, W₀) bool or None
        Its good pixels, before binning.
    """

    counts: np.ndarray
    valid: np.ndarray
    saturated: np.ndarray
    suppressed: np.ndarray
    threshold: np.ndarray
    k_perp: np.ndarray
    solid_angle_sr: np.ndarray
    config: SimulationConfig = DEFAULT_CONFIG
    binning: int = 1
    detector: object = None
    detector_valid: np.ndarray | None = None

    @classmethod
    def from_counts(cls, frame, *, valid=None, detector=None, saturation: float | None = None,
                    threshold: float | None = None, gain: float = 1.0,
                    max_side_px: int = MAX_FIT_SIDE_PX) -> CountsFrame:
        """Check one frame of counts and keep it for the likelihood.

        Parameters
        ----------
        frame : array (H, W)
            Detector values: photons × ``gain`` (ADU). NaN/inf pixels are invalid.
        valid : array (H, W) bool, optional
            True = good pixel (default: the finite ones).
        detector : KGridDetector or FlatDetector, optional
            Where the pixels are (default SPEC's 128×128 k-grid); its ``shape`` must be the
            frame's.
        saturation : float, optional
            Level (ADU) at which the detector saturates: pixels at or above it are censored.
            A level below some valid value of the frame is an error (the frame contradicts it).
        threshold : float, optional
            Zero-suppression threshold (ADU): pixels that read 0 had at most this much.
        gain : float
            ADU per photon (default 1: the frame holds photons).
        max_side_px : int
            Bin larger detectors to at most this many pixels a side.

        Returns
        -------
        CountsFrame

        Raises
        ------
        ValueError
            Naming the problem: not 2-D, a mask of another shape, negative or non-integer
            photons, a saturation level below the data, no valid pixel, no photon.
        """
        frame = np.asarray(frame)
        if frame.ndim != 2:
            raise ValueError(f"a frame of counts must be 2-D, got shape {frame.shape}")
        if frame.dtype.kind not in "uif":
            raise ValueError(f"counts have dtype {frame.dtype}; expected numbers")
        detector = detector or KGridDetector()
        if tuple(detector.shape) != frame.shape:
            raise ValueError(f"the frame is {frame.shape[0]}×{frame.shape[1]} but the detector "
                             f"has {detector.shape[0]}×{detector.shape[1]} pixels")
        for name, value in (("gain", gain), ("saturation", saturation),
                            ("threshold", threshold)):
            if value is not None and (isinstance(value, bool) or not math.isfinite(value)
                                      or value <= 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        values = frame.astype(np.float64)
        good = np.isfinite(values)
        if valid is not None:
            valid = np.asarray(valid)
            if valid.shape != frame.shape:
                raise ValueError(f"the mask is {valid.shape[0]}×{valid.shape[1]} but the frame "
                                 f"is {frame.shape[0]}×{frame.shape[1]}")
            good &= valid.astype(bool)
        good &= detector.illuminated
        if not good.any():
            raise ValueError("no valid pixel: all are masked, NaN or outside the Ewald sphere")
        recorded = values[good]
        if recorded.min() < 0:
            raise ValueError(f"negative counts ({recorded.min():g}) where photon counts are "
                             "promised (a pedestal subtracted too far?); frames that are not "
                             "counts are read as images (intensity 'auto' or 'spec')")
        if saturation is not None and recorded.max() > saturation * (1 + 1e-9):
            raise ValueError(f"saturation level {saturation:g} is below the data (a valid "
                             f"pixel reads {recorded.max():g})")
        photons = values / gain
        off = np.abs(photons[good] - np.round(photons[good]))
        if off.max() > INTEGER_TOLERANCE:
            raise ValueError(f"counts / gain are not whole photons (off by up to {off.max():.3g}"
                             f" with gain {gain:g}); give the detector's gain (ADU per photon)")
        photons = np.where(good, np.round(photons), 0.0)
        if photons.sum() == 0:
            raise ValueError("the frame recorded no photon")
        saturated = good & (np.zeros_like(good) if saturation is None
                            else values >= saturation * (1 - 1e-9))
        suppressed = good & (np.zeros_like(good) if threshold is None else values == 0)
        limit = np.full(frame.shape, 0.0 if threshold is None else threshold / gain)
        solid_angle = np.where(good, detector.solid_angle_sr, 0.0)
        k_perp = detector.k_perp
        detector_valid = good.copy()
        factor = max(1, math.ceil(max(frame.shape) / max_side_px))
        if factor > 1:
            n_good = _block_sum(good.astype(np.int64), factor)
            photons = _block_sum(photons, factor)
            limit = _block_sum(np.where(good, limit, 0.0), factor)
            all_suppressed = _block_sum(suppressed.astype(np.int64), factor) == n_good
            saturated = _block_sum(saturated.astype(np.int64), factor) > 0
            omega = _block_sum(solid_angle, factor)
            k_perp = (_block_sum(k_perp * solid_angle[..., None], factor)
                      / np.maximum(omega, 1e-300)[..., None])
            solid_angle = omega
            # Binned pixels must be whole: partly masked ones are left out.
            good = n_good == factor * factor
            saturated &= good
            suppressed = good & all_suppressed & ~saturated
        return cls(counts=np.where(good, photons, 0.0), valid=good, saturated=saturated,
                   suppressed=suppressed, threshold=limit, k_perp=k_perp,
                   solid_angle_sr=np.where(good, solid_angle, 0.0), config=detector.config,
                   binning=factor, detector=detector, detector_valid=detector_valid)

    @property
    def photons(self) -> float:
        """Photons recorded on the valid pixels (saturated ones at their level)."""
        return float(self.counts[self.valid].sum())

    def subsampled(self, stride: int) -> CountsFrame:
        """The same frame on every ``stride``-th pixel of each row and column (1/stride² of
        them), for a cheaper search: unlike binning it simulates each kept pixel where it is,
        so its likelihood is exact, only less informed."""
        if stride == 1:
            return self
        lattice = np.zeros_like(self.valid)
        lattice[::stride, ::stride] = True
        return dataclasses.replace(self, valid=self.valid & lattice,
                                   saturated=self.saturated & lattice,
                                   suppressed=self.suppressed & lattice)

    def pixel_counts(self) -> PixelCounts:
        """The valid pixels, flattened in row-major order, for the likelihood."""
        valid = self.valid
        return PixelCounts(counts=self.counts[valid], saturated=self.saturated[valid],
                           suppressed=self.suppressed[valid], threshold=self.threshold[valid])

    def momentum_transfer(self, centre_offset_px=(0.0, 0.0)) -> np.ndarray:
        """q (P, 3) in nm⁻¹ of the valid pixels, flattened in row-major order.

        Parameters
        ----------
        centre_offset_px : (float, float)
            (row, column) by which the beam centre lies off the detector's, in its pixels.
        """
        k_perp = self.k_perp
        if any(centre_offset_px):
            if self.detector is None:
                raise ValueError("this frame does not know its detector: no centre offset")
            k_perp = _shifted_k_perp(self.detector, centre_offset_px)
            if self.binning > 1:
                omega = np.where(self.detector_valid, self.detector.solid_angle_sr, 0.0)
                k_perp = (_block_sum(k_perp * omega[..., None], self.binning)
                          / np.maximum(_block_sum(omega, self.binning), 1e-300)[..., None])
        return momentum_transfer(k_perp[self.valid], self.config.wavenumber)[0]


def _shifted_k_perp(detector, centre_offset_px) -> np.ndarray:
    """k_perp (H, W, 2) of a detector whose beam centre lies (row, column) pixels off."""
    row, column = centre_offset_px
    if isinstance(detector, KGridDetector):
        dk = detector.config.pixel_dk
        return detector.k_perp - np.array([column * dk, row * dk])
    centre_row, centre_column = detector.center_px
    return dataclasses.replace(detector, beam_center_px=(centre_row + row,
                                                         centre_column + column)).k_perp


@dataclass
class CountsObjective(SearchObjective):
    """Poisson deviance of a frame's counts under candidate particles, counting simulations.

    The counterpart of :class:`~wideshot.fitting.objective.PatternObjective` for counts: the
    same search space (R nm, rotation vector in degrees about an anchor[, shape parameter]),
    scored by :func:`~wideshot.fitting.likelihood.profiled_deviance` at the frame's own pixels.

    Parameters
    ----------
    frame : CountsFrame
    anchors : ndarray (S, 4)
        Anchor quaternion of each simplex.
    material, shape, device, precision, record
        As in :class:`~wideshot.fitting.objective.PatternObjective` (the config is the frame's).
    background : bool
        Profile a flat background (default) besides the scale.
    """

    frame: CountsFrame
    anchors: np.ndarray
    material: Absorption | RefractiveIndex | None = None
    shape: str = DEFAULT_SHAPE
    device: object = None
    precision: str = "single"
    record: bool = False
    background: bool = True
    n_simulations: int = 0
    history: list = field(default_factory=list)
    value_tolerance: float = DEVIANCE_TOLERANCE

    def __post_init__(self) -> None:
        self.family = shape_family(self.shape)
        self.dimensions = 5 if self.family.has_parameter else 4
        self.config = self.frame.config
        if self.frame.valid.sum() < MIN_VALID_PIXELS:
            raise ValueError(f"only {int(self.frame.valid.sum())} valid pixels: too few to fit")
        self._material = resolve_material(None, None, self.material, self.config)
        self._pixels = PreparedPixels.of(self.frame.momentum_transfer(), self._material,
                                         self.config, self.precision, self.device)
        self._solid_angle = self.frame.solid_angle_sr[self.frame.valid]
        self.data = self.frame.pixel_counts()

    def signal(self, radius_nm: np.ndarray, quaternion: np.ndarray,
               shape_parameter: np.ndarray | None = None,
               centre_offset_px=(0.0, 0.0)) -> np.ndarray:
        """|A|²·Ω (M, P) at the valid pixels (nm⁶·sr), with the beam centre (row, column)
        pixels off the detector's; counts M simulations."""
        self.n_simulations += len(radius_nm)
        pixels = self._pixels
        if any(centre_offset_px):
            pixels = PreparedPixels.of(self.frame.momentum_transfer(centre_offset_px),
                                       self._material, self.config, self.precision,
                                       self.device)
        device = pixels.q.device
        with torch.no_grad():
            amplitude = particle_amplitude(torch.as_tensor(radius_nm, device=device),
                                           torch.as_tensor(quaternion, device=device),
                                           pixels.q, pixels.attenuation, self.shape,
                                           shape_parameter, kernel="auto")
        intensity = np.abs(amplitude.cpu().numpy().astype(np.complex128)) ** 2
        return intensity * self._solid_angle

    def profiled(self, radius_nm: np.ndarray, quaternion: np.ndarray,
                 shape_parameter: np.ndarray | None = None, centre_offset_px=(0.0, 0.0)):
        """:class:`~wideshot.fitting.likelihood.ProfiledDeviance` of particles (M,), (M, 4)
        [, parameters (M,)] with the beam centre ``centre_offset_px`` off the detector's:
        deviance (M,), scale and background, expected counts (M, P)."""
        return profiled_deviance(self.data, self.signal(radius_nm, quaternion, shape_parameter,
                                                        tuple(centre_offset_px)),
                                 background=self.background)

    def _score(self, radius_nm, quaternion, shape_parameter) -> np.ndarray:
        return self.profiled(radius_nm, quaternion, shape_parameter).deviance

    def expected_counts(self, radius_nm: float, quaternion: np.ndarray,
                        shape_parameter: float | None = None, centre_offset_px=(0.0, 0.0)):
        """:meth:`profiled` of one particle (expected counts (1, P))."""
        return self.profiled(np.array([radius_nm]), np.asarray(quaternion)[None],
                             None if shape_parameter is None else np.array([shape_parameter]),
                             centre_offset_px)
