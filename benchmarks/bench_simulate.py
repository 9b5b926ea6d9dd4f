"""Throughput of ``wideshot.simulate`` against the paper's literal FFT MSFT, in one process.

    python benchmarks/bench_simulate.py [--threads 2] [--batch 64] [--literal 3] [--cuda-batch 4096]

The literal MSFT is the test suite's independent reference (tests/reference/literal_msft.py):
192³ voxels over 318.75 nm, 192 slices zero-padded to 512² and FFT'd, per SPEC. Both run on the
same random particles (R uniform in 30–160 nm, uniform orientations) with the same thread
count; the ratio of their rates is the figure to quote (absolute rates depend on the machine and
its load). With CUDA present, simulate(device="cuda") is timed too.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def _rate(function, count: int) -> float:
    start = time.perf_counter()
    function()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both methods")
    parser.add_argument("--batch", type=int, default=64, help="images for wideshot.simulate")
    parser.add_argument("--literal", type=int, default=3, help="images for the literal MSFT")
    parser.add_argument("--cuda-batch", type=int, default=4096, help="images per CUDA run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from reference.literal_msft import literal_msft_amplitude, spec_image

    import wideshot
    from wideshot.geometry import random_quaternions

    rng = np.random.default_rng(args.seed)
    count = max(args.batch, args.literal)
    radius_nm = rng.uniform(30.0, 160.0, count)
    quaternion = random_quaternions(count, rng)
    wideshot.simulate(radius_nm[:2], quaternion[:2])                   # compile the CPU kernel

    fast = _rate(lambda: wideshot.simulate(radius_nm[:args.batch], quaternion[:args.batch]), args.batch)
    literal = _rate(lambda: [spec_image(literal_msft_amplitude(r, q))
                             for r, q in zip(radius_nm[:args.literal], quaternion[:args.literal])],
                    args.literal)
    print(f"CPU threads: {args.threads}  (torch {torch.__version__}, {os.cpu_count()} cores visible)")
    print(f"wideshot.simulate (exact analytic MSFT): {fast:9.1f} images/s  ({1e3 / fast:7.1f} ms/image, batch {args.batch})")
    print(f"literal FFT MSFT (192 slices, 512² FFT): {literal:9.2f} images/s  ({1e3 / literal:7.1f} ms/image)")
    print(f"ratio: {fast / literal:.0f}x")

    if torch.cuda.is_available():
        big = args.cuda_batch
        radius_gpu = rng.uniform(30.0, 160.0, big)
        quaternion_gpu = random_quaternions(big, rng)
        wideshot.simulate(radius_gpu[:64], quaternion_gpu[:64], device="cuda")
        torch.cuda.synchronize()
        gpu = _rate(lambda: wideshot.simulate(radius_gpu, quaternion_gpu, device="cuda", batch_size=512), big)
        print(f"CUDA ({torch.cuda.get_device_name()}): {gpu:9.1f} images/s (batch {big})")
    else:
        print("CUDA: not available on this machine")


if __name__ == "__main__":
    main()
