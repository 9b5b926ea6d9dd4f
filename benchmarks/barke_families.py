"""Which shape family explains each of the eight Barke et al. (2015) frames best, by forward fit?

    python benchmarks/barke_families.py [--starts 50] [--iterations 50] \
        [--out benchmarks/out/barke_families.json] [--threads 2]

No network is involved: every frame (wideshot.data.experimental.load_barke2015, its valid
mask) is fitted with the Monte-Carlo simplex of every shape family (wideshot.fit method="mcs",
shape=...; a family's parameter is fitted too), and the families are ranked by misfit beside the
label Barke et al. gave the frame. Results are cached in --out as each fit finishes, so an
interrupted run resumes. A first look at what issue 13's refinement can choose between; the
misfit of the digitised, colour-mapped figures is far from zero for every family.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/barke_families.json"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch

    import wideshot
    from wideshot.data.experimental import load_barke2015
    from wideshot.geometry import SHAPE_NAMES

    torch.set_num_threads(args.threads)
    data = load_barke2015()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(data["names"]):
        for family in SHAPE_NAMES:
            key = f"{name}/{family}"
            if key in results:
                continue
            started = time.perf_counter()
            fitted = wideshot.fit(data["images"][index], valid=data["valid"][index],
                                  method="mcs", starts=args.starts, iterations=args.iterations,
                                  seed=args.seed, shape=family)
            parameter = float(fitted["shape_parameter"][0])
            results[key] = {"label": data["shape"][index], "misfit": float(fitted["misfit"][0]),
                            "radius_nm": float(fitted["radius_nm"][0]),
                            "shape_parameter": None if np.isnan(parameter) else parameter,
                            "seconds": round(time.perf_counter() - started, 1)}
            args.out.write_text(json.dumps(results, indent=1))
            print(key, results[key], flush=True)
    print(f"\n{'frame':8} {'Barke et al.':30} ranking by misfit (family misfit)")
    for name in data["names"]:
        rows = sorted((values["misfit"], key.split("/")[1]) for key, values in results.items()
                      if key.startswith(name + "/"))
        label = results[f"{name}/{SHAPE_NAMES[0]}"]["label"]
        print(f"{name:8} {label:30} " + ", ".join(f"{family} {misfit:.3f}"
                                                  for misfit, family in rows))


if __name__ == "__main__":
    main()
