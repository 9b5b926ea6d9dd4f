"""Training throughput (images/s) of wideshot's networks, and where the time goes.

    python benchmarks/bench_train.py [--models compact-resnet paper-resnet34] [--threads 2]
                                     [--batch-size 64] [--images 256] [--augment experiment]
                                     [--device cpu] [--data FILE.h5]

For each network: one epoch of ``wideshot.training.train`` over ``--images`` images of a
simulated data set (reading, on-the-fly augmentation, forward, backward, AdamW — the
``train_images_per_s`` column of metrics.csv, validation excluded), and, separately, the
augmentation of a batch alone and one optimiser step alone on a batch already in memory. The
data set is simulated into a temporary folder unless ``--data`` names one (with a split).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _rate(function, count: int, repeats: int) -> float:
    """Images per second of ``function`` (processing ``count`` images), best of ``repeats``."""
    function()  # warm-up: first-call allocations
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["compact-resnet", "paper-resnet34"])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--images", type=int, default=256, help="training images of the epoch")
    parser.add_argument("--augment", default="experiment")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, help="data set with a split (default: simulated)")
    args = parser.parse_args()

    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from wideshot.data.augment import make_augmentation
    from wideshot.data.generate import GenerationPlan, generate_dataset
    from wideshot.models import create_model, labels_to_targets, make_loss
    from wideshot.training import TrainingConfig, train

    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        data = args.data
        if data is None:
            data = Path(folder) / "bench.h5"
            plan = GenerationPlan(n_samples=args.images + 16, seed=0,
                                  validation_fraction=16 / (args.images + 16))
            generate_dataset(data, plan, workers=1, progress=False)
        print(f"torch {torch.__version__}, {args.threads} threads, device {device}, "
              f"batch {args.batch_size}, augmentation {args.augment}")

        generator = torch.Generator(device=device).manual_seed(0)
        images = torch.rand(args.batch_size, 128, 128, device=device)
        augmentation = make_augmentation(args.augment)
        rate = _rate(lambda: augmentation(images, generator), args.batch_size, 3)
        print(f"augmentation {args.augment} alone: {rate:8.1f} images/s")

        targets = labels_to_targets(torch.tensor([[1.0, 0, 0, 0]] * args.batch_size),
                                    torch.full((args.batch_size,), 95.0)).to(device)
        loss_fn = make_loss("mse")
        for name in args.models:
            model = create_model(name).to(device)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

            def step():
                loss = loss_fn(model(images[:, None]), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

            rate = _rate(step, args.batch_size, 2)
            print(f"{name}: optimiser step alone {rate:8.1f} images/s")
            config = TrainingConfig(train=data, model=name, epochs=1,
                                    batch_size=args.batch_size, limit=args.images,
                                    augment=args.augment)
            history = train(config, Path(folder) / name, device=device, progress=False)
            print(f"{name}: wideshot train epoch   {history[0]['train_images_per_s']:8.1f} "
                  f"images/s ({args.images} images)")


if __name__ == "__main__":
    main()
