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


def add_parser(subparsers) -> None:
    from wideshot.reconstruction.preparation import INTENSITY_SCALES

    parser = subparsers.add_parser("fit", help="forward fit of detector images (Monte-Carlo "
                                               "simplex or network + refinement)",
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
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
    parser.add_argument("--geometry", metavar="KEY=VALUE,...|FILE.json",
                        help="flat-detector geometry (see `wideshot reconstruct --help`)")
    parser.add_argument("--mask", type=Path, metavar="FILE", help="detector mask (True = good)")
    parser.add_argument("--dataset", metavar="/PATH", help="HDF5 data set to read")
    parser.add_argument("--intensity", choices=INTENSITY_SCALES, default="auto")
    parser.add_argument("--max-misfit", type=float, metavar="M",
                        help="flag answers with a larger misfit")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--panels", type=int, default=16, metavar="N",
                        help="Figure-5 panels for the first N frames (default 16)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    from wideshot.reconstruction import DetectorGeometry, load_mask
    from wideshot.reconstruction.pipeline import reconstruct_files

    summary = reconstruct_files(
        args.inputs, args.out, dataset=args.dataset,
        mask=load_mask(args.mask) if args.mask else None,
        geometry=DetectorGeometry.parse(args.geometry) if args.geometry else None,
        intensity=args.intensity, model=args.model, device=args.device, method=args.method,
        starts=args.starts, iterations=args.iterations, seed=args.seed,
        max_misfit=args.max_misfit, batch_size=8, panels=args.panels, resume=args.resume,
        progress=not args.quiet)
    return reconstruct_command.report(summary, args.quiet)
