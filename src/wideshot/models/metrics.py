"""The paper's error measures of predicted (quaternion, radius) against the truth.

docs/conventions.md "Parameter vector and error measures": the relative error of one parameter is
``|predicted − true| / span`` — R: 130 nm; each quaternion component: its span over the
fundamental domain of the particle's shape family, both quaternions canonical in that family.
The **mean error** is the mean of the five relative errors, the **max error** the largest.
Reported beside them: the symmetry-aware misorientation angle (degrees) and the radius error
(nm). For the sphere, whose orientation is undefined, the orientation errors are NaN and the
mean and max are those of the radius alone. With shape parameters given, their error over the
family's range is reported too, beside the paper's five (Appendix-C errors per family,
docs/conventions.md "Shape families").

They live beside the target mapping (not in :mod:`wideshot.evaluation`) because training
reports them for its validation set too.

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
from wideshot.geometry import DEFAULT_SHAPE, normalize_quaternion, shape_family

#: Names of the five per-parameter relative errors, in label order.
PARAMETER_NAMES: tuple[str, ...] = ("w", "x", "y", "z", "radius")

#: Summary statistics of :func:`summarize`: name → percentile (the mean is added separately).
PERCENTILES: dict[str, float] = {"median": 50.0, "p90": 90.0, "p99": 99.0}


def _as_numpy(array) -> np.ndarray:
    """float64 numpy copy of an array-like or (possibly CUDA, grad-tracking) tensor."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float64)


def parameter_spans(radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM,
                    shape: str = DEFAULT_SHAPE) -> np.ndarray:
    """Denominators of the relative errors, in label order (w, x, y, z, R).

    Parameters
    ----------
    radius_range_nm : (float, float)
        The radius range whose width is the span of R (130 nm by default).
    shape : str
        Shape family whose fundamental domain gives the quaternion spans.

    Returns
    -------
    numpy.ndarray, shape (5,)
        Spans of w, x, y, z over the fundamental domain (dimensionless; NaN for the sphere,
        which has none) and of R (nm).
    """
    family = shape_family(shape)
    spans = family.group.domain.spans if family.has_orientation else (np.nan,) * 4
    return np.array([*spans, radius_range_nm[1] - radius_range_nm[0]])


def error_table(pred_quaternion, pred_radius_nm, true_quaternion, true_radius_nm,
                radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM,
                shape: str = DEFAULT_SHAPE, pred_shape_parameter=None,
                true_shape_parameter=None) -> dict[str, np.ndarray]:
    """Per-sample error measures of predictions.

    Parameters
    ----------
    pred_quaternion, true_quaternion : array or tensor, shape (B, 4)
        Orientations ``(w, x, y, z)``; normalised and made canonical before comparing.
    pred_radius_nm, true_radius_nm : array or tensor, shape (B,)
        Circumradii in nm.
    radius_range_nm : (float, float)
        Its width is the span that divides the radius error.
    shape : str
        The particles' shape family (its group and fundamental domain).
    pred_shape_parameter, true_shape_parameter : array (B,), optional
        The family's parameter, predicted and true (both or neither; only for a family with
        one).

    Returns
    -------
    dict of str to numpy.ndarray, each shape (B,)
        ``"w", "x", "y", "z", "radius"``: relative errors (dimensionless);
        ``"mean"``, ``"max"``: mean and largest of those five;
        ``"misorientation_deg"``: symmetry-aware misorientation angle in degrees;
        ``"radius_error_nm"``: ``|predicted − true|`` radius in nm. Orientation errors are NaN
        for the sphere. With shape parameters also ``"shape_parameter"`` (relative to the
        family's range) and ``"shape_parameter_error"`` (absolute); not part of the mean and
        max, which stay the paper's.

    Raises
    ------
    ValueError
        For shape parameters given for a family without one, or only one of the two.
    """
    group = shape_family(shape).group
    pred_q = group.canonical(normalize_quaternion(_as_numpy(pred_quaternion)))
    true_q = group.canonical(normalize_quaternion(_as_numpy(true_quaternion)))
    pred_r, true_r = _as_numpy(pred_radius_nm), _as_numpy(true_radius_nm)
    absolute = np.abs(np.concatenate([pred_q - true_q, (pred_r - true_r)[:, None]], axis=1))
    relative = absolute / parameter_spans(radius_range_nm, shape)
    radius = PARAMETER_NAMES.index("radius")
    errors = {name: relative[:, index] for index, name in enumerate(PARAMETER_NAMES)}
    defined = relative if group.is_finite else relative[:, [radius]]
    errors["mean"] = defined.mean(axis=1)
    errors["max"] = defined.max(axis=1)
    errors["misorientation_deg"] = (np.degrees(group.misorientation_rad(pred_q, true_q))
                                    if group.is_finite else np.full(len(true_r), np.nan))
    errors["radius_error_nm"] = absolute[:, radius]
    if (pred_shape_parameter is None) != (true_shape_parameter is None):
        raise ValueError("give both pred_shape_parameter and true_shape_parameter, or neither")
    if pred_shape_parameter is not None:
        family = shape_family(shape)
        if not family.has_parameter:
            raise ValueError(f"the {family.name} family has no shape parameter to compare")
        low, high = family.parameter_range
        difference = np.abs(_as_numpy(pred_shape_parameter) - _as_numpy(true_shape_parameter))
        errors["shape_parameter_error"] = difference
        errors["shape_parameter"] = difference / (high - low)
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


def family_error_tables(labels, true_shape_codes, true_quaternion, true_radius_nm,
                        true_shape_parameter, radius_range_nm: tuple[float, float]
                        = RADIUS_RANGE_NM) -> dict[str, dict[str, np.ndarray]]:
    """Error measures of a mixed set, per true shape family.

    The regression is judged on the block of the *true* family (what the network says the
    size, orientation and parameter would be for that family), the classification by whether
    the most probable family is the true one.

    Parameters
    ----------
    labels : wideshot.models.layout.FamilyLabels
        Decoded network outputs (B samples, F families).
    true_shape_codes : array (B,) int
        Family codes of the data set (indices into SHAPE_NAMES).
    true_quaternion : array (B, 4); true_radius_nm : array (B,) nm; true_shape_parameter : (B,)
        True labels (NaN parameters where a family has none).
    radius_range_nm : (float, float)
        As for :func:`error_table`.

    Returns
    -------
    dict of family name to dict of str to numpy.ndarray
        For each family present: :func:`error_table` of its samples (with the parameter
        errors where it has one), plus ``"correct"`` (bool: family named right),
        ``"probability"`` (the probability given to the true family) and ``"rows"`` (indices
        of its samples).
    """
    from wideshot.geometry import SHAPE_NAMES

    codes = np.asarray(true_shape_codes).reshape(-1)
    true_q, true_r = _as_numpy(true_quaternion), _as_numpy(true_radius_nm)
    true_p = _as_numpy(true_shape_parameter)
    predicted = labels.best()
    tables = {}
    for index, name in enumerate(labels.shapes):
        rows = np.flatnonzero(codes == SHAPE_NAMES.index(name))
        if len(rows) == 0:
            continue
        has_parameter = shape_family(name).has_parameter
        table = error_table(labels.quaternion[rows, index], labels.radius_nm[rows, index],
                            true_q[rows], true_r[rows], radius_range_nm, name,
                            labels.shape_parameter[rows, index] if has_parameter else None,
                            true_p[rows] if has_parameter else None)
        table["correct"] = predicted[rows] == index
        table["probability"] = labels.probability[rows, index]
        table["rows"] = rows
        tables[name] = table
    return tables
