"""How often the network's family, and the refinement's choice among candidates, is right.

    python benchmarks/refined_families.py [--model default] [--data shapes-test.h5] [--n 60]
        [--augment experiment] [--candidates 2] [--out benchmarks/out/refined_families.json]

The first --n frames of a simulated test set (clean, or through an augmentation chain with
seed 0, as `wideshot evaluate --augment` does) are reconstructed with ``refine=True``: the
network's most probable families (up to --candidates) are each refined by forward fitting and
the family with the lowest misfit is kept. Reported: the share of frames whose family the
network names right, whose true family is among the candidates, and that the refinement gets
right; per true family, and the misorientation / |ΔR| of the refined answers where the family
is right.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=Path("data/shapes-test.h5"))
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--augment", default=None)
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/refined_families.json"))
    args = parser.parse_args()

    import h5py
    import numpy as np
    import torch

    import wideshot
    from wideshot.evaluation.report import _augmented
    from wideshot.geometry import SHAPE_NAMES, misorientation_deg, shape_family

    with h5py.File(args.data, "r") as file:
        images = torch.from_numpy(file["images"][:args.n])
        codes = file["shape"][:args.n]
        radius_nm = file["radius_nm"][:args.n]
        quaternion = file["quaternion"][:args.n]
    valid = np.ones(images.shape, dtype=bool)
    if args.augment:
        images = _augmented(images, np.arange(args.n), args.augment, 0)
    started = time.perf_counter()
    result = wideshot.reconstruct(images.numpy(), valid=valid, model=args.model, refine=True,
                                  candidates=args.candidates, seed=0)
    seconds = time.perf_counter() - started
    truth = [SHAPE_NAMES[code] for code in codes]
    network_right = np.array([a == b for a, b in zip(result["network_shape"], truth)])
    refined_right = np.array([a == b for a, b in zip(result["shape"], truth)])
    among = np.array([name in misfits for name, misfits in zip(truth,
                                                              result["candidate_misfits"])])
    per_family = {}
    for name in SHAPE_NAMES:
        rows = [index for index, value in enumerate(truth) if value == name]
        if not rows:
            continue
        right = [index for index in rows if refined_right[index]]
        angles = [float(misorientation_deg(result["quaternion"][index], quaternion[index],
                                           shape=name)) for index in right
                  if shape_family(name).has_orientation]
        per_family[name] = {
            "n": len(rows), "network_right": float(network_right[rows].mean()),
            "among_candidates": float(among[rows].mean()),
            "refined_right": float(refined_right[rows].mean()),
            "median_misorientation_deg": float(np.median(angles)) if angles else None,
            "median_radius_error_nm": (float(np.median(np.abs(result["radius_nm"][right]
                                                              - radius_nm[right])))
                                       if right else None)}
    report = {"model": args.model, "data": str(args.data), "n": args.n,
              "augment": args.augment, "candidates": args.candidates,
              "network_right": float(network_right.mean()),
              "among_candidates": float(among.mean()),
              "refined_right": float(refined_right.mean()),
              "seconds_per_frame": seconds / args.n, "families": per_family}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
