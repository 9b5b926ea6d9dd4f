"""Scaling of ``wideshot reconstruct --scheduler ADDRESS`` from 1 to 2 Dask workers.

A stack of simulated SPEC frames (icosahedra and decahedra, random sizes and orientations) is
reconstructed by the network with the quality check, once in this process with 1 thread (the
baseline a worker has), then through the scheduler of a Dask cluster of 1 and 2 worker
processes on this machine (one thread each; started and warmed before the timing). All in one run,
so the figures to compare are the ratios. The CSVs of all runs must be identical.

    python benchmarks/cluster_scaling.py --frames 768

Writes ``benchmarks/out/cluster_scaling.json``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from distributed import LocalCluster

import wideshot
from wideshot.geometry import random_quaternions
from wideshot.reconstruction.pipeline import reconstruct_files

OUT = Path(__file__).parent / "out" / "cluster_scaling.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=9500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    shapes = rng.choice(["icosahedron", "decahedron"], args.frames).tolist()
    images = wideshot.simulate(rng.uniform(40, 150, args.frames),
                               random_quaternions(args.frames, rng), shape=shapes,
                               shape_parameter=[0.6 if shape == "decahedron" else np.nan
                                                for shape in shapes])
    report = {"frames": args.frames, "batch_size": args.batch_size, "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        stack = Path(folder) / "frames.npy"
        np.save(stack, images)
        csvs = {}
        for workers in (None, 1, 2):
            name = "one process" if workers is None else f"{workers} workers"
            out = Path(folder) / name.replace(" ", "_")
            local = None
            options = {"panels": 0, "progress": False}
            if workers is not None:  # a scheduler and its workers, started and warmed first
                local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                     dashboard_address=None)
                options["scheduler"] = local.scheduler_address
                reconstruct_files([stack], Path(folder) / f"warm{workers}",
                                  batch_size=args.frames // workers, **options)
            started = time.perf_counter()
            reconstruct_files([stack], out, batch_size=args.batch_size, **options)
            seconds = time.perf_counter() - started
            if local is not None:
                local.close()
            report["runs"][name] = {"seconds": seconds, "frames_per_s": args.frames / seconds}
            csvs[name] = (out / "reconstruction.csv").read_bytes()
            print(name, report["runs"][name], flush=True)
    report["identical_csv"] = len(set(csvs.values())) == 1
    runs = report["runs"]
    report["speed_up_1_to_2_workers"] = (runs["2 workers"]["frames_per_s"]
                                         / runs["1 workers"]["frames_per_s"])
    print(json.dumps({key: value for key, value in report.items() if key != "runs"}))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
