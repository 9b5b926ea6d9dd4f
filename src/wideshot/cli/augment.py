"""``wideshot augment``: an augmented copy of a data set, through one detector-defect filter."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = """Pass every image of a data set (from `wideshot generate`) through a detector-defect
filter of wideshot.data.augment and write a new data set with the same labels, plus
source_index and copy_index. Row i·K + c is copy c of source image i, augmented with a random
generator seeded from (seed, i, c): any image can be reproduced on its own."""

#: One line for `wideshot --help`.
SUMMARY = 'augment a data set offline (HDF5 → HDF5)'


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("augment", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, metavar="IN.h5", help="input data set")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.h5",
                        help="output data set (.h5 or .hdf5)")
    parser.add_argument("--filter", required=True, metavar="NAME",
                        help="filter name, e.g. experiment, poisson or blur (`wideshot "
                             "gallery` draws every filter; an unknown name lists them)")
    parser.add_argument("--copies", type=int, default=1, metavar="K",
                        help="augmented copies of each image (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="non-negative seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wideshot.data.generate import augment_file

    path = augment_file(args.source, args.out, args.filter, copies=args.copies, seed=args.seed,
                        progress=not args.quiet)
    print(f"wrote {path}")
    return 0
