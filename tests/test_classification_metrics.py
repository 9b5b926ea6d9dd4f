"""Tests of wideshot.evaluation.classification: confusion matrix and calibration."""
from __future__ import annotations

import numpy as np
import pytest

from wideshot.evaluation.classification import (
    CALIBRATION_BINS,
    confusion_matrix,
    expected_calibration_error,
    reliability_bins,
)


def test_confusion_matrix_counts_a_hand_made_example():
    true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    predicted = [0, 1, 0, 1, 2, 2, 2, 0, 2]
    np.testing.assert_array_equal(confusion_matrix(true, predicted, 4), [
        [2, 1, 0, 0],   # true 0: twice right, once called 1
        [0, 1, 1, 0],
        [1, 0, 3, 0],
        [0, 0, 0, 0],   # class 3 never occurs: an empty row
    ])


def test_confusion_matrix_rejects_bad_classes():
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match=r"classes must lie in \[0, 2\)"):
        confusion_matrix([0, 2], [0, 1], 2)


def test_perfect_calibration_has_zero_error():
    # In each bin the share of right answers equals the confidence: exactly calibrated.
    confidence = np.repeat([0.25, 0.5, 0.8, 1.0], [4, 6, 10, 3])
    correct = np.concatenate([[True] + [False] * 3, [True] * 3 + [False] * 3,
                              [True] * 8 + [False] * 2, [True] * 3])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-12)

    # Right with probability equal to the confidence: ECE → 0 as the sample grows.
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.2, 1.0, 200_000)
    correct = rng.random(200_000) < confidence
    assert expected_calibration_error(confidence, correct) < 0.01


def test_overconfidence_gives_the_hand_computed_error():
    # 10 frames at 0.95 with 6 right, 10 at 0.75 with 5 right, 5 at 0.45 with 2 right:
    # ECE = 10/25·|0.6 − 0.95| + 10/25·|0.5 − 0.75| + 5/25·|0.4 − 0.45| = 0.25.
    confidence = np.repeat([0.95, 0.75, 0.45], [10, 10, 5])
    correct = np.concatenate([[True] * 6 + [False] * 4, [True] * 5 + [False] * 5,
                              [True] * 2 + [False] * 3])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.25, abs=1e-12)
    # One bin for everything: |13/25 − mean confidence| = |0.52 − 0.77| = 0.25 as well here.
    assert expected_calibration_error(confidence, correct, n_bins=1) == pytest.approx(
        abs(13 / 25 - confidence.mean()), abs=1e-12)


def test_reliability_bins_are_equal_width_and_closed_on_the_right():
    confidence = np.array([0.0, 0.1, 1 / 3 + 1e-9, 1.0, 1.0])
    correct = np.array([False, True, True, True, False])
    bins = reliability_bins(confidence, correct, n_bins=3)
    np.testing.assert_allclose(bins["edges"], [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_array_equal(bins["count"], [2, 1, 2])  # 0 and 1 fall into the end bins
    np.testing.assert_allclose(bins["confidence"], [0.05, 1 / 3 + 1e-9, 1.0])
    np.testing.assert_allclose(bins["accuracy"], [0.5, 1.0, 0.5])

    empty = reliability_bins([0.95], [True])
    assert len(empty["count"]) == CALIBRATION_BINS == 15
    assert np.isnan(empty["accuracy"][:-1]).all() and empty["accuracy"][-1] == 1.0
    assert np.isnan(expected_calibration_error([], []))
    with pytest.raises(ValueError, match="differ in length"):
        reliability_bins([0.5, 0.6], [True])
