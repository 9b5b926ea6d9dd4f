"""``wideshot generate``: a simulated data set (images + labels) in HDF5, resumable, in parallel."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = """Simulate a data set of SPEC images of particles with random size (R uniform on
--radius-range, default [30, 160] nm), orientation (uniform over rotations, stored canonical under
each particle's own rotation group) and shape family (--shapes, default the icosahedron alone; a
family's parameter uniform over its range) into one HDF5 file: images (N,128,128) float32,
radius_nm (N,), quaternion (N,4), shape (N,) (codes; names in its attribute shape_names),
shape_parameter (N,) (NaN where a family has none), [split (N,) 0=train 1=validation], and
attributes recording the conditions (wavelength, material, radius range), shapes, seed and version.

Sample i depends only on (seed, i). The work is cut into shards kept in PATH.shards/ until the
file is assembled: re-running the same command after an interruption continues where it
stopped; a file at PATH is always complete. Presets: paper-train (25,058 icosahedra, one fifth
validation), paper-test (5,000 icosahedra, an independent seed), shapes-train (50,000 images, the
five families in equal parts, one fifth validation), shapes-test (10,000, the five families).

Example: wideshot generate --n 2000 --shapes decahedron,octahedral --shape-weights 1,3 \
             --radius-range 20,250 --material silver-91ev --out mixed.h5"""

#: One line for `wideshot --help`.
SUMMARY = 'simulate a training/test data set (HDF5)'


def add_parser(subparsers) -> None:
    from wideshot.choices import PRESETS, SHARD_SIZE

    parser = subparsers.add_parser("generate", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, metavar="PATH.h5",
                        help="output file (.h5 or .hdf5)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="a named data set (fixes --n, --seed, the validation fraction "
                             "and the shapes)")
    parser.add_argument("--n", type=int, default=None, help="number of images")
    parser.add_argument("--seed", type=int, default=None,
                        help="non-negative seed; sample i depends on (seed, i) only (default 0)")
    parser.add_argument("--validation-fraction", type=float, default=None, metavar="F",
                        help="mark round(N·F) random samples as validation in a 'split' data "
                             "set (default 0: no split)")
    parser.add_argument("--shapes", default=None, metavar="FAMILY,...",
                        help="shape families to draw, comma-separated: icosahedron, decahedron, "
                             "octahedral, twinned-tetrahedron, sphere (default icosahedron, or "
                             "the preset's)")
    parser.add_argument("--shape-weights", default=None, metavar="W,...",
                        help="relative frequency of each of --shapes (default equal)")
    parser.add_argument("--radius-range", default=None, metavar="LOW,HIGH",
                        help="circumradius range in nm (default 30,160)")
    parser.add_argument("--wavelength-nm", type=float, default=None,
                        help="photon wavelength λ in nm (default 13.5)")
    parser.add_argument("--material", default=None,
                        help="absorption[:LENGTH_NM] (default, ℓ = 12.5 nm), born (no "
                             "absorption), silver-91ev (n = 1 − 0.110 + 0.079i) or "
                             "index:DELTA,BETA")
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


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{option} takes comma-separated numbers, got {text!r}") from None


def _conditions(args: argparse.Namespace) -> dict:
    """Plan options from --shapes, --shape-weights, --radius-range, --wavelength-nm, --material."""
    import dataclasses

    from wideshot.config import DEFAULT_CONFIG
    from wideshot.physics.material import parse_material

    options = {}
    if args.shapes is not None:
        options["shapes"] = tuple(name.strip() for name in args.shapes.split(","))
    if args.shape_weights is not None:
        options["shape_weights"] = tuple(_numbers(args.shape_weights, "--shape-weights"))
    if args.radius_range is not None:
        options["radius_range_nm"] = tuple(_numbers(args.radius_range, "--radius-range"))
    config = DEFAULT_CONFIG
    if args.wavelength_nm is not None:
        if not args.wavelength_nm > 0:
            raise ValueError(f"--wavelength-nm must be positive, got {args.wavelength_nm}")
        config = dataclasses.replace(DEFAULT_CONFIG, wavelength_nm=args.wavelength_nm)
        options["config"] = config
    if args.material is not None:
        options["material"] = parse_material(args.material, config)
    return options


def run(args: argparse.Namespace) -> int:
    from wideshot.data.generate import GenerationPlan, generate_dataset

    common = {"shard_size": args.shard_size, "device": args.device, **_conditions(args)}
    if args.preset is not None:
        given = [flag for flag, value in (("--n", args.n), ("--seed", args.seed),
                                          ("--validation-fraction", args.validation_fraction),
                                          ("--shapes", args.shapes),
                                          ("--shape-weights", args.shape_weights))
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
