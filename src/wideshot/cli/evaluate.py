"""``wideshot evaluate``: a trained network on a test set — error summary, predictions, figures."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = """Predict every image of a test set (wideshot generate) with a trained network and report
the paper's error measures: per image the mean and max relative error of (w, x, y, z, R) —
each |predicted - true| divided by its span (R: 130 nm; quaternion components: their span on
the fundamental domain) — the misorientation (deg) and the radius error (nm).

A network that names the shape family (wideshot train --shapes ...) is judged on its answer for
each image's true family, per family too (with the shape-parameter error, % of its range), and
on the family it names: accuracy, confusion matrix and the calibration of its probabilities
(expected calibration error, 15 bins). Every family of the test set must be one it knows.

Writes into --out: summary.json (n images, model, data, augmentation; median, p90, p99 and mean
of each measure, over all images and per family; the classification), predictions.csv (one row
per image), relative_errors.png (histograms of mean and max relative error, the paper's Figure
4a), misorientation.png, radius_error.png and errors_vs_radius.png; for a network of several
families also confusion_matrix.png, reliability.png and family_errors.png.

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
    print(overall_line(summary))
    if summary["classification"] is not None:
        classification = summary["classification"]
        print(f"family accuracy {100 * classification['accuracy']:.1f} %, expected "
              f"calibration error {classification['expected_calibration_error']:.3f}")
        print("\n".join(family_table(summary["families"])))
    print(f"wrote {out}")
    return 0


def _median(measures: dict, name: str, unit: str) -> str:
    """'1.23 unit' for the median of a measure, '-' where it is undefined (null) or absent."""
    statistics = measures.get(name)
    return "-" if statistics is None else f"{statistics['median']:.2f} {unit}"


def overall_line(summary: dict) -> str:
    """One line of medians over all images of an evaluation summary."""
    measures = summary["measures"]
    return (f"{summary['n_images']} images: median mean error "
            f"{_median(measures, 'mean_error_percent', '%')}, median max error "
            f"{_median(measures, 'max_error_percent', '%')}, median misorientation "
            f"{_median(measures, 'misorientation_deg', 'deg')}, median radius error "
            f"{_median(measures, 'radius_error_nm', 'nm')}")


def family_table(families: dict) -> list[str]:
    """Lines of a table of the summary's families: images, accuracy and median errors."""
    columns = ("family", "images", "named right", "misorientation", "radius error",
               "parameter error")
    lines = [f"{columns[0]:<20} {columns[1]:>6} {columns[2]:>11} {columns[3]:>14} "
             f"{columns[4]:>12} {columns[5]:>15}"]
    for name, family in families.items():
        measures = family["measures"]
        accuracy = "-" if family["accuracy"] is None else f"{100 * family['accuracy']:.1f} %"
        lines.append(f"{name:<20} {family['n']:>6} {accuracy:>11} "
                     f"{_median(measures, 'misorientation_deg', 'deg'):>14} "
                     f"{_median(measures, 'radius_error_nm', 'nm'):>12} "
                     f"{_median(measures, 'shape_parameter_error_percent', '%'):>15}")
    return lines
