"""Throughput of reconstruction with a shipped model: network, quality check, refinement, files.

    python benchmarks/bench_reconstruct.py [--model default] [--threads 2] [--batch 256] \
        [--refine 4] [--files 10000]

All timings in one process (ratios are what to compare on a shared machine):
- the network (wideshot.models.inference.predict), 1, 4 and the default views: batch 1
  and batch --batch; for a shipped model also with its batch norms left unfolded (as trained;
  wideshot.models.inference.fold_batch_norm is what load_model runs);
- wideshot.reconstruct: with check=False (the network, its views and their average) and with
  the quality check (each answer re-simulated on the valid pixels and compared), batch 1 and
  batch --batch;
- wideshot.reconstruct(refine=True) on --refine images (the hybrid forward fit);
- wideshot reconstruct on an .npy stack of --files frames (streamed from a memory map; no
  panels), with the peak memory of the process.
Images are freshly simulated SPEC patterns. The paper quotes 5 ms/image on a GTX 1060.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _per_image(function, n: int) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=50, help="single-image calls to time")
    parser.add_argument("--refine", type=int, default=4, help="images to refine (0 = skip)")
    parser.add_argument("--files", type=int, default=10_000, help="frames to stream (0 = skip)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import wideshot
    from wideshot.geometry import random_quaternions
    from wideshot.models import available_models, load_shipped_model
    from wideshot.models.inference import DEFAULT_VIEWS, predict
    from wideshot.reconstruction.pipeline import reconstruct_files
    from wideshot.training import load_model

    rng = np.random.default_rng(0)
    images = wideshot.simulate(rng.uniform(30, 160, args.batch),
                               random_quaternions(args.batch, rng))

    def timed(answer) -> tuple[float, float]:
        """Seconds per image of ``answer(images)``: one image per call, and one batch."""
        return (_per_image(lambda: [answer(image[None]) for image in images[:args.repeats]],
                           args.repeats),
                _per_image(lambda: answer(images), args.batch))

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        network, _ = load_model(args.model, device)
        wideshot.reconstruct(images[:8], model=args.model, device=device)  # load and warm up
        rows = {f"network, {views} view{'s' if views > 1 else ''}":
                timed(lambda batch, views=views: predict(network, batch, views=views))
                for views in sorted({1, 4, DEFAULT_VIEWS})}
        if args.model in available_models():
            unfolded, _ = load_shipped_model(args.model, device)
            rows[f"network, {DEFAULT_VIEWS} views, batch norm unfolded"] = timed(
                lambda batch: predict(unfolded, batch, views=DEFAULT_VIEWS))
        for name, check in (("reconstruct(check=False) (network)", False),
                            ("reconstruct (network + quality check)", True)):
            rows[name] = timed(lambda batch, check=check: wideshot.reconstruct(
                batch, model=args.model, device=device, check=check))
        print(f"{device}, {args.threads} threads:")
        for name, (single, batched) in rows.items():
            print(f"  {name:40s} batch 1: {1e3 * single:7.2f} ms/image; batch {args.batch}: "
                  f"{1e3 * batched:7.2f} ms/image ({1 / batched:7.1f} images/s)")
        if args.refine:
            seconds = _per_image(lambda: wideshot.reconstruct(images[:args.refine],
                                                              model=args.model, device=device,
                                                              refine=True), args.refine)
            print(f"  {'reconstruct(refine=True)':40s} {seconds:7.2f} s/image")
    if args.files:
        with tempfile.TemporaryDirectory() as folder:
            stack_path = Path(folder) / "frames.npy"
            stack = np.lib.format.open_memmap(stack_path, mode="w+", dtype=np.float32,
                                              shape=(args.files, 128, 128))
            for start in range(0, args.files, len(images)):
                stop = min(start + len(images), args.files)
                stack[start:stop] = images[:stop - start]
            del stack
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            summary = reconstruct_files([stack_path], Path(folder) / "out", model=args.model,
                                        panels=0, batch_size=256, progress=False)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(f"wideshot reconstruct, {summary['frames']} frames from one .npy stack: "
                  f"{summary['frames_per_s']:.1f} frames/s; peak memory {peak / 1024:.0f} MiB "
                  f"(before {before / 1024:.0f} MiB; the stack is "
                  f"{args.files * 128 * 128 * 4 / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
