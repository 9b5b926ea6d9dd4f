"""``wideshot reconstruct``: detector images in; size, orientation, quality and Figure 5 out."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = """Reconstruct the shape family, circumradius, orientation and shape parameter of the particle
in every frame of the inputs
(files or folders, searched recursively): PNG, TIFF, NPY (one frame or a stack), HDF5/CXI
(/entry_N/data_1/data with its mask where present; a wideshot data set's /images; or
--dataset); with --source, European XFEL run directories (extra-data), frames in train order. Frames on SPEC's 128x128 k-grid are used as they are; flat-detector frames of
another size are resampled onto it from --geometry. Values: --intensity auto (uint8 and
[0, 1] floats are log images as SPEC, anything else detector counts, taken as log(counts+1)
after dividing each pixel by its solid angle relative to the forward pixel's).

Every answer is re-simulated and compared with its frame on the valid pixels: the misfit is the
fraction of the frame's variance the answer leaves unexplained (0 = perfect). Above the
threshold calibrated for the model (--max-misfit to override) the frame is "flagged": not
explained by any shape family the model knows (two particles, no particle, another shape), so
do not trust it. --no-check skips this re-simulation where only the rate matters (misfit left
empty). --refine refines the network's answers for its most probable families (the top two
where the second has at least 1 % probability) by forward fitting (hybrid, ~2-5 s per family
and frame on a CPU), keeps the family that explains the frame best, and uses the threshold for
refined answers. The default model names the family (icosahedron, decahedron, octahedral,
twinned-tetrahedron, sphere); --model icosahedron is the paper's icosahedron-only network.

Writes into --out: reconstruction.csv and reconstruction.json (per frame: source, frame,
dataset, status ok|flagged|failed, radius_nm, quaternion w,x,y,z (canonical under the family's
rotation group), misfit, reason, shape, shape_probability (the network's probability of that
family), shape_parameter (empty for families without one), radius_nm_sigma,
orientation_sigma_deg (per axis: 68 % / 95 % of orientations within 1.88 / 2.80 sigma),
shape_parameter_sigma (1-sigma errors: of the network's answers from the spread of its views,
calibrated on simulated frames; of refined answers from the likelihood of the counts; empty for
refined answers without counts); the JSON also a summary) and panels/ (Figure 5: frame |
particle seen along the beam |
re-simulated pattern, masked like the frame) for the first --panels frames.
Rows reach the CSV as each batch is done: an interrupted run continues with --resume (an --out
that already holds results is otherwise refused). Frames that cannot be read (corrupt file,
wrong size, NaN, all zero, missing data set) get status "failed" with the reason; the others
are still processed. Exit status 0 when every frame was answered, 1 when some failed, 2 for a
usage error."""

#: One line for `wideshot --help`.
SUMMARY = 'shape, size and orientation from detector images (CSV, JSON, Figure-5 panels)'


def add_reading_options(parser: argparse.ArgumentParser):
    """How frames are read: geometry, mask, HDF5 data set, what the values are, and the counts'
    saturation, threshold and gain (shared by `reconstruct`, `fit` and `stream`); returns the
    argument group."""
    from wideshot.choices import INTENSITY_SCALES

    reading = parser.add_argument_group("reading frames")
    reading.add_argument("--geometry", metavar="KEY=VALUE,...|FILE.json",
                         help="flat detector: distance_mm=..,pixel_size_um=..[,beam_center_px="
                              "ROW:COL][,wavelength_nm=13.5]")
    reading.add_argument("--mask", type=Path, metavar="FILE",
                         help="detector mask (npy, png, h5; nonzero/True = good pixel), applied "
                              "to every frame")
    reading.add_argument("--dataset", metavar="/PATH",
                         help="HDF5 data set to read instead of the CXI/wideshot default")
    reading.add_argument("--intensity", choices=INTENSITY_SCALES, default="auto",
                         help="what frame values are (default auto)")
    reading.add_argument("--saturation", type=float, metavar="LEVEL",
                         help="with --intensity counts: the detector's saturation level; keeps "
                              "the counts for the Poisson likelihood (as do --threshold and "
                              "--gain): goodness of fit, flag, and with --refine 1σ errors")
    reading.add_argument("--threshold", type=float, metavar="T",
                         help="with --intensity counts: zero-suppression threshold (pixels "
                              "that read 0 had at most T)")
    reading.add_argument("--gain", type=float, metavar="ADU",
                         help="with --intensity counts: ADU per photon (1 = frames hold "
                              "photons)")
    return reading


def add_file_options(parser: argparse.ArgumentParser) -> None:
    """Inputs, how frames are read, and what is written: shared by `reconstruct` and `fit`."""
    from wideshot.choices import DEFAULT_VIEWS, VIEW_COUNTS

    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files or folders")
    reading = add_reading_options(parser)
    reading.add_argument("--source", metavar="NAME",
                         help="the inputs are European XFEL run directories: read this "
                              "detector source's frames (through extra-data)")
    reading.add_argument("--key", metavar="KEY",
                         help="with --source: the key of the image (default: the source's only "
                              "key holding frames)")
    reading.add_argument("--fit-centre", action="store_true",
                         help="with kept counts and refinement: fit the beam centre's offset "
                              "as a nuisance parameter")
    parser.add_argument("--max-misfit", type=float, metavar="M",
                        help="flag answers with a larger misfit (default: the model's "
                             "calibrated threshold)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--views", type=int, choices=VIEW_COUNTS, default=DEFAULT_VIEWS,
                        help="turned/mirrored views of each frame whose network answers are "
                             f"averaged (default {DEFAULT_VIEWS}; 1 = the network alone)")
    parser.add_argument("--panels", type=int, default=16, metavar="N",
                        help="Figure-5 panels for the first N frames (default 16, 0 = none)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --out (frames already in its CSV "
                             "are kept)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def file_options(args: argparse.Namespace) -> dict:
    """Keyword arguments of :func:`reconstruct_files` from :func:`add_file_options`'s options."""
    from wideshot.reconstruction import DetectorGeometry, load_mask

    from wideshot.reconstruction.sources import RunSelection

    if args.key is not None and args.source is None:
        raise ValueError("--key selects the image of a --source (European XFEL runs)")
    if args.source is not None and args.dataset is not None:
        raise ValueError("--dataset names an HDF5 data set, --source a run's detector: not both")
    dataset = RunSelection(args.source, args.key) if args.source is not None else args.dataset
    return {"dataset": dataset, "mask": load_mask(args.mask) if args.mask else None,
            "geometry": DetectorGeometry.parse(args.geometry) if args.geometry else None,
            "intensity": args.intensity, "max_misfit": args.max_misfit, "device": args.device,
            "saturation": args.saturation, "threshold": args.threshold, "gain": args.gain,
            "fit_centre": args.fit_centre,
            "views": args.views, "panels": args.panels, "resume": args.resume,
            "progress": not args.quiet}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("reconstruct", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_file_options(parser)
    parser.add_argument("--out", type=Path, default=Path("reconstruction"), metavar="DIR",
                        help="output folder (default ./reconstruction)")
    answering = parser.add_argument_group("answering")
    answering.add_argument("--model", default="default", metavar="NAME|RUN_DIR",
                           help="shipped model name (default: the shape-classifying default; "
                                "icosahedron: the paper's icosahedron-only network) or a run "
                                "folder")
    answering.add_argument("--refine", action="store_true",
                           help="refine each answer by forward fitting (slower, more accurate)")
    answering.add_argument("--no-check", action="store_true",
                           help="skip the quality check: answers are not re-simulated (about "
                                "twice the frames/s), misfit is left empty and nothing is "
                                "flagged; ignored with --refine")
    answering.add_argument("--batch-size", type=int, default=64, metavar="N",
                           help="frames per network batch (default 64), the unit of work of "
                                "--scheduler and --workers")
    where = answering.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask distributed scheduler (tcp://host:8786) whose workers answer "
                            "the frames (they need wideshot and the files at the same paths); "
                            "rows come out in input order, as in one process")
    where.add_argument("--workers", type=int, metavar="N",
                       help="answer on a local Dask cluster of N worker processes")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    from wideshot.reconstruction.pipeline import reconstruct_files

    summary = reconstruct_files(args.inputs, args.out, model=args.model,
                                method="hybrid" if args.refine else "network",
                                batch_size=args.batch_size, check=not args.no_check,
                                scheduler=args.scheduler, workers=args.workers,
                                **file_options(args))
    return report(summary, args.quiet)


def report(summary: dict, quiet: bool) -> int:
    """Print the summary of :func:`reconstruct_files`; exit status 1 if some frames failed."""
    if not quiet:
        threshold = summary["max_misfit"]
        rule = ("goodness of fit of the counts" if summary.get("flag") == "goodness of fit"
                else f"misfit > {threshold if threshold is not None else 'n/a'}")
        print(f"{summary['frames']} frames: {summary['ok']} ok, {summary['flagged']} flagged "
              f"({rule}), "
              f"{summary['failed']} failed; {summary['frames_per_s']} frames/s\n"
              f"results: {summary['csv']}, {summary['json']}")
    return 1 if summary["failed"] else 0
