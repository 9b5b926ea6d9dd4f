"""The README's main job: the eight experimental frames of Barke et al. and simulated patterns.

Reconstructs the eight Barke et al. (2015) frames — two icosahedra (Figure 5 of Stielow et al.
2020), two decahedra, two truncated octahedra, two truncated twinned tetrahedra — and a few
freshly simulated patterns with the "experiment" detector defects and known truth, with the
shipped network (family, size, orientation, parameter) refined by forward fitting of its
candidate families, and writes the Figure-5 panels and a table of the family found next to the
one Barke et al. identified.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from wideshot.data.experimental import load_barke2015
from wideshot.data.hdf5 import QUATERNION, RADIUS, SHAPE, SHAPE_PARAMETER
from wideshot.evaluation.particle_figures import save_reconstruction_grid
from wideshot.geometry import SHAPE_NAMES, misorientation_deg, shape_family
from wideshot.models.inference import layout_of
from wideshot.physics import simulate
from wideshot.reconstruction.api import reconstruct
from wideshot.reconstruction.quality import in_distribution_examples
from wideshot.training.lookup import DEFAULT_MODEL, load_model, model_conditions

DEMO_SEED = 2024


def run_demo(out_dir: str | os.PathLike, *, n_simulated: int = 4, seed: int = DEMO_SEED,
             model=DEFAULT_MODEL, device=None, refine: bool = True,
             progress: bool = True) -> list[dict]:
    """Reconstruct the demo images into ``out_dir``; one table row per image.

    The eight Barke et al. frames and ``n_simulated`` simulated particles of the families the
    model knows (with the "experiment" detector defects) are reconstructed together. Writes
    ``demo_experimental.png`` and ``demo_simulated.png`` (Figure 5: image | particle of the
    family found | re-simulation) and ``demo.json`` (the rows and how many Barke frames got
    Barke et al.'s family). ``progress`` shows a bar per refined family on stderr.

    Returns
    -------
    list of dict
        ``image``, ``expected_shape`` (Barke et al.'s family, or the simulated truth),
        ``shape`` (found), ``shape_probability``, ``network_shape``, ``shape_parameter``,
        ``truth_radius_nm`` (None for experimental images), ``network_radius_nm``,
        ``network_error_deg``, ``radius_nm``, ``error_deg`` (None without truth or when the
        family found is not the true one), ``misfit``, ``status`` ("ok" or "flagged"),
        ``match`` (family found = expected).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    barke = load_barke2015()
    network, description = load_model(model, device)
    simulated = in_distribution_examples(n_simulated, seed, shapes=layout_of(network).shapes,
                                         conditions=model_conditions(description))
    n_barke = len(barke["names"])
    names = list(barke["names"]) + [f"simulated-{index}" for index in range(n_simulated)]
    images = np.concatenate([barke["images"], simulated["images"]])
    valid = np.concatenate([barke["valid"], simulated["valid"]])
    expected = list(barke["family"]) + [SHAPE_NAMES[code] for code in simulated[SHAPE]]
    truth = [None] * n_barke + [
        (float(radius_nm), quaternion, SHAPE_NAMES[code], parameter)
        for radius_nm, quaternion, code, parameter in zip(
            simulated[RADIUS], simulated[QUATERNION], simulated[SHAPE],
            simulated[SHAPE_PARAMETER], strict=True)]

    result = reconstruct(images, valid=valid, model=model, device=device, refine=refine,
                         seed=seed, conditions=model_conditions(description),
                         progress=progress)
    network_answer = {key: result.get(f"network_{key}", result[key])
                      for key in ("shape", "radius_nm", "quaternion")}
    resimulated = simulate(result["radius_nm"], result["quaternion"], shape=result["shape"],
                           shape_parameter=result["shape_parameter"])
    rows, panels = [], []
    for index, name in enumerate(names):
        known = truth[index] is not None

        def error_deg(shape, quaternion):
            if not known or shape != truth[index][2] or not shape_family(shape).has_orientation:
                return None
            return float(misorientation_deg(quaternion, truth[index][1], shape=shape))

        parameter = float(result["shape_parameter"][index])
        row = {"image": name,
               "expected_shape": expected[index],
               "shape": result["shape"][index],
               "match": result["shape"][index] == expected[index],
               "shape_probability": float(result["shape_probability"][index]),
               "network_shape": network_answer["shape"][index],
               "shape_parameter": None if np.isnan(parameter) else parameter,
               "truth_radius_nm": truth[index][0] if known else None,
               "network_radius_nm": float(network_answer["radius_nm"][index]),
               "network_error_deg": error_deg(network_answer["shape"][index],
                                              network_answer["quaternion"][index]),
               "radius_nm": float(result["radius_nm"][index]),
               "quaternion": [float(value) for value in result["quaternion"][index]],
               "error_deg": error_deg(result["shape"][index], result["quaternion"][index]),
               "misfit": float(result["misfit"][index]),
               "status": "flagged" if result["flagged"][index] else "ok"}
        rows.append(row)
        label = (f"{name} (Barke et al.: {expected[index]})" if not known
                 else f"{name} (true: {expected[index]})")
        panels.append({"image": images[index], "valid": valid[index],
                       "radius_nm": row["radius_nm"], "quaternion": result["quaternion"][index],
                       "shape": row["shape"], "shape_parameter": parameter,
                       "resimulated": resimulated[index], "title": label,
                       "misfit": row["misfit"],
                       "truth": truth[index][:3] if known else None})
    matches = sum(row["match"] for row in rows[:n_barke])
    save_reconstruction_grid(out_dir / "demo_experimental.png", panels[:n_barke],
                             title=f"Barke et al. 2015 (Nat. Commun. 6, 6187), CC-BY 4.0: "
                                   f"family as labelled in {matches} of {n_barke}")
    save_reconstruction_grid(out_dir / "demo_simulated.png", panels[n_barke:],
                             title="simulated particles with experiment-like detector defects")
    (out_dir / "demo.json").write_text(json.dumps({
        "model": result["model"], "refined": refine, "max_misfit": result["max_misfit"],
        "barke_family_matches": matches, "barke_frames": n_barke, "rows": rows}, indent=1))
    return rows


def format_table(rows: list[dict]) -> str:
    """The demo rows as a plain-text table."""
    def number(value, digits=1):
        return "—" if value is None else f"{value:.{digits}f}"

    lines = [(f"{'image':<14}{'expected':<21}{'network':<21}{'found':<23}{'p':>5}{'true R':>8}"
              f"{'net R':>8}{'fit R':>8}{'err':>7}{'misfit':>8}  status"),
             f"{'':<79}{'':>5}{'(nm)':>8}{'(nm)':>8}{'(nm)':>8}{'(deg)':>7}"]
    for row in rows:
        found = row["shape"] + ("" if row["match"] else " ✗")
        lines.append(f"{row['image']:<14}{row['expected_shape']:<21}{row['network_shape']:<21}"
                     f"{found:<23}"
                     f"{row['shape_probability']:>5.2f}{number(row['truth_radius_nm']):>8}"
                     f"{number(row['network_radius_nm']):>8}{number(row['radius_nm']):>8}"
                     f"{number(row['error_deg'], 2):>7}{number(row['misfit'], 3):>8}  "
                     f"{row['status']}")
    barke = [row for row in rows if not row["image"].startswith("simulated")]
    lines.append(f"Barke et al. 2015: family as labelled in "
                 f"{sum(row['match'] for row in barke)} of {len(barke)} frames")
    return "\n".join(lines)


def run_counts_demo(out_dir: str | os.PathLike, *, n_frames: int = 2, seed: int = DEMO_SEED,
                    model=DEFAULT_MODEL, device=None, refine: bool = True) -> list[dict]:
    """Reconstruct simulated photon-count frames of a flat detector, with error bars.

    Frames of :func:`~wideshot.data.detector_frames.make_counts_frames` (beam stop, gaps, dead
    pixels, saturation; icosahedra, whose refinement is quickest) are reconstructed from their
    counts (``intensity="counts"``, refined with the Poisson likelihood unless ``refine`` is
    False).
    Writes ``demo_counts.json``.

    Returns
    -------
    list of dict
        ``image``, ``shape``, ``expected_shape``, ``truth_radius_nm``, ``radius_nm``,
        ``radius_nm_sigma``, ``error_deg``, ``orientation_sigma_deg``, ``photons``,
        ``gof_p_value``, ``dispersion``, ``status``.
    """
    from wideshot.data.detector_frames import DEFAULT_FLAT_GEOMETRY, make_counts_frames

    frames = make_counts_frames(n_frames, seed=seed, shapes=("icosahedron",))
    network, _ = load_model(model, device)
    rows = []
    for index in range(n_frames):
        result = reconstruct(frames["counts"][index], valid=frames["mask"][index],
                             intensity="counts", geometry=DEFAULT_FLAT_GEOMETRY,
                             saturation=frames["saturation"][index], model=network,
                             device=device, refine=refine, seed=seed)
        shape = frames["shape"][index]
        right = result["shape"][0] == shape
        rows.append({
            "image": f"counts-{index}", "expected_shape": shape, "shape": result["shape"][0],
            "truth_radius_nm": float(frames["radius_nm"][index]),
            "radius_nm": float(result["radius_nm"][0]),
            "radius_nm_sigma": _number(result["radius_nm_sigma"][0]),
            "error_deg": (float(misorientation_deg(result["quaternion"][0],
                                                   frames["quaternion"][index], shape=shape))
                          if right else None),
            "orientation_sigma_deg": _number(result["orientation_sigma_deg"][0]),
            "photons": float(result["photons"][0]),
            "gof_p_value": float(result["gof_p_value"][0]),
            "dispersion": float(result["dispersion"][0]),
            "status": "flagged" if result["flagged"][0] else "ok"})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "demo_counts.json").write_text(json.dumps({"refined": refine, "rows": rows},
                                                         indent=1))
    return rows


def _number(value) -> float | None:
    """A float, or None for NaN (JSON has no NaN)."""
    return None if np.isnan(value) else float(value)


def format_counts_table(rows: list[dict]) -> str:
    """The counts demo rows as a plain-text table (R ± 1σ; misorientation and its per-axis σ)."""
    def number(value, digits):
        return "—" if value is None else f"{value:.{digits}f}"

    lines = [f"{'image':<10}{'found':<23}{'true R':>8}{'R ± 1σ (nm)':>20}{'err':>8}"
             f"{'σ axis':>8}{'photons':>10}{'p':>7}{'disp':>6}  status",
             f"{'':<41}{'(deg)':>28}{'(deg)':>8}"]
    for row in rows:
        found = row["shape"] + ("" if row["shape"] == row["expected_shape"] else " ✗")
        estimate = f"{row['radius_nm']:.2f} ± {number(row['radius_nm_sigma'], 3)}"
        lines.append(f"{row['image']:<10}{found:<23}{row['truth_radius_nm']:>8.2f}"
                     f"{estimate:>20}{number(row['error_deg'], 3):>8}"
                     f"{number(row['orientation_sigma_deg'], 3):>8}{row['photons']:>10.0f}"
                     f"{row['gof_p_value']:>7.2f}{row['dispersion']:>6.2f}  {row['status']}")
    return "\n".join(lines)
