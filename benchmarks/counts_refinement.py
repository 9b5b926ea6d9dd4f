"""Refinement on photon counts: accuracy, calibration of the error bars, flags and cost.

Frames: flat-detector photon counts with defects (beam stop, gaps, dead pixels, saturation),
10^2.5–10^4.5 photons in the brightest good pixel, all shape families
(:func:`wideshot.data.detector_frames.make_counts_frames`; seeds not used anywhere else). Each
frame is reconstructed by the network alone and with ``refine=True, intensity="counts"``, in the
same process, so the cost is a ratio measured in one run.

Writes ``benchmarks/out/counts_refinement.json`` and ``docs/calibration.png`` (normalised errors
of R and the parameter against N(0, 1); misorientation over σ against the Maxwell distribution).

    python benchmarks/counts_refinement.py --n 30
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import wideshot
from wideshot.data.detector_frames import DEFAULT_FLAT_GEOMETRY, make_counts_frames
from wideshot.fitting.uncertainty import ORIENTATION_QUANTILES
from wideshot.geometry import SHAPE_NAMES, misorientation_deg, shape_family
from wideshot.training import load_model

OUT = Path(__file__).parent / "out" / "counts_refinement.json"
FIGURE = Path(__file__).parents[1] / "docs" / "calibration.png"


def _errors(result: dict, frames: dict, index: int, row: int = 0) -> dict:
    family = shape_family(frames["shape"][index])
    right = result["shape"][row] == family.name
    out = {"shape_right": bool(right),
           "radius_error_nm": float(result["radius_nm"][row] - frames["radius_nm"][index])}
    out["misorientation_deg"] = (float(misorientation_deg(
        result["quaternion"][row:row + 1], frames["quaternion"][index:index + 1],
        family.name)[0]) if right and family.has_orientation else None)
    out["parameter_error"] = (float(result["shape_parameter"][row]
                                    - frames["shape_parameter"][index])
                              if right and family.has_parameter else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7100)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    network, _ = load_model(args.model)
    frames = make_counts_frames(args.n, seed=args.seed, shapes=SHAPE_NAMES)
    rows, network_seconds, refined_seconds = [], 0.0, 0.0
    for index in tqdm(range(args.n), desc="frames", unit="frame"):
        options = {"valid": frames["mask"][index], "intensity": "counts",
                   "geometry": DEFAULT_FLAT_GEOMETRY, "saturation": frames["saturation"][index],
                   "model": network}
        started = time.perf_counter()
        alone = wideshot.reconstruct(frames["counts"][index], **options)
        network_seconds += time.perf_counter() - started
        started = time.perf_counter()
        refined = wideshot.reconstruct(frames["counts"][index], refine=True, **options)
        seconds = time.perf_counter() - started
        refined_seconds += seconds
        row = {"shape": frames["shape"][index], "photons_max": float(frames["photons_max"][index]),
               "photons": float(refined["photons"][0]), "network": _errors(alone, frames, index),
               "refined": _errors(refined, frames, index), "flagged": bool(refined["flagged"][0]),
               "network_flagged": bool(alone["flagged"][0]),
               "converged": bool(refined["converged"][0]),
               "rescued": bool(refined["rescued"][0]), "seconds": seconds,
               "kept_network": bool(refined["kept_network"][0]),
               "dispersion": float(refined["dispersion"][0]),
               "gof_p_value": float(refined["gof_p_value"][0])}
        for name in ("radius_nm_sigma", "orientation_sigma_deg", "shape_parameter_sigma"):
            row[name] = float(refined[name][0])
        rows.append(row)

    def seconds_of(subset: list[dict]) -> np.ndarray:
        return np.array([row["seconds"] for row in subset])

    def summary(kind: str, subset: list[dict]) -> dict:
        right = [row for row in subset if row[kind]["shape_right"]]
        radius = np.abs([row[kind]["radius_error_nm"] for row in right])
        angle = np.array([row[kind]["misorientation_deg"] for row in right
                          if row[kind]["misorientation_deg"] is not None])
        quantiles = {}
        for name, values in (("radius_error_nm", radius), ("misorientation_deg", angle)):
            if len(values):
                quantiles[name] = {"median": float(np.median(values)),
                                   "p90": float(np.percentile(values, 90))}
        return {"n": len(subset), "shape_right": len(right) / max(len(subset), 1), **quantiles}

    right = [row for row in rows if row["refined"]["shape_right"]]
    radius_z = np.array([row["refined"]["radius_error_nm"] / row["radius_nm_sigma"]
                         for row in right])
    parameter_z = np.array([row["refined"]["parameter_error"] / row["shape_parameter_sigma"]
                            for row in right if row["refined"]["parameter_error"] is not None])
    angle_z = np.array([row["refined"]["misorientation_deg"] / row["orientation_sigma_deg"]
                        for row in right if row["refined"]["misorientation_deg"] is not None])
    evidence = [row for row in rows if row["photons"] >= 1e3]
    bad = [row for row in evidence if not row["flagged"] and (
        not row["refined"]["shape_right"] or abs(row["refined"]["radius_error_nm"]) > 10
        or (row["refined"]["misorientation_deg"] or 0) > 10)]
    one, two = ORIENTATION_QUANTILES[0.683], ORIENTATION_QUANTILES[0.954]
    report = {
        "frames": args.n, "seed": args.seed, "model": args.model,
        "network": summary("network", rows), "refined": summary("refined", rows),
        "families": {name: {"network": summary("network", subset),
                            "refined": summary("refined", subset)}
                     for name in SHAPE_NAMES
                     if (subset := [row for row in rows if row["shape"] == name])},
        "coverage": {"radius_1sigma": float(np.mean(np.abs(radius_z) < 1)),
                     "radius_2sigma": float(np.mean(np.abs(radius_z) < 2)),
                     "parameter_1sigma": float(np.mean(np.abs(parameter_z) < 1)),
                     "parameter_2sigma": float(np.mean(np.abs(parameter_z) < 2)),
                     "orientation_68": float(np.mean(angle_z < one)),
                     "orientation_95": float(np.mean(angle_z < two))},
        "flagged": sum(row["flagged"] for row in rows),
        "unflagged_far_off_with_evidence": len(bad),
        "seconds_per_frame": {"network": network_seconds / args.n,
                              "refined": refined_seconds / args.n,
                              "ratio": refined_seconds / network_seconds,
                              "refined_median": float(np.median(seconds_of(rows))),
                              "refined_p90": float(np.percentile(seconds_of(rows), 90)),
                              "refined_unflagged": float(np.mean(seconds_of(
                                  [row for row in rows if not row["flagged"]])))},
        "rows": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))
    print(json.dumps({key: value for key, value in report.items() if key != "rows"}, indent=1))
    _figure(radius_z, parameter_z, angle_z)


def _figure(radius_z: np.ndarray, parameter_z: np.ndarray, angle_z: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    grid = np.linspace(-4, 4, 200)
    bins = np.linspace(-4, 4, 17)
    axes[0].hist(np.clip(np.concatenate([radius_z, parameter_z]), -4, 4), bins=bins,
                 density=True, color="tab:blue", alpha=0.7, label="R and parameter")
    axes[0].plot(grid, stats.norm.pdf(grid), "k-", label="N(0, 1)")
    axes[0].set_xlabel("error / σ")
    axes[0].legend(frameon=False)
    ratio = np.linspace(0, 6, 200)
    axes[1].hist(np.clip(angle_z, 0, 6), bins=np.linspace(0, 6, 13), density=True,
                 color="tab:orange", alpha=0.7, label="orientation")
    axes[1].plot(ratio, stats.chi.pdf(ratio, 3), "k-", label="Maxwell (per-axis σ)")
    axes[1].set_xlabel("misorientation / orientation_sigma_deg")
    axes[1].legend(frameon=False)
    figure.suptitle("Calibration of the error bars (refined on photon counts)")
    figure.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(FIGURE, dpi=110)


if __name__ == "__main__":
    main()
