"""The paper's Figure 4b: error versus number of simulations — Monte-Carlo simplex, network, hybrid.

    python benchmarks/figure4b.py [--images 30] [--starts 50] [--iterations 50] \
        [--out benchmarks/out/fig4b] [--figure docs/fig4b.png] [--threads 2]

Test patterns: the first N particles of the paper-test preset (seed 2021), simulated fresh
(clean SPEC images). Per image:
- MCS (wideshot.fitting.monte_carlo_simplex): best-so-far answer after every simulation, the
  starts replayed one after another as in a serial Monte-Carlo simplex;
- network (the shipped model): its cost in simulations is its training set (25,058 images);
- hybrid (wideshot.fit method="hybrid"): the network's answer refined; its cost is the
  training set plus its own simulations per image.
Each image's results are cached in --out as they finish, so an interrupted run resumes (delete
the cache after changing the fit).
Errors: the paper's mean relative error (%) and the misorientation (deg).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

PAPER_TEST_SEED = 2021
TRAINING_SET_SIZE = 25_058


def _errors(quaternion, radius_nm, true_quaternion, true_radius_nm):
    from wideshot.models.metrics import error_table

    n = len(radius_nm)
    table = error_table(quaternion, radius_nm, np.repeat(true_quaternion[None], n, axis=0),
                        np.full(n, true_radius_nm))
    return 100 * table["mean"], table["misorientation_deg"], table["radius_error_nm"]


def _truth(index: int):
    import wideshot
    from wideshot.data.generate import sample_parameters

    radius_nm, quaternion = sample_parameters(PAPER_TEST_SEED, [index])
    return wideshot.simulate(radius_nm, quaternion)[0], radius_nm[0], quaternion[0]


def run_mcs(index: int, args, cache: Path) -> dict:
    from wideshot.fitting import monte_carlo_simplex

    path = cache / f"mcs_starts{args.starts}_iterations{args.iterations}_{index:03d}.npz"
    if path.exists():
        return dict(np.load(path))
    image, radius_nm, quaternion = _truth(index)
    started = time.perf_counter()
    mcs = monte_carlo_simplex(image, np.ones(image.shape, dtype=bool), starts=args.starts,
                              iterations=args.iterations,
                              rng=np.random.default_rng([PAPER_TEST_SEED, index]), record=True)
    seconds = time.perf_counter() - started
    _, best_radius, best_quaternion = mcs.objective.best_so_far()
    mean, deg, nm = _errors(best_quaternion, best_radius, quaternion, radius_nm)
    record = {"mcs_mean_percent": mean, "mcs_deg": deg, "mcs_nm": nm, "mcs_seconds": seconds}
    np.savez(path, **record)
    return record


def run_hybrid(index: int, cache: Path) -> dict:
    import wideshot

    path = cache / f"hybrid_{index:03d}.npz"
    if path.exists():
        return dict(np.load(path))
    image, radius_nm, quaternion = _truth(index)
    started = time.perf_counter()
    hybrid = wideshot.fit(image, method="hybrid", seed=index)
    seconds = time.perf_counter() - started
    record = {"hybrid_simulations": hybrid["n_simulations"][0], "hybrid_seconds": seconds}
    for method, prefix in (("hybrid", ""), ("network", "network_")):
        mean, deg, nm = _errors(hybrid[f"{prefix}quaternion"], hybrid[f"{prefix}radius_nm"],
                                quaternion, radius_nm)
        record.update({f"{method}_mean_percent": mean[0], f"{method}_deg": deg[0],
                       f"{method}_nm": nm[0]})
    np.savez(path, **record)
    return record


def _band(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median, 5th and 95th percentile over images of best-so-far curves of unequal length."""
    length = min(len(curve) for curve in curves)
    stacked = np.stack([curve[:length] for curve in curves])
    x = np.arange(1, length + 1)
    return x, np.median(stacked, 0), np.percentile(stacked, 5, 0), np.percentile(stacked, 95, 0)


def draw(records: list[dict], figure: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "mean_percent", "mean relative error (%)"),
                           (axes[1], "deg", "misorientation (deg)")):
        x, median, low, high = _band([record[f"mcs_{key}"] for record in records])
        ax.fill_between(x, low, high, color="C0", alpha=0.25, label="MCS 90 % band")
        ax.plot(x, median, color="C0", label="MCS median (best so far)")
        for method, colour, cost in (
                ("network", "C3", np.full(len(records), TRAINING_SET_SIZE)),
                ("hybrid", "C2", TRAINING_SET_SIZE + np.array(
                    [record["hybrid_simulations"] for record in records]))):
            values = np.array([record[f"{method}_{key}"] for record in records])
            ax.errorbar([np.median(cost)], [np.median(values)],
                        yerr=[[np.median(values) - np.percentile(values, 5)],
                              [np.percentile(values, 95) - np.median(values)]],
                        fmt="o", color=colour, capsize=4,
                        label=f"{method} (cost: {TRAINING_SET_SIZE:,} training simulations"
                              + (" + refinement)" if method == "hybrid" else ")"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("simulations")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Figure 4b: forward fitting vs network, {len(records)} clean test patterns")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=120)
    plt.close(fig)
    for method in ("network", "hybrid"):
        summary[method] = {key: float(np.median([record[f"{method}_{key}"] for record in records]))
                           for key in ("mean_percent", "deg", "nm")}
        summary[method]["p90_deg"] = float(np.percentile(
            [record[f"{method}_deg"] for record in records], 90))
    summary["hybrid"]["simulations"] = float(np.median([r["hybrid_simulations"] for r in records]))
    summary["hybrid"]["seconds"] = float(np.median([r["hybrid_seconds"] for r in records]))
    summary["mcs"] = {key: float(np.median([record[f"mcs_{key}"][-1] for record in records]))
                      for key in ("mean_percent", "deg", "nm")}
    summary["mcs"]["p90_deg"] = float(np.percentile([r["mcs_deg"][-1] for r in records], 90))
    summary["mcs"]["simulations"] = float(np.median([len(r["mcs_deg"]) for r in records]))
    summary["mcs"]["seconds"] = float(np.median([r["mcs_seconds"] for r in records]))
    summary["n_images"] = len(records)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--starts", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/fig4b"))
    parser.add_argument("--figure", type=Path, default=Path("docs/fig4b.png"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from tqdm import tqdm

    torch.set_num_threads(args.threads)
    cache = args.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    hybrid = [run_hybrid(index, cache)
              for index in tqdm(range(args.images), desc="hybrid", unit="image")]
    mcs = [run_mcs(index, args, cache)
           for index in tqdm(range(args.images), desc="Monte-Carlo simplex", unit="image")]
    records = [{**first, **second} for first, second in zip(hybrid, mcs)]
    summary = draw(records, args.figure)
    summary.update(starts=args.starts, iterations=args.iterations, threads=args.threads)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
