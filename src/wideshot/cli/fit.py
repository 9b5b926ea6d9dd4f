"""``wideshot fit``: forward fitting of detector images (Monte-Carlo simplex or hybrid)."""
from __future__ import annotations

import argparse
from pathlib import Path

from wideshot.cli import reconstruct as reconstruct_command

HELP = """Fit size and orientation by forward fitting: simulate, compare with the frame on its
valid pixels, adjust. --method mcs is the paper's Monte-Carlo simplex (Nelder-Mead from
--starts random starts, --iterations each; default 50 x 50, thousands of simulations per
frame); --method hybrid starts from the network's answer (a radius scan, then Nelder-Mead;
a few hundred simulations). Inputs, outputs and exit status as `wideshot reconstruct`
(see its help); the misfit threshold is that of refined answers."""

#: One line for `wideshot --help`.
SUMMARY = 'forward fit of detector images (Monte-Carlo simplex or network + refinement)'


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("fit", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    reconstruct_command.add_file_options(parser)
    parser.add_argument("--out", type=Path, default=Path("fit"), metavar="DIR",
                        help="output folder (default ./fit)")
    parser.add_argument("--method", choices=("mcs", "hybrid"), default="mcs",
                        help="forward-fit method (default mcs)")
    parser.add_argument("--starts", type=int, metavar="N", help="starts per frame")
    parser.add_argument("--iterations", type=int, metavar="N",
                        help="Nelder-Mead iterations per start")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    parser.add_argument("--model", default="default", metavar="NAME|RUN_DIR",
                        help="network of the hybrid (default: default)")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    from wideshot.reconstruction.pipeline import reconstruct_files

    summary = reconstruct_files(args.inputs, args.out, model=args.model, method=args.method,
                                starts=args.starts, iterations=args.iterations, seed=args.seed,
                                batch_size=8, **reconstruct_command.file_options(args))
    return reconstruct_command.report(summary, args.quiet)
