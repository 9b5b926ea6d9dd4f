"""``wideshot gallery``: the paper's Figure 2, one simulated pattern through every filter."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from wideshot.cli.simulate import _quaternion

HELP = """Simulate one SPEC diffraction image and show it after each detector-defect filter of
wideshot.data.augment (one panel per filter, titled with its name; 'identity' is the clean
pattern). Each filter draws its random parameters from a generator seeded with --seed."""

#: Panels per row of the figure.
COLUMNS = 6

#: One line for `wideshot --help`.
SUMMARY = 'figure of every augmentation filter (PNG)'


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("gallery", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("fig2.png"),
                        help="output image (.png, .pdf or .svg); default fig2.png")
    parser.add_argument("--radius-nm", type=float, default=120.0,
                        help="circumradius R of the icosahedron in nm (default 120)")
    parser.add_argument("--quaternion", type=_quaternion,
                        default=np.array([0.96, 0.12, 0.2, 0.15]), metavar="W,X,Y,Z",
                        help="orientation, scalar first, active; normalised "
                             "(default 0.96,0.12,0.2,0.15)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of every filter's random parameters (default 0)")
    parser.add_argument("--device", default=None, help="torch device of the simulation")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from wideshot.data.augment import AUGMENTATIONS, make_augmentation
    from wideshot.evaluation.figures import save_pattern_grid
    from wideshot.physics import simulate

    if args.out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--out must end in .png, .pdf or .svg, got {args.out}")
    image = torch.from_numpy(simulate(args.radius_nm, args.quaternion, device=args.device))
    panels = {name: make_augmentation(name)(image, torch.Generator().manual_seed(args.seed))[0].numpy()
              for name in AUGMENTATIONS}
    quaternion = args.quaternion / np.linalg.norm(args.quaternion)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_pattern_grid(panels, args.out, title=f"Augmentation filters — R = {args.radius_nm:g} nm, "
                      f"q = ({', '.join(f'{c:.3f}' for c in quaternion)}), seed {args.seed}",
                      columns=COLUMNS)
    print(f"wrote {args.out}")
    return 0
