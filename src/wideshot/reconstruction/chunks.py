"""The unit of work of a reconstruction run: a chunk of consecutive frames, read and answered.

:func:`plan_chunks` cuts the frames of a run (files in order, frames in order) into chunks of at
most ``batch_size`` frames — a chunk may span several small files — and :func:`answer_chunk`
reads one chunk, prepares its frames, answers the good ones in one batch and returns their rows
(and what the first few need for their Figure-5 panels). The same function runs in this process
or on a Dask worker (:func:`~wideshot.reconstruction.pipeline.reconstruct_files` with a
``scheduler``), so both give the same rows. It touches no output: the caller writes.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from wideshot.fitting import fit
from wideshot.physics import simulate
from wideshot.reconstruction.api import reconstruct
from wideshot.reconstruction.rows import answer_rows, failed_row
from wideshot.reconstruction.sources import prepare_raw_frame, read_raw_frames

#: A run of frames of one file: (path, first frame, stop frame (exclusive)).
Segment = tuple[str, int, int]


@dataclass(frozen=True)
class AnswerSettings:
    """How every frame of a run is read and answered: everything a worker needs.

    Attributes
    ----------
    dataset, mask, geometry, intensity, counts_options
        How frames are read and prepared (:func:`~wideshot.reconstruction.iter_frames`).
    model, device
        The network (a shipped name or run folder, loaded once per process, or a module).
    method : {"network", "hybrid", "mcs"}
    starts, iterations, seed
        Budget and seed of the forward fits.
    threshold : float or None
        Misfit above which an answer is flagged (None: not checked).
    views, check, fit_centre
        As in :func:`~wideshot.reconstruction.reconstruct`.
    conditions : Conditions
        The model's wavelength, material and radius range.
    """

    model: object
    device: object
    method: str
    conditions: object
    threshold: float | None
    dataset: object = None
    mask: np.ndarray | None = field(default=None, compare=False)
    geometry: object = None
    intensity: str = "auto"
    counts_options: dict | None = field(default=None, compare=False)
    starts: int | None = None
    iterations: int | None = None
    seed: int = 0
    views: int = 8
    check: bool = True
    fit_centre: bool = False


@dataclass(frozen=True)
class ChunkAnswer:
    """The rows of one chunk, in frame order (None for a frame skipped: already answered), and
    for its first answered frames what their Figure-5 panels need.

    Attributes
    ----------
    rows : list of dict or None
    panels : list of dict
        Per panel: ``position`` (in ``rows``), ``image``, ``valid``, ``resimulated`` (128×128)
        and the answer's ``radius_nm``, ``quaternion``, ``shape``, ``shape_parameter``,
        ``misfit``.
    """

    rows: list
    panels: list


def plan_chunks(paths: list, frames_per_file: list[int], batch_size: int) -> list[list[Segment]]:
    """Consecutive frames of the run, ``batch_size`` at a time, as segments of files."""
    chunks, current, room = [], [], batch_size
    for path, count in zip(map(str, paths), frames_per_file, strict=True):
        first = 0
        while first < count:
            take = min(room, count - first)
            current.append((path, first, first + take))
            first += take
            room -= take
            if room == 0:
                chunks.append(current)
                current, room = [], batch_size
    if current:
        chunks.append(current)
    return chunks


@functools.lru_cache(maxsize=4)
def _loaded(model: str | os.PathLike, device) -> object:
    """A network by name or run folder, loaded once per process."""
    from wideshot.training.lookup import load_model

    return load_model(model, device)[0]


def _network(settings: AnswerSettings):
    if settings.method == "mcs":
        return None
    if isinstance(settings.model, (str, os.PathLike)):
        return _loaded(settings.model, settings.device)
    return settings.model


def frame_keys(segments: list[Segment]) -> list[tuple[str, int]]:
    """(source, frame) of every frame of a chunk, in order."""
    return [(path, index) for path, first, stop in segments for index in range(first, stop)]


def answer_frames(frames: list, settings: AnswerSettings) -> dict:
    """Answers of a batch of prepared, good frames (the network, hybrid or MCS): the result
    dict of :func:`~wideshot.reconstruction.reconstruct` (or :func:`wideshot.fit`'s, with a
    shape per frame and ``flagged``)."""
    images = np.stack([frame.image for frame in frames])
    valid = np.stack([frame.valid for frame in frames])
    counts = [frame.counts for frame in frames] if frames[0].counts is not None else None
    if settings.method == "mcs":
        result = fit(images, valid=valid, method="mcs", starts=settings.starts,
                     iterations=settings.iterations, seed=settings.seed,
                     device=settings.device, conditions=settings.conditions)
        threshold = settings.threshold
        flagged = (result["misfit"] > threshold if threshold is not None
                   else np.zeros(len(images), dtype=bool))
        return {**result, "shape": [result["shape"]] * len(images), "flagged": flagged,
                "max_misfit": threshold}
    return reconstruct(images, valid=valid, model=_network(settings),
                       device=settings.device, refine=settings.method == "hybrid",
                       max_misfit=settings.threshold, seed=settings.seed,
                       starts=settings.starts, iterations=settings.iterations,
                       views=settings.views, check=settings.check,
                       conditions=settings.conditions, counts=counts,
                       fit_centre=settings.fit_centre)


def answer_chunk(segments: list[Segment], settings: AnswerSettings, *,
                 skip: frozenset = frozenset(), panels: int = 0) -> ChunkAnswer:
    """Read, prepare and answer one chunk of frames.

    Parameters
    ----------
    segments : list of (path, first, stop)
        From :func:`plan_chunks`.
    settings : AnswerSettings
    skip : frozenset of (source, frame)
        Frames answered before (a resumed run): not answered again, their rows None.
    panels : int
        Figure-5 material for at most this many of the chunk's first answered frames.

    Returns
    -------
    ChunkAnswer
    """
    frames = [prepare_raw_frame(raw, geometry=settings.geometry, intensity=settings.intensity,
                                counts_options=settings.counts_options)
              for path, first, stop in segments
              for raw in read_raw_frames(path, first, stop, dataset=settings.dataset,
                                         mask=settings.mask)]
    todo = [frame for frame in frames if (frame.source, frame.index) not in skip]
    good = [frame for frame in todo if frame.error is None]
    answers, result = iter(()), None
    if good:
        result = answer_frames(good, settings)
        answers = iter(answer_rows(good, result))
    rows = [None if (frame.source, frame.index) in skip
            else failed_row(frame) if frame.error is not None else next(answers)
            for frame in frames]
    return ChunkAnswer(rows, _panel_material(frames, good, result, panels, settings))


def _panel_material(frames: list, good: list, result: dict | None, panels: int,
                    settings: AnswerSettings) -> list[dict]:
    """What the Figure-5 panels of the first ``panels`` answered frames need (one batched
    re-simulation)."""
    drawn = good[:panels]
    if not drawn:
        return []
    count = len(drawn)
    resimulated = simulate(result["radius_nm"][:count], result["quaternion"][:count],
                           shape=result["shape"][:count],
                           shape_parameter=result["shape_parameter"][:count],
                           material=settings.conditions.material,
                           config=settings.conditions.config)
    position = {id(frame): index for index, frame in enumerate(frames)}
    return [{"position": position[id(frame)], "image": frame.image, "valid": frame.valid,
             "resimulated": resimulated[index],
             **{key: result[key][index] for key in ("radius_nm", "quaternion", "shape",
                                                     "shape_parameter", "misfit")}}
            for index, frame in enumerate(drawn)]
