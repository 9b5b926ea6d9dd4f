"""Ship a shape-classifying training run as a model: calibrated, with experts, with its tests.

    python recipes/ship_shapes_model.py RUN_DIR [--name default] [--expert icosahedron=icosahedron]
        [--views 8] [--calibration-images 2000] [--test shapes-test.h5 --test paper-test.h5]

1. The temperature of the family probabilities is fitted on the first --calibration-images
   frames of the run's validation split (clean, --views views averaged; never a test set) and
   folded into the logit rows (wideshot.training.temperature).
2. The run is exported as --name, with the blocks of the --expert families taken from those
   shipped models (wideshot.models.experts.ExpertOverride).
3. Each --test set is evaluated with the exported model, clean and with the "experiment" chain
   (seed 0), and the summaries go into the model card ("test"), beside the calibration.

Evaluation folders are written under RUN_DIR/shipped-evaluation-*.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", default="default")
    parser.add_argument("--expert", action="append", default=[], metavar="FAMILY=MODEL")
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--calibration-images", type=int, default=2000)
    parser.add_argument("--test", action="append", default=[], type=Path)
    parser.add_argument("--weights-dir", type=Path,
                        help="write the model here instead of into the package (trials)")
    args = parser.parse_args()

    import h5py
    import numpy as np

    from wideshot.data.dataset import DiffractionDataset
    from wideshot.data.hdf5 import IMAGES, SHAPE
    from wideshot.evaluation.report import evaluate
    from wideshot.models.inference import layout_of
    from wideshot.training import load_run
    from wideshot.training.export import export_run
    from wideshot.training.lookup import load_model
    from wideshot.training.temperature import (
        averaged_probabilities,
        fit_temperature,
        view_logits,
    )
    from wideshot.evaluation.classification import expected_calibration_error

    network, config = load_run(args.run)
    validation = DiffractionDataset(config.train, split="validation")
    count = min(args.calibration_images, len(validation))
    rows = np.sort(validation.rows[:count])
    with h5py.File(config.train, "r") as file:
        images = file[IMAGES][rows]
        codes = file[SHAPE][rows]
    layout = layout_of(network)
    true_index = layout.index_of_codes(codes)
    logits = view_logits(network, images, args.views)
    temperature = fit_temperature(logits, true_index)

    def ece(value: float) -> float:
        probability = averaged_probabilities(logits, value)
        return expected_calibration_error(probability.max(1),
                                          probability.argmax(1) == true_index)

    calibration = {"temperature": temperature, "views": args.views, "images": int(count),
                   "data": f"{config.train} (validation split, first {count})",
                   "ece_before": ece(1.0), "ece_after": ece(temperature),
                   "method": "wideshot.training.temperature.fit_temperature"}
    print(json.dumps(calibration, indent=1), flush=True)
    experts = dict(item.split("=", 1) for item in args.expert)
    card = {"calibration": calibration}
    export_run(args.run, name=args.name, experts=experts, temperature=temperature,
               extra_card=card, weights_dir=args.weights_dir)
    tests = {}
    if args.weights_dir is not None:
        import wideshot.models.shipped as shipped

        shipped.SHIPPED_DIR = args.weights_dir.resolve()
    model, description = load_model(args.name)
    for test in args.test:
        for augmentation in (None, "experiment"):
            key = test.stem + (f"-{augmentation}" if augmentation else "")
            tests[key] = evaluate(model, test, args.run / f"shipped-evaluation-{key}",
                                  augmentation=augmentation, views=args.views,
                                  model_description=description)
            print(key, json.dumps({name: tests[key][name] for name in ("measures",)
                                   if name in tests[key]})[:400], flush=True)
    if tests:
        export_run(args.run, name=args.name, experts=experts, temperature=temperature,
                   extra_card={**card, "test": tests}, weights_dir=args.weights_dir)
    print(f"shipped {args.name}")


if __name__ == "__main__":
    main()
