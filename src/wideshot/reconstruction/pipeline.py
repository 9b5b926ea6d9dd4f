"""Files in, results out: stream frames through the network in batches, write CSV, JSON, panels.

Frames are read one at a time (:func:`~wideshot.reconstruction.sources.iter_frames`), grouped
into batches of good frames and reconstructed; every frame gets one row, in input order, written
as soon as its batch is done, so memory stays constant however many frames there are. A frame
that cannot be read or prepared gets a row with status "failed" and the reason; an answer whose
misfit exceeds the threshold gets status "flagged".
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wideshot.evaluation.particle_figures import save_reconstruction_panel
from wideshot.fitting.api import IMAGE_NUISANCE_COLUMNS
from wideshot.models.inference import DEFAULT_VIEWS
from wideshot.reconstruction.preparation import DetectorGeometry
from wideshot.reconstruction.quality import misfit_threshold
from wideshot.reconstruction.chunks import (
    AnswerSettings,
    ChunkAnswer,
    answer_chunk,
    frame_keys,
    plan_chunks,
)
from wideshot.reconstruction.rows import COLUMNS, COUNTS_COLUMNS, STATUSES
from wideshot.reconstruction.view_errors import SIGMA_COLUMNS
from wideshot.reconstruction.sources import (
    RunSelection,
    check_reading,
    find_inputs,
    frames_per_file,
)
from wideshot.training.lookup import DEFAULT_MODEL, load_model, model_conditions

#: How answers are found: the network, the network + forward-fit refinement, forward fit alone.
METHODS = ("network", "hybrid", "mcs")

RESULTS_CSV = "reconstruction.csv"
RESULTS_JSON = "reconstruction.json"
PANELS_FOLDER = "panels"


@dataclass
class ResultWriters:
    """The CSV and JSON outputs, written row by row."""

    out_dir: Path
    rows_written: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    columns: tuple = COLUMNS

    def __enter__(self) -> ResultWriters:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._csv_file = open(self.out_dir / RESULTS_CSV, "w", newline="")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=self.columns)
        self._csv.writeheader()
        self._json = open(self.out_dir / RESULTS_JSON, "w")
        self._json.write('{"frames": [\n')
        return self

    def write(self, row: dict) -> None:
        self._csv.writerow(row)
        self._csv_file.flush()  # rows on disk as they come: an interrupted run can --resume
        self._json.write((",\n" if self.rows_written else "") + json.dumps(row))
        self.rows_written += 1
        self.counts[row["status"]] += 1

    def close(self, summary: dict) -> None:
        self._csv_file.close()
        self._json.write('\n],\n"summary": ' + json.dumps(summary, indent=1) + "}\n")
        self._json.close()

    def __exit__(self, *exc) -> None:
        if not self._json.closed:  # interrupted: keep what was written readable as CSV
            self._csv_file.close()
            self._json.close()


_NUMBER_COLUMNS = ("radius_nm", "w", "x", "y", "z", "misfit", "shape_probability",
                   "shape_parameter") + SIGMA_COLUMNS + COUNTS_COLUMNS + IMAGE_NUISANCE_COLUMNS


def earlier_rows(csv_path: Path) -> dict[tuple[str, int], dict]:
    """Rows of an interrupted run's CSV by (source, frame), values typed as when written."""
    rows = {}
    with open(csv_path, newline="") as file:
        for row in csv.DictReader(file):
            row = {key: (value if value != "" else None) for key, value in row.items()}
            for key in _NUMBER_COLUMNS:
                if key in row:
                    row[key] = None if row[key] is None else float(row[key])
            row["frame"] = int(row["frame"])
            rows[(row["source"], row["frame"])] = row
    return rows


def _panel_name(row: dict, number: int) -> str:
    return f"{number:05d}_{Path(row['source']).stem}_{row['frame']}.png"


def _chunk_starts(chunks: list) -> Iterator[tuple[list, int]]:
    """Each chunk with the number of frames before it."""
    before = 0
    for segments in chunks:
        yield segments, before
        before += sum(stop - first for _, first, stop in segments)


def _answers(work: list, settings: AnswerSettings, scheduler: str | None,
             workers: int | None) -> Iterator[ChunkAnswer]:
    """:func:`answer_chunk` of every (segments, skip, panels) of ``work``, in order: here, or
    on Dask workers (a scheduler's, or a local cluster of ``workers`` processes)."""
    if scheduler is None and workers is None:
        for segments, skip, panels in work:
            yield answer_chunk(segments, settings, skip=skip, panels=panels)
        return
    from wideshot.reconstruction.cluster import dask_answers

    yield from dask_answers(work, settings, scheduler=scheduler, workers=workers)


def _description_or_nothing(model, device) -> dict:
    """What :func:`load_model` says about ``model``, or {} if it names no model."""
    try:
        return load_model(model, device)[1]
    except FileNotFoundError:
        return {}


def reconstruct_files(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *,
                      dataset: str | RunSelection | None = None,
                      mask: np.ndarray | None = None,
                      geometry: DetectorGeometry | None = None, intensity: str = "auto",
                      model=DEFAULT_MODEL, device=None, method: str = "network",
                      starts: int | None = None, iterations: int | None = None, seed: int = 0,
                      max_misfit: float | None = None, batch_size: int = 64, panels: int = 16,
                      views: int = DEFAULT_VIEWS, check: bool = True, resume: bool = False,
                      saturation: float | None = None, threshold: float | None = None,
                      gain: float | None = None, fit_centre: bool = False,
                      scheduler: str | None = None, workers: int | None = None,
                      progress: bool = True) -> dict:
    """Reconstruct every frame of files and folders into ``out_dir``.

    Parameters
    ----------
    inputs : sequence of str or Path
        Files and folders (searched recursively): PNG, TIFF, NPY, HDF5/CXI.
    out_dir : str or Path
        Receives ``reconstruction.csv``, ``reconstruction.json`` (rows and a summary) and
        ``panels/`` (Figure 5 per image: input | particle | re-simulation).
    dataset, mask, geometry, intensity
        How to read and prepare frames; see :func:`~wideshot.reconstruction.iter_frames`.
    model, device, max_misfit, views, check
        How to answer; see :func:`~wideshot.reconstruction.reconstruct`. Without ``check``
        the network's answers are not re-simulated: their misfit is left empty and none is
        flagged (the forward-fitting methods always have a misfit).
    method : {"network", "hybrid", "mcs"}
        The network alone, the network refined by forward fitting, or the Monte-Carlo simplex
        forward fit (:func:`wideshot.fit`; no network).
    starts, iterations, seed
        Budget and seed of the forward fits (see :func:`wideshot.fit`).
    batch_size : int
        Good frames per network batch.
    panels : int
        Figure-5 panels for the first this many answered frames (0 = none; each costs ~0.2 s).
    saturation, threshold, gain : float, optional
        With ``intensity="counts"``, any of them (``gain`` 1 = photons) keeps each frame's
        photon counts for the likelihood (:func:`~wideshot.reconstruction.reconstruct` with
        counts): the CSV gains :data:`COUNTS_COLUMNS` and flags come from the goodness of fit.
        Without counts, a "hybrid" run's CSV gains the image offset and blur each refinement
        allowed for (:data:`~wideshot.fitting.api.IMAGE_NUISANCE_COLUMNS`).
    resume : bool
        Continue an interrupted run in ``out_dir``: frames already in its CSV are kept, not
        redone. Without it, an ``out_dir`` that already holds results is refused.
    scheduler : str, optional
        A Dask distributed scheduler (``tcp://host:8786``) whose workers answer the chunks of
        ``batch_size`` frames (they need wideshot installed and the files at the same paths);
        rows are written in input order and are the same as in one process.
    workers : int, optional
        Start a local Dask cluster of this many worker processes (one thread each) instead.
    progress : bool
        Progress bar (frames, rate, ETA) on stderr.

    Returns
    -------
    dict
        The summary also written to the JSON: counts per status, frames per second, threshold,
        model, output paths.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    if batch_size < 1 or panels < 0:
        raise ValueError(f"batch_size must be >= 1 and panels >= 0, got {batch_size}, {panels}")
    out_dir = Path(out_dir)
    earlier = {}
    if (out_dir / RESULTS_CSV).exists():
        if not resume:
            raise ValueError(f"{out_dir} already holds {RESULTS_CSV}; continue that run with "
                             "--resume, or choose another --out")
        earlier = earlier_rows(out_dir / RESULTS_CSV)
    paths = find_inputs(inputs, runs=isinstance(dataset, RunSelection))
    if not paths:
        raise ValueError(f"no input files found in {', '.join(map(str, inputs))}")
    if method == "mcs":  # no network; a shipped model's card still knows the threshold
        network, description = None, _description_or_nothing(model, device)
    else:
        network, description = load_model(model, device)
    conditions = model_conditions(description)
    if geometry is not None and geometry.wavelength_nm != conditions.config.wavelength_nm:
        raise ValueError(f"the frames were recorded at {geometry.wavelength_nm:g} nm but the "
                         f"model {model!s} was trained at {conditions.config.wavelength_nm:g} "
                         "nm; use a model trained at the frames' wavelength (wideshot "
                         "generate --wavelength-nm ..., then wideshot train)")
    keep_counts = any(value is not None for value in (saturation, threshold, gain))
    if fit_centre and not (keep_counts and method == "hybrid"):
        raise ValueError("fitting the beam centre needs kept counts (intensity 'counts' with a "
                         "saturation, threshold or gain) and refinement (--refine)")
    if keep_counts and method == "mcs":
        raise ValueError("the likelihood of counts refines the network's answers: use it with "
                         "the network or hybrid method, not mcs")
    counts_options = ({"saturation": saturation, "threshold": threshold,
                       "gain": 1.0 if gain is None else gain} if keep_counts else None)
    mask = check_reading(intensity, mask, counts_options)
    check = check or method != "network"
    threshold = (misfit_threshold(description, refined=method != "network", override=max_misfit)
                 if check else None)
    model_name = description.get("shipped") or description.get("run") or description.get("name")

    if scheduler is not None and workers is not None:
        raise ValueError("give either a Dask scheduler or a number of local workers, not both")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    distributed = scheduler is not None or workers is not None
    settings = AnswerSettings(
        # Workers load the network themselves; this process already has it.
        model=model if distributed or method == "mcs" else network, device=device,
        method=method, conditions=conditions, threshold=threshold, dataset=dataset, mask=mask,
        geometry=geometry, intensity=intensity, counts_options=counts_options, starts=starts,
        iterations=iterations, seed=seed, views=views, check=check, fit_centre=fit_centre)
    counts = frames_per_file(paths, dataset=dataset)
    chunks = plan_chunks(paths, counts, batch_size)
    started = time.perf_counter()
    panels_written = 0
    columns = COLUMNS + (COUNTS_COLUMNS if keep_counts else
                         IMAGE_NUISANCE_COLUMNS if method == "hybrid" else ())
    with ResultWriters(out_dir, columns=columns) as writers, tqdm(
            total=sum(counts), unit="frame", desc="reconstruct", file=sys.stderr,
            disable=not progress, dynamic_ncols=True) as bar:
        (out_dir / PANELS_FOLDER).mkdir(parents=True, exist_ok=True)
        work = [(segments, frozenset(key for key in frame_keys(segments) if key in earlier),
                 max(0, panels - first)) for segments, first in _chunk_starts(chunks)]
        for (segments, _, _), answered in zip(work, _answers(work, settings, scheduler,
                                                             workers), strict=True):
            for key, row in zip(frame_keys(segments), answered.rows, strict=True):
                writers.write(row if row is not None else earlier[key])
            for panel in answered.panels:
                row = answered.rows[panel["position"]]
                save_reconstruction_panel(
                    out_dir / PANELS_FOLDER / _panel_name(row, panels_written),
                    panel["image"], panel["valid"], panel["radius_nm"], panel["quaternion"],
                    panel["resimulated"], shape=panel["shape"],
                    shape_parameter=panel["shape_parameter"],
                    title=f"{Path(row['source']).name} frame {row['frame']}",
                    misfit=panel["misfit"])
                panels_written += 1
            bar.update(len(answered.rows))
        seconds = time.perf_counter() - started
        summary = {"frames": writers.rows_written, **writers.counts,
                   "seconds": round(seconds, 3),
                   "frames_per_s": round(writers.rows_written / seconds, 2) if seconds else None,
                   "max_misfit": None if keep_counts else threshold,
                   "flag": "goodness of fit" if keep_counts else "misfit", "method": method,
                   "model": None if method == "mcs" else model_name,
                   "views": None if method == "mcs" else views, "check": check,
                   "csv": str(out_dir / RESULTS_CSV), "json": str(out_dir / RESULTS_JSON),
                   "panels": panels_written}
        writers.close(summary)
    return summary
