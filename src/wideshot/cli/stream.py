"""``wideshot stream``: live reconstruction of a Karabo-bridge stream or a folder being written."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = """Reconstruct the particles in frames as they arrive, from SOURCE: a Karabo bridge
(tcp://host:port, European XFEL's protocol for online analysis; --source and --key select the
detector image in each train, by default the only source holding the key image.data; a key may
hold one frame or a train of pulses) or a folder that is being written (files found below it
now and later are read once their size stops changing: PNG, TIFF, NPY, HDF5/CXI).

Each frame first meets the hit finder (a hit has at least --min-lit-pixels valid pixels with
at least --lit-photons photons and --lit-neighbours such neighbours); misses are counted, not
reconstructed. Hits are batched for the network (a batch goes when --batch-size hits are
waiting or the oldest has waited --max-latency-ms) and answered as by `wideshot reconstruct`
(no refinement: a stream must keep up). --monitor PORT serves a live page on
http://127.0.0.1:PORT/: rates, families, sizes, orientations and the latest hits next to their
re-simulations. Rows go to --out/reconstruction.csv and .json as they come, with train_id and
arrival_time; counters and the files already read go to stream_state.json after every batch,
so a stream stopped in any way continues with --resume. It runs until --max-frames frames
(hits and misses) have arrived or Ctrl-C, which answers the batch in hand before it stops.
A source that stalls is reported (and awaited); a train or file that holds no usable frame
gets a failed row with the reason. Exit status: 0, 1 when some frames failed, 2 for a usage
error or a bridge that never answers."""

#: One line for `wideshot --help`.
SUMMARY = "live reconstruction of a Karabo-bridge stream or a growing folder, with hit finding"


def add_parser(subparsers) -> None:
    from wideshot.beamline.hits import (
        DEFAULT_LIT_NEIGHBOURS,
        DEFAULT_LIT_PHOTONS,
        DEFAULT_MIN_LIT_PIXELS,
    )
    from wideshot.choices import (
        BRIDGE_CONNECT_TIMEOUT_S,
        BRIDGE_KEY,
        DEFAULT_VIEWS,
        STREAM_MAX_LATENCY_S,
        VIEW_COUNTS,
    )
    from wideshot.cli.reconstruct import add_reading_options

    parser = subparsers.add_parser("stream", help=SUMMARY, description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stream_source", metavar="SOURCE",
                        help="tcp://host:port of a Karabo bridge, or a folder")
    parser.add_argument("--out", type=Path, default=Path("stream"), metavar="DIR",
                        help="output folder (default ./stream)")
    bridge = parser.add_argument_group("Karabo bridge")
    bridge.add_argument("--source", metavar="NAME",
                        help="the detector's source in each train (default: the only one with "
                             "--key)")
    bridge.add_argument("--key", default=BRIDGE_KEY,
                        help=f"the image's key in that source (default {BRIDGE_KEY})")
    bridge.add_argument("--connect-timeout", type=float, default=BRIDGE_CONNECT_TIMEOUT_S,
                        metavar="S", help="give up when no train came in the first S seconds "
                                          f"(default {BRIDGE_CONNECT_TIMEOUT_S:g})")
    add_reading_options(parser)
    hits = parser.add_argument_group("hit finding")
    hits.add_argument("--lit-photons", type=float, default=DEFAULT_LIT_PHOTONS, metavar="N",
                      help=f"a pixel is lit from N photons on (default {DEFAULT_LIT_PHOTONS:g})")
    hits.add_argument("--min-lit-pixels", type=int, default=DEFAULT_MIN_LIT_PIXELS,
                      metavar="N", help="a frame is a hit with N lit pixels "
                                        f"(default {DEFAULT_MIN_LIT_PIXELS})")
    hits.add_argument("--lit-neighbours", type=int, default=DEFAULT_LIT_NEIGHBOURS,
                      metavar="N", help="a lit pixel counts with N lit pixels among its four "
                                        f"neighbours (default {DEFAULT_LIT_NEIGHBOURS}; 0 = "
                                        "every lit pixel)")
    hits.add_argument("--every-frame", action="store_true",
                      help="no hit finding: every frame reaches the network")
    answering = parser.add_argument_group("answering")
    answering.add_argument("--model", default="default", metavar="NAME|RUN_DIR",
                           help="shipped model name or run folder (default: default)")
    answering.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    answering.add_argument("--views", type=int, choices=VIEW_COUNTS, default=DEFAULT_VIEWS,
                           help=f"views averaged per frame (default {DEFAULT_VIEWS})")
    answering.add_argument("--no-check", action="store_true",
                           help="do not re-simulate answers (no misfit, no flag)")
    answering.add_argument("--max-misfit", type=float, metavar="M",
                           help="flag answers with a larger misfit (default: the model's)")
    answering.add_argument("--batch-size", type=int, default=64, metavar="N",
                           help="most hits per network batch (default 64)")
    answering.add_argument("--max-latency-ms", type=float, default=STREAM_MAX_LATENCY_S * 1000,
                           metavar="MS", help="most a hit waits for its batch (default "
                                              f"{STREAM_MAX_LATENCY_S * 1000:g})")
    parser.add_argument("--monitor", type=int, metavar="PORT",
                        help="serve a live monitor page on http://127.0.0.1:PORT/ (frames/s, "
                             "hit rate, families, sizes, orientations, latest hits)")
    parser.add_argument("--max-frames", type=int, metavar="N",
                        help="stop after N frames (default: run until Ctrl-C)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the stream whose results --out holds")
    parser.add_argument("--quiet", action="store_true", help="no progress line or summary")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    from wideshot.beamline.arrivals import bridge_arrivals, folder_arrivals
    from wideshot.beamline.hits import HitFinder
    from wideshot.beamline.monitor import LiveMonitor
    from wideshot.beamline.stream import NetworkAnswers, resume_point, stream_frames
    from wideshot.reconstruction import DetectorGeometry, load_mask

    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    mask = load_mask(args.mask) if args.mask else None
    geometry = DetectorGeometry.parse(args.geometry) if args.geometry else None
    finder = None if args.every_frame else HitFinder(
        lit_photons=args.lit_photons, min_lit_pixels=args.min_lit_pixels,
        lit_neighbours=args.lit_neighbours, gain=1.0 if args.gain is None else args.gain)
    keep_counts = any(value is not None for value in (args.saturation, args.threshold))
    if keep_counts and args.intensity != "counts":
        raise ValueError("--saturation and --threshold describe photon counts: use them with "
                         "--intensity counts")
    counts_options = ({"saturation": args.saturation, "threshold": args.threshold,
                       "gain": 1.0 if args.gain is None else args.gain} if keep_counts else None)
    if args.stream_source.startswith("tcp://"):
        arrivals = bridge_arrivals(args.stream_source, source=args.source, key=args.key,
                                   connect_timeout_s=args.connect_timeout)
    elif Path(args.stream_source).is_dir():
        arrivals = folder_arrivals(args.stream_source, dataset=args.dataset, mask=mask,
                                   **(resume_point(args.out) if args.resume else {}))
    else:
        raise ValueError(f"SOURCE {args.stream_source!r} is neither tcp://host:port nor a "
                         "folder")
    answer = NetworkAnswers(model=args.model, device=args.device, views=args.views,
                            check=not args.no_check, max_misfit=args.max_misfit,
                            geometry=geometry)
    options = {"answer": answer, "hit_finder": finder, "geometry": geometry,
               "intensity": args.intensity, "counts_options": counts_options,
               "batch_size": args.batch_size, "max_latency_s": args.max_latency_ms / 1000,
               "max_frames": args.max_frames, "resume": args.resume,
               "progress": not args.quiet}
    if args.monitor is None:
        summary = stream_frames(arrivals, args.out, **options)
    else:
        simulation = {"material": answer.conditions.material,
                      "config": answer.conditions.config}
        with LiveMonitor(args.monitor, simulation) as monitor:
            if not args.quiet:
                print(f"live monitor: {monitor.url}", file=sys.stderr)
            summary = stream_frames(arrivals, args.out, on_flush=monitor, **options)
    if not args.quiet:
        print(f"{summary['frames']} frames: {summary['hits']} hits ({summary['hit_rate']}), "
              f"{summary['misses']} misses; {summary['ok']} ok, {summary['flagged']} flagged, "
              f"{summary['failed']} failed; {summary['frames_per_s']} frames/s"
              f"{'; interrupted' if summary['interrupted'] else ''}\n"
              f"results: {summary['csv']}, {summary['json']}")
    return 1 if summary["failed"] else 0
