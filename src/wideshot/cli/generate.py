"""``wideshot generate``: a simulated data set (images + labels) in HDF5, resumable, in parallel."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = """Simulate a data set of SPEC images of icosahedra with random size (R uniform on
[30, 160] nm) and orientation (uniform over rotations, stored canonical) into one HDF5 file:
images (N,128,128) float32, radius_nm (N,), quaternion (N,4), [split (N,) 0=train 1=validation],
and attributes recording the physics configuration, material, seed and package version.

Sample i depends only on (seed, i). The work is cut into shards kept in PATH.shards/ until the
file is assembled: re-running the same command after an interruption continues where it
stopped; a file at PATH is always complete. Presets: paper-train (25,058 images, one fifth
validation), paper-test (5,000 images, an independent seed)."""


def add_parser(subparsers) -> None:
    from wideshot.data.generate import PRESETS, SHARD_SIZE

    parser = subparsers.add_parser("generate", help="simulate a training/test data set (HDF5)",
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, metavar="PATH.h5",
                        help="output file (.h5 or .hdf5)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="a data set of the paper (fixes --n, --seed and the validation "
                             "fraction)")
    parser.add_argument("--n", type=int, default=None, help="number of images")
    parser.add_argument("--seed", type=int, default=None,
                        help="non-negative seed; sample i depends on (seed, i) only (default 0)")
    parser.add_argument("--validation-fraction", type=float, default=None, metavar="F",
                        help="mark round(N·F) random samples as validation in a 'split' data "
                             "set (default 0: no split)")
    parser.add_argument("--shard-size", type=int, default=SHARD_SIZE,
                        help=f"images per shard, the unit of work and of resuming "
                             f"(default {SHARD_SIZE})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="local worker processes (default: number of CPUs, or 1 with a GPU "
                            "--device; 1 = this process)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="Dask distributed scheduler, e.g. tcp://host:8786, whose workers "
                            "compute the shards (they need wideshot installed)")
    parser.add_argument("--device", default="cpu",
                        help="torch device of the simulation, e.g. cpu or cuda (default cpu)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete an existing file and its shards at PATH and start afresh")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wideshot.data.generate import GenerationPlan, generate_dataset

    common = {"shard_size": args.shard_size, "device": args.device}
    if args.preset is not None:
        given = [flag for flag, value in (("--n", args.n), ("--seed", args.seed),
                                          ("--validation-fraction", args.validation_fraction))
                 if value is not None]
        if given:
            raise ValueError(f"--preset {args.preset} fixes {', '.join(given)}; "
                             "give one or the other")
        plan = GenerationPlan.from_preset(args.preset, **common)
    else:
        if args.n is None:
            raise ValueError("give the number of images with --n, or a --preset")
        plan = GenerationPlan(n_samples=args.n, seed=0 if args.seed is None else args.seed,
                              validation_fraction=args.validation_fraction or 0.0, **common)
    path = generate_dataset(args.out, plan, workers=args.workers, scheduler=args.scheduler,
                            overwrite=args.overwrite, progress=not args.quiet)
    print(f"{path}: {plan.n_samples} images, complete")
    return 0
