"""Live reconstruction: arrivals in, hit finding, batched network answers out, as they come.

:func:`stream_frames` consumes an iterator of :class:`~wideshot.beamline.arrivals.Arrival` and
:class:`~wideshot.beamline.arrivals.Silence` (a Karabo bridge or a watched folder). Each frame
goes through the hit finder first (:class:`~wideshot.beamline.hits.HitFinder`); misses are
counted, not reconstructed. Hits are prepared and batched for the network; a batch goes when it
is full or when its oldest frame has waited ``max_latency_s``, so a frame's answer is written
at most that much after it arrived plus the network's time. Rows reach ``reconstruction.csv``
and ``reconstruction.json`` (the columns of ``wideshot reconstruct`` plus ``train_id`` and
``arrival_time``) at once; the run's counters and the files already read are kept in
``stream_state.json`` after every batch, so that a stream stopped in any way continues with
``resume``. Memory is bounded: one batch and a few counters.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wideshot.beamline.arrivals import Arrival, FileDone, Silence
from wideshot.beamline.hits import HitFinder
from wideshot.choices import STREAM_MAX_LATENCY_S
from wideshot.reconstruction.pipeline import (
    RESULTS_CSV,
    RESULTS_JSON,
    ResultWriters,
    earlier_rows,
)
from wideshot.reconstruction.rows import COLUMNS, COUNTS_COLUMNS, answer_rows, failed_row
from wideshot.reconstruction.sources import Frame, prepare_raw_frame

#: Columns of a stream's CSV after those of ``wideshot reconstruct``.
STREAM_COLUMNS = ("train_id", "arrival_time")
#: The run's counters and the files already read, rewritten after every batch.
STATE_JSON = "stream_state.json"
#: Seconds without a frame after which the stream says the source has stalled.
STALL_S = 5.0
#: The state is saved (and the monitor updated) at least this often (s), batches or not.
SAVE_EVERY_S = 1.0
#: A batch answered this long (s) after its last frame was recorded says the stream is behind
#: (said at most once per this many seconds).
LAG_WARNING_S = 5.0


@dataclass
class StreamCounters:
    """What a stream has seen so far (``stream_state.json``): frames, hits and misses, rows by
    status and family, stalls, seconds running, the files read to the end, frames handled of
    files begun, and how far behind the source the last batch was (s)."""

    frames: int = 0
    hits: int = 0
    misses: int = 0
    ok: int = 0
    flagged: int = 0
    failed: int = 0
    stalls: int = 0
    seconds: float = 0.0
    shapes: dict = field(default_factory=dict)
    files_done: list = field(default_factory=list)
    file_progress: dict = field(default_factory=dict)
    lag_s: float | None = None

    def summary(self) -> dict:
        """Counters with the rates derived from them."""
        rate = self.frames / self.seconds if self.seconds else None
        return {key: value for key, value in vars(self).items()
                if key not in ("files_done", "file_progress")} | {
            "frames_per_s": None if rate is None else round(rate, 2),
            "hit_rate": round(self.hits / self.frames, 4) if self.frames else None,
            "files_done": len(self.files_done)}


def _load_state(out_dir: Path, resume: bool) -> tuple[StreamCounters, dict]:
    """Counters and earlier rows of a resumed stream (fresh ones otherwise); refuses to write
    over an earlier stream's results without ``resume``."""
    csv_path = out_dir / RESULTS_CSV
    if not csv_path.exists():
        return StreamCounters(), {}
    if not resume:
        raise ValueError(f"{out_dir} already holds {RESULTS_CSV}; continue that stream with "
                         "--resume, or choose another --out")
    state = out_dir / STATE_JSON
    counters = (StreamCounters(**json.loads(state.read_text())) if state.exists()
                else StreamCounters())
    return counters, earlier_rows(csv_path)


def _save_state(out_dir: Path, counters: StreamCounters) -> None:
    temporary = out_dir / (STATE_JSON + ".tmp")
    temporary.write_text(json.dumps(vars(counters)))
    os.replace(temporary, out_dir / STATE_JSON)


def stream_frames(arrivals: Iterable[Arrival | Silence], out_dir: str | os.PathLike, *,
                  answer: Callable[[list[Frame]], dict], hit_finder: HitFinder | None = None,
                  geometry=None, intensity: str = "auto", counts_options: dict | None = None,
                  batch_size: int = 64, max_latency_s: float = STREAM_MAX_LATENCY_S,
                  max_frames: int | None = None, stall_s: float = STALL_S,
                  resume: bool = False,
                  on_flush: Callable[[list[Frame], dict | None, dict], None] | None = None,
                  progress: bool = True) -> dict:
    """Reconstruct the hits among arriving frames until the source ends, ``max_frames`` have
    arrived, or Ctrl-C (a clean stop: the batch in hand is answered and written first).

    Parameters
    ----------
    arrivals : iterable of Arrival, Silence or FileDone
        :func:`~wideshot.beamline.arrivals.bridge_arrivals` or
        :func:`~wideshot.beamline.arrivals.folder_arrivals`.
    out_dir : str or Path
        Receives ``reconstruction.csv``, ``reconstruction.json`` and ``stream_state.json``.
    answer : callable
        Batch of prepared frames → the result dict of
        :func:`~wideshot.reconstruction.reconstruct` for them.
    hit_finder : HitFinder, optional
        Decides which frames reach the network (default: every frame does).
    geometry, intensity, counts_options
        How frames are prepared; see :func:`~wideshot.reconstruction.iter_frames`.
    batch_size : int
        Most hits per network batch.
    max_latency_s : float
        Most seconds a hit waits for its batch to fill.
    max_frames : int, optional
        Stop after this many frames (hits and misses).
    stall_s : float
        Say so on stderr when no frame came for this long (once per stall).
    resume : bool
        Continue the stream whose results ``out_dir`` holds: its rows are kept and its counters
        go on (a folder source starts where it stopped: :func:`resume_point`).
    on_flush : callable, optional
        Called after every batch and at least once a second (the live monitor) with the
        batch's frames, their result (None without a batch) and the summary so far.
    progress : bool
        A progress line on stderr (frames, hit rate, rate).

    Returns
    -------
    dict
        The summary also written to the JSON: counters, frames per second, hit rate, lag.
    """
    if batch_size < 1 or max_latency_s <= 0:
        raise ValueError(f"batch_size must be >= 1 and max_latency_s > 0, got {batch_size}, "
                         f"{max_latency_s}")
    out_dir = Path(out_dir)
    counters, earlier = _load_state(out_dir, resume)
    columns = COLUMNS + (COUNTS_COLUMNS if counts_options is not None else ()) + STREAM_COLUMNS
    started = time.monotonic() - counters.seconds
    pending: list[tuple[Frame, Arrival]] = []
    received: list[str] = []  # files whose frames have all arrived since the last save
    stalled, reported, warned_at = False, set(), -np.inf
    with ResultWriters(out_dir, columns=columns) as writers, tqdm(
            unit="frame", desc="stream", file=sys.stderr, disable=not progress,
            dynamic_ncols=True) as bar:
        for row in earlier.values():
            writers.write(row)

        def write(row: dict, arrival: Arrival) -> None:
            writers.write({**row, "train_id": arrival.train_id,
                           "arrival_time": round(arrival.arrival_time, 3)})
            setattr(counters, row["status"], getattr(counters, row["status"]) + 1)
            if row["status"] != "failed":
                counters.shapes[row["shape"]] = counters.shapes.get(row["shape"], 0) + 1
            elif row["reason"] not in reported:  # each kind of garbage said once
                reported.add(row["reason"])
                tqdm.write(f"wideshot stream: {row['source']} frame {row['frame']}: "
                           f"{row['reason']} (such frames get failed rows; the stream goes "
                           "on)", file=sys.stderr)

        def flush() -> None:
            nonlocal last_flush, warned_at
            frames, result = [], None
            if pending:
                frames = [frame for frame, _ in pending]
                result = answer(frames)
                for (frame, arrival), row in zip(pending, answer_rows(frames, result),
                                                 strict=True):
                    write(row, arrival)
                recorded = pending[-1][1].recorded_time
                counters.lag_s = None if recorded is None else round(time.time() - recorded, 3)
                if (counters.lag_s is not None and counters.lag_s > LAG_WARNING_S
                        and time.monotonic() - warned_at > LAG_WARNING_S):
                    warned_at = time.monotonic()
                    tqdm.write(f"wideshot stream: {counters.lag_s:.1f} s behind the source "
                               "(cannot keep up: raise --min-lit-pixels, lower --views, or "
                               "use --no-check)", file=sys.stderr)
                pending.clear()
            counters.files_done += received
            for source in received:
                counters.file_progress.pop(source, None)
            received.clear()
            counters.seconds = time.monotonic() - started
            _save_state(out_dir, counters)
            last_flush = time.monotonic()
            summary = counters.summary()
            if on_flush is not None:
                on_flush(frames, result, summary)
            bar.set_postfix(hits=counters.hits, hit_rate=f"{summary['hit_rate']}",
                            lag_s=counters.lag_s, refresh=False)

        interrupted, last_flush = False, time.monotonic()
        pending_since = last_flush  # when the oldest waiting hit arrived
        try:
            for item in arrivals:
                if isinstance(item, FileDone):
                    received.append(item.source)
                    if not pending:
                        flush()
                    continue
                if isinstance(item, Silence):
                    if item.seconds >= stall_s and not stalled:
                        stalled = True
                        counters.stalls += 1
                        tqdm.write(f"wideshot stream: no frame for {item.seconds:.0f} s "
                                   "(source stalled?); waiting", file=sys.stderr)
                    now = time.monotonic()
                    if (pending and now - pending_since >= max_latency_s
                            or now - last_flush >= SAVE_EVERY_S):
                        flush()
                    continue
                stalled = False
                counters.frames += 1
                bar.update()
                source = item.frame.source
                counters.file_progress[source] = counters.file_progress.get(source, 0) + 1
                waiting = len(pending)
                _take(item, hit_finder, counters, geometry, intensity, counts_options, pending,
                      write)
                if waiting == 0 and pending:
                    pending_since = time.monotonic()
                now = time.monotonic()
                if (pending and (len(pending) >= batch_size
                                 or now - pending_since >= max_latency_s)
                        or now - last_flush >= SAVE_EVERY_S):
                    flush()
                if max_frames is not None and counters.frames >= max_frames:
                    break
        except KeyboardInterrupt:
            interrupted = True
        flush()
        summary = {**counters.summary(), "interrupted": interrupted,
                   "csv": str(out_dir / RESULTS_CSV), "json": str(out_dir / RESULTS_JSON)}
        writers.close(summary)
    return summary


def _take(arrival: Arrival, hit_finder: HitFinder | None, counters: StreamCounters,
          geometry, intensity, counts_options, pending: list, write: Callable) -> None:
    """One arriving frame: written if it failed, counted if it is a miss, prepared and queued
    if it is a hit."""
    raw = arrival.frame
    if raw.error is None and hit_finder is not None:
        try:
            hit = bool(hit_finder.is_hit(raw.values, raw.valid)[0])
        except ValueError as error:  # values that are no frame: reported, the stream goes on
            write(failed_row(Frame(raw.source, raw.index, None, None, str(error),
                                   raw.dataset)), arrival)
            return
        if not hit:
            counters.misses += 1
            return
    frame = prepare_raw_frame(raw, geometry=geometry, intensity=intensity,
                              counts_options=counts_options)
    if frame.error is not None:
        write(failed_row(frame), arrival)
        return
    counters.hits += 1
    pending.append((frame, arrival))


def resume_point(out_dir: str | os.PathLike) -> dict:
    """Where a folder stream into ``out_dir`` goes on: ``done`` (files read to the end) and
    ``started`` (frames handled of each file begun), the keywords of
    :func:`~wideshot.beamline.arrivals.folder_arrivals`; nothing for a new stream."""
    state = Path(out_dir) / STATE_JSON
    if not state.exists():
        return {"done": [], "started": {}}
    saved = json.loads(state.read_text())
    return {"done": saved["files_done"], "started": saved["file_progress"]}


class NetworkAnswers:
    """The ``answer`` of :func:`stream_frames`: the network (loaded once) on a batch of
    prepared frames, each answer checked by re-simulation unless ``check`` is False (see
    :func:`~wideshot.reconstruction.reconstruct`; with counts, by their likelihood), as
    ``wideshot reconstruct`` answers a chunk (:func:`~wideshot.reconstruction.chunks.answer_frames`).

    Attributes
    ----------
    conditions : Conditions
        Wavelength, material and radius range of the model (for re-simulations).
    """

    def __init__(self, *, model=None, device=None, views: int | None = None,
                 check: bool = True, max_misfit: float | None = None, geometry=None):
        from wideshot.models.inference import DEFAULT_VIEWS
        from wideshot.reconstruction.chunks import AnswerSettings
        from wideshot.reconstruction.quality import misfit_threshold
        from wideshot.training.lookup import DEFAULT_MODEL, load_model, model_conditions

        network, description = load_model(model or DEFAULT_MODEL, device)
        self.conditions = model_conditions(description)
        wavelength_nm = self.conditions.config.wavelength_nm
        if geometry is not None and geometry.wavelength_nm != wavelength_nm:
            raise ValueError(f"the frames are recorded at {geometry.wavelength_nm:g} nm but the "
                             f"model was trained at {wavelength_nm:g} nm")
        self._settings = AnswerSettings(
            model=network, device=device, method="network", conditions=self.conditions,
            threshold=(misfit_threshold(description, refined=False, override=max_misfit)
                       if check else None),
            views=DEFAULT_VIEWS if views is None else views, check=check)

    def __call__(self, frames: list[Frame]) -> dict:
        from wideshot.reconstruction.chunks import answer_frames

        return answer_frames(frames, self._settings)
