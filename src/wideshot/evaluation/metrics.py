"""The paper's error measures of predicted (quaternion, radius) against the truth.

SPEC.md "Parameter vector and error measures": the relative error of one parameter is
``|predicted − true| / span`` — R: 130 nm; each quaternion component: its span over the
fundamental domain (``FUNDAMENTAL_DOMAIN.spans``), both quaternions canonical. The **mean
error** is the mean of the five relative errors, the **max error** the largest. Reported beside
them: the symmetry-aware misorientation angle (degrees) and the radius error (nm).

Examples
--------
>>> import numpy as np
>>> q = np.array([[1.0, 0.0, 0.0, 0.0]])
>>> errors = error_table(q, np.array([113.0]), q, np.array([100.0]))
>>> round(float(errors["radius"][0]), 6), round(float(errors["mean"][0]), 6)
(0.1, 0.02)
"""
from __future__ import annotations

import numpy as np
import torch

from wideshot.config import RADIUS_RANGE_NM
from wideshot.geometry import (
    FUNDAMENTAL_DOMAIN,
    canonical,
    misorientation_deg,
    normalize_quaternion,
)

#: Names of the five per-parameter relative errors, in label order.
PARAMETER_NAMES: tuple[str, ...] = ("w", "x", "y", "z", "radius")

#: Summary statistics of :func:`summarize`: name → percentile (the mean is added separately).
PERCENTILES: dict[str, float] = {"median": 50.0, "p90": 90.0, "p99": 99.0}


def _as_numpy(array) -> np.ndarray:
    """float64 numpy copy of an array-like or (possibly CUDA, grad-tracking) tensor."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float64)


def parameter_spans(radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM) -> np.ndarray:
    """Denominators of the relative errors, in label order (w, x, y, z, R).

    Parameters
    ----------
    radius_range_nm : (float, float)
        The radius range whose width is the span of R (130 nm by default).

    Returns
    -------
    numpy.ndarray, shape (5,)
        Spans of w, x, y, z over the fundamental domain (dimensionless) and of R (nm).
    """
    return np.array([*FUNDAMENTAL_DOMAIN.spans, radius_range_nm[1] - radius_range_nm[0]])


def error_table(pred_quaternion, pred_radius_nm, true_quaternion, true_radius_nm,
                radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM) -> dict[str, np.ndarray]:
    """Per-sample error measures of predictions.

    Parameters
    ----------
    pred_quaternion, true_quaternion : array or tensor, shape (B, 4)
        Orientations ``(w, x, y, z)``; normalised and made canonical before comparing.
    pred_radius_nm, true_radius_nm : array or tensor, shape (B,)
        Circumradii in nm.
    radius_range_nm : (float, float)
        Its width is the span that divides the radius error.

    Returns
    -------
    dict of str to numpy.ndarray, each shape (B,)
        ``"w", "x", "y", "z", "radius"``: relative errors (dimensionless);
        ``"mean"``, ``"max"``: mean and largest of those five;
        ``"misorientation_deg"``: symmetry-aware misorientation angle in degrees;
        ``"radius_error_nm"``: ``|predicted − true|`` radius in nm.
    """
    pred_q = canonical(normalize_quaternion(_as_numpy(pred_quaternion)))
    true_q = canonical(normalize_quaternion(_as_numpy(true_quaternion)))
    pred_r, true_r = _as_numpy(pred_radius_nm), _as_numpy(true_radius_nm)
    absolute = np.abs(np.concatenate([pred_q - true_q, (pred_r - true_r)[:, None]], axis=1))
    relative = absolute / parameter_spans(radius_range_nm)
    errors = {name: relative[:, index] for index, name in enumerate(PARAMETER_NAMES)}
    errors["mean"] = relative.mean(axis=1)
    errors["max"] = relative.max(axis=1)
    errors["misorientation_deg"] = misorientation_deg(pred_q, true_q)
    errors["radius_error_nm"] = absolute[:, 4]
    return errors


def summarize(errors: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Median, 90th and 99th percentile and mean of every error measure.

    Parameters
    ----------
    errors : dict of str to array, each shape (B,)
        As returned by :func:`error_table`.

    Returns
    -------
    dict of str to dict of str to float
        ``summary[measure]["median" | "p90" | "p99" | "mean"]``, in the unit of the measure.
    """
    summary = {}
    for measure, values in errors.items():
        values = _as_numpy(values)
        summary[measure] = {name: float(np.percentile(values, percentile))
                            for name, percentile in PERCENTILES.items()}
        summary[measure]["mean"] = float(values.mean())
    return summary
