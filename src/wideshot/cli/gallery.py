"""``wideshot gallery``: the paper's Figure 2, one simulated pattern through every filter."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from wideshot.cli.simulate import _quaternion

HELP = """Simulate one SPEC diffraction image and show it after each detector-defect filter of
wideshot.data.augment (one panel per filter, titled with its name; 'identity' is the clean
pattern). Each filter draws its random parameters from a generator seeded with --seed."""

#: Panels per row of the figure.
COLUMNS = 6


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("gallery", help="figure of every augmentation filter (PNG)",
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
    import matplotlib.pyplot as plt
    import torch

    from wideshot.data.augment import AUGMENTATIONS, make_augmentation
    from wideshot.evaluation.figures import draw_pattern
    from wideshot.physics import simulate

    if args.out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--out must end in .png, .pdf or .svg, got {args.out}")
    image = torch.from_numpy(simulate(args.radius_nm, args.quaternion, device=args.device))
    rows = math.ceil(len(AUGMENTATIONS) / COLUMNS)
    figure, axes = plt.subplots(rows, COLUMNS, figsize=(2.3 * COLUMNS, 2.45 * rows), dpi=110,
                                sharex=True, sharey=True, squeeze=False)
    for panel, name in zip(axes.flat, AUGMENTATIONS):
        generator = torch.Generator().manual_seed(args.seed)
        draw_pattern(panel, make_augmentation(name)(image, generator)[0].numpy(), title=name)
        panel.label_outer()
    for panel in axes.flat[len(AUGMENTATIONS):]:
        panel.set_visible(False)
        # The panel above an empty slot ends its column: give it the k_x axis labels.
        above = axes[-2, list(axes[-1]).index(panel)]
        above.xaxis.set_tick_params(labelbottom=True)
        above.set_xlabel(r"$k_x/k$")
    quaternion = args.quaternion / np.linalg.norm(args.quaternion)
    figure.suptitle(f"Augmentation filters — R = {args.radius_nm:g} nm, "
                    f"q = ({', '.join(f'{c:.3f}' for c in quaternion)}), seed {args.seed}")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    plt.close(figure)
    print(f"wrote {args.out}")
    return 0
