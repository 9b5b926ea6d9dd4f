"""``wideshot demo``: the main job on built-in defaults, offline, in about a minute."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = """Reconstruct the eight experimental frames of Barke et al. 2015 (Nat. Commun. 6, 6187,
CC-BY 4.0: two icosahedra — the paper's Figure 5 — two decahedra, two truncated octahedra, two
truncated twinned tetrahedra) and a few freshly simulated patterns with experiment-like detector
defects and known truth, with the shipped network (shape family, size, orientation, shape
parameter) refined by forward fitting of its most probable families. Prints a table (family
expected and found, network and refined radius, misfit, status; how many Barke frames got
Barke et al.'s family) and writes into --out: demo_experimental.png and demo_simulated.png
(image | particle seen along the beam | re-simulated pattern) and demo.json. Then a few
simulated photon-count frames of a flat detector are reconstructed from their counts, with
error bars and the goodness of fit (demo_counts.json)."""

#: One line for `wideshot --help`.
SUMMARY = "reconstruct the eight Barke et al. frames and simulated examples"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo"), metavar="DIR",
                        help="output folder (default ./demo)")
    parser.add_argument("--simulated", type=int, default=4, metavar="N",
                        help="simulated examples (default 4)")
    parser.add_argument("--counts", type=int, default=2, metavar="N",
                        help="simulated photon-count frames of a flat detector, reconstructed "
                             "from their counts with error bars (default 2, 0 = none)")
    parser.add_argument("--no-refine", action="store_true",
                        help="network answers only (faster, less accurate)")
    parser.add_argument("--model", default="default", metavar="NAME|RUN_DIR")
    parser.add_argument("--device", help="cpu, cuda, ...")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    from wideshot.reconstruction.demo import (
        format_counts_table,
        format_table,
        run_counts_demo,
        run_demo,
    )

    started = time.perf_counter()
    rows = run_demo(args.out, n_simulated=args.simulated, model=args.model, device=args.device,
                    refine=not args.no_refine)
    print(format_table(rows))
    if args.counts > 0:
        counts_rows = run_counts_demo(args.out, n_frames=args.counts, model=args.model,
                                      device=args.device, refine=not args.no_refine)
        print("\nPhoton counts of a flat detector (the Poisson likelihood; error bars from it "
              "when refined, from the network's views otherwise):")
        print(format_counts_table(counts_rows))
    print(f"figures and demo.json in {args.out}/ ({time.perf_counter() - started:.0f} s)")
    return 0
