"""Calibrate (and check) the error bars of a model's own answers from the spread of its views.

    python recipes/calibrate_view_errors.py --model default --data shapes-train.h5 \
        [--n 2000] [--write-card] [--check shapes-test.h5 --check-n 2000]

Calibration: the first --n frames of --data's validation split (never a test set), through the
"experiment" chain (photon noise from the true intensity where the file stores it; --chains
clean,experiment splits them between clean frames and the chain), answered with --views views;
per family and quantity the scale and floor of ``σ = sqrt((a·spread)² + b²)``
(:mod:`wideshot.reconstruction.view_errors`). --write-card stores them in the shipped model's
card as ``view_errors``. --check measures the coverage of the calibration just fitted on frames
of another file (clean and through the experiment chain, separately). Writes benchmarks/out/view_errors.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).parents[1] / "benchmarks" / "out" / "view_errors.json"


def _frames(path: Path, count: int, split: str | None, chain: str | None, seed: int):
    """Images (count, 128, 128) and truth of the first frames of ``path`` (``split``), through
    the augmentation ``chain`` (one generator per row, as ``wideshot augment``)."""
    import h5py
    import numpy as np
    import torch

    from wideshot.data.augment import make_augmentation
    from wideshot.data.dataset import DiffractionDataset
    from wideshot.data.generate import augmentation_generator
    from wideshot.data.hdf5 import IMAGES, LOG_INTENSITY_RANGE, read_labels
    from wideshot.geometry import SHAPE_NAMES

    rows = np.sort(DiffractionDataset(path, split=split).rows[:count])
    with h5py.File(path, "r") as file:
        images = torch.from_numpy(file[IMAGES][rows])
        labels = read_labels(file, rows)
    if chain is not None:
        augmentation = make_augmentation(chain)
        ranges = labels.get(LOG_INTENSITY_RANGE)
        images = torch.cat([augmentation(image[None], augmentation_generator(seed, int(row), 0),
                                         None if ranges is None else ranges[[index]])
                            for index, (image, row) in enumerate(zip(images, rows))])
    truth = {"shape": [SHAPE_NAMES[code] for code in labels["shape"]],
             "radius_nm": labels["radius_nm"], "quaternion": labels["quaternion"],
             "shape_parameter": labels["shape_parameter"]}
    return images.numpy(), truth


def _joined(parts):
    """(shapes, errors, spreads) of several :func:`network_errors` calls as one."""
    import numpy as np

    shapes = [shape for part in parts for shape in part[0]]
    joined = [{key: np.concatenate([part[position][key] for part in parts])
               for key in parts[0][position]} for position in (1, 2)]
    return shapes, *joined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--write-card", action="store_true")
    parser.add_argument("--check", type=Path)
    parser.add_argument("--check-n", type=int, default=2000)
    parser.add_argument("--chains", default="experiment",
                        help="calibration frames: clean and/or experiment, comma-separated")
    args = parser.parse_args()

    from wideshot.models.shipped import update_card
    from wideshot.reconstruction.view_errors import (
        calibrate_view_errors,
        family_coverage,
        network_errors,
        view_sigmas,
    )
    from wideshot.training import load_model

    network, _ = load_model(args.model)
    chains = args.chains.split(",")
    unknown = set(chains) - {"clean", "experiment"}
    if unknown:
        parser.error(f"unknown chains {sorted(unknown)}: choose clean and/or experiment")
    share = args.n // len(chains)
    parts = [network_errors(network, *_frames(args.data, share, "validation",
                                              None if chain == "clean" else chain, args.seed),
                            args.views)
             for chain in chains]
    calibration = calibrate_view_errors(*_joined(parts), args.views)
    calibration.update(data=f"{args.data.name} (validation split, first {share} frames, each "
                            f"{' and '.join(chains)}, seed {args.seed})",
                       command=("python recipes/calibrate_view_errors.py --write-card "
                                f"--chains {args.chains}"))
    report = {"model": args.model, "calibration": calibration}
    print(json.dumps(calibration, indent=1), flush=True)
    if args.check is not None:
        report["check"] = {}
        for chain in (None, "experiment"):
            shapes, errors, spreads = network_errors(
                network, *_frames(args.check, args.check_n, None, chain, args.seed + 1),
                args.views)
            per_family = family_coverage(shapes, errors,
                                         view_sigmas(shapes, spreads, calibration, args.views))
            report["check"][chain or "clean"] = per_family
            print(chain or "clean", json.dumps(per_family), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))
    if args.write_card:
        card_path = update_card(args.model, "view_errors", calibration)
        print(f"view errors written to {card_path}")


if __name__ == "__main__":
    main()
