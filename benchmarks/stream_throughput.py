"""Throughput of the live path: Karabo bridge → hit finder → network → CSV, on this machine.

A simulated run of the default flat detector (256×256 photon counts; particle frames of every
family from :func:`~wideshot.data.detector_frames.make_counts_frames`, empty ones from
:func:`~wideshot.data.detector_frames.make_empty_frames`) is served by a real Karabo-bridge
server on localhost (``karabo_bridge.ServerInThread``, one frame per train, as fast as the
client asks) and streamed by :func:`wideshot.beamline.stream.stream_frames` exactly as
``wideshot stream tcp://...`` does. Measured in the same run, as ratios:

- the whole path at each hit rate (default 5 % and 100 %), frames per second;
- the bridge alone (receiving and decoding trains, nothing else);
- the network alone on the same particle frames (prepared beforehand, same batches), frames/s.

    python benchmarks/stream_throughput.py --frames 1200 --threads 2

Writes ``benchmarks/out/stream_throughput.json``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from wideshot.beamline.arrivals import Arrival, bridge_arrivals
from wideshot.beamline.hits import HitFinder
from wideshot.beamline.stream import NetworkAnswers, stream_frames
from wideshot.data.detector_frames import (
    DEFAULT_FLAT_GEOMETRY,
    make_counts_frames,
    make_empty_frames,
)
from wideshot.geometry import SHAPE_NAMES
from wideshot.reconstruction.sources import prepare_raw_frame

OUT = Path(__file__).parent / "out" / "stream_throughput.json"
SOURCE = "SQS_DET_SIM/CAM/PNCCD:output"
KEY = "image.data"


def simulated_run(n_frames: int, hit_rate: float, particles: dict, seed: int) -> list:
    """Frames (float32 photons) of a run: particle frames spread evenly at ``hit_rate``
    (reusing ``particles`` cyclically), the rest empty."""
    n_hits = int(round(n_frames * hit_rate))
    hit_at = set(np.linspace(0, n_frames - 1, n_hits).round().astype(int).tolist())
    empty, _ = make_empty_frames(range(n_frames - n_hits), particles["mask"], seed)
    frames, used_hits, used_empty = [], 0, 0
    for index in range(n_frames):
        if index in hit_at:
            frames.append(particles["counts"][used_hits % len(particles["counts"])])
            used_hits += 1
        else:
            frames.append(empty[used_empty])
            used_empty += 1
    return [frame.astype(np.float32) for frame in frames]


def serve(frames: list) -> tuple:
    """A bridge server on a free localhost port, fed ``frames`` one per train from a thread."""
    from karabo_bridge import ServerInThread

    server = ServerInThread("tcp://127.0.0.1:*", maxlen=16)
    server.start()

    def feed():
        for number, frame in enumerate(frames):
            server.feed({SOURCE: {KEY: frame}},
                        {SOURCE: {"timestamp.tid": 10_000 + number, "timestamp": time.time()}})
    threading.Thread(target=feed, daemon=True).start()
    return server, server.endpoint


def bridge_alone(frames: list) -> float:
    """Frames per second of receiving and decoding the trains, nothing else."""
    server, endpoint = serve(frames)
    started, received = None, 0
    for item in bridge_arrivals(endpoint):
        if isinstance(item, Arrival):
            started = started or time.perf_counter()
            received += 1
            if received == len(frames):
                break
    seconds = time.perf_counter() - started
    server.stop()
    return (received - 1) / seconds


def whole_path(frames: list, answer: NetworkAnswers, batch_size: int) -> dict:
    """The stream's summary and frames per second over the run."""
    server, endpoint = serve(frames)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        summary = stream_frames(bridge_arrivals(endpoint), out, answer=answer,
                                hit_finder=HitFinder(), geometry=DEFAULT_FLAT_GEOMETRY,
                                intensity="counts", batch_size=batch_size,
                                max_frames=len(frames), progress=False)
        seconds = time.perf_counter() - started
    server.stop()
    return {"frames_per_s": len(frames) / seconds, "hits": summary["hits"],
            "misses": summary["misses"], "failed": summary["failed"],
            "lag_s_at_end": summary["lag_s"]}


def network_alone(particles: dict, answer: NetworkAnswers, n_frames: int,
                  batch_size: int) -> float:
    """Frames per second of the network (and its check) on prepared particle frames."""
    prepared = [prepare_raw_frame(_raw(particles, index % len(particles["counts"])),
                                  geometry=DEFAULT_FLAT_GEOMETRY, intensity="counts")
                for index in range(n_frames)]
    answer(prepared[:2])  # warm up
    started = time.perf_counter()
    for first in range(0, n_frames, batch_size):
        answer(prepared[first:first + batch_size])
    return n_frames / (time.perf_counter() - started)


def _raw(particles: dict, index: int):
    from wideshot.reconstruction.sources import RawFrame

    return RawFrame("simulated", index, particles["counts"][index].astype(np.float32), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1200, help="frames per run")
    parser.add_argument("--hit-rates", default="0.05,1.0")
    parser.add_argument("--particles", type=int, default=24,
                        help="distinct particle frames simulated (reused cyclically)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=9300)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    particles = make_counts_frames(args.particles, seed=args.seed, shapes=SHAPE_NAMES)
    answer = NetworkAnswers(views=args.views)
    report = {"frames": args.frames, "threads": args.threads, "views": args.views,
              "runs": {}}
    for rate in (float(value) for value in args.hit_rates.split(",")):
        frames = simulated_run(args.frames, rate, particles, args.seed)
        n_hits = max(1, int(round(args.frames * rate)))
        run = whole_path(frames, answer, args.batch_size)
        run["bridge_alone_frames_per_s"] = bridge_alone(frames)
        run["network_alone_hits_per_s"] = network_alone(particles, answer,
                                                        min(n_hits, 4 * args.batch_size),
                                                        args.batch_size)
        run["ratio_to_network_alone"] = run["frames_per_s"] / run["network_alone_hits_per_s"]
        report["runs"][f"{rate:g}"] = run
        print(f"hit rate {rate:g}: {json.dumps(run)}", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
