"""Experimental detector frames from files and folders, one at a time.

:func:`find_inputs` turns files and folders into a sorted list of files; :func:`iter_frames`
reads them frame by frame and prepares each as a SPEC image with a validity mask
(:func:`~wideshot.reconstruction.preparation.prepare_frame`); :func:`count_frames` gives the
total for a progress bar from headers alone. Everything streams: a folder of 10,000 files or a
10,000-frame HDF5 stack holds one frame in memory at a time.

A problem with one file or one frame (missing, corrupt, unknown type, wrong size, empty, ...)
never stops the iteration: it comes out as a :class:`Frame` whose ``error`` names the reason.

European XFEL run directories are read through ``extra-data`` with a :class:`RunSelection`
(``dataset=RunSelection(source, key)``): the frames of that source and key in train order, a
detector with several pulses per train giving several frames per train.

Readable files (:data:`IMAGE_SUFFIXES`, case-insensitive)
----------------------------------------------------------
``.npy``
    One frame (H, W) or a stack (B, H, W), memory-mapped.
``.png``, ``.tif``, ``.tiff``
    Through Pillow; every page of a multi-page TIFF is a frame. Colour images are converted to
    greyscale by their luminance (ITU-R 601: 0.299 R + 0.587 G + 0.114 B) and divided by 255;
    8-bit greyscale stays uint8 and 16-bit stays uint16 (:func:`prepare_frame` reads uint8 as a
    log image and uint16 as counts when ``intensity="auto"``).
``.h5``, ``.hdf5``, ``.cxi``
    Through h5py; a 2-D data set is one frame, a 3-D one a stack read one frame at a time. Without
    ``dataset``, the data sets searched are, in this order: for every group ``entry_N``
    (N = 1, 2, ... in numeric order) ``/entry_N/data_1/data``, else
    ``/entry_N/instrument_1/detector_1/data`` (CXI layout); if there is none, ``/images`` (a data
    set of ``wideshot generate``). The frames of several entries follow each other, and
    :attr:`Frame.index` counts through all of them. An entry's CXI mask
    (``/entry_N/instrument_1/detector_1/mask``, else ``/entry_N/data_1/mask``; (H, W) or one per
    frame) is applied with CXI's polarity: nonzero = bad pixel.

Mask convention
---------------
Inside wideshot a mask is True (nonzero) for a **good** pixel. :func:`load_mask` reads mask files
in that convention, except CXI mask data sets, which mark bad pixels and are inverted.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from wideshot.reconstruction.counts import prepare_counts_frame
from wideshot.reconstruction.preparation import (
    INTENSITY_SCALES,
    DetectorGeometry,
    prepare_frame,
)

NPY_SUFFIXES = (".npy",)
PIL_SUFFIXES = (".png", ".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5", ".cxi")
#: Files that :func:`find_inputs` keeps when it walks a folder (compared case-insensitively).
IMAGE_SUFFIXES = NPY_SUFFIXES + PIL_SUFFIXES + HDF5_SUFFIXES

#: Image data sets of a wideshot data set (``wideshot generate``), searched after the CXI layout.
WIDESHOT_IMAGES = "/images"
_CXI_DATA = ("data_1/data", "instrument_1/detector_1/data")
_CXI_MASKS = ("instrument_1/detector_1/mask", "data_1/mask")
_ENTRY = re.compile(r"entry_(\d+)")
_CXI_MASK_PATH = re.compile(r"/?entry_\d+/(instrument_1/detector_1|data_1)/mask")

#: Luminance weights (R, G, B) of ITU-R 601, as Pillow's own conversion to greyscale.
_LUMINANCE = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Frame:
    """One frame of an input file, prepared for the network or with the reason it is not.

    Attributes
    ----------
    source : str
        The file, as given or as found in a folder.
    index : int
        Frame number inside the file, from 0 (0 for single-image files and for file errors).
    image : ndarray (128, 128) float32 or None
        SPEC image in [0, 1], 0 at invalid pixels; None if ``error``.
    valid : ndarray (128, 128) bool or None
        True where the image holds data; None if ``error``.
    error : str or None
        Why this frame (or the whole file) could not be read or prepared; None if it was.
    dataset : str or None
        The HDF5 data set the frame came from (None for other files).
    counts : CountsFrame or None
        The photon counts on the detector's own pixels, kept when asked for
        (``counts_options`` of :func:`iter_frames`).
    """

    source: str
    index: int
    image: np.ndarray | None
    valid: np.ndarray | None
    error: str | None
    dataset: str | None = None
    counts: object = None


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(folder: Path) -> list[Path]:
    """Files with known suffixes below ``folder``, sorted, hidden files and folders skipped."""
    found, visited = [], set()
    for root, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:  # a link back up the tree
            folders[:] = []
            continue
        visited.add(real)
        folders[:] = [name for name in folders if not _hidden(name)]
        found += [Path(root, name) for name in files
                  if not _hidden(name) and Path(name).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found, key=lambda path: path.relative_to(folder).parts)


def find_inputs(inputs: Sequence[str | os.PathLike], *, runs: bool = False) -> list[Path]:
    """The files to read: files as given, folders walked recursively.

    Parameters
    ----------
    inputs : sequence of str or Path
        Files and folders. A folder contributes the files below it whose suffix is one of
        :data:`IMAGE_SUFFIXES`, sorted by path, skipping hidden files and folders (name starting
        with "."). A file given by name is kept whatever its suffix, and so is a path that does
        not exist: :func:`iter_frames` reports either as an error instead of dropping it.
    runs : bool
        The inputs are European XFEL run directories (read with a :class:`RunSelection`),
        kept as they are.

    Returns
    -------
    list of Path
        In the order of ``inputs``; a file reached twice is listed once, where it first appears.
    """
    paths, seen = [], set()
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    for item in inputs:
        path = Path(item)
        for candidate in _walk(path) if path.is_dir() and not runs else [path]:
            key = os.path.realpath(candidate)
            if key not in seen:
                seen.add(key)
                paths.append(candidate)
    return paths


# --- readers: one class per kind of file, each with the same small interface -----------------

class _FrameFile:
    """An open input file: ``len()`` frames, :meth:`read` one of them, then :meth:`close`."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        pass

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray | None, str | None]:
        """Frame ``index``: (frame (H, W), its file mask (H, W) bool True = good or None,
        data set name or None)."""
        raise NotImplementedError


def _stack_shape_error(what: str, shape: tuple) -> ValueError:
    return ValueError(f"{what} has shape {shape}: neither one frame (H, W) nor a stack (B, H, W)")


class _NpyFile(_FrameFile):
    def __init__(self, path: Path, dataset: str | None = None):
        try:
            self._array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"not a readable .npy file ({error or 'empty'})") from None
        if self._array.ndim not in (2, 3):
            raise _stack_shape_error("the array", self._array.shape)

    def __len__(self) -> int:
        return 1 if self._array.ndim == 2 else len(self._array)

    def read(self, index):
        frame = self._array if self._array.ndim == 2 else self._array[index]
        return np.array(frame), None, None

    def close(self) -> None:
        self._array = None


def _pil_array(image: Image.Image) -> np.ndarray:
    """Pixels of a Pillow image (H, W): greyscale as stored, colour as luminance / 255."""
    if image.mode in ("1", "L", "LA", "La"):
        return np.asarray(image.convert("L"))
    if image.mode.startswith(("I", "F")):
        array = np.asarray(image)
        return array.astype(array.dtype.newbyteorder("="))
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    return rgb @ _LUMINANCE / 255.0


class _PilFile(_FrameFile):
    def __init__(self, path: Path, dataset: str | None = None):
        try:
            self._image = Image.open(path)
        except Image.UnidentifiedImageError:
            raise ValueError(f"not a {path.suffix.lstrip('.').upper()} image that Pillow can "
                             "read (corrupt, or another kind of file)") from None
        self._frame_count = getattr(self._image, "n_frames", 1)

    def __len__(self) -> int:
        return self._frame_count

    def read(self, index):
        self._image.seek(index)
        try:
            return _pil_array(self._image), None, None
        except OSError as error:
            raise ValueError(f"cannot decode the image ({error})") from None

    def close(self) -> None:
        self._image.close()


def _list_datasets(file: h5py.File, limit: int = 5) -> str:
    """The first ``limit`` 2-D/3-D data sets of a file with their shapes, for messages."""
    found = []

    def visit(name, node):
        if isinstance(node, h5py.Dataset) and node.ndim in (2, 3):
            found.append(f"/{name} {node.shape}")
        return True if len(found) > limit else None

    file.visititems(visit)
    if not found:
        return "it holds no 2-D or 3-D data set"
    more = ", ..." if len(found) > limit else ""
    return "datasets: " + ", ".join(found[:limit]) + more


def _hdf5_node(file: h5py.File, name: str):
    try:
        return file.get(name)
    except (KeyError, OSError, ValueError):  # broken links, bad names
        return None


def _entry_of(name: str) -> str | None:
    top = name.strip("/").split("/")[0]
    return top if _ENTRY.fullmatch(top) else None


def _entries(file: h5py.File) -> list[str]:
    """Groups entry_N in numeric order of N."""
    numbered = [(int(match.group(1)), name) for name in file
                if (match := _ENTRY.fullmatch(name)) and isinstance(_hdf5_node(file, name), h5py.Group)]
    return [name for _, name in sorted(numbered)]


def _cxi_mask(file: h5py.File, entry: str | None):
    if entry is None:
        return None
    for relative in _CXI_MASKS:
        node = _hdf5_node(file, f"{entry}/{relative}")
        if isinstance(node, h5py.Dataset):
            return node
    return None


class _Hdf5File(_FrameFile):
    def __init__(self, path: Path, dataset: str | None = None):
        try:
            self._file = h5py.File(path, "r")
        except OSError as error:
            raise ValueError(f"not a readable HDF5 file ({error})") from None
        try:
            self._blocks = self._find_blocks(path, dataset)
        except BaseException:
            self._file.close()
            raise
        self._masks: dict[int, np.ndarray] = {}

    def _find_blocks(self, path: Path, dataset: str | None) -> list[tuple[str, h5py.Dataset, object]]:
        """(name, image data set, CXI mask data set or None) in reading order."""
        file = self._file
        if dataset is not None:
            node = _hdf5_node(file, dataset)
            if not isinstance(node, h5py.Dataset):
                raise ValueError(f"no dataset {dataset!r} in {path.name} ({_list_datasets(file)})")
            named = [("/" + dataset.strip("/"), node)]
        else:
            named = []
            for entry in _entries(file):
                for relative in _CXI_DATA:
                    node = _hdf5_node(file, f"{entry}/{relative}")
                    if isinstance(node, h5py.Dataset):
                        named.append((f"/{entry}/{relative}", node))
                        break
            node = _hdf5_node(file, WIDESHOT_IMAGES)
            if not named and isinstance(node, h5py.Dataset):
                named.append((WIDESHOT_IMAGES, node))
            if not named:
                raise ValueError(
                    f"no image data set found in {path.name}: looked for /entry_N/data_1/data, "
                    f"/entry_N/instrument_1/detector_1/data and {WIDESHOT_IMAGES} "
                    f"({_list_datasets(file)}); name one with --dataset")
        for name, node in named:
            if node.ndim not in (2, 3):
                raise _stack_shape_error(f"dataset {name!r}", node.shape)
        return [(name, node, _cxi_mask(file, _entry_of(name))) for name, node in named]

    def __len__(self) -> int:
        return sum(1 if node.ndim == 2 else len(node) for _, node, _ in self._blocks)

    def _mask(self, block: int, local: int, length: int) -> np.ndarray | None:
        """The CXI mask of frame ``local`` of a block as good = True."""
        _, node, mask = self._blocks[block]
        if mask is None:
            return None
        if mask.ndim == 3 and node.ndim == 3 and len(mask) == length:
            return np.asarray(mask[local]) == 0
        if mask.ndim != 2:
            raise ValueError(f"the CXI mask {mask.name} has shape {mask.shape}, which fits "
                             f"neither one frame nor the stack {node.shape}")
        if block not in self._masks:
            self._masks[block] = np.asarray(mask[()]) == 0
        return self._masks[block]

    def read(self, index):
        for block, (name, node, _) in enumerate(self._blocks):
            length = 1 if node.ndim == 2 else len(node)
            if index < length:
                try:
                    frame = node[()] if node.ndim == 2 else node[index]
                except OSError as error:
                    hint = (" (compressed with a filter h5py lacks: install and import "
                            "hdf5plugin)" if "filter" in str(error).lower() else "")
                    raise ValueError(f"cannot read frame {index} of {name} ({error}){hint}") from None
                return np.asarray(frame), self._mask(block, index, length), name
            index -= length
        raise IndexError(index)

    def close(self) -> None:
        self._file.close()


_READERS: dict[str, type[_FrameFile]] = {
    **dict.fromkeys(NPY_SUFFIXES, _NpyFile),
    **dict.fromkeys(PIL_SUFFIXES, _PilFile),
    **dict.fromkeys(HDF5_SUFFIXES, _Hdf5File),
}


@dataclass(frozen=True)
class RunSelection:
    """What to read from European XFEL run directories (through ``extra-data``): the detector's
    ``source`` and the ``key`` of its image (None: the source's only key holding frames)."""

    source: str
    key: str | None = None


#: Image-like keys of a source searched when no key is given: entries of two dimensions.
_FRAME_NDIM = 2


class _XfelRun(_FrameFile):
    """A European XFEL run directory: the frames (entries) of one source and key, in train
    order; each frame's data set reads as "SOURCE KEY train ID"."""

    def __init__(self, path: Path, selection: RunSelection):
        try:
            from extra_data import RunDirectory
        except ImportError:  # pragma: no cover - a dependency of wideshot
            raise ValueError("reading run directories needs the extra-data package") from None
        try:
            run = RunDirectory(str(path))
        except Exception as error:  # noqa: BLE001 - not a run, unreadable files
            raise ValueError(f"not a European XFEL run directory ({_reason(error)})") from None
        if selection.source not in run.all_sources:
            raise ValueError(f"the run has no source {selection.source!r}; it has "
                             f"{', '.join(sorted(run.all_sources)[:8]) or 'none'}"
                             f"{', ...' if len(run.all_sources) > 8 else ''}")
        key = selection.key or self._frame_key(run, selection.source)
        try:
            self._data = run[selection.source, key]
        except Exception:  # noqa: BLE001 - a key that is not there
            raise ValueError(f"source {selection.source!r} has no key {key!r}") from None
        if len(self._data.entry_shape) != _FRAME_NDIM:
            raise ValueError(f"{selection.source} {key} holds entries of shape "
                             f"{self._data.entry_shape}, not frames (H, W)")
        per_train = np.asarray(self._data.data_counts(labelled=False), dtype=np.int64)
        self._train = np.repeat(np.arange(len(per_train)), per_train)
        self._within = np.arange(len(self._train)) - np.repeat(np.cumsum(per_train) - per_train,
                                                                per_train)
        self._name = f"{selection.source} {key}"

    @staticmethod
    def _frame_key(run, source: str) -> str:
        keys = sorted(key for key in run[source].keys()
                      if len(run[source, key].entry_shape) == _FRAME_NDIM)
        if len(keys) != 1:
            raise ValueError(f"source {source!r} has {'no key' if not keys else 'several keys'} "
                             f"holding frames ({', '.join(keys) or 'none'}); name one with --key")
        return keys[0]

    def __len__(self) -> int:
        return len(self._train)

    def read(self, index):
        train_id, values = self._data.train_from_index(int(self._train[index]), keep_dims=True)
        return (np.asarray(values[self._within[index]]), None,
                f"{self._name} train {int(train_id)}")


def _open(path: Path, dataset: str | RunSelection | None) -> _FrameFile:
    """The reader of ``path``; ValueError with the reason where there is none or it fails."""
    if isinstance(dataset, RunSelection):
        if not path.is_dir():
            raise ValueError("a European XFEL run is a directory (--source reads runs)")
        return _XfelRun(path, dataset)
    if path.is_dir():
        try:
            os.listdir(path)
        except OSError as error:
            raise ValueError(f"cannot read folder ({error.strerror})") from None
        raise ValueError("is a folder, not an image file (find_inputs walks folders)")
    if not path.exists():
        raise ValueError("no such file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"unknown file type {path.suffix or '(no suffix)'!r}; readable: "
                         f"{', '.join(IMAGE_SUFFIXES)}")
    try:
        return reader(path, dataset)
    except OSError as error:  # permissions, I/O errors
        raise ValueError(f"cannot read the file ({error.strerror or error})") from None


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def frames_per_file(paths: Sequence[str | os.PathLike], *,
                    dataset: str | RunSelection | None = None
                    ) -> list[int]:
    """How many :class:`Frame` objects :func:`iter_frames` yields for each file, from headers
    alone: a file that cannot be opened, or holds no frame, counts 1 (its error frame)."""
    counts = []
    for path in map(Path, paths):
        try:
            with _open(path, dataset) as opened:
                counts.append(max(1, len(opened)))
        except Exception:  # noqa: BLE001 - an unreadable file counts as its one error frame
            counts.append(1)
    return counts


def count_frames(paths: Sequence[str | os.PathLike], *,
                 dataset: str | RunSelection | None = None) -> int:
    """How many :class:`Frame` objects :func:`iter_frames` will yield, from headers alone."""
    return sum(frames_per_file(paths, dataset=dataset))


def _frame_mask(frame: np.ndarray, file_mask: np.ndarray | None,
                global_mask: np.ndarray | None) -> np.ndarray | None:
    """Good pixels of both masks (either may be None); ValueError for a shape mismatch."""
    for mask, what in ((global_mask, "the mask file"), (file_mask, "the file's own mask")):
        if mask is not None and mask.shape != frame.shape:
            raise ValueError(f"{what} is {'×'.join(map(str, mask.shape))} but the frame is "
                             f"{'×'.join(map(str, frame.shape))}")
    if global_mask is None or file_mask is None:
        return file_mask if global_mask is None else global_mask
    return global_mask & file_mask


def iter_frames(paths: Sequence[str | os.PathLike], *,
                dataset: str | RunSelection | None = None,
                mask: np.ndarray | None = None, geometry: DetectorGeometry | None = None,
                intensity: str = "auto", counts_options: dict | None = None
                ) -> Iterator[Frame]:
    """Every frame of every file, prepared as a SPEC image, one at a time.

    Parameters
    ----------
    paths : sequence of str or Path
        Files, e.g. from :func:`find_inputs`, read in this order.
    dataset : str or RunSelection, optional
        HDF5/CXI files: the data set to read (e.g. ``"/entry_1/data_1/data"``) instead of the
        default search (module docstring); ignored for other files. A :class:`RunSelection`:
        the paths are European XFEL run directories, read through ``extra-data``.
    mask : ndarray (H, W) bool, optional
        Good pixels (True = good) of the detector, applied to every frame (with a file's own CXI
        mask where it has one); e.g. from :func:`load_mask`. A frame of another shape is an error.
    geometry : DetectorGeometry, optional
        Flat-detector geometry of frames that are not on SPEC's 128×128 grid.
    intensity : {"auto", "spec", "counts"}
        What the values are; see :func:`~wideshot.reconstruction.preparation.prepare_frame`.
    counts_options : dict, optional
        With ``intensity="counts"``: also keep each frame's counts
        (:class:`~wideshot.fitting.counts.CountsFrame`, in :attr:`Frame.counts`) with these
        ``saturation``, ``threshold``, ``gain``; a frame that is not photon counts as promised
        is a failed frame with the reason.

    Returns
    -------
    iterator of Frame
        In file order, then frame order. A file that cannot be read yields one Frame with
        ``index=0`` and the reason in ``error``; a frame that cannot be prepared yields a Frame
        with its reason. Nothing is read before the iterator is advanced.

    Raises
    ------
    ValueError
        At once, for an unknown ``intensity`` or a mask that is not 2-D (problems of the call,
        not of a file).
    """
    mask = check_reading(intensity, mask, counts_options)
    return _frames(paths, dataset, mask, geometry, intensity, counts_options)


def check_reading(intensity: str, mask, counts_options: dict | None) -> np.ndarray | None:
    """The options of :func:`iter_frames` that concern the call, not a file: ValueError for an
    unknown ``intensity``, a mask that is not 2-D, counts options without counts; returns the
    mask as bool (or None)."""
    if intensity not in INTENSITY_SCALES:
        raise ValueError(f"intensity must be one of {', '.join(INTENSITY_SCALES)}, got {intensity!r}")
    if mask is not None:
        mask = np.asarray(mask) != 0
        if mask.ndim != 2:
            raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    if counts_options is not None and intensity != "counts":
        raise ValueError("saturation, threshold and gain describe photon counts: use them with "
                         "intensity 'counts'")
    return mask


@dataclass(frozen=True)
class RawFrame:
    """One frame of an input file as recorded, before preparation.

    Attributes
    ----------
    source, index, dataset, error
        As in :class:`Frame`.
    values : ndarray (H, W) or None
        The detector values as stored; None if ``error``.
    valid : ndarray (H, W) bool or None
        Good pixels of the masks that apply (None: no mask).
    """

    source: str
    index: int
    values: np.ndarray | None
    valid: np.ndarray | None
    error: str | None = None
    dataset: str | None = None


def iter_raw_frames(paths: Sequence[str | os.PathLike], *,
                    dataset: str | RunSelection | None = None,
                    mask: np.ndarray | None = None) -> Iterator[RawFrame]:
    """Every frame of every file as recorded, one at a time (``dataset`` and ``mask`` as in
    :func:`iter_frames`; ``mask`` already checked); problems are reported in the frames."""
    for path in paths:
        yield from read_raw_frames(path, dataset=dataset, mask=mask)


def read_raw_frames(path: str | os.PathLike, first: int = 0, stop: int | None = None, *,
                    dataset: str | RunSelection | None = None,
                    mask: np.ndarray | None = None) -> Iterator[RawFrame]:
    """Frames ``first`` to ``stop`` (exclusive; None: to the end) of one file as recorded; a
    file that cannot be opened or holds no frame is one error frame (index 0)."""
    source = str(path)
    try:
        opened = _open(Path(path), dataset)
    except Exception as error:  # noqa: BLE001 - reported in the frame, never raised
        yield RawFrame(source, 0, None, None, _reason(error))
        return
    with opened:
        if len(opened) == 0:
            yield RawFrame(source, 0, None, None, "the file holds no frames (an empty stack)")
        for index in range(first, len(opened) if stop is None else min(stop, len(opened))):
            name = None
            try:
                values, file_mask, name = opened.read(index)
                good = _frame_mask(values, file_mask, mask)
            except Exception as error:  # noqa: BLE001 - reported in the frame
                yield RawFrame(source, index, None, None, _reason(error), name)
                continue
            yield RawFrame(source, index, values, good, None, name)


def prepare_raw_frame(raw: RawFrame, *, geometry: DetectorGeometry | None = None,
                      intensity: str = "auto", counts_options: dict | None = None) -> Frame:
    """A recorded frame prepared as a SPEC image (with its counts where ``counts_options``
    ask for them; see :func:`iter_frames`), or with the reason it cannot be."""
    if raw.error is not None:
        return Frame(raw.source, raw.index, None, None, raw.error, raw.dataset)
    counts = None
    try:
        if counts_options is not None:
            image, valid, counts = prepare_counts_frame(raw.values, mask=raw.valid,
                                                        geometry=geometry, **counts_options)
        else:
            image, valid = prepare_frame(raw.values, mask=raw.valid, geometry=geometry,
                                         intensity=intensity)
    except Exception as error:  # noqa: BLE001 - reported in the Frame, never raised
        return Frame(raw.source, raw.index, None, None, _reason(error), raw.dataset)
    return Frame(raw.source, raw.index, image, valid, None, raw.dataset, counts)


def _frames(paths, dataset, global_mask, geometry, intensity, counts_options) -> Iterator[Frame]:
    for raw in iter_raw_frames(paths, dataset=dataset, mask=global_mask):
        yield prepare_raw_frame(raw, geometry=geometry, intensity=intensity,
                                counts_options=counts_options)


def load_mask(path: str | os.PathLike, *, dataset: str | None = None) -> np.ndarray:
    """A detector mask file as good pixels (True = good).

    Parameters
    ----------
    path : str or Path
        ``.npy`` (2-D array, nonzero = good), ``.png``/``.tif``/``.tiff`` (nonzero = good; the
        first page, colour by luminance) or ``.h5``/``.hdf5``/``.cxi``: ``dataset`` if given,
        else the CXI mask of the first entry (``/entry_N/instrument_1/detector_1/mask``, else
        ``/entry_N/data_1/mask``), else ``/mask``. Data sets at the CXI mask paths follow CXI's
        convention (nonzero = bad) and are inverted; any other data set is nonzero = good.
    dataset : str, optional
        HDF5 only: the data set that holds the mask.

    Returns
    -------
    ndarray (H, W) bool
        True for pixels to use.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For an unreadable file, unknown type, a mask that is not 2-D or that marks every pixel bad.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such mask file: {path}")
    suffix = path.suffix.lower()
    bad_is_nonzero = False
    if suffix in HDF5_SUFFIXES:
        try:
            file = h5py.File(path, "r")
        except OSError as error:
            raise ValueError(f"mask file {path} is not a readable HDF5 file ({error})") from None
        with file:
            if dataset is None:
                entries = _entries(file)
                node = _cxi_mask(file, entries[0]) if entries else None
                node = node if node is not None else _hdf5_node(file, "mask")
                if not isinstance(node, h5py.Dataset):
                    raise ValueError(f"no mask found in {path}: looked for the CXI mask of "
                                     f"entry_1 and /mask ({_list_datasets(file)})")
            else:
                node = _hdf5_node(file, dataset)
                if not isinstance(node, h5py.Dataset):
                    raise ValueError(f"no dataset {dataset!r} in {path.name} ({_list_datasets(file)})")
            bad_is_nonzero = bool(_CXI_MASK_PATH.fullmatch(node.name))
            values = np.asarray(node[()])
    elif suffix in NPY_SUFFIXES:
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"mask file {path} is not a readable .npy file ({error})") from None
    elif suffix in PIL_SUFFIXES:
        try:
            with Image.open(path) as image:
                values = _pil_array(image)
        except (Image.UnidentifiedImageError, OSError) as error:
            raise ValueError(f"mask file {path} is not a readable image ({error})") from None
    else:
        raise ValueError(f"unknown mask file type {path.suffix or '(no suffix)'!r}; readable: "
                         f"{', '.join(IMAGE_SUFFIXES)}")
    if values.ndim != 2:
        raise ValueError(f"mask in {path} has shape {values.shape}; a mask is 2-D (H, W)")
    good = values == 0 if bad_is_nonzero else values != 0
    if not good.any():
        polarity = "nonzero = bad" if bad_is_nonzero else "nonzero = good"
        raise ValueError(f"mask in {path} marks every pixel bad (read as {polarity})")
    return good
