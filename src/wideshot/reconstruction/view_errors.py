"""Error bars of the network's own answers, from how far its views disagree.

The network answers each frame in several detector-symmetric views (quarter turns, mirrors) and
averages them. Where the views disagree, the answer is uncertain; but the spread of the views is
not itself a calibrated error (the views share the network's biases). So each family's 1σ is

    σ = sqrt((a · spread)² + b²)

with a (scale) and b (floor, in the quantity's unit) fitted on simulated frames of known truth,
so that |error| ≤ σ for 68.3 % of them and ≤ 2σ for 95.4 % (radius, shape parameter), and the
misorientation ≤ 1.88σ / 2.80σ (orientation: σ per axis, as the Fisher errors of refined counts
answers; :data:`wideshot.fitting.uncertainty.ORIENTATION_QUANTILES`).

A model card holds the calibration under ``view_errors``:
``{"views": 8, "families": {family: {"radius_nm": [a, b], "orientation_deg": [a, b],
"shape_parameter": [a, b]}}, ...}``. Answers of a model without one, or with another number of
views, get NaN.
"""
from __future__ import annotations

import numpy as np

from wideshot.fitting.uncertainty import ORIENTATION_QUANTILES

#: The quantities with an error bar: (name of the spread, name of the σ column).
QUANTITIES = (("radius_nm", "radius_nm_sigma"), ("orientation_deg", "orientation_sigma_deg"),
              ("shape_parameter", "shape_parameter_sigma"))

#: The error-bar columns of a result (NaN where an answer has none).
SIGMA_COLUMNS = tuple(column for _, column in QUANTITIES)

#: Coverage targets: per quantity the (multiple of σ, fraction of true values within it).
COVERAGE_TARGETS = {"radius_nm": ((1.0, 0.683), (2.0, 0.954)),
                    "shape_parameter": ((1.0, 0.683), (2.0, 0.954)),
                    "orientation_deg": ((ORIENTATION_QUANTILES[0.683], 0.683),
                                        (ORIENTATION_QUANTILES[0.954], 0.954))}


def view_sigmas(shapes: list[str], spread: dict | None, calibration: dict | None,
                views: int) -> dict:
    """1σ of the network's answers from their views' spread.

    Parameters
    ----------
    shapes : list of B str
        Each answer's family.
    spread : dict of ndarray (B,) or None
        ``radius_nm``, ``orientation_deg``, ``shape_parameter`` spreads of the views
        (:attr:`wideshot.models.layout.FamilyLabels.spread`); None for one view.
    calibration : dict or None
        A model card's ``view_errors`` (module docstring).
    views : int
        The number of views averaged.

    Returns
    -------
    dict
        ``radius_nm_sigma`` (nm), ``orientation_sigma_deg`` (per axis, degrees),
        ``shape_parameter_sigma`` (B,) float64; NaN where the model has no calibration for
        these views or family, and where a family has no orientation or parameter.
    """
    n = len(shapes)
    sigmas = {column: np.full(n, np.nan) for column in SIGMA_COLUMNS}
    if spread is None or calibration is None or calibration.get("views") != views:
        return sigmas
    for index, shape in enumerate(shapes):
        family = calibration["families"].get(shape, {})
        for name, column in QUANTITIES:
            if name in family:
                scale, floor = family[name]
                sigmas[column][index] = np.hypot(scale * spread[name][index], floor)
    return sigmas


def coverage(errors: np.ndarray, sigmas: np.ndarray, name: str) -> tuple[float, float]:
    """Fractions of |errors| within the two coverage multiples of σ for quantity ``name``."""
    (first, _), (second, _) = COVERAGE_TARGETS[name]
    ratio = np.abs(errors) / sigmas
    return float(np.mean(ratio <= first)), float(np.mean(ratio <= second))


def fit_view_errors(errors: np.ndarray, spreads: np.ndarray, name: str) -> list[float]:
    """Scale a and floor b of ``σ = sqrt((a·spread)² + b²)`` for one family and quantity.

    Parameters
    ----------
    errors : ndarray (N,)
        The network's errors on frames of known truth (misorientation in degrees for
        ``orientation_deg``; signed or absolute for the others).
    spreads : ndarray (N,)
        The views' spreads of the same frames.
    name : str
        ``radius_nm``, ``orientation_deg`` or ``shape_parameter`` (its coverage targets).

    Returns
    -------
    [a, b] : list of float
        The pair on a log grid whose coverages are closest (in squares) to the targets.
    """
    errors, spreads = np.abs(np.asarray(errors, float)), np.asarray(spreads, float)
    keep = np.isfinite(errors) & np.isfinite(spreads)
    errors, spreads = errors[keep], spreads[keep]
    if len(errors) < 20:
        raise ValueError(f"{len(errors)} frames are too few to calibrate {name} errors")
    typical = float(np.median(errors))
    scales = np.concatenate(([0.0], np.geomspace(0.05, 20.0, 80)))
    floors = np.concatenate(([0.0], np.geomspace(typical / 100, typical * 10, 80)))
    sigma = np.hypot(scales[:, None, None] * spreads, floors[None, :, None])  # (A, B, N)
    ratio = errors / np.maximum(sigma, 1e-300)
    loss = sum((np.mean(ratio <= multiple, axis=-1) - target) ** 2
               for multiple, target in COVERAGE_TARGETS[name])
    best_scale, best_floor = np.unravel_index(np.argmin(loss), loss.shape)
    return [float(scales[best_scale]), float(floors[best_floor])]


def network_errors(network, images: np.ndarray, truth: dict, views: int,
                   device=None) -> tuple[list[str], dict, dict]:
    """The network's answers to frames of known truth: their errors and their views' spread.

    Parameters
    ----------
    network : torch.nn.Module
        A network (:func:`wideshot.training.load_model`).
    images : ndarray (N, 128, 128)
        SPEC images (any augmentation).
    truth : dict
        ``shape`` (N,) family names, ``radius_nm`` (N,), ``quaternion`` (N, 4),
        ``shape_parameter`` (N,).
    views : int
        Views to average (at least 2: one view has no spread).

    Returns
    -------
    shapes : list of N str
        The true families.
    errors : dict of ndarray (N,)
        ``radius_nm`` (answer − truth, nm), ``orientation_deg`` (misorientation),
        ``shape_parameter`` (answer − truth); NaN where the network named another family,
        or the family has no orientation or parameter.
    spreads : dict of ndarray (N,)
        The views' spreads of the named family's answer.
    """
    from wideshot.geometry import misorientation_deg, shape_family
    from wideshot.models.inference import predict

    labels = predict(network, images, device=device, views=views)
    if labels.spread is None:
        raise ValueError("error bars from the views need at least 2 views")
    answer = labels.pick(labels.best())
    shapes = [str(name) for name in truth["shape"]]
    right = np.array([named == true for named, true in zip(answer["shape"], shapes)])
    errors = {"radius_nm": np.where(right, answer["radius_nm"] - truth["radius_nm"], np.nan),
              "shape_parameter": np.where(right, answer["shape_parameter"]
                                          - truth["shape_parameter"], np.nan),
              "orientation_deg": np.full(len(shapes), np.nan)}
    for index, shape in enumerate(shapes):
        if right[index] and shape_family(shape).has_orientation:
            errors["orientation_deg"][index] = float(misorientation_deg(
                answer["quaternion"][index], truth["quaternion"][index], shape))
    return shapes, errors, answer["spread"]


def family_coverage(shapes: list[str], errors: dict, sigmas: dict) -> dict:
    """Per family and quantity, the fractions of errors within the two coverage multiples of
    σ (:func:`coverage`), over the frames where both are finite.

    Parameters
    ----------
    shapes : list of N str
    errors : dict of ndarray (N,)
        As :func:`network_errors` returns them.
    sigmas : dict of ndarray (N,)
        As :func:`view_sigmas` returns them.
    """
    reached = {}
    for family in sorted(set(shapes)):
        rows = np.array([shape == family for shape in shapes])
        reached[family] = {}
        for name, column in QUANTITIES:
            finite = rows & np.isfinite(errors[name]) & np.isfinite(sigmas[column])
            if finite.any():
                reached[family][name] = coverage(errors[name][finite], sigmas[column][finite],
                                                 name)
    return reached


def calibrate_view_errors(shapes: list[str], errors: dict, spreads: dict, views: int) -> dict:
    """A model card's ``view_errors`` from :func:`network_errors` of simulated frames: per
    family and quantity the fitted [scale, floor], and the coverage it reaches there."""
    families = {}
    for family in sorted(set(shapes)):
        rows = np.array([shape == family for shape in shapes])
        families[family] = {name: fit_view_errors(errors[name][rows], spreads[name][rows], name)
                            for name, _ in QUANTITIES if np.isfinite(errors[name][rows]).any()}
    calibration = {"views": views, "families": families}
    sigmas = view_sigmas(shapes, spreads, calibration, views)
    return {**calibration, "coverage": family_coverage(shapes, errors, sigmas)}
