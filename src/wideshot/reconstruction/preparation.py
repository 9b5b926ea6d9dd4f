"""Experimental frames → SPEC images: detector geometry, resampling, log scaling, validity mask.

A real detector frame differs from a SPEC image (docs/conventions.md "Detector grid and image") in
three ways, each undone here:

* **Where its pixels sit.** A flat detector is resampled onto the 128×128 grid uniform in k_perp
  from its :class:`DetectorGeometry` (distance, pixel size, beam centre, wavelength) with
  :meth:`wideshot.physics.FlatDetector.resample_to`. A frame without a geometry must already be
  on that grid.
* **What its values mean.** Linear counts become log(counts + 1); images that are already log
  images (PNG exports, simulated images) are taken as they are (``intensity``, see
  :func:`prepare_frame`). Either way the result is scaled to [0, 1] by the minimum and maximum of
  its *valid* pixels, as every SPEC image is scaled by its own.
* **Which pixels hold data.** NaN/inf pixels, masked pixels (mask True = good pixel) and SPEC
  pixels that the flat detector does not cover are invalid; they are returned as 0, the value the
  training augmentations give masked, hole and gap pixels.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wideshot.config import DEFAULT_CONFIG
from wideshot.models.inference import RANGE_TOLERANCE, check_images
from wideshot.choices import INTENSITY_SCALES
from wideshot.physics.detector import FlatDetector, KGridDetector
from wideshot.physics.image import scale_per_image


#: Why a frame without contrast is refused (before and after resampling).
CONSTANT_FRAME = "frame is constant (all pixels equal): no diffraction signal"

#: A resampled SPEC pixel is valid when at least this fraction of its interpolation weight
#: comes from valid detector pixels (bilinear: all neighbours that matter are valid).
MIN_VALID_WEIGHT = 0.99

_REQUIRED_KEYS = ("distance_mm", "pixel_size_um")
_OPTIONAL_KEYS = ("beam_center_px", "wavelength_nm")


def _shape_text(shape) -> str:
    return "×".join(str(size) for size in shape)


@dataclass(frozen=True)
class DetectorGeometry:
    """Geometry of a flat detector, to resample its frames onto SPEC's 128×128 k-grid.

    Attributes
    ----------
    distance_mm : float
        Particle–detector distance D (mm), > 0.
    pixel_size_um : float
        Pixel pitch (µm, square pixels), > 0.
    beam_center_px : (float, float) or None
        (row, column), 0-based, where the undeflected beam would hit the detector; None = the
        geometric centre of the frame.
    wavelength_nm : float
        Photon wavelength λ (nm), > 0; SPEC's default is 13.5 nm.

    Examples
    --------
    >>> geometry = DetectorGeometry.parse("distance_mm=370,pixel_size_um=75,beam_center_px=511.5:511.5")
    >>> geometry.detector((1024, 1024)).shape
    (1024, 1024)
    """

    distance_mm: float
    pixel_size_um: float
    beam_center_px: tuple[float, float] | None = None
    wavelength_nm: float = DEFAULT_CONFIG.wavelength_nm

    def __post_init__(self) -> None:
        for name in ("distance_mm", "pixel_size_um", "wavelength_nm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value <= 0:
                raise ValueError(f"geometry: {name} must be a positive number, got {value!r}")
        center = self.beam_center_px
        if center is not None:
            if (len(center) != 2 or any(isinstance(value, bool) or not isinstance(value, (int, float))
                                        or not math.isfinite(value) for value in center)):
                raise ValueError("geometry: beam_center_px must be two finite numbers (row, "
                                 f"column), got {center!r}")
            object.__setattr__(self, "beam_center_px", (float(center[0]), float(center[1])))

    @classmethod
    def parse(cls, text: str) -> DetectorGeometry:
        """A geometry from ``"key=value,..."`` or from a JSON file with the same keys.

        Parameters
        ----------
        text : str
            Either ``"distance_mm=370,pixel_size_um=75,beam_center_px=511.5:511.5,wavelength_nm=13.5"``
            (``beam_center_px`` as ``row:column``; it and ``wavelength_nm`` are optional), or the
            path of a JSON file holding an object with those keys (``beam_center_px`` as a list
            ``[row, column]``).

        Returns
        -------
        DetectorGeometry

        Raises
        ------
        ValueError
            Naming the unknown, missing or malformed key or value.
        """
        text = str(text).strip()
        path = Path(text)
        if path.suffix.lower() == ".json" or path.is_file():
            try:
                values = json.loads(path.read_text())
            except OSError as error:
                raise ValueError(f"geometry: cannot read {path} ({error.strerror or error})") from None
            except json.JSONDecodeError as error:
                raise ValueError(f"geometry: {path} is not valid JSON ({error})") from None
            if not isinstance(values, dict):
                raise ValueError(f"geometry: {path} must hold a JSON object with keys "
                                 f"{', '.join(_REQUIRED_KEYS + _OPTIONAL_KEYS)}")
            return cls._from_mapping(values, where=f" in {path}")
        values = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sign, value = item.partition("=")
            if not sign or not value.strip():
                raise ValueError(f"geometry: expected key=value, got {item!r} (example: "
                                 "distance_mm=370,pixel_size_um=75,beam_center_px=511.5:511.5)")
            key, value = key.strip(), value.strip()
            if key == "beam_center_px":
                values[key] = [_number(key, part) for part in value.split(":")]
            elif key in _REQUIRED_KEYS + _OPTIONAL_KEYS:
                values[key] = _number(key, value)
            else:
                values[key] = value  # reported as unknown below
        return cls._from_mapping(values, where="")

    @classmethod
    def _from_mapping(cls, values: dict, where: str) -> DetectorGeometry:
        known = _REQUIRED_KEYS + _OPTIONAL_KEYS
        unknown = [key for key in values if key not in known]
        if unknown:
            raise ValueError(f"geometry: unknown key {unknown[0]!r}{where} (known: {', '.join(known)})")
        missing = [key for key in _REQUIRED_KEYS if key not in values]
        if missing:
            raise ValueError(f"geometry: missing {' and '.join(missing)}{where} (example: "
                             "distance_mm=370,pixel_size_um=75,beam_center_px=511.5:511.5)")
        center = values.get("beam_center_px")
        if center is not None:
            if not isinstance(center, (list, tuple)) or len(center) != 2:
                raise ValueError(f"geometry: beam_center_px{where} must be row:column (two "
                                 f"numbers), got {center!r}")
            center = tuple(center)
        return cls(distance_mm=values["distance_mm"], pixel_size_um=values["pixel_size_um"],
                   beam_center_px=center,
                   wavelength_nm=values.get("wavelength_nm", DEFAULT_CONFIG.wavelength_nm))

    def detector(self, shape: tuple[int, int]) -> FlatDetector:
        """The flat detector of frames shaped ``shape`` = (rows, columns) in this geometry."""
        config = dataclasses.replace(DEFAULT_CONFIG, wavelength_nm=self.wavelength_nm)
        return FlatDetector(distance_mm=self.distance_mm, pixel_size_um=self.pixel_size_um,
                            shape=tuple(int(size) for size in shape),
                            beam_center_px=self.beam_center_px, config=config)


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"geometry: {key} must be a number, got {text.strip()!r}") from None
    return value


def _intensity_values(frame: np.ndarray, valid: np.ndarray, intensity: str,
                      detector) -> np.ndarray:
    """The frame's values as a log image (float64, any scale); invalid pixels untouched.

    Counts are divided by each pixel's solid angle (relative to the forward pixel's) first: a pixel
    records |A|² times the solid angle it covers, which on a flat detector falls as cos³ of the
    scattering angle, while a SPEC image holds |A|² itself. Left in, the fall-off reads as a
    smaller particle (on a flat detector reaching 60°, R ~5 nm low for icosahedra, noise-free).
    """
    values = frame.astype(np.float64)
    if intensity == "auto":
        if frame.dtype == np.uint8:
            intensity, values = "spec", values / 255.0
        elif frame.dtype.kind == "f" and bool(np.all(
                (values[valid] >= -RANGE_TOLERANCE) & (values[valid] <= 1 + RANGE_TOLERANCE))):
            intensity = "spec"
        else:
            intensity = "counts"
    if intensity == "counts":
        return np.log1p(np.maximum(values, 0.0) / _relative_solid_angle(detector))
    return values


@functools.lru_cache(maxsize=8)
def _relative_solid_angle(detector) -> np.ndarray:
    """Each pixel's solid angle over that of the pixel nearest the forward direction (1 where
    a pixel sees none): counts keep their scale where the pattern is brightest."""
    solid_angle = detector.solid_angle_sr
    forward = np.unravel_index(np.argmin(np.hypot(*np.moveaxis(detector.k_perp, -1, 0))),
                               solid_angle.shape)
    return np.divide(solid_angle, solid_angle[forward], out=np.ones_like(solid_angle),
                     where=solid_angle > 0)


def prepare_frame(frame: np.ndarray, *, mask: np.ndarray | None = None,
                  geometry: DetectorGeometry | None = None,
                  intensity: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """One detector frame as a SPEC image with a mask of the pixels that hold data.

    Parameters
    ----------
    frame : ndarray (H, W), any real dtype
        One detector frame. NaN/inf pixels are invalid.
    mask : ndarray (H, W) bool or 0/1, optional
        True (nonzero) = good pixel. Combined with the finite pixels of ``frame``.
    geometry : DetectorGeometry, optional
        Geometry of a flat detector; the frame is then resampled onto SPEC's grid. Without it the
        frame must already be 128×128 on SPEC's grid.
    intensity : {"auto", "spec", "counts"}
        What the values are:

        * ``"spec"`` — already a log image (PNG exports, simulated images); taken as it is.
        * ``"counts"`` — linear counts or photons; negative values are clipped to 0, each
          pixel is divided by its solid angle relative to the forward pixel's (a SPEC image holds |A|²,
          a pixel records |A|² times its solid angle) and log(counts + 1) is taken.
        * ``"auto"`` — uint8 frames are divided by 255 and taken as ``"spec"``; float frames
          whose valid values all lie in [0, 1] are ``"spec"``; everything else (uint16, int32,
          float frames beyond [0, 1]) is ``"counts"``.

        Either way the result is scaled to [0, 1] by the minimum and maximum of its valid pixels
        (after resampling, where there is a geometry).

    Returns
    -------
    image : ndarray (128, 128) float32
        The SPEC image in [0, 1]; 0 at invalid pixels.
    valid : ndarray (128, 128) bool
        True where the image holds data: a finite, unmasked pixel, and, with a geometry, a SPEC
        pixel covered by the detector whose interpolation draws ≥ 99 % of its weight from valid
        detector pixels.

    Raises
    ------
    ValueError
        With the reason: not 2-D, not a real-valued frame, a mask of another shape, not 128×128
        without a geometry, no valid pixel, all zero, or constant (no diffraction signal).

    Examples
    --------
    >>> import wideshot
    >>> image, valid = prepare_frame(wideshot.simulate(60.0, [1, 0, 0, 0])[0])
    >>> image.shape, bool(valid.all())
    ((128, 128), True)
    """
    if intensity not in INTENSITY_SCALES:
        raise ValueError(f"intensity must be one of {', '.join(INTENSITY_SCALES)}, got {intensity!r}")
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"a frame must be a 2-D image, got an array of shape {frame.shape}")
    if frame.dtype.kind not in "uif":
        raise ValueError(f"frame has dtype {frame.dtype}; expected real-valued intensities")
    grid_size = DEFAULT_CONFIG.grid_size
    if geometry is None and frame.shape != (grid_size, grid_size):
        raise ValueError(
            f"frame is {_shape_text(frame.shape)} but no --geometry was given; frames not on the "
            f"{grid_size}×{grid_size} SPEC grid need distance_mm, pixel_size_um, beam_center_px "
            "(and wavelength_nm if not 13.5) to be resampled onto it")
    valid = np.isfinite(frame)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != frame.shape:
            raise ValueError(f"mask is {_shape_text(mask.shape)} but the frame is "
                             f"{_shape_text(frame.shape)}")
        valid &= mask != 0
    if not valid.any():
        reason = "all pixels are NaN or infinite" if mask is None or not np.isfinite(frame).any() \
            else "all pixels are masked or NaN/infinite"
        raise ValueError(f"frame has no valid pixel: {reason}")
    if not np.any(frame[valid]):
        raise ValueError("frame is all zero (no valid pixel holds signal)")

    detector = geometry.detector(frame.shape) if geometry is not None else KGridDetector()
    values = _intensity_values(frame, valid, intensity, detector)
    if not np.any(values[valid]):
        raise ValueError("frame holds no positive counts (negative counts are clipped to 0)")
    if np.ptp(frame[valid]) == 0:  # before counts meet their solid angles
        raise ValueError(CONSTANT_FRAME)
    if geometry is not None:
        weight = valid.astype(np.float64)
        # Interpolating values·weight and weight separately keeps invalid pixels out of the
        # values of the SPEC pixels that stay valid.
        resampled, covered = detector.resample_to(np.stack([np.where(valid, values, 0.0), weight]))
        valid = covered & (resampled[1] > MIN_VALID_WEIGHT)
        values = np.divide(resampled[0], resampled[1], out=np.zeros(valid.shape),
                           where=valid).astype(np.float64)
        if not valid.any():
            raise ValueError("no valid pixel of the frame falls on the SPEC grid; check the "
                             f"geometry ({geometry})")
    low, high = values[valid].min(), values[valid].max()
    if not high > low:
        raise ValueError(CONSTANT_FRAME)
    # scale_per_image takes min and max over the whole image: fill invalid pixels with a valid
    # value so that only valid pixels set the scale.
    image = scale_per_image(np.where(valid, values, low))
    image[~valid] = 0.0
    check_images(image[None])  # one definition of a SPEC image; guards against bugs above
    return image, valid
