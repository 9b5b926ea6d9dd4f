"""Throughput of ``wideshot.reconstruct`` with a shipped model, at batch 1 and in batch.

    python benchmarks/bench_reconstruct.py [--model default] [--threads 2] [--batch 256]

Images are freshly simulated SPEC patterns; the timing covers input checks, the network and
decoding to (radius, canonical quaternion). The paper quotes 5 ms/image on a GTX 1060.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=50, help="single-image calls to time")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import wideshot
    from wideshot.geometry import random_quaternions

    rng = np.random.default_rng(0)
    images = wideshot.simulate(rng.uniform(30, 160, args.batch), random_quaternions(args.batch, rng))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        wideshot.reconstruct(images[:8], model=args.model, device=device)   # load and warm up
        start = time.perf_counter()
        for image in images[:args.repeats]:
            wideshot.reconstruct(image, model=args.model, device=device)
        single = (time.perf_counter() - start) / args.repeats
        start = time.perf_counter()
        wideshot.reconstruct(images, model=args.model, device=device)
        batched = (time.perf_counter() - start) / args.batch
        print(f"{device} ({args.threads} threads): batch 1: {1e3 * single:6.2f} ms/image; "
              f"batch {args.batch}: {1e3 * batched:6.2f} ms/image ({1 / batched:7.1f} images/s)")


if __name__ == "__main__":
    main()
