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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wideshot.evaluation.particle_figures import save_reconstruction_panel
from wideshot.fitting import fit
from wideshot.models.inference import DEFAULT_VIEWS
from wideshot.physics import simulate
from wideshot.reconstruction.api import reconstruct
from wideshot.reconstruction.preparation import DetectorGeometry
from wideshot.reconstruction.quality import misfit_threshold
from wideshot.reconstruction.sources import (
    Frame,
    count_frames,
    find_inputs,
    iter_frames,
)
from wideshot.training.lookup import DEFAULT_MODEL, load_model, model_conditions

#: Columns of the CSV (and keys of each JSON row), in order.
COLUMNS = ("source", "frame", "dataset", "status", "radius_nm", "w", "x", "y", "z", "misfit",
           "reason", "shape", "shape_probability", "shape_parameter")

#: Columns added with counts (``intensity="counts"`` and a saturation, threshold or gain, or
#: ``counts=True``): the likelihood's verdict and, refined, the 1σ errors.
COUNTS_COLUMNS = ("photons", "deviance", "gof_p_value", "dispersion", "radius_nm_sigma",
                  "orientation_sigma_deg", "shape_parameter_sigma", "centre_offset_row_px",
                  "centre_offset_column_px")

#: Row statuses: answered; answered but not explained by any family the model knows; not
#: answered.
STATUSES = ("ok", "flagged", "failed")

#: How answers are found: the network, the network + forward-fit refinement, forward fit alone.
METHODS = ("network", "hybrid", "mcs")

RESULTS_CSV = "reconstruction.csv"
RESULTS_JSON = "reconstruction.json"
PANELS_FOLDER = "panels"


@dataclass
class _Writers:
    """The CSV and JSON outputs, written row by row."""

    out_dir: Path
    rows_written: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    columns: tuple = COLUMNS

    def __enter__(self) -> _Writers:
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
                   "shape_parameter") + COUNTS_COLUMNS


def _earlier_rows(csv_path: Path) -> dict[tuple[str, int], dict]:
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


def _failed_row(frame: Frame) -> dict:
    return {"source": frame.source, "frame": frame.index, "dataset": frame.dataset,
            "status": "failed", "reason": frame.error}


def _answer_rows(frames: list[Frame], result: dict) -> list[dict]:
    rows = []
    for index, frame in enumerate(frames):
        w, x, y, z = (float(value) for value in result["quaternion"][index])
        flagged = bool(result["flagged"][index])
        parameter = float(result["shape_parameter"][index])
        probability = result.get("shape_probability")
        rows.append({"source": frame.source, "frame": frame.index, "dataset": frame.dataset,
                     "status": "flagged" if flagged else "ok",
                     "radius_nm": round(float(result["radius_nm"][index]), 4),
                     "w": w, "x": x, "y": y, "z": z,
                     "misfit": (None if np.isnan(result["misfit"][index])  # not checked
                                else round(float(result["misfit"][index]), 6)),
                     "reason": (f"misfit {result['misfit'][index]:.3f} > "
                                f"{result['max_misfit']:.3f}: not explained by "
                                f"{_family_phrase(result)}"
                                if flagged and "deviance" not in result else None),
                     "shape": result["shape"][index],
                     "shape_probability": (None if probability is None  # the forward fit
                                           else round(float(probability[index]), 6)),
                     "shape_parameter": None if np.isnan(parameter) else round(parameter, 6)})
        if "deviance" in result:
            for name in COUNTS_COLUMNS:
                value = float(result[name][index])
                rows[-1][name] = None if np.isnan(value) else float(f"{value:.6g}")
            if flagged:
                rows[-1]["reason"] = (f"goodness of fit p = {result['gof_p_value'][index]:.2g}, "
                                      f"dispersion {result['dispersion'][index]:.2f}: the counts "
                                      f"are not explained by {_family_phrase(result)}")
            elif result["weak_evidence"][index]:
                rows[-1]["reason"] = f"weak evidence: {result['photons'][index]:.0f} photons"
    return rows


def _family_phrase(result: dict) -> str:
    """"an icosahedron" or "any of icosahedron, decahedron, ..." for a flagged row's reason."""
    shapes = result.get("shapes") or sorted(set(result["shape"]))
    return f"a {shapes[0]}" if len(shapes) == 1 else f"any of {', '.join(shapes)}"


def _panel_name(frame: Frame, number: int) -> str:
    stem = Path(frame.source).stem
    return f"{number:05d}_{stem}_{frame.index}.png"


def _description_or_nothing(model, device) -> dict:
    """What :func:`load_model` says about ``model``, or {} if it names no model."""
    try:
        return load_model(model, device)[1]
    except FileNotFoundError:
        return {}


def reconstruct_files(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *,
                      dataset: str | None = None, mask: np.ndarray | None = None,
                      geometry: DetectorGeometry | None = None, intensity: str = "auto",
                      model=DEFAULT_MODEL, device=None, method: str = "network",
                      starts: int | None = None, iterations: int | None = None, seed: int = 0,
                      max_misfit: float | None = None, batch_size: int = 64, panels: int = 16,
                      views: int = DEFAULT_VIEWS, check: bool = True, resume: bool = False,
                      saturation: float | None = None, threshold: float | None = None,
                      gain: float | None = None, fit_centre: bool = False,
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
    resume : bool
        Continue an interrupted run in ``out_dir``: frames already in its CSV are kept, not
        redone. Without it, an ``out_dir`` that already holds results is refused.
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
        earlier = _earlier_rows(out_dir / RESULTS_CSV)
    paths = find_inputs(inputs)
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
    check = check or method != "network"
    threshold = (misfit_threshold(description, refined=method != "network", override=max_misfit)
                 if check else None)
    model_name = description.get("shipped") or description.get("run") or description.get("name")

    def answer(images: np.ndarray, valid: np.ndarray, counts) -> dict:
        if method == "mcs":
            result = fit(images, valid=valid, method="mcs", starts=starts,
                         iterations=iterations, seed=seed, device=device,
                         conditions=conditions)
            flagged = (result["misfit"] > threshold if threshold is not None
                       else np.zeros(len(images), dtype=bool))
            return {**result, "shape": [result["shape"]] * len(images), "flagged": flagged,
                    "max_misfit": threshold}
        return reconstruct(images, valid=valid, model=network, device=device,
                           refine=method == "hybrid", max_misfit=threshold, seed=seed,
                           starts=starts, iterations=iterations, views=views, check=check,
                           conditions=conditions, counts=counts, fit_centre=fit_centre)
    started = time.perf_counter()
    panels_written = 0
    columns = COLUMNS + (COUNTS_COLUMNS if keep_counts else ())
    with _Writers(out_dir, columns=columns) as writers, tqdm(
            total=count_frames(paths, dataset=dataset), unit="frame", desc="reconstruct",
            file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        pending: list[Frame] = []

        def flush() -> None:
            nonlocal panels_written
            good = [frame for frame in pending if frame.error is None]
            answers = iter(())
            if good:
                result = answer(np.stack([frame.image for frame in good]),
                                np.stack([frame.valid for frame in good]),
                                [frame.counts for frame in good] if keep_counts else None)
                answers = iter(_answer_rows(good, result))
                drawn = good[:max(0, panels - panels_written)]
                if drawn:  # one batched simulation for the batch's panels
                    resimulated = simulate(result["radius_nm"][:len(drawn)],
                                           result["quaternion"][:len(drawn)],
                                           shape=result["shape"][:len(drawn)],
                                           shape_parameter=result["shape_parameter"][:len(drawn)],
                                           material=conditions.material,
                                           config=conditions.config)
                for index, frame in enumerate(drawn):
                    save_reconstruction_panel(
                        out_dir / PANELS_FOLDER / _panel_name(frame, panels_written),
                        frame.image, frame.valid, result["radius_nm"][index],
                        result["quaternion"][index], resimulated[index],
                        shape=result["shape"][index],
                        shape_parameter=result["shape_parameter"][index],
                        title=f"{Path(frame.source).name} frame {frame.index}",
                        misfit=result["misfit"][index])
                    panels_written += 1
            for frame in pending:
                writers.write(_failed_row(frame) if frame.error is not None else next(answers))
            bar.update(len(pending))
            pending.clear()

        (out_dir / PANELS_FOLDER).mkdir(parents=True, exist_ok=True)
        for frame in iter_frames(paths, dataset=dataset, mask=mask, geometry=geometry,
                                 intensity=intensity, counts_options=counts_options):
            done = earlier.get((frame.source, frame.index))
            if done is not None:
                writers.write(done)
                bar.update()
                continue
            pending.append(frame)
            if sum(item.error is None for item in pending) >= batch_size:
                flush()
        flush()
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
