"""How well a network names the shape family: confusion matrix and calibration.

Small functions on arrays. The calibration measures follow Guo et al., "On Calibration of Modern
Neural Networks" (ICML 2017): the top-class confidence of each frame is sorted into ``M``
equal-width bins ``(m−1)/M < confidence ≤ m/M``; a bin's accuracy is the share of its frames
whose most probable family is the true one, and the **expected calibration error** is

    ECE = Σ_m (n_m / N) · |accuracy_m − confidence_m|,

with ``confidence_m`` the mean confidence in the bin and ``n_m`` its frames. A perfectly
calibrated network (right in 70 % of the frames it is 70 % sure of) has ECE = 0.

Examples
--------
>>> import numpy as np
>>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], 3)
array([[1, 1, 0],
       [0, 1, 0],
       [0, 0, 1]])
>>> confidence = np.array([0.95, 0.95, 0.95, 0.95])
>>> round(expected_calibration_error(confidence, np.array([True, True, False, False])), 6)
0.45
"""
from __future__ import annotations

import numpy as np

#: Bins of the reliability diagram and of the expected calibration error (Guo et al. use 15).
CALIBRATION_BINS = 15


def confusion_matrix(true_index, predicted_index, n_classes: int) -> np.ndarray:
    """Counts of (true, predicted) class pairs.

    Parameters
    ----------
    true_index, predicted_index : array-like of int, shape (B,)
        Class of each frame, in ``[0, n_classes)``.
    n_classes : int
        Number of classes F.

    Returns
    -------
    numpy.ndarray, shape (F, F), int64
        ``counts[i, j]``: frames of true class i predicted as j (rows true, columns predicted).
    """
    true_index = np.asarray(true_index, dtype=np.int64).reshape(-1)
    predicted_index = np.asarray(predicted_index, dtype=np.int64).reshape(-1)
    if true_index.shape != predicted_index.shape:
        raise ValueError(f"true and predicted classes differ in length: {len(true_index)} and "
                         f"{len(predicted_index)}")
    both = np.concatenate([true_index, predicted_index])
    if len(both) and (both.min() < 0 or both.max() >= n_classes):
        raise ValueError(f"classes must lie in [0, {n_classes}), got {both.min()}..{both.max()}")
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (true_index, predicted_index), 1)
    return counts


def reliability_bins(confidence, correct, n_bins: int = CALIBRATION_BINS) -> dict[str, np.ndarray]:
    """Frames, mean confidence and accuracy per equal-width confidence bin.

    Parameters
    ----------
    confidence : array-like of float, shape (B,)
        Probability of the most probable class of each frame, in [0, 1].
    correct : array-like of bool, shape (B,)
        Whether that class is the true one.
    n_bins : int
        Number of bins M on [0, 1]; bin m holds ``edges[m] < confidence ≤ edges[m + 1]``
        (confidence 0 goes into the first bin).

    Returns
    -------
    dict of str to numpy.ndarray
        ``"edges"`` (M + 1,); ``"count"`` (M,) int64 frames per bin; ``"confidence"`` (M,) mean
        confidence and ``"accuracy"`` (M,) share of correct frames in each bin, NaN for an empty
        bin.
    """
    confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
    correct = np.asarray(correct, dtype=bool).reshape(-1)
    if confidence.shape != correct.shape:
        raise ValueError(f"confidence and correct differ in length: {len(confidence)} and "
                         f"{len(correct)}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges, right=True) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=n_bins) / count
        accuracy = np.bincount(which, correct.astype(np.float64), minlength=n_bins) / count
    return {"edges": edges, "count": count, "confidence": mean_confidence,
            "accuracy": accuracy}


def expected_calibration_error(confidence, correct, n_bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error ``Σ_m (n_m / N) |accuracy_m − confidence_m|`` (module
    docstring) of top-class confidences (B,) and their correctness (B,); NaN for B = 0."""
    bins = reliability_bins(confidence, correct, n_bins)
    filled = bins["count"] > 0
    if not filled.any():
        return float("nan")
    weights = bins["count"][filled] / bins["count"].sum()
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(weights * gaps))
