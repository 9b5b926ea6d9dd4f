"""Layout of wideshot data sets on disk (HDF5) and the one way they are written: atomically.

A data set file holds, for N samples,

=======================  ============  ========  ================================================
name                     shape         dtype     meaning
=======================  ============  ========  ================================================
``images``               (N, H, W)     float32   SPEC images in [0, 1] (128×128 by default),
                                                 chunked one image per chunk, gzip-compressed
``radius_nm``            (N,)          float64   circumradius R (nm)
``quaternion``           (N, 4)        float64   orientation (w, x, y, z), scalar first, canonical
                                                 under the sample's own shape family
``shape``                (N,)          uint8     shape family: index into the attribute
                                                 ``shape_names`` (the registry's names)
``shape_parameter``      (N,)          float64   the family's parameter, NaN where it has none
``split``                (N,)          uint8     optional: 0 = train, 1 = validation
``log_intensity_range``  (N, 2)        float64   optional: (min, max) of log(F + floor) before the
                                                 per-image scaling, so F = |A|²/v₀² of every pixel
                                                 can be recovered from the image (photon noise
                                                 drawn from the true intensity needs it)
``source_index``         (N,)          int64     augmented files only: row of the source file
``copy_index``           (N,)          int64     augmented files only: which copy of that row
=======================  ============  ========  ================================================

File attributes record how the samples were made (seed, physics configuration as JSON,
material as JSON, radius range, shape families, package version, ...) and ``complete = True``,
which is set last: a file without it was not finished. Files are written under a temporary name
and moved into place with ``os.replace``, so a file at the final path is always complete. Files
written before shape families existed have no ``shape`` and ``shape_parameter``:
:func:`read_labels` reads them as icosahedra.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from wideshot.files import replace_atomically
from wideshot.geometry import SHAPE_NAMES

IMAGES = "images"
RADIUS = "radius_nm"
QUATERNION = "quaternion"
SPLIT = "split"
LOG_INTENSITY_RANGE = "log_intensity_range"
SHAPE = "shape"
SHAPE_PARAMETER = "shape_parameter"
SOURCE_INDEX = "source_index"
COPY_INDEX = "copy_index"

#: The per-sample labels, by name: what :func:`read_labels` returns and writers take.
LABELS = (RADIUS, QUATERNION, SHAPE, SHAPE_PARAMETER)

#: Attribute of the ``shape`` data set: the family name of each code.
SHAPE_NAMES_ATTRIBUTE = "shape_names"

#: Codes of the ``split`` data set.
SPLIT_CODES: dict[str, int] = {"train": 0, "validation": 1}

#: Attributes that hold a mapping or a list, stored as a JSON string.
JSON_ATTRIBUTES = ("config", "material", "radius_range_nm", "shapes", "shape_weights")

#: gzip level of the images (with byte shuffling). On SPEC images: 61 % of the raw size at
#: 1.4 ms/image; level 9 reaches 60 % at 10 ms/image.
GZIP_LEVEL = 4

SUFFIXES = (".h5", ".hdf5")


def check_output_path(path: str | os.PathLike) -> Path:
    """The output path as a ``Path``; ``ValueError`` unless it ends in .h5 or .hdf5."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"the output file must end in .h5 or .hdf5, got {path}")
    return path


def make_parent_folder(path: Path) -> None:
    """Create the folders above ``path``; ``OSError`` naming the problem where impossible."""
    existing = next(parent for parent in path.parents if parent.exists())
    if not existing.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {existing} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"cannot write {path}: {error}") from None


def _plain(value):
    """An attribute value as plain Python (numpy scalar → int/float/bool, bytes → str)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value


def decode_attributes(attributes: Mapping) -> dict:
    """HDF5 attributes → dict of plain Python values; JSON attributes become dicts."""
    decoded = {key: _plain(value) for key, value in attributes.items()}
    for key in JSON_ATTRIBUTES:
        if key in decoded:
            decoded[key] = json.loads(decoded[key])
    return decoded


def read_attributes(path: str | os.PathLike) -> dict:
    """Attributes of a complete wideshot data set.

    Raises
    ------
    ValueError
        If ``path`` is not an HDF5 file or was not finished (no ``complete`` attribute).
    OSError
        If it cannot be read at all (missing, permissions).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such data set file: {path}")
    try:
        with h5py.File(path, "r") as file:
            attributes = decode_attributes(file.attrs)
    except OSError as error:
        raise ValueError(f"{path} is not a readable HDF5 file ({error})") from None
    if attributes.get("complete") is not True:
        raise ValueError(f"{path} is not a complete wideshot data set (no attribute complete=True)")
    return attributes


def read_labels(file: h5py.File, rows=slice(None)) -> dict:
    """The labels of some rows of an open data set file, by name (see :data:`LABELS`).

    Parameters
    ----------
    file : h5py.File
        An open wideshot data set.
    rows : slice or array of int
        Rows to read (increasing, for arrays); default all.

    Returns
    -------
    dict
        ``radius_nm`` (M,) float64, ``quaternion`` (M, 4) float64, ``shape`` (M,) int64 codes
        into :data:`~wideshot.geometry.SHAPE_NAMES`, ``shape_parameter`` (M,) float64, and
        ``log_intensity_range`` (M, 2) float64 where the file has it. Files without shapes
        (written before families existed) are icosahedra without a parameter.

    Raises
    ------
    ValueError
        If the file names a family this version does not know.
    """
    radius = np.asarray(file[RADIUS][rows], dtype=np.float64)
    labels = {RADIUS: radius, QUATERNION: np.asarray(file[QUATERNION][rows], dtype=np.float64)}
    if LOG_INTENSITY_RANGE in file:
        labels[LOG_INTENSITY_RANGE] = np.asarray(file[LOG_INTENSITY_RANGE][rows], dtype=np.float64)
    if SHAPE not in file:
        labels[SHAPE] = np.full(len(radius), SHAPE_NAMES.index("icosahedron"), dtype=np.int64)
        labels[SHAPE_PARAMETER] = np.full(len(radius), np.nan)
        return labels
    stored_names = [_plain(name) for name in file[SHAPE].attrs[SHAPE_NAMES_ATTRIBUTE]]
    unknown = sorted(set(stored_names) - set(SHAPE_NAMES))
    if unknown:
        raise ValueError(f"{file.filename} holds shape families this version does not know: "
                         f"{unknown}")
    recode = np.array([SHAPE_NAMES.index(name) for name in stored_names], dtype=np.int64)
    labels[SHAPE] = recode[np.asarray(file[SHAPE][rows], dtype=np.int64)]
    labels[SHAPE_PARAMETER] = np.asarray(file[SHAPE_PARAMETER][rows], dtype=np.float64)
    return labels


def _flatten(mapping: Mapping, prefix: str = "") -> dict:
    """Nested mappings → one level with dotted keys ("config.wavelength_nm")."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def describe_differences(found: Mapping, wanted: Mapping) -> str:
    """Human-readable list of the entries in which two attribute mappings differ."""
    found, wanted = _flatten(found), _flatten(wanted)
    keys = sorted(set(found) | set(wanted))
    return "; ".join(f"{key}: {found.get(key)!r} there, {wanted.get(key)!r} now"
                     for key in keys if found.get(key) != wanted.get(key))


class AtomicSampleWriter:
    """Write a data set file block by block; it appears at ``path`` only when complete.

    Use as a context manager: on normal exit the attributes and ``complete = True`` are
    written and the temporary file replaces ``path``; on an exception it is deleted and
    ``path`` is left untouched.

    Parameters
    ----------
    path : Path
        Final location of the file.
    temporary : Path
        Where to build it (same file system as ``path``).
    n_samples : int
        Number of rows N.
    image_shape : (int, int)
        (H, W) of one image.
    attributes : mapping
        File attributes; mappings under :data:`JSON_ATTRIBUTES` are stored as JSON.
    columns : mapping of str to numpy dtype or (dtype, tail shape)
        Per-sample data sets beside images and labels: ``split`` → ``np.uint8`` is (N,),
        ``log_intensity_range`` → ``(np.float64, (2,))`` is (N, 2).
    """

    def __init__(self, path: Path, temporary: Path, n_samples: int, image_shape: tuple[int, int],
                 attributes: Mapping, columns: Mapping[str, np.dtype] | None = None):
        self.path, self.temporary = Path(path), Path(temporary)
        self.n_samples, self.image_shape = n_samples, tuple(image_shape)
        self.attributes = dict(attributes)
        self.columns = dict(columns or {})
        self._file: h5py.File | None = None

    def __enter__(self) -> AtomicSampleWriter:
        self._file = h5py.File(self.temporary, "w")
        n = self.n_samples
        self._file.create_dataset(IMAGES, shape=(n, *self.image_shape), dtype=np.float32,
                                  chunks=(1, *self.image_shape), compression="gzip",
                                  compression_opts=GZIP_LEVEL, shuffle=True)
        self._file.create_dataset(RADIUS, shape=(n,), dtype=np.float64)
        self._file.create_dataset(QUATERNION, shape=(n, 4), dtype=np.float64)
        codes = self._file.create_dataset(SHAPE, shape=(n,), dtype=np.uint8)
        codes.attrs[SHAPE_NAMES_ATTRIBUTE] = list(SHAPE_NAMES)
        self._file.create_dataset(SHAPE_PARAMETER, shape=(n,), dtype=np.float64)
        for name, kind in self.columns.items():
            dtype, tail = kind if isinstance(kind, tuple) else (kind, ())
            self._file.create_dataset(name, shape=(n, *tail), dtype=dtype)
        return self

    def write(self, start: int, images: np.ndarray, labels: Mapping[str, np.ndarray],
              **columns: np.ndarray) -> None:
        """Write rows ``start:start + B``: images (B, H, W), the labels by name (every entry
        of :data:`LABELS`, as :func:`read_labels` returns them) and each extra column (B, ...)."""
        stop = start + len(images)
        self._file[IMAGES][start:stop] = images
        for name in LABELS:
            self._file[name][start:stop] = labels[name]
        for name, values in columns.items():
            self._file[name][start:stop] = values

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if exc_type is None:
                for key, value in self.attributes.items():
                    self._file.attrs[key] = json.dumps(value) if key in JSON_ATTRIBUTES else value
                self._file.attrs["complete"] = True
            self._file.close()
            if exc_type is None:
                replace_atomically(self.temporary, self.path)
        finally:
            self.temporary.unlink(missing_ok=True)
