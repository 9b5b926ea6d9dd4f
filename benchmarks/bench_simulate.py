"""Throughput of ``wideshot.simulate`` against the paper's literal FFT MSFT, and per shape family.

    python benchmarks/bench_simulate.py [--threads 2] [--batch 64] [--literal 3] [--repeats 3]
                                        [--families all] [--cuda-batch 4096]

The literal MSFT is the test suite's independent reference (tests/reference/literal_msft.py):
192³ voxels over 318.75 nm, 192 slices zero-padded to 512² and FFT'd, per SPEC. Both run on the
same random particles (R uniform in 30–160 nm, uniform orientations) with the same thread
count; the ratio of their rates is the figure to quote (absolute rates depend on the machine and
its load). With CUDA present, simulate(device="cuda") is timed too.

Shape families: the same --batch particles (same radii and orientations) are simulated as each
family of wideshot.geometry.SHAPE_FAMILIES in turn, with its parameter uniform over its range,
and the rates are printed as a table with their ratio to the icosahedron's (the paper's particle,
the "wideshot.simulate" line above). Every wideshot.simulate rate is the best of --repeats runs
(after a warm-up of two images per family, which compiles the CPU kernels), the families taking
turns, so that a spell of load on a shared machine does not count; the literal MSFT is timed once
(it is slow and its rate hardly varies). --families none skips the table.
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


def _family_names(text: str) -> list[str]:
    """--families: "all", "none" or comma-separated family names (the icosahedron is always
    timed: it is the reference of the ratios)."""
    from wideshot.geometry import SHAPE_NAMES, shape_family

    if text == "all":
        return list(SHAPE_NAMES)
    if text == "none":
        return []
    names = [shape_family(name.strip(), "--families").name for name in text.split(",")]
    return ["icosahedron"] + [name for name in names if name != "icosahedron"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both methods")
    parser.add_argument("--batch", type=int, default=64,
                        help="images for wideshot.simulate (per family)")
    parser.add_argument("--literal", type=int, default=3, help="images for the literal MSFT")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timings of each wideshot.simulate batch; the best counts (default 3)")
    parser.add_argument("--families", default="all", metavar="all|none|NAME,...",
                        help="shape families of the per-family table: all (default), none, or a "
                             "comma-separated list (the icosahedron is always included)")
    parser.add_argument("--cuda-batch", type=int, default=4096, help="images per CUDA run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from reference.literal_msft import literal_msft_amplitude, spec_image

    import wideshot
    from wideshot.geometry import SHAPE_FAMILIES, random_quaternions

    try:
        families = _family_names(args.families)
    except ValueError as error:
        parser.error(str(error))
    rng = np.random.default_rng(args.seed)
    count = max(args.batch, args.literal)
    radius_nm = rng.uniform(30.0, 160.0, count)
    quaternion = random_quaternions(count, rng)
    parameters = {name: rng.uniform(*SHAPE_FAMILIES[name].parameter_range, args.batch)
                  for name in families if SHAPE_FAMILIES[name].has_parameter}

    def simulate(name: str, n: int) -> np.ndarray:
        """The first n particles as family ``name``: same radii and orientations for every
        family, so that only the shape differs."""
        parameter = parameters[name][:n] if name in parameters else None
        return wideshot.simulate(radius_nm[:n], quaternion[:n], shape=name,
                                 shape_parameter=parameter)

    timed = families or ["icosahedron"]
    for name in timed:
        simulate(name, 2)                                              # compile the CPU kernels
    # Round robin: a spell of load on a shared machine hits one repeat of every family, not all
    # repeats of one; the best of each family's repeats counts.
    seconds = {name: np.inf for name in timed}
    for _ in range(args.repeats):
        for name in timed:
            start = time.perf_counter()
            simulate(name, args.batch)
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    rates = {name: args.batch / seconds[name] for name in timed}
    fast = rates["icosahedron"]
    literal = _rate(lambda: [spec_image(literal_msft_amplitude(r, q))
                             for r, q in zip(radius_nm[:args.literal], quaternion[:args.literal])],
                    args.literal)
    print(f"CPU threads: {args.threads}  (torch {torch.__version__}, {os.cpu_count()} cores visible)")
    print(f"wideshot.simulate (exact analytic MSFT): {fast:9.1f} images/s  "
          f"({1e3 / fast:7.1f} ms/image, batch {args.batch}, best of {args.repeats})")
    print(f"literal FFT MSFT (192 slices, 512² FFT): {literal:9.2f} images/s  ({1e3 / literal:7.1f} ms/image)")
    print(f"ratio: {fast / literal:.0f}x")

    if families:
        print(f"\nper shape family (the same {args.batch} radii, uniform 30–160 nm, and "
              f"orientations; p uniform over its range; best of {args.repeats}):")
        print(f"{'family':<21} {'p range':<9} {'images/s':>9} {'ms/image':>9} {'vs icosahedron':>15}")
        for name in families:
            family = SHAPE_FAMILIES[name]
            span = ("{:g}–{:g}".format(*family.parameter_range) if family.has_parameter
                    else "—")
            print(f"{name:<21} {span:<9} {rates[name]:9.1f} {1e3 / rates[name]:9.1f} "
                  f"{rates[name] / fast:14.2f}x")

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
