"""The README's main job: the paper's two experimental icosahedra and simulated test patterns.

Reconstructs the Barke et al. (2015) icosahedra (Figure 5 of Stielow et al. 2020) and a few
freshly simulated patterns with the "experiment" detector defects and known truth, with the
shipped network refined by forward fitting, and writes the Figure-5 panels and a table.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from wideshot.data.experimental import BARKE2015_ICOSAHEDRA, load_barke2015
from wideshot.evaluation.particle_figures import save_reconstruction_grid
from wideshot.geometry import misorientation_deg
from wideshot.physics import simulate
from wideshot.reconstruction.api import reconstruct
from wideshot.reconstruction.quality import in_distribution_examples
from wideshot.training.lookup import DEFAULT_MODEL

DEMO_SEED = 2024


def run_demo(out_dir: str | os.PathLike, *, n_simulated: int = 4, seed: int = DEMO_SEED,
             model=DEFAULT_MODEL, device=None, refine: bool = True) -> list[dict]:
    """Reconstruct the demo images into ``out_dir``; one table row per image.

    Writes ``demo_experimental.png`` and ``demo_simulated.png`` (Figure 5: image | particle |
    re-simulation) and ``demo.json`` (the rows).

    Returns
    -------
    list of dict
        ``image``, ``truth_radius_nm`` (None for experimental images), ``network_radius_nm``,
        ``network_error_deg``, ``radius_nm``, ``error_deg`` (None without truth), ``misfit``,
        ``status`` ("ok" or "flagged").
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    barke = load_barke2015(BARKE2015_ICOSAHEDRA)
    simulated = in_distribution_examples(n_simulated, seed)
    names = list(barke["names"]) + [f"simulated-{index}" for index in range(n_simulated)]
    images = np.concatenate([barke["images"], simulated["images"]])
    valid = np.concatenate([barke["valid"], simulated["valid"]])
    truth_radius = [None] * len(barke["names"]) + list(simulated["radius_nm"])
    truth_quaternion = [None] * len(barke["names"]) + list(simulated["quaternion"])

    result = reconstruct(images, valid=valid, model=model, device=device, refine=refine,
                         seed=seed)
    network_radius = result.get("network_radius_nm", result["radius_nm"])
    network_quaternion = result.get("network_quaternion", result["quaternion"])
    resimulated = simulate(result["radius_nm"], result["quaternion"])
    rows, panels = [], []
    for index, name in enumerate(names):
        known = truth_radius[index] is not None
        row = {"image": name,
               "truth_radius_nm": float(truth_radius[index]) if known else None,
               "network_radius_nm": float(network_radius[index]),
               "network_error_deg": (float(misorientation_deg(network_quaternion[index],
                                                              truth_quaternion[index]))
                                     if known else None),
               "radius_nm": float(result["radius_nm"][index]),
               "quaternion": [float(value) for value in result["quaternion"][index]],
               "error_deg": (float(misorientation_deg(result["quaternion"][index],
                                                      truth_quaternion[index]))
                             if known else None),
               "misfit": float(result["misfit"][index]),
               "status": "flagged" if result["flagged"][index] else "ok"}
        rows.append(row)
        panels.append({"image": images[index], "valid": valid[index],
                       "radius_nm": row["radius_nm"], "quaternion": result["quaternion"][index],
                       "resimulated": resimulated[index], "title": name,
                       "misfit": row["misfit"],
                       "truth": ((truth_radius[index], truth_quaternion[index]) if known
                                 else None)})
    n_barke = len(barke["names"])
    save_reconstruction_grid(out_dir / "demo_experimental.png", panels[:n_barke],
                             title="Barke et al. 2015 (Nat. Commun. 6, 6187), CC-BY 4.0")
    save_reconstruction_grid(out_dir / "demo_simulated.png", panels[n_barke:],
                             title="simulated icosahedra with experiment-like detector defects")
    (out_dir / "demo.json").write_text(json.dumps({"model": result["model"],
                                                   "refined": refine,
                                                   "max_misfit": result["max_misfit"],
                                                   "rows": rows}, indent=1))
    return rows


def format_table(rows: list[dict]) -> str:
    """The demo rows as a plain-text table."""
    def number(value, digits=1):
        return "—" if value is None else f"{value:.{digits}f}"

    lines = [(f"{'image':<15}{'true R':>8}{'net R':>8}{'net err':>9}{'fit R':>8}{'fit err':>9}"
              f"{'misfit':>8}  status"),
             f"{'':<15}{'(nm)':>8}{'(nm)':>8}{'(deg)':>9}{'(nm)':>8}{'(deg)':>9}"]
    for row in rows:
        lines.append(f"{row['image']:<15}{number(row['truth_radius_nm']):>8}"
                     f"{number(row['network_radius_nm']):>8}"
                     f"{number(row['network_error_deg'], 2):>9}{number(row['radius_nm']):>8}"
                     f"{number(row['error_deg'], 2):>9}{number(row['misfit'], 3):>8}  "
                     f"{row['status']}")
    return "\n".join(lines)
