"""Simulated training data at scale: reproducible samples, resumable shards, many workers.

Every sample is a function of ``(seed, index)`` alone (:func:`sample_parameters`), so a data set
can be cut into shards that are computed anywhere, in any order, and any subset can be
regenerated on its own. :func:`generate_dataset` computes the missing shards — in this
process, in local worker processes, or on a Dask cluster — and a single writer (the calling
process) stores each one in a sidecar directory ``PATH.shards/`` before assembling ``PATH``.
An interrupted run resumes from the shards already on disk; a file at ``PATH`` is always
complete (see :mod:`wideshot.data.hdf5`).

Example
-------
>>> from wideshot.data.generate import GenerationPlan, generate_dataset
>>> plan = GenerationPlan(n_samples=512, seed=7)
>>> generate_dataset("train.h5", plan, workers=2)  # doctest: +SKIP
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import h5py
import numba
import numpy as np
import torch
from tqdm import tqdm

from wideshot import __version__
from wideshot.choices import ALL_SHAPES, PRESETS, SHARD_SIZE
from wideshot.config import DEFAULT_CONFIG, RADIUS_RANGE_NM, SimulationConfig
from wideshot.data.augment import make_augmentation
from wideshot.data.hdf5 import (
    COPY_INDEX,
    IMAGES,
    LABELS,
    LOG_INTENSITY_RANGE,
    QUATERNION,
    RADIUS,
    SHAPE,
    SHAPE_PARAMETER,
    SOURCE_INDEX,
    SPLIT,
    SPLIT_CODES,
    AtomicSampleWriter,
    check_output_path,
    describe_differences,
    make_parent_folder,
    read_attributes,
    read_labels,
)
from wideshot.files import replace_atomically, write_bytes_atomically
from wideshot.geometry import SHAPE_NAMES, normalize_quaternion, shape_family
from wideshot.physics import (
    Absorption,
    RefractiveIndex,
    far_field,
    intensity_grid_units,
    log_intensity,
    scale_per_image,
)
from wideshot.physics.conditions import Conditions, validate_radius_range

# Independent random streams under one seed (numpy SeedSequence spawn keys).
_SAMPLE_STREAM = 0
_SPLIT_STREAM = 1
_SHAPE_STREAM = 2

_MANIFEST = "manifest.json"
_ASSEMBLY = "assembly.h5.partial"


def check_shapes(shapes, weights=None) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Family names (no repeats) and their weights, normalised to sum 1 (default: equal).

    Raises
    ------
    ValueError
        For an unknown family, a repeated one, no family, weights of another length, or
        weights that are negative, not finite or all zero.
    """
    if isinstance(shapes, str):
        shapes = [shapes]
    names = tuple(shape_family(name, "shapes").name for name in shapes)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"shapes must name each family once, got {list(shapes)}")
    if weights is None:
        return names, tuple(1.0 / len(names) for _ in names)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(names),) or not np.all(np.isfinite(weights)) \
            or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"shape weights must be {len(names)} non-negative numbers, not all "
                         f"zero, got {list(weights)}")
    return names, tuple(float(w) for w in weights / weights.sum())


@dataclass(frozen=True)
class GenerationPlan:
    """Everything that determines the content of a generated data set.

    Parameters
    ----------
    n_samples : int
        Number of samples N (> 0).
    seed : int
        Non-negative seed; sample i depends on (seed, i) only.
    shard_size : int
        Samples per shard (default :data:`SHARD_SIZE`).
    validation_fraction : float
        Fraction in [0, 1) of samples marked validation in the ``split`` data set
        (exactly round(N · fraction) of them); 0 writes no ``split``.
    config : SimulationConfig
        Physics and detector configuration (default: SPEC's).
    material : Absorption or RefractiveIndex, optional
        Default: SPEC's absorption-only model with ``config.attenuation_length_nm``.
    radius_range_nm : (float, float)
        Circumradii are drawn uniformly from this range (default SPEC's 30–160 nm).
    shapes : tuple of str
        Shape families drawn (default the icosahedron alone, the paper's data).
    shape_weights : tuple of float, optional
        Relative frequency of each family (default equal); normalised.
    device : str
        Torch device of the simulation ("cpu", "cuda", "cuda:1", ...). CPU and CUDA results
        differ in the last digits, so the device type is part of the configuration.
    preset : str, optional
        Name of the preset the plan was made from (recorded in the file).
    """

    n_samples: int
    seed: int
    shard_size: int = SHARD_SIZE
    validation_fraction: float = 0.0
    config: SimulationConfig = DEFAULT_CONFIG
    material: Absorption | RefractiveIndex | None = None
    radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM
    shapes: tuple[str, ...] = ("icosahedron",)
    shape_weights: tuple[float, ...] | None = None
    device: str = "cpu"
    preset: str | None = None

    def __post_init__(self) -> None:
        for name in ("n_samples", "seed", "shard_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.n_samples <= 0:
            raise ValueError(f"the number of samples must be positive, got {self.n_samples}")
        if self.seed < 0:
            raise ValueError(f"the seed must be a non-negative integer, got {self.seed}")
        if self.shard_size <= 0:
            raise ValueError(f"the shard size must be positive, got {self.shard_size}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError("the validation fraction must lie in [0, 1), got "
                             f"{self.validation_fraction}")
        conditions = Conditions(self.config, self.material, self.radius_range_nm)
        object.__setattr__(self, "material", conditions.material)
        object.__setattr__(self, "radius_range_nm", conditions.radius_range_nm)
        shapes, weights = check_shapes(self.shapes, self.shape_weights)
        object.__setattr__(self, "shapes", shapes)
        object.__setattr__(self, "shape_weights", weights)
        torch.device(self.device)  # ValueError/RuntimeError early for a malformed name

    @classmethod
    def from_preset(cls, name: str, **options) -> GenerationPlan:
        """The plan of a :data:`PRESETS` entry; ``options`` set the other fields (device, ...)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
        preset = PRESETS[name]
        options.setdefault("shapes",
                           SHAPE_NAMES if preset.shapes == ALL_SHAPES else preset.shapes)
        return cls(n_samples=preset.n_samples, seed=preset.seed,
                   validation_fraction=preset.validation_fraction, preset=name, **options)

    @property
    def n_shards(self) -> int:
        """Number of shards, ⌈N / shard_size⌉."""
        return -(-self.n_samples // self.shard_size)

    def shard_indices(self, shard: int) -> np.ndarray:
        """Sample indices (B,) of one shard, B ≤ shard_size."""
        start = shard * self.shard_size
        return np.arange(start, min(start + self.shard_size, self.n_samples))

    def manifest(self) -> dict:
        """JSON-ready identity of the data set: what a resumed run must agree on."""
        return {
            "wideshot_version": __version__,
            "n_samples": int(self.n_samples),
            "seed": int(self.seed),
            "shard_size": int(self.shard_size),
            "validation_fraction": float(self.validation_fraction),
            "device_type": torch.device(self.device).type,
            "preset": self.preset or "",
            **self.conditions.as_dict(),
            "shapes": list(self.shapes),
            "shape_weights": list(self.shape_weights),
        }

    @property
    def conditions(self) -> Conditions:
        """Physics and radius range of the data set."""
        return Conditions(self.config, self.material, self.radius_range_nm)


def _check_indices(indices) -> np.ndarray:
    indices = np.atleast_1d(np.asarray(indices))
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer) or np.any(indices < 0):
        raise ValueError("indices must be non-negative integers (a scalar or a 1-D array)")
    return indices


def sample_parameters(seed: int, indices, *, shapes=("icosahedron",), shape_weights=None,
                      radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM) -> dict:
    """Particle labels of samples, each a function of (seed, index) only.

    Sample i draws from its own stream ``SeedSequence(seed, spawn_key=(0, i))``: a radius
    uniform on ``radius_range_nm``, then a rotation uniform on SO(3) (normalised 4-D
    Gaussian). With more than one family, a second stream ``(2, i)`` draws the family (by the
    weights) and its parameter, uniform over the family's range; so an icosahedron-only data
    set is the same whatever the other settings. The quaternion is stored canonical under the
    sample's own family.

    Parameters
    ----------
    seed : int
        Non-negative seed of the data set.
    indices : int or array (B,) of int
        Sample indices, ≥ 0, in any order.
    shapes, shape_weights
        Families drawn and their relative frequencies (see :func:`check_shapes`).
    radius_range_nm : (float, float)
        Range of the circumradius, nm.

    Returns
    -------
    dict
        ``radius_nm`` (B,) float64, ``quaternion`` (B, 4) float64 canonical, ``shape`` (B,)
        int64 codes into :data:`~wideshot.geometry.SHAPE_NAMES`, ``shape_parameter`` (B,)
        float64 (NaN where the family has none).
    """
    indices = _check_indices(indices)
    shapes, weights = check_shapes(shapes, shape_weights)
    low, high = validate_radius_range(radius_range_nm)
    radius = np.empty(len(indices))
    gaussian = np.empty((len(indices), 4))
    codes = np.empty(len(indices), dtype=np.int64)
    parameters = np.full(len(indices), np.nan)
    for row, index in enumerate(indices):
        stream = np.random.SeedSequence(seed, spawn_key=(_SAMPLE_STREAM, int(index)))
        rng = np.random.default_rng(stream)
        radius[row] = rng.uniform(low, high)
        gaussian[row] = rng.standard_normal(4)
        shape_rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(_SHAPE_STREAM, int(index))))
        family = shape_family(shapes[0] if len(shapes) == 1
                              else shapes[shape_rng.choice(len(shapes), p=weights)])
        if family.has_parameter:
            parameters[row] = shape_rng.uniform(*family.parameter_range)
        codes[row] = SHAPE_NAMES.index(family.name)
    quaternion = normalize_quaternion(gaussian)
    for code in np.unique(codes):
        rows = codes == code
        quaternion[rows] = shape_family(SHAPE_NAMES[code]).group.canonical(quaternion[rows])
    return {RADIUS: radius, QUATERNION: quaternion, SHAPE: codes, SHAPE_PARAMETER: parameters}


def split_labels(seed: int, n_samples: int, validation_fraction: float) -> np.ndarray:
    """Train/validation assignment (N,) uint8: exactly round(N · fraction) samples are 1.

    The validation samples are a uniformly random subset, fixed by (seed, N, fraction).
    """
    split = np.full(n_samples, SPLIT_CODES["train"], dtype=np.uint8)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_STREAM,)))
    validation = rng.permutation(n_samples)[:round(n_samples * validation_fraction)]
    split[validation] = SPLIT_CODES["validation"]
    return split


def generate_samples(plan: GenerationPlan, indices) -> tuple[np.ndarray, dict]:
    """Images and labels of the samples ``indices`` of a plan (identical to the stored rows).

    Returns
    -------
    images : ndarray (B, H, W) float32
        SPEC images (what :func:`wideshot.simulate` returns).
    labels : dict
        As returned by :func:`sample_parameters`, plus ``log_intensity_range`` (B, 2) float64:
        the minimum and maximum of log(F + floor) of each image before its scaling.
    """
    labels = sample_parameters(plan.seed, indices, shapes=plan.shapes,
                               shape_weights=plan.shape_weights,
                               radius_range_nm=plan.radius_range_nm)
    amplitudes = far_field(labels[RADIUS], labels[QUATERNION],
                           shape=[SHAPE_NAMES[code] for code in labels[SHAPE]],
                           shape_parameter=labels[SHAPE_PARAMETER], material=plan.material,
                           config=plan.config, device=plan.device)
    logs = log_intensity(intensity_grid_units(amplitudes, plan.config), plan.config)
    labels[LOG_INTENSITY_RANGE] = np.stack((logs.min(axis=(-2, -1)), logs.max(axis=(-2, -1))),
                                           axis=-1).astype(np.float64)
    return scale_per_image(logs), labels


def compute_shard(plan: GenerationPlan, shard: int) -> tuple[np.ndarray, dict]:
    """The samples of one shard (what a worker runs); see :func:`generate_samples`."""
    return generate_samples(plan, plan.shard_indices(shard))


# --------------------------------------------------------------------------------------------
# Where the shards are computed
# --------------------------------------------------------------------------------------------


def _start_worker() -> None:
    """Worker start-up: one thread each, since the parallelism is across processes; exit when
    the parent is gone (killed), rather than wait forever to hand back a shard nobody reads."""
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    multiprocessing.parent_process().join()
    os._exit(1)


def _worker_context() -> multiprocessing.context.BaseContext:
    """Fresh processes, not forks of this one, whose torch/numba thread pools may be running.

    With 'forkserver' one server imports wideshot (seconds) and every worker is a quick fork of
    it; where there is none (Windows), each worker starts with 'spawn'.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _in_process(plan: GenerationPlan, shards: Sequence[int]) -> Iterator[tuple[int, tuple]]:
    for shard in shards:
        yield shard, compute_shard(plan, shard)


def _local_workers(plan: GenerationPlan, shards: Sequence[int],
                   workers: int) -> Iterator[tuple[int, tuple]]:
    executor = ProcessPoolExecutor(max_workers=min(workers, len(shards)),
                                   mp_context=_worker_context(),
                                   initializer=_start_worker)
    try:
        futures = {executor.submit(compute_shard, plan, shard): shard for shard in shards}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _dask_cluster(plan: GenerationPlan, shards: Sequence[int],
                  address: str) -> Iterator[tuple[int, tuple]]:
    from distributed import Client
    from distributed import as_completed as dask_as_completed

    with Client(address) as client:
        futures = client.map(partial(compute_shard, plan), list(shards), pure=False)
        shard_of = {future.key: shard for future, shard in zip(futures, shards)}
        try:
            for future in dask_as_completed(futures):
                yield shard_of[future.key], future.result()
                future.release()
        finally:
            client.cancel(futures)


# --------------------------------------------------------------------------------------------
# The writer: shard files, resuming, assembly
# --------------------------------------------------------------------------------------------


def shard_directory(path: str | os.PathLike) -> Path:
    """Sidecar directory ``PATH.shards/`` that holds the finished shards of ``PATH``."""
    path = Path(path)
    return path.with_name(path.name + ".shards")


def _shard_file(directory: Path, shard: int) -> Path:
    return directory / f"shard-{shard:06d}.npz"


def _write_shard(directory: Path, shard: int, arrays: tuple) -> None:
    images, labels = arrays
    temporary = directory / f"shard-{shard:06d}.npz.partial"
    with open(temporary, "wb") as handle:
        np.savez(handle, images=images, **labels)
    replace_atomically(temporary, _shard_file(directory, shard))


def _write_json_atomically(path: Path, value: dict) -> None:
    write_bytes_atomically(path, json.dumps(value, indent=1).encode())


def _mismatch(what: Path, found: dict, wanted: dict) -> ValueError:
    return ValueError(f"{what} comes from another configuration "
                      f"({describe_differences(found, wanted)}); nothing was overwritten. "
                      "Choose another output path, re-run with the original settings, "
                      "or pass --overwrite to start afresh")


def _prepare_shard_directory(path: Path, manifest: dict) -> Path:
    """Create the sidecar directory of ``path`` or check that it belongs to this plan
    (manifest); remove partially written files; return the directory."""
    directory = shard_directory(path)
    make_parent_folder(path)
    try:
        directory.mkdir(exist_ok=True)
    except OSError as error:
        raise OSError(f"cannot write {path}: {error}") from None
    manifest_file = directory / _MANIFEST
    if manifest_file.exists():
        try:
            found = json.loads(manifest_file.read_text())
        except ValueError:
            raise ValueError(f"{manifest_file} is not a wideshot shard manifest; nothing was "
                             "overwritten (remove it or pass --overwrite)") from None
        if found != manifest:
            raise _mismatch(directory, found, manifest)
    else:
        if any(directory.iterdir()):
            raise ValueError(f"{directory} exists but holds no wideshot shard manifest; "
                             "nothing was overwritten (remove it or pass --overwrite)")
        _write_json_atomically(manifest_file, manifest)
    for leftover in directory.glob("*.partial"):
        leftover.unlink()
    return directory


def _read_shard(directory: Path, plan: GenerationPlan, shard: int) -> tuple[np.ndarray, dict]:
    with np.load(_shard_file(directory, shard)) as stored:
        images = stored[IMAGES]
        labels = {name: stored[name] for name in (*LABELS, LOG_INTENSITY_RANGE)
                  if name in stored}
    if LOG_INTENSITY_RANGE not in labels:
        raise ValueError(f"{_shard_file(directory, shard)} was written by an older wideshot "
                         "without log_intensity_range; delete it to recompute it")
    if len(images) != len(plan.shard_indices(shard)):
        raise ValueError(f"{_shard_file(directory, shard)} holds {len(images)} samples, "
                         f"expected {len(plan.shard_indices(shard))}; delete it to recompute it")
    return images, labels


def _assemble(path: Path, plan: GenerationPlan, directory: Path) -> None:
    """Collect the shards into ``path`` (atomically), with labels, split and attributes."""
    has_split = plan.validation_fraction > 0
    split = split_labels(plan.seed, plan.n_samples, plan.validation_fraction)
    image_shape = (plan.config.grid_size, plan.config.grid_size)
    kinds = {LOG_INTENSITY_RANGE: (np.float64, (2,))} | ({SPLIT: np.uint8} if has_split else {})
    with AtomicSampleWriter(path, directory / _ASSEMBLY, plan.n_samples, image_shape,
                            plan.manifest(), kinds) as writer:
        for shard in range(plan.n_shards):
            indices = plan.shard_indices(shard)
            images, labels = _read_shard(directory, plan, shard)
            columns = {SPLIT: split[indices]} if has_split else {}
            writer.write(indices[0], images, labels,
                         **columns, **{LOG_INTENSITY_RANGE: labels[LOG_INTENSITY_RANGE]})


def generate_dataset(path: str | os.PathLike, plan: GenerationPlan, *, workers: int | None = None,
                     scheduler: str | None = None, overwrite: bool = False,
                     progress: bool = True) -> Path:
    """Generate (or finish) the data set of ``plan`` at ``path``.

    Finished shards in ``PATH.shards/`` are kept and not recomputed; after assembly the
    directory is removed. Running again on a complete file of the same plan does nothing.

    Parameters
    ----------
    path : str or Path
        Output file, ending in .h5 or .hdf5 (parent folders are created).
    plan : GenerationPlan
        What to generate.
    workers : int, optional
        Local worker processes; 1 computes in this process (its simulation kernel then uses
        every core). Default: ``os.cpu_count()`` on a CPU, 1 on an accelerator.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``); its workers compute the
        shards instead of local processes (they need wideshot installed and return the arrays;
        this process writes them).
    overwrite : bool
        Delete an existing file and shards at ``path`` first, whatever their configuration.
    progress : bool
        Show a progress bar (images, rate, ETA) on stderr.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``path`` or its shards come from another configuration (nothing is overwritten),
        or for invalid arguments.
    OSError
        If ``path`` cannot be written.
    """
    path = check_output_path(path)
    if workers is None:
        workers = (os.cpu_count() or 1) if torch.device(plan.device).type == "cpu" else 1
    if workers <= 0:
        raise ValueError(f"the number of workers must be positive, got {workers}")
    manifest = plan.manifest()
    if overwrite:
        path.unlink(missing_ok=True)
        shutil.rmtree(shard_directory(path), ignore_errors=True)
    if path.exists():
        found = {key: value for key, value in read_attributes(path).items() if key in manifest}
        if found != manifest:
            raise _mismatch(path, found, manifest)
        shutil.rmtree(shard_directory(path), ignore_errors=True)
        return path

    directory = _prepare_shard_directory(path, manifest)
    missing = [shard for shard in range(plan.n_shards)
               if not _shard_file(directory, shard).exists()]
    done = plan.n_samples - sum(len(plan.shard_indices(shard)) for shard in missing)
    if scheduler is not None and missing:
        results = _dask_cluster(plan, missing, scheduler)
    elif workers == 1 or len(missing) <= 1:
        results = _in_process(plan, missing)
    else:
        results = _local_workers(plan, missing, workers)
    # closing(): stop the workers as soon as anything (Ctrl-C, a failed shard) ends the loop.
    with closing(results), tqdm(total=plan.n_samples, initial=done, unit="img", desc=path.name,
                                file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        for shard, arrays in results:
            _write_shard(directory, shard, arrays)
            bar.update(len(arrays[0]))
    _assemble(path, plan, directory)
    shutil.rmtree(directory)
    return path


# --------------------------------------------------------------------------------------------
# Offline augmentation of a data set file
# --------------------------------------------------------------------------------------------


def augmentation_generator(seed: int, index: int, copy: int) -> torch.Generator:
    """CPU generator of one augmented image, a function of (seed, source index, copy) only."""
    state = np.random.SeedSequence([seed, index, copy]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def augment_file(source: str | os.PathLike, destination: str | os.PathLike, name: str, *,
                 copies: int = 1, seed: int = 0, block_size: int = 256,
                 progress: bool = True) -> Path:
    """Write an augmented copy of a data set: every image through a registered filter.

    Row ``i·copies + c`` of the output is copy c of source row i, augmented with the generator
    :func:`augmentation_generator` ``(seed, i, c)`` — reproducible image by image. Labels (and
    ``split``, if present) are copied; ``source_index`` and ``copy_index`` are added; the
    attributes are the source's plus ``augmentation``, ``augmentation_seed``,
    ``augmentation_copies`` and ``source_file``.

    Parameters
    ----------
    source, destination : str or Path
        Complete input data set; output file (.h5/.hdf5), replaced atomically.
    name : str
        Filter name in :data:`wideshot.data.augment.AUGMENTATIONS`.
    copies : int
        Augmented copies per source image (≥ 1).
    seed : int
        Non-negative seed.
    block_size : int
        Source rows read at a time (memory).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Path
        ``destination``.
    """
    source, destination = Path(source), check_output_path(destination)
    augmentation = make_augmentation(name)
    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    if seed < 0:
        raise ValueError(f"the seed must be a non-negative integer, got {seed}")
    if destination.resolve() == source.resolve():
        raise ValueError("the output file must differ from the input file")
    attributes = read_attributes(source)
    attributes.pop("complete")
    attributes.update(augmentation=name, augmentation_seed=seed, augmentation_copies=copies,
                      source_file=str(source))
    make_parent_folder(destination)
    temporary = destination.with_name(destination.name + ".partial")
    with h5py.File(source, "r") as file:
        n_source = len(file[IMAGES])
        columns = {SOURCE_INDEX: np.int64, COPY_INDEX: np.int64}
        if SPLIT in file:
            columns[SPLIT] = np.uint8
        with AtomicSampleWriter(destination, temporary, n_source * copies, file[IMAGES].shape[1:],
                                attributes, columns) as writer, \
                tqdm(total=n_source * copies, unit="img", desc=destination.name, file=sys.stderr,
                     disable=not progress, dynamic_ncols=True) as bar:
            for start in range(0, n_source, block_size):
                rows = np.arange(start, min(start + block_size, n_source))
                images = torch.from_numpy(file[IMAGES][rows[0]:rows[-1] + 1])
                augmented = np.stack([
                    augmentation(images[row - start][None],
                                 augmentation_generator(seed, int(row), copy))[0].numpy()
                    for row in rows for copy in range(copies)])
                block = {SOURCE_INDEX: np.repeat(rows, copies),
                         COPY_INDEX: np.tile(np.arange(copies), len(rows))}
                if SPLIT in file:
                    block[SPLIT] = np.repeat(file[SPLIT][rows[0]:rows[-1] + 1], copies)
                labels = read_labels(file, slice(rows[0], rows[-1] + 1))
                writer.write(start * copies, augmented,
                             {name: np.repeat(values, copies, axis=0)
                              for name, values in labels.items()}, **block)
                bar.update(len(augmented))
    return destination
