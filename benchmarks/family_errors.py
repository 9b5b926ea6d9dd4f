"""A network's own errors per family on the first frames of a test set, for several view counts,
and how they grow towards the boundary of each family's fundamental domain.

    python benchmarks/family_errors.py --model default --data shapes-test.h5 [--n 1500]
        [--views 1,8] [--out benchmarks/out/family_errors.json]

Per view count and true family: the share named right, and for the network's answer *for the
true family* the median and p90 misorientation (deg) and median |ΔR| (nm); then per family,
with the views' average, the median misorientation in each quarter of the frames ordered by
the canonical w of the true orientation (lowest w: nearest the domain boundary, where the
canonical label jumps). A quick check of a training run (`--model RUN_DIR`) without the full
`wideshot evaluate`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--views", default="1,8")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/family_errors.json"))
    args = parser.parse_args()

    import h5py
    import numpy as np

    from wideshot.data.hdf5 import IMAGES, read_labels
    from wideshot.geometry import SHAPE_NAMES, misorientation_deg, shape_family
    from wideshot.models.inference import predict
    from wideshot.training import load_model

    with h5py.File(args.data, "r") as file:
        images = file[IMAGES][:args.n]
        labels = read_labels(file, slice(0, args.n))
    model, _ = load_model(args.model)
    report = {"model": args.model, "data": str(args.data), "n": len(images), "views": {}}
    for views in (int(value) for value in args.views.split(",")):
        answers = predict(model, images, views=views)
        rows = report["views"][views] = {}
        for code in np.unique(labels["shape"]):
            name = SHAPE_NAMES[code]
            mine = labels["shape"] == code
            index = answers.shapes.index(name)
            entry = {"n": int(mine.sum()),
                     "named_right": float((answers.best()[mine] == index).mean()),
                     "median_radius_error_nm": float(np.median(np.abs(
                         answers.radius_nm[mine, index] - labels["radius_nm"][mine])))}
            if shape_family(name).has_orientation:
                truth = labels["quaternion"][mine]
                angle = misorientation_deg(answers.quaternion[mine, index], truth, name)
                entry.update(median_misorientation_deg=float(np.median(angle)),
                             p90_misorientation_deg=float(np.percentile(angle, 90)))
                order = np.argsort(shape_family(name).group.canonical(truth)[:, 0])
                entry["median_misorientation_by_w_quarter_deg"] = [
                    float(np.median(part)) for part in np.array_split(angle[order], 4)]
            rows[name] = entry
            print(f"views {views} {name:20s} " + json.dumps(entry), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
