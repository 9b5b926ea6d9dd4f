"""The network alone on photon-count frames: which model reads detector frames best.

Frames: flat-detector photon counts with defects, 10^2.5–10^4.5 photons in the brightest good
pixel, all shape families (:func:`wideshot.data.detector_frames.make_counts_frames`, seed 7300,
used nowhere else). Every model given with ``--model`` (shipped names or run folders) answers
every frame with ``intensity="counts"`` and no refinement, in the same run, so the models are
compared on identical frames. Issue 14, item 6: a network trained with photon noise drawn from
the true intensity against one trained with the noise of the log image.

Writes ``benchmarks/out/network_on_counts.json`` (or ``--out``) and prints, per model, family
accuracy and the median / p90 of |ΔR| and misorientation over the frames whose family it named
right, overall, per family and for frames above / below 10^3.5 photons in the brightest good
pixel, and the coverage of the network's own error bars (fraction of |ΔR| within 1σ / 2σ, of
the misorientation within 1.88σ / 2.80σ; targets 68 % / 95 %).

    python benchmarks/network_on_counts.py --n 400 --model default --model runs/new-noise
    python benchmarks/network_on_counts.py --shapes icosahedron --model icosahedron ...
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from counts_refinement import _errors
from tqdm import tqdm

import wideshot
from wideshot.data.detector_frames import DEFAULT_FLAT_GEOMETRY, make_counts_frames
from wideshot.geometry import SHAPE_NAMES
from wideshot.reconstruction.view_errors import SIGMA_COLUMNS, coverage
from wideshot.training import load_model

OUT = Path(__file__).parent / "out" / "network_on_counts.json"
BRIGHT_PHOTONS = 10**3.5


def _summary(rows: list[dict]) -> dict:
    """Family accuracy, and |ΔR| and misorientation quantiles over the rows named right."""
    right = [row for row in rows if row["shape_right"]]
    radius = np.abs([row["radius_error_nm"] for row in right])
    angle = np.array([row["misorientation_deg"] for row in right
                      if row["misorientation_deg"] is not None])
    out = {"n": len(rows), "shape_right": len(right) / max(len(rows), 1)}
    for name, values in (("radius_error_nm", radius), ("misorientation_deg", angle)):
        if len(values):
            out[name] = {"median": float(np.median(values)),
                         "p90": float(np.percentile(values, 90))}
    # Coverage of the network's error bars (views' spread, calibrated on simulated SPEC images).
    for name, error, sigma in (("radius_nm", "radius_error_nm", "radius_nm_sigma"),
                               ("orientation_deg", "misorientation_deg",
                                "orientation_sigma_deg")):
        pairs = np.array([(row[error], row[sigma]) for row in right
                          if row[error] is not None and np.isfinite(row[sigma])])
        if len(pairs):
            out[f"coverage_{name}"] = coverage(pairs[:, 0], pairs[:, 1], name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7300)
    parser.add_argument("--model", action="append", default=None,
                        help="shipped model or run folder (repeat; default: default)")
    parser.add_argument("--shapes", default=",".join(SHAPE_NAMES),
                        help="families of the frames, comma-separated (default all)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    names = args.model or ["default"]
    # A shipped model goes by name (cached), so that its card's error-bar calibration is used;
    # a run folder is loaded once.
    models = {}
    for name in names:
        network, description = load_model(name)
        models[name] = name if "shipped" in description else network
    shapes = args.shapes.split(",")
    frames = make_counts_frames(args.n, seed=args.seed, shapes=shapes)
    rows = {name: [] for name in names}
    for index in tqdm(range(args.n), desc="frames", unit="frame"):
        for name, model in models.items():
            result = wideshot.reconstruct(frames["counts"][index], valid=frames["mask"][index],
                                          intensity="counts", geometry=DEFAULT_FLAT_GEOMETRY,
                                          saturation=frames["saturation"][index], model=model,
                                          check=False)
            rows[name].append({"shape": frames["shape"][index],
                               "photons_max": float(frames["photons_max"][index]),
                               **_errors(result, frames, index),
                               **{column: float(result[column][0]) for column in SIGMA_COLUMNS}})
    report = {"frames": args.n, "seed": args.seed, "shapes": shapes, "models": {}}
    for name, model_rows in rows.items():
        report["models"][name] = {
            "all": _summary(model_rows),
            "bright": _summary([row for row in model_rows
                                if row["photons_max"] >= BRIGHT_PHOTONS]),
            "dim": _summary([row for row in model_rows if row["photons_max"] < BRIGHT_PHOTONS]),
            "families": {family: _summary([row for row in model_rows if row["shape"] == family])
                         for family in shapes},
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**report, "rows": rows}, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
