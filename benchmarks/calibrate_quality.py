"""Calibrate the misfit threshold that flags unexplained images, and measure what it catches.

    python benchmarks/calibrate_quality.py [--model default] [--network-images 200] \
        [--refined-images 30] [--negatives 30] [--refined-negatives 5] [--write-card]

In-distribution: simulated particles of the families the model knows (in equal parts) with the
"experiment" detector defects (wideshot.reconstruction.quality.in_distribution_examples). The
threshold is the 99th percentile of their misfit, for the network's answers and for refined
(hybrid) answers. Out of distribution: the families the model does not know, two icosahedra in
one shot, empty frames, with the same defects; reported is the share of them each threshold
flags. --write-card stores the thresholds in the
shipped model's card ("quality"), where wideshot.reconstruct finds them.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

CALIBRATION_SEED = 7


def _misfits(images, valid, model, refine: bool) -> np.ndarray:
    """Misfit of each answer; 1 for frames with no signal left, which reconstruct rejects."""
    import wideshot

    misfit = np.ones(len(images))
    signal = (images * valid).reshape(len(images), -1).max(axis=1) > 0
    if signal.any():
        misfit[signal] = wideshot.reconstruct(images[signal], valid=valid[signal], model=model,
                                              refine=refine, max_misfit=1.0)["misfit"]
    return misfit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--network-images", type=int, default=200)
    parser.add_argument("--refined-images", type=int, default=30)
    parser.add_argument("--negatives", type=int, default=30)
    parser.add_argument("--refined-negatives", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/quality.json"))
    parser.add_argument("--write-card", action="store_true")
    args = parser.parse_args()

    from wideshot.models.shipped import update_card
    from wideshot.reconstruction.quality import (
        OUT_OF_DISTRIBUTION,
        calibrate,
        in_distribution_examples,
        out_of_distribution_examples,
    )

    from wideshot.models.inference import layout_of
    from wideshot.training.lookup import load_model

    started = time.perf_counter()
    shapes = layout_of(load_model(args.model)[0]).shapes
    report = {"model": args.model, "seed": CALIBRATION_SEED, "shapes": list(shapes)}
    positives = in_distribution_examples(args.network_images, CALIBRATION_SEED, shapes=shapes)
    for kind, count, refine in (("network", args.network_images, False),
                                ("refined", args.refined_images, True)):
        misfit = _misfits(positives["images"][:count], positives["valid"][:count], args.model,
                          refine)
        report[kind] = calibrate(misfit)
        report[kind]["flagged_share"] = {}
        threshold = report[kind]["max_misfit"]
        negative_count = args.negatives if not refine else args.refined_negatives
        for negative in (kind for kind in OUT_OF_DISTRIBUTION if kind not in shapes):
            examples = out_of_distribution_examples(negative, negative_count, CALIBRATION_SEED)
            values = _misfits(examples["images"], examples["valid"], args.model, refine)
            report[kind]["flagged_share"][negative] = float(np.mean(values > threshold))
            report[kind].setdefault("negative_median_misfit", {})[negative] = float(
                np.median(values))
        print(json.dumps({kind: report[kind]}, indent=1), flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    if args.write_card:
        card_path = update_card(args.model, "quality", {
            "max_misfit": {kind: report[kind]["max_misfit"] for kind in ("network", "refined")},
            "calibration": {key: report[key] for key in ("network", "refined", "seed")},
            "command": "python benchmarks/calibrate_quality.py --write-card",
        })
        print(f"thresholds written to {card_path}")


if __name__ == "__main__":
    main()
