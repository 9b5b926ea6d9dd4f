"""Photon-count frames of a flat detector, as a real one records them: a test set for fits on
raw counts (Poisson likelihood) rather than on SPEC images.

Each frame is one particle (family, radius, orientation, shape parameter drawn at random) seen
by a flat detector (:data:`DEFAULT_FLAT_GEOMETRY`: 256×256 px up to ~60° scattering), with mean
photons λ = s·|A|²·Ω + background (:func:`~wideshot.physics.counts.expected_counts`), recorded
as Poisson counts clipped at a saturation level (:func:`~wideshot.physics.counts.record_counts`),
and, with ``defects``, the holes of a real detector: a beam stop at the beam centre, readout
gaps and dead pixels. Masked pixels (mask False) read 0. ``photons_max`` is the mean signal of
the brightest *good* pixel: the brighter forward peak behind the beam stop is not recorded, and
``expected_counts(..., photons_max=photons_max, background=background, mask=mask)`` gives back
a frame's λ.

On disk (:func:`save_counts_frames`), for N frames of H×W pixels:

=========================  ==========  ===============  ==========================================
name                       shape       dtype            meaning
=========================  ==========  ===============  ==========================================
``counts``                 (N, H, W)   uint32/float32   recorded photons (uint32 when all are
                                                        whole numbers), 0 at masked pixels
``mask``                   (N, H, W)   uint8            1 = good pixel, 0 = beam stop, gap, dead
``saturation``             (N,)        float64          photons at which pixels clip (inf: never)
``truth/radius_nm``        (N,)        float64          circumradius R (nm)
``truth/quaternion``       (N, 4)      float64          (w, x, y, z), canonical under the family
``truth/shape``            (N,)        bytes (S)        family name
``truth/shape_parameter``  (N,)        float64          the family's parameter, NaN where none
``truth/photons_max``      (N,)        float64          mean photons of the brightest good
                                                        pixel (no background)
``truth/background``       (N,)        float64          mean background photons per pixel
=========================  ==========  ===============  ==========================================

File attributes: ``geometry`` (the :class:`DetectorGeometry` as JSON) and ``threshold`` (the
zero-suppression level in photons; 0 = none).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from wideshot.config import DEFAULT_CONFIG, RADIUS_RANGE_NM
from wideshot.data.hdf5 import GZIP_LEVEL, check_output_path, make_parent_folder
from wideshot.files import replace_atomically
from wideshot.geometry import random_quaternions, shape_family
from wideshot.physics.conditions import validate_radius_range
from wideshot.physics.counts import expected_counts, record_counts
from wideshot.reconstruction.preparation import DetectorGeometry

#: Flat detector of the count frames: 256×256 pixels of 160 µm at 12 mm, beam at the geometric
#: centre, λ = 13.5 nm. The edge midpoints see atan(127.5·0.16/12) ≈ 59.5° scattering.
DEFAULT_FLAT_GEOMETRY = DetectorGeometry(distance_mm=12.0, pixel_size_um=160.0,
                                         beam_center_px=(127.5, 127.5),
                                         wavelength_nm=DEFAULT_CONFIG.wavelength_nm)

#: (rows, columns) of the frames of :data:`DEFAULT_FLAT_GEOMETRY`.
DEFAULT_FRAME_SHAPE: tuple[int, int] = (256, 256)

#: Mean photons in the brightest good pixel (without background), drawn log-uniformly.
PHOTONS_MAX_RANGE: tuple[float, float] = (10**2.5, 10**4.5)

#: Mean background photons per pixel, drawn uniformly.
BACKGROUND_RANGE_PHOTONS: tuple[float, float] = (0.002, 0.02)

#: Radius of the beam-stop hole at the beam centre (px), drawn uniformly.
BEAM_STOP_RADIUS_RANGE_PX: tuple[float, float] = (6.0, 12.0)

#: Most horizontal or vertical readout gaps of a frame, and their width range (px, inclusive).
MAX_READOUT_GAPS = 2
GAP_WIDTH_RANGE_PX: tuple[int, int] = (2, 6)

#: Most dead pixels of a frame.
MAX_DEAD_PIXELS = 30

#: Saturation level as a multiple of photons_max, drawn uniformly: below 1 the brightest good
#: pixels of a frame clip, above 1 (mostly) none.
SATURATION_RANGE_OF_PHOTONS_MAX: tuple[float, float] = (0.3, 2.0)

#: Frames per far-field call (memory: 2 × 16 B per pixel and frame).
FRAMES_PER_BATCH = 32

#: Show a progress bar above this many frames.
PROGRESS_ABOVE_FRAMES = 50

_TRUTH = ("radius_nm", "quaternion", "shape", "shape_parameter", "photons_max", "background")


@dataclass(frozen=True)
class _FrameDraw:
    """The random choices of one frame (before its Poisson draw)."""

    shape: str
    shape_parameter: float
    radius_nm: float
    quaternion: np.ndarray
    photons_max: float
    background: float
    saturation: float
    mask: np.ndarray


def _positive_range(values, name: str) -> tuple[float, float]:
    """(low, high) with 0 < low ≤ high, both finite; ``ValueError`` naming it otherwise."""
    try:
        low, high = (float(value) for value in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (low, high), got {values!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise ValueError(f"{name} must satisfy 0 < low <= high, got {values!r}")
    return low, high


def _defect_mask(rng: np.random.Generator, frame_shape: tuple[int, int],
                 center_px: tuple[float, float]) -> np.ndarray:
    """(H, W) bool, True = good pixel: a beam-stop disc at the beam centre, readout gaps and
    dead pixels drawn from ``rng``."""
    rows, columns = frame_shape
    row_index, column_index = np.ogrid[:rows, :columns]
    beam_stop_radius_px = rng.uniform(*BEAM_STOP_RADIUS_RANGE_PX)
    mask = ((row_index - center_px[0])**2 + (column_index - center_px[1])**2
            > beam_stop_radius_px**2)
    for _ in range(rng.integers(0, MAX_READOUT_GAPS + 1)):
        horizontal = bool(rng.integers(2))
        size = rows if horizontal else columns
        width = min(int(rng.integers(GAP_WIDTH_RANGE_PX[0], GAP_WIDTH_RANGE_PX[1] + 1)), size)
        start = int(rng.integers(0, size - width + 1))
        if horizontal:
            mask[start:start + width, :] = False
        else:
            mask[:, start:start + width] = False
    n_dead = int(rng.integers(0, MAX_DEAD_PIXELS + 1))
    mask[rng.integers(0, rows, n_dead), rng.integers(0, columns, n_dead)] = False
    return mask


def _draw_frame(rng: np.random.Generator, shapes: Sequence[str],
                photons_range: tuple[float, float], radius_range_nm: tuple[float, float],
                frame_shape: tuple[int, int], center_px: tuple[float, float],
                defects: bool) -> _FrameDraw:
    """The particle, photon levels and defects of one frame, in a fixed order of draws."""
    family = shape_family(shapes[int(rng.integers(len(shapes)))])
    radius_nm = float(rng.uniform(*radius_range_nm))
    quaternion = np.asarray(family.group.canonical(random_quaternions(1, rng)[0]))
    parameter = float(rng.uniform(*family.parameter_range)) if family.has_parameter else math.nan
    photons_max = float(np.exp(rng.uniform(*np.log(photons_range))))
    background = float(rng.uniform(*BACKGROUND_RANGE_PHOTONS))
    if defects:
        mask = _defect_mask(rng, frame_shape, center_px)
        # A whole number of photons, as a counting detector's clipping level is.
        saturation = float(max(1.0, round(photons_max * rng.uniform(
            *SATURATION_RANGE_OF_PHOTONS_MAX))))
    else:
        mask, saturation = np.ones(frame_shape, dtype=bool), math.inf
    return _FrameDraw(family.name, parameter, radius_nm, quaternion, photons_max, background,
                      saturation, mask)


def make_counts_frames(n: int, *, seed: int = 0, shapes: Sequence[str] = ("icosahedron",),
                       photons_range: tuple[float, float] = PHOTONS_MAX_RANGE,
                       geometry: DetectorGeometry = DEFAULT_FLAT_GEOMETRY,
                       frame_shape: tuple[int, int] = DEFAULT_FRAME_SHAPE,
                       radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM,
                       defects: bool = True, threshold: float = 0.0) -> dict:
    """Simulated photon-count frames of a flat detector, with their truth.

    Frame i draws everything (family uniformly from ``shapes``, radius uniformly, a uniform
    random orientation, the family's parameter uniformly over its range, photons_max
    log-uniformly, background 0.002–0.02 photons/pixel, defects, Poisson counts) from
    ``numpy.random.default_rng([seed, i])``: it does not depend on n.

    Parameters
    ----------
    n : int
        Number of frames, ≥ 1.
    seed : int
        Seed of the set.
    shapes : sequence of str
        Families to draw from (:data:`~wideshot.geometry.SHAPE_NAMES`).
    photons_range : (float, float)
        Range of the mean photons in each frame's brightest good pixel (without background).
    geometry : DetectorGeometry
        Distance, pixel size, beam centre and wavelength of the detector.
    frame_shape : (int, int)
        (rows, columns) of the frames.
    radius_range_nm : (float, float)
        Range of the circumradius (nm).
    defects : bool
        Add a beam-stop hole (disc of radius 6–12 px at the beam centre), 0–2 horizontal or
        vertical readout gaps (2–6 px wide), 0–30 dead pixels, all masked, and saturation at a
        whole number of photons between 0.3 and 2 × photons_max. Without: every pixel is good
        and nothing saturates.
    threshold : float
        Zero-suppression level (photons, ≥ 0): pixels with at most this many photons read 0.
        0 = none.

    Returns
    -------
    dict
        ``counts`` (n, H, W) float64 recorded photons (0 at masked pixels), ``mask`` (n, H, W)
        bool (True = good pixel), ``saturation`` (n,) photons (inf = none), ``photons_max``
        (n,) mean photons of the brightest good pixel, ``background`` (n,) photons/pixel,
        ``radius_nm`` (n,), ``quaternion`` (n, 4) canonical under each frame's family,
        ``shape`` list of n str, ``shape_parameter`` (n,) NaN where none, ``geometry`` (the
        DetectorGeometry), ``threshold`` (float, photons).

    Raises
    ------
    ValueError
        Naming the argument that is out of range.

    Examples
    --------
    >>> frames = make_counts_frames(2, seed=1)
    >>> frames["counts"].shape, frames["mask"].dtype
    ((2, 256, 256), dtype('bool'))
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a whole number of frames >= 1, got {n!r}")
    if isinstance(shapes, str) or len(shapes) == 0:
        raise ValueError(f"shapes must be a non-empty sequence of family names, got {shapes!r}")
    shapes = [shape_family(name, "shapes").name for name in shapes]
    photons_range = _positive_range(photons_range, "photons_range")
    radius_range_nm = validate_radius_range(radius_range_nm)
    if (len(frame_shape) != 2
            or not all(isinstance(size, (int, np.integer)) and size >= 1 for size in frame_shape)):
        raise ValueError(f"frame_shape must be (rows, columns) >= 1, got {frame_shape!r}")
    frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
    if not (math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a non-negative number of photons, got {threshold!r}")
    detector = geometry.detector(frame_shape)
    center_px = geometry.beam_center_px or ((frame_shape[0] - 1) / 2, (frame_shape[1] - 1) / 2)

    counts = np.empty((n,) + frame_shape)
    draws = []
    with tqdm(total=n, unit="frame", desc="count frames", file=sys.stderr,
              disable=n <= PROGRESS_ABOVE_FRAMES, dynamic_ncols=True) as bar:
        for start in range(0, n, FRAMES_PER_BATCH):
            indices = range(start, min(start + FRAMES_PER_BATCH, n))
            rngs = [np.random.default_rng([seed, index]) for index in indices]
            batch = [_draw_frame(rng, shapes, photons_range, radius_range_nm, frame_shape,
                                 center_px, defects) for rng in rngs]
            for index, draw in zip(indices, batch):
                if not draw.mask.any():
                    raise ValueError(f"frame {index}: the beam stop and gaps mask every pixel of "
                                     f"a {frame_shape[0]}×{frame_shape[1]} frame; use larger "
                                     "frames or defects=False")
            expected = expected_counts(
                [draw.radius_nm for draw in batch], [draw.quaternion for draw in batch],
                detector, photons_max=[draw.photons_max for draw in batch],
                shape=[draw.shape for draw in batch],
                shape_parameter=[draw.shape_parameter for draw in batch],
                background=[draw.background for draw in batch],
                mask=np.stack([draw.mask for draw in batch]))
            for offset, (rng, draw) in enumerate(zip(rngs, batch)):
                recorded = record_counts(expected[offset:offset + 1], rng,
                                         saturation=draw.saturation, threshold=threshold)[0]
                counts[start + offset] = np.where(draw.mask, recorded, 0.0)
            draws.extend(batch)
            bar.update(len(batch))
    return {
        "counts": counts,
        "mask": np.stack([draw.mask for draw in draws]),
        "saturation": np.array([draw.saturation for draw in draws]),
        "photons_max": np.array([draw.photons_max for draw in draws]),
        "background": np.array([draw.background for draw in draws]),
        "radius_nm": np.array([draw.radius_nm for draw in draws]),
        "quaternion": np.stack([draw.quaternion for draw in draws]),
        "shape": [draw.shape for draw in draws],
        "shape_parameter": np.array([draw.shape_parameter for draw in draws]),
        "geometry": geometry,
        "threshold": float(threshold),
    }


#: Mean background of an empty frame (photons/pixel), drawn log-uniformly.
EMPTY_BACKGROUND_RANGE_PHOTONS: tuple[float, float] = (1e-4, 0.05)
#: Stray light of a noisy empty frame at the bright end of its ramp (photons/pixel), uniform.
STRAY_LIGHT_MAX_PHOTONS = 0.05
#: Hot pixels of a noisy empty frame (inclusive), and their mean photons (log-uniform).
HOT_PIXELS_RANGE: tuple[int, int] = (10, 50)
HOT_PIXEL_PHOTONS_RANGE: tuple[float, float] = (2.0, 100.0)


def make_empty_frames(indices: range, masks: np.ndarray, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Frames without a particle, as most frames of a run are: even ``indices`` Poisson
    background only, odd ones *noisy* — that background, stray light (a linear ramp across the
    frame) and hot pixels.

    Parameters
    ----------
    indices : range
        Which empty frames (each draws from ``default_rng([seed, 2, index])``).
    masks : ndarray (M, H, W) bool
        Masks to reuse, frame ``index`` takes ``masks[index % M]``.

    Returns
    -------
    counts : ndarray (len(indices), H, W) float64
        Photons, 0 at masked pixels.
    mask : ndarray (len(indices), H, W) bool
    """
    rows, columns = masks.shape[1:]
    row_position, column_position = np.mgrid[:rows, :columns] / max(rows, columns)
    counts = np.empty((len(indices), rows, columns))
    mask = masks[[index % len(masks) for index in indices]]
    for offset, index in enumerate(indices):
        rng = np.random.default_rng([seed, 2, index])
        mean_counts = np.full((rows, columns),
                              np.exp(rng.uniform(*np.log(EMPTY_BACKGROUND_RANGE_PHOTONS))))
        if index % 2:
            angle = rng.uniform(0, 2 * np.pi)
            ramp = np.cos(angle) * row_position + np.sin(angle) * column_position
            ramp = (ramp - ramp.min()) / np.ptp(ramp)
            mean_counts += rng.uniform(0, STRAY_LIGHT_MAX_PHOTONS) * ramp
            n_hot = int(rng.integers(HOT_PIXELS_RANGE[0], HOT_PIXELS_RANGE[1] + 1))
            mean_counts[rng.integers(0, rows, n_hot), rng.integers(0, columns, n_hot)] += \
                np.exp(rng.uniform(*np.log(HOT_PIXEL_PHOTONS_RANGE), n_hot))
        counts[offset] = np.where(mask[offset], rng.poisson(mean_counts), 0.0)
    return counts, mask


def save_counts_frames(frames: dict, path: str | os.PathLike) -> Path:
    """Write frames of :func:`make_counts_frames` to an HDF5 file (layout in the module doc).

    The file is built under a temporary name and moved into place when complete.

    Parameters
    ----------
    frames : dict
        As returned by :func:`make_counts_frames` (``threshold`` may be missing: 0).
    path : str or PathLike
        Output file, ending in .h5 or .hdf5.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        For a wrong suffix, missing entries, or entries of different lengths.
    """
    path = check_output_path(path)
    missing = [key for key in ("counts", "mask", "saturation", "geometry") + _TRUTH
               if key not in frames]
    if missing:
        raise ValueError(f"frames lack {', '.join(missing)}")
    counts = np.asarray(frames["counts"])
    mask = np.asarray(frames["mask"])
    if counts.ndim != 3 or mask.shape != counts.shape:
        raise ValueError(f"counts must be (N, H, W) and mask the same shape, got {counts.shape} "
                         f"and {mask.shape}")
    lengths = {key: len(frames[key]) for key in ("saturation",) + _TRUTH}
    if any(length != len(counts) for length in lengths.values()):
        raise ValueError(f"frames hold {len(counts)} counts but "
                         + ", ".join(f"{key} {length}" for key, length in lengths.items()))
    whole = bool(np.all((counts >= 0) & (counts <= np.iinfo(np.uint32).max)
                        & (counts == np.round(counts))))
    make_parent_folder(path)
    temporary = path.with_name(path.name + ".partial")
    try:
        with h5py.File(temporary, "w") as file:
            file.create_dataset("counts", data=counts.astype(np.uint32 if whole else np.float32),
                                chunks=(1,) + counts.shape[1:], compression="gzip",
                                compression_opts=GZIP_LEVEL, shuffle=True)
            file.create_dataset("mask", data=mask.astype(np.uint8),
                                chunks=(1,) + mask.shape[1:], compression="gzip",
                                compression_opts=GZIP_LEVEL, shuffle=True)
            file.create_dataset("saturation", data=np.asarray(frames["saturation"], np.float64))
            truth = file.create_group("truth")
            for key in _TRUTH:
                data = (np.array([name.encode() for name in frames[key]], dtype="S")
                        if key == "shape" else np.asarray(frames[key], dtype=np.float64))
                truth.create_dataset(key, data=data)
            file.attrs["geometry"] = json.dumps(dataclasses.asdict(frames["geometry"]))
            file.attrs["threshold"] = float(frames.get("threshold", 0.0))
        replace_atomically(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def load_counts_frames(path: str | os.PathLike) -> dict:
    """Frames written by :func:`save_counts_frames`, as :func:`make_counts_frames` returns them.

    Returns
    -------
    dict
        ``counts`` (N, H, W) float64, ``mask`` (N, H, W) bool, ``saturation``, the truth
        (``radius_nm``, ``quaternion``, ``shape`` as a list of str, ``shape_parameter``,
        ``photons_max``, ``background``), ``geometry`` (DetectorGeometry), ``threshold``.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If it is not a count-frame file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such count-frame file: {path}")
    with h5py.File(path, "r") as file:
        missing = [name for name in ("counts", "mask", "saturation")
                   + tuple(f"truth/{key}" for key in _TRUTH) if name not in file]
        if missing or "geometry" not in file.attrs:
            raise ValueError(f"{path} is not a count-frame file (lacks "
                             f"{', '.join(missing or ['the geometry attribute'])})")
        frames = {
            "counts": file["counts"][()].astype(np.float64),
            "mask": file["mask"][()] != 0,
            "saturation": file["saturation"][()].astype(np.float64),
        }
        for key in _TRUTH:
            data = file["truth"][key][()]
            frames[key] = ([name.decode() for name in data] if key == "shape"
                           else data.astype(np.float64))
        geometry = json.loads(file.attrs["geometry"])
        frames["threshold"] = float(file.attrs.get("threshold", 0.0))
    if geometry.get("beam_center_px") is not None:
        geometry["beam_center_px"] = tuple(geometry["beam_center_px"])
    frames["geometry"] = DetectorGeometry(**geometry)
    return frames
