"""Which nuisance parameters would pay for themselves: a beam-centre offset, a small blur.

Frames of counts are simulated on the default flat detector with the detector a little different
from what the fit assumes — the beam centre off by a fraction of a pixel, or the pattern blurred
by a Gaussian of a fraction of a pixel (point spread, pointing jitter) — and fitted by Fisher
scoring from the true particle with the nominal detector
(:func:`wideshot.fitting.scoring.fisher_scoring`: the bias at the likelihood's optimum, not the
search), once with the centre fixed and once with it fitted (``fit_centre=True``). A nuisance
pays for itself where leaving it out moves the answer by more than its error bar or makes the
counts' dispersion exceed 1 (and the flag fire).

    python benchmarks/counts_nuisances.py --n 12

Writes ``benchmarks/out/counts_nuisances.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

from wideshot.data.detector_frames import DEFAULT_FLAT_GEOMETRY
from wideshot.fitting.counts import CountsFrame, CountsObjective
from wideshot.fitting.likelihood import goodness_of_fit, profiled_deviance
from wideshot.fitting.objective import parameters_to_particles
from wideshot.fitting.scoring import fisher_scoring
from wideshot.geometry import SHAPE_NAMES, misorientation_deg, random_quaternions, shape_family
from wideshot.physics import expected_counts, record_counts

OUT = Path(__file__).parent / "out" / "counts_nuisances.json"

#: name → (beam-centre offset (row, column) px, blur σ px) of the detector that records.
CONDITIONS = {"nominal": ((0.0, 0.0), 0.0), "centre off 0.3 px": ((0.3, -0.2), 0.0),
              "centre off 1 px": ((1.0, -0.7), 0.0), "blur 0.5 px": ((0.0, 0.0), 0.5),
              "blur 1 px": ((0.0, 0.0), 1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7300)
    args = parser.parse_args()
    nominal = DEFAULT_FLAT_GEOMETRY.detector((256, 256))
    report = {}
    for name, (offset, blur_px) in CONDITIONS.items():
        centre = tuple(np.add(nominal.center_px, offset))
        recording = dataclasses.replace(nominal, beam_center_px=centre)
        rows = []
        for index in tqdm(range(args.n), desc=name, unit="frame"):
            rng = np.random.default_rng([args.seed, index])
            family = shape_family(SHAPE_NAMES[index % len(SHAPE_NAMES)])
            radius = rng.uniform(40, 150)
            quaternion = family.group.canonical(random_quaternions(1, rng))[0]
            parameter = (rng.uniform(*family.parameter_range) if family.has_parameter
                         else None)
            rates = expected_counts(radius, quaternion, recording, shape=family.name,
                                    shape_parameter=parameter,
                                    photons_max=10 ** rng.uniform(2.5, 4.5), background=0.01)
            if blur_px:
                rates = gaussian_filter(rates, (0, blur_px, blur_px))
            counts = record_counts(rates, rng)[0]
            frame = CountsFrame.from_counts(counts, detector=nominal)
            row = {"shape": family.name}
            for fitted_centre in (False, True):
                objective = CountsObjective(frame, quaternion[None], shape=family.name)
                scored = fisher_scoring(objective, radius, parameter, fit_centre=fitted_centre)
                found_radius, found = parameters_to_particles(scored.point[None],
                                                              quaternion[None])
                fitted = objective.signal(found_radius, found,
                                          scored.point[4:5] if family.has_parameter else None,
                                          centre_offset_px=tuple(scored.centre_offset_px))
                rates = profiled_deviance(frame.pixel_counts(), fitted).rates[0]
                fit = goodness_of_fit(frame.pixel_counts(), rates)
                errors = scored.errors.widened(fit.dispersion)
                key = "centre fitted" if fitted_centre else "centre fixed"
                row[key] = {"dispersion": fit.dispersion,
                            "radius_error_nm": float(found_radius[0] - radius),
                            "radius_z": float((found_radius[0] - radius)
                                              / errors.radius_nm_sigma),
                            "centre_offset_px": scored.centre_offset_px.tolist()}
                if family.has_orientation:
                    angle = float(misorientation_deg(found, quaternion[None], family.name)[0])
                    row[key].update(misorientation_deg=angle,
                                    orientation_z=angle / errors.orientation_sigma_deg)
            rows.append(row)
        report[name] = {key: _summary([row[key] for row in rows])
                        for key in ("centre fixed", "centre fitted")}
        print(name, json.dumps(report[name]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1))


def _summary(rows: list[dict]) -> dict:
    angles = [row["misorientation_deg"] for row in rows if "misorientation_deg" in row]
    return {
        "dispersion_median": float(np.median([row["dispersion"] for row in rows])),
        "flaggable": float(np.mean([row["dispersion"] > 1.5 for row in rows])),
        "radius_error_nm_median": float(np.median(np.abs([row["radius_error_nm"]
                                                          for row in rows]))),
        "misorientation_deg_median": float(np.median(angles)),
        "radius_within_2sigma": float(np.mean([abs(row["radius_z"]) < 2 for row in rows])),
        "orientation_within_2.8sigma": float(np.mean([row["orientation_z"] < 2.8
                                                      for row in rows
                                                      if "orientation_z" in row])),
    }


if __name__ == "__main__":
    main()
