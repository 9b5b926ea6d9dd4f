"""``wideshot evaluate``: a trained network on a test set — error summary, predictions, figures."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = """Predict every image of a test set (wideshot generate) with a trained network and report
the paper's error measures: per image the mean and max relative error of (w, x, y, z, R) —
each |predicted - true| divided by its span (R: 130 nm; quaternion components: their span on
the fundamental domain) — the misorientation (deg) and the radius error (nm).

Writes into --out: summary.json (n images, model, data, augmentation; median, p90, p99 and mean
of each measure), predictions.csv (one row per image), relative_errors.png (histograms of mean
and max relative error, the paper's Figure 4a), misorientation.png, radius_error.png and
errors_vs_radius.png.

--model takes the name of a model shipped with wideshot ("default"; looked up first) or the run
folder of `wideshot train` (with --checkpoint best or last).
--augment degrades the test images first with a filter of wideshot.data.augment, each image with
a generator seeded from (--seed, row): the same images as `wideshot augment --filter NAME`."""

#: One line for `wideshot --help`.
SUMMARY = 'error report of a trained network on a test set (JSON, CSV, PNG)'


def add_parser(subparsers) -> None:
    from wideshot.choices import CHECKPOINTS, DEFAULT_VIEWS, VIEW_COUNTS

    parser = subparsers.add_parser("evaluate", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, metavar="NAME|RUN_DIR",
                        help="name of a shipped model (e.g. default) or the run folder of "
                             "`wideshot train`")
    parser.add_argument("--checkpoint", choices=list(CHECKPOINTS),
                        help="run folders only: best.pt (best validation epoch, default) or "
                             "last.pt")
    parser.add_argument("--data", type=Path, required=True, metavar="TEST.h5",
                        help="test set; every image is predicted")
    parser.add_argument("--augment", metavar="NAME",
                        help="degrade the test images first with a filter of `wideshot "
                             "gallery`, e.g. experiment (default: clean images)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the augmentation (default 0)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default RUN_DIR/evaluation-<data name>[-<augment>]"
                             "[-views<N>] for a run folder, ./evaluation-<NAME>-<data name>[...] "
                             "for a shipped model; views<N> where N is not the default)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="images per forward pass (default 256)")
    parser.add_argument("--views", type=int, choices=VIEW_COUNTS, default=DEFAULT_VIEWS,
                        help="turned/mirrored views of each image whose answers are averaged, "
                             f"as wideshot reconstruct does (default {DEFAULT_VIEWS}; 1 = the "
                             "network alone, as in the paper)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wideshot.evaluation.report import evaluate
    from wideshot.models.inference import DEFAULT_VIEWS
    from wideshot.training import load_model
    from wideshot.devices import resolve_device

    device = resolve_device(args.device, prefer_cuda=True)
    model, description = load_model(args.model, device=device, which=args.checkpoint)
    parts = ([args.data.stem] + ([args.augment] if args.augment else [])
             + ([f"views{args.views}"] if args.views != DEFAULT_VIEWS else []))
    if "shipped" in description:
        default_out = Path("-".join(["evaluation", description["shipped"], *parts]))
    else:
        default_out = Path(args.model) / "-".join(["evaluation", *parts])
    out = args.out or default_out
    summary = evaluate(model, args.data, out, augmentation=args.augment, seed=args.seed,
                       device=device, batch_size=args.batch_size, views=args.views,
                       model_description=description, progress=not args.quiet)
    measures = summary["measures"]
    print(f"{summary['n_images']} images: median mean error "
          f"{measures['mean_error_percent']['median']:.2f} %, median max error "
          f"{measures['max_error_percent']['median']:.2f} %, median misorientation "
          f"{measures['misorientation_deg']['median']:.2f} deg, median radius error "
          f"{measures['radius_error_nm']['median']:.2f} nm")
    print(f"wrote {out}")
    return 0
