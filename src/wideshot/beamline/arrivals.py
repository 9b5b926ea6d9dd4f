"""Frames as they arrive: from a Karabo bridge, or from files appearing in a folder.

Both sources are iterators of :class:`Arrival` (a frame with its train id and arrival time) and
of :class:`Silence` (nothing arrived within one poll interval; a folder also says when a file is
done, :class:`FileDone`), so that the consumer can empty a
half-full batch on time and report a stalled source, whatever the source does. Problems of one
train or file (a missing source or key, an array of the wrong shape, an unreadable file) arrive
as frames with an ``error``; the stream goes on.

The Karabo bridge is European XFEL's protocol for online analysis (ZeroMQ, msgpack): each
message is one train, a dict ``{source: {key: array}}`` with metadata per source (the train id
under ``timestamp.tid``). A detector key holds one frame (H, W) or a train of pulses (N, H, W).
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wideshot.choices import BRIDGE_CONNECT_TIMEOUT_S, BRIDGE_KEY
from wideshot.reconstruction.sources import RawFrame, find_inputs, iter_raw_frames

#: Seconds between polls of a source for new data (a tick to the consumer each time).
POLL_S = 0.05


@dataclass(frozen=True)
class Arrival:
    """One frame as it arrived.

    Attributes
    ----------
    frame : RawFrame
        The values as recorded (or the reason there are none).
    train_id : int or None
        The train it belongs to (bridge), None for files.
    arrival_time : float
        When it arrived (Unix seconds).
    recorded_time : float or None
        When the facility recorded it (the train's timestamp, Unix seconds), where known: the
        difference to now is how far the stream lags behind.
    """

    frame: RawFrame
    train_id: int | None
    arrival_time: float
    recorded_time: float | None = None


@dataclass(frozen=True)
class Silence:
    """Nothing arrived for ``seconds`` since the last arrival."""

    seconds: float


@dataclass(frozen=True)
class FileDone:
    """Every frame of the file ``source`` has arrived."""

    source: str


def _pick_source(data: dict, source: str | None, key: str) -> str:
    """The source of a train that holds the detector: ``source`` if given, else the only one
    with ``key``; ValueError naming what the train has otherwise."""
    if source is not None:
        if source not in data:
            raise ValueError(f"the train has no source {source!r}; it has "
                             f"{', '.join(sorted(data)) or 'none'}")
        return source
    holding = sorted(name for name, values in data.items() if key in values)
    if not holding:
        found = "; ".join(f"{name}: {', '.join(_keys(values))}" for name, values in
                          sorted(data.items())) or "an empty train"
        raise ValueError(f"no source with key {key!r} ({found}); choose with --source and "
                         "--key")
    if len(holding) > 1:
        raise ValueError(f"more than one source with key {key!r} ({', '.join(holding)}); "
                         "choose one with --source")
    return holding[0]


def _keys(values: dict, limit: int = 6) -> list[str]:
    """A source's data keys (not its metadata), the first ``limit`` of them."""
    keys = sorted(key for key in values if not key.startswith("metadata"))
    return keys[:limit] + (["..."] if len(keys) > limit else [])


def train_frames(data: dict, metadata: dict, *, endpoint: str, counter: int,
                 source: str | None, key: str) -> list[Arrival]:
    """The detector frames of one bridge train, one :class:`Arrival` per pulse (an error
    arrival for a train without the detector or with values that are no frames)."""
    now = time.time()
    try:
        name = _pick_source(data, source, key)
        values = data[name]
        if key not in values:
            raise ValueError(f"source {name!r} has no key {key!r}; it has "
                             f"{', '.join(_keys(values))}")
        stamps = metadata.get(name) or values.get("metadata") or {}
        train_id, recorded = stamps.get("timestamp.tid"), stamps.get("timestamp")
        array = np.asarray(values[key])
        if array.dtype.kind not in "uif":
            raise ValueError(f"{name} {key} holds {array.dtype}, not numbers")
        if array.ndim not in (2, 3):
            raise ValueError(f"{name} {key} has shape {array.shape}: neither one frame (H, W) "
                             "nor a train of frames (N, H, W)")
    except ValueError as error:
        return [Arrival(RawFrame(endpoint, counter, None, None, str(error)), None, now)]
    stack = array[None] if array.ndim == 2 else array
    train_id = None if train_id is None else int(train_id)
    recorded = float(recorded) if isinstance(recorded, (int, float)) else None
    return [Arrival(RawFrame(endpoint, counter + pulse, frame, None, None, f"{name}/{key}"),
                    train_id, now, recorded) for pulse, frame in enumerate(stack)]


def bridge_arrivals(endpoint: str, *, source: str | None = None, key: str = BRIDGE_KEY,
                    connect_timeout_s: float = BRIDGE_CONNECT_TIMEOUT_S, poll_s: float = POLL_S
                    ) -> Iterator[Arrival | Silence]:
    """Frames of a Karabo bridge (``tcp://host:port``), train after train, forever.

    Raises
    ------
    ValueError
        For an endpoint that is not ``tcp://host:port``, and (when iterated) when no train
        arrives within ``connect_timeout_s`` of the start: nothing there serves a bridge.
    """
    if not endpoint.startswith("tcp://") or ":" not in endpoint[len("tcp://"):]:
        raise ValueError(f"a Karabo bridge endpoint is tcp://host:port, got {endpoint!r}")
    return _bridge(endpoint, source, key, connect_timeout_s, poll_s)


def _bridge(endpoint, source, key, connect_timeout_s, poll_s) -> Iterator[Arrival | Silence]:
    from karabo_bridge import Client

    client = Client(endpoint, timeout=poll_s)
    started = last = time.monotonic()
    counter = 0
    try:
        while True:
            try:
                data, metadata = client.next()
            except TimeoutError:
                now = time.monotonic()
                if counter == 0 and now - started > connect_timeout_s:
                    raise ValueError(f"no train from {endpoint} in {connect_timeout_s:g} s: is a "
                                     "Karabo bridge serving there?") from None
                yield Silence(now - last)
                continue
            except Exception as error:  # noqa: BLE001 - a message that does not decode
                data, metadata = {}, {}
                arrivals = [Arrival(RawFrame(endpoint, counter, None, None,
                                             f"undecodable message ({error})"), None, time.time())]
            else:
                arrivals = train_frames(data, metadata, endpoint=endpoint, counter=counter,
                                        source=source, key=key)
            last = time.monotonic()
            counter += len(arrivals)
            yield from arrivals
    finally:
        client._context.destroy(linger=0)


def folder_arrivals(folder: str | os.PathLike, *, done: Sequence[str] = (),
                    started: dict | None = None, dataset: str | None = None,
                    mask: np.ndarray | None = None, poll_s: float = POLL_S * 10
                    ) -> Iterator[Arrival | Silence | FileDone]:
    """Frames of the files appearing in a folder (searched recursively), forever: files already
    there first, then new ones as they are written (a file is read once its size stopped
    changing for one poll). A resumed stream skips the files ``done`` and the first
    ``started[file]`` frames of a file it had begun."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    return _folder(folder, set(map(str, done)), dict(started or {}), dataset, mask, poll_s)


def _folder(folder, seen, started, dataset, mask, poll_s
            ) -> Iterator[Arrival | Silence | FileDone]:
    sizes: dict[str, int] = {}
    last = time.monotonic()
    while True:
        ready = []
        for path in find_inputs([folder]):
            name = str(path)
            if name in seen:
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if sizes.get(name) == size:
                ready.append(path)
            sizes[name] = size
        for path in ready:
            seen.add(str(path))
            sizes.pop(str(path))
            skip = started.pop(str(path), 0)
            for number, frame in enumerate(iter_raw_frames([path], dataset=dataset, mask=mask)):
                if number >= skip:
                    yield Arrival(frame, None, time.time())
            last = time.monotonic()
            yield FileDone(str(path))
        time.sleep(poll_s)
        yield Silence(time.monotonic() - last)
