"""Per family: how right the network's answer is, and how right the refined answer is.

    python benchmarks/refined_families.py [--model default] [--data shapes-test.h5] [--n 60]
        [--augment experiment] [--candidates 2] [--chunk 5] [--no-image-nuisance]
        [--out benchmarks/out/refined_families.json]

The first --n frames of a simulated test set (clean, or through an augmentation chain with
seed 0, as `wideshot evaluate --augment` does) are reconstructed with ``refine=True``: the
network's most probable families (up to --candidates) are each refined by forward fitting and
the family with the lowest misfit is kept. Reported, over all frames and per true family: the
share whose family the network names right, whose true family is among the candidates, and
that the refinement gets right; and for the network's answer (8 views) and the refined answer,
where the family is right, the median and p90 of the misorientation (deg), |ΔR| (nm) and
shape-parameter error (% of the family's range) — the measures of issue 13's targets. Each
row also keeps the candidates' misfits and the network's family probabilities, and the report
compares family choices ``misfit − τ·ln p`` for several τ (0: the lowest misfit, as
reconstruct chooses; inf: the network's most probable family).

--no-image-nuisance refines without allowing for the beam offset and detector blur
(``reconstruct(..., image_nuisance=False)``), for comparison. Frames are reconstructed
--chunk at a time and each frame's row is appended to
``OUT.rows.jsonl``: a run that was stopped continues where it was (the same --model, --data,
--augment, --candidates and nuisance setting; other settings start afresh).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _percentiles(values: list[float]) -> dict | None:
    import numpy as np

    values = [value for value in values if value is not None]
    if not values:
        return None
    return {"median": float(np.median(values)), "p90": float(np.percentile(values, 90)),
            "n": len(values)}


def _summary(rows: list[dict]) -> dict:
    """Shares and error percentiles of some frames' rows."""
    import numpy as np

    def share(key: str) -> float:
        return float(np.mean([row[key] for row in rows]))

    summary = {"n": len(rows), "network_right": share("network_right"),
               "among_candidates": share("among_candidates"),
               "refined_right": share("refined_right")}
    for answer in ("network", "refined"):
        right = [row for row in rows if row[f"{answer}_right"]]
        summary[answer] = {measure: _percentiles([row[answer][measure] for row in right])
                           for measure in ("misorientation_deg", "radius_error_nm",
                                           "parameter_error_percent")}
    return summary


#: Weights τ of the network's log-probability in the family choice ``misfit − τ·ln p``
#: compared in the report (0: the lowest misfit, as reconstruct chooses; inf: the network's).
CHOICE_WEIGHTS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, float("inf"))


def _chosen(row: dict, weight: float) -> str:
    """The refined candidate of a frame's row that ``misfit − weight·ln p`` picks (for an
    infinite weight: the most probable, the lower misfit breaking ties)."""
    import math

    def score(family: str) -> tuple[float, float]:
        log_p = math.log(max(row["probabilities"][family], 1e-12))
        misfit = row["candidate_misfits"][family]
        return (-log_p, misfit) if math.isinf(weight) else (misfit - weight * log_p, 0.0)

    return min(row["candidate_misfits"], key=score)


def _choices(rows: list[dict]) -> dict:
    """Share of frames whose family each rule ``misfit − τ·ln p`` (over the refined candidates)
    names right, by τ."""
    return {str(weight): sum(_chosen(row, weight) == row["shape"] for row in rows) / len(rows)
            for weight in CHOICE_WEIGHTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=Path("data/shapes-test.h5"))
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--augment", default=None)
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=5)
    parser.add_argument("--no-image-nuisance", action="store_true",
                        help="refine without allowing for beam offset and detector blur")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/refined_families.json"))
    args = parser.parse_args()

    import h5py
    import numpy as np
    import torch
    from tqdm import tqdm

    import wideshot
    from wideshot.data.hdf5 import read_labels
    from wideshot.evaluation.report import _augmented
    from wideshot.geometry import SHAPE_NAMES, misorientation_deg, shape_family

    settings = {"model": args.model, "data": str(args.data.resolve()), "augment": args.augment,
                "candidates": args.candidates, "image_nuisance": not args.no_image_nuisance}
    rows_path = args.out.with_suffix(".rows.jsonl")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = []
    if rows_path.is_file():
        lines = [json.loads(line) for line in rows_path.read_text().splitlines() if line]
        if lines and lines[0] == settings:
            done = lines[1:]
    if not done:
        rows_path.write_text(json.dumps(settings) + "\n")

    def errors(family: str, quaternion, radius_nm: float, parameter: float, row: int) -> dict:
        """Errors of one answer for frame ``row`` of a family it names right."""
        info = shape_family(family)
        low, high = info.parameter_range if info.has_parameter else (0.0, 1.0)
        angle = (float(misorientation_deg(quaternion, labels["quaternion"][row], shape=family))
                 if info.has_orientation else None)
        parameter_error = (100 * abs(parameter - labels["shape_parameter"][row]) / (high - low)
                           if info.has_parameter else None)
        return {"misorientation_deg": angle,
                "radius_error_nm": float(abs(radius_nm - labels["radius_nm"][row])),
                "parameter_error_percent": parameter_error}

    with h5py.File(args.data, "r") as file:
        labels = read_labels(file, slice(0, args.n))
        test_images = torch.from_numpy(file["images"][:args.n])
    with tqdm(total=args.n, initial=len(done), unit="frame", desc="refined frames") as bar:
        for start in range(len(done), args.n, args.chunk):
            rows = np.arange(start, min(start + args.chunk, args.n))
            images = test_images[rows]
            if args.augment:
                images = _augmented(images, rows, args.augment, 0)
            started = time.perf_counter()
            result = wideshot.reconstruct(images.numpy(), valid=np.ones(images.shape, bool),
                                          model=args.model, refine=True,
                                          candidates=args.candidates, seed=0,
                                          image_nuisance=not args.no_image_nuisance)
            seconds = (time.perf_counter() - started) / len(rows)
            with rows_path.open("a") as out:
                for position, row in enumerate(rows):
                    truth = SHAPE_NAMES[labels["shape"][row]]
                    record = {"row": int(row), "shape": truth, "seconds": seconds,
                              "network_shape": result["network_shape"][position],
                              "refined_shape": result["shape"][position],
                              "among_candidates": truth in result["candidate_misfits"][position],
                              "candidate_misfits": result["candidate_misfits"][position],
                              "probabilities": dict(zip(result["shapes"], map(
                                  float, result["probabilities"][position])))}
                    record["network_right"] = record["network_shape"] == truth
                    record["refined_right"] = record["refined_shape"] == truth
                    record["network"] = errors(
                        truth, result["network_quaternion"][position],
                        float(result["network_radius_nm"][position]),
                        float(result["network_shape_parameter"][position]), row)
                    record["refined"] = errors(
                        truth, result["quaternion"][position],
                        float(result["radius_nm"][position]),
                        float(result["shape_parameter"][position]), row)
                    out.write(json.dumps(record) + "\n")
                    done.append(record)
            bar.update(len(rows))

    report = {**settings, "n": len(done),
              "seconds_per_frame": float(np.mean([row["seconds"] for row in done])),
              "all": _summary(done),
              "family_choice_right_by_weight": _choices(done),
              "families": {name: _summary([row for row in done if row["shape"] == name])
                           for name in SHAPE_NAMES if any(row["shape"] == name for row in done)}}
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
