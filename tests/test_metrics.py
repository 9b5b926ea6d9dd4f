"""Tests of the paper's error measures (wideshot.models.metrics)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wideshot.models.metrics import PARAMETER_NAMES, error_table, parameter_spans, summarize
from wideshot.geometry import (
    FUNDAMENTAL_DOMAIN,
    ICOSAHEDRAL_GROUP,
    quaternion_multiply,
    uniform_fundamental_domain,
)

MEASURES = {*PARAMETER_NAMES, "mean", "max", "misorientation_deg", "radius_error_nm"}


def test_identical_inputs_have_zero_error():
    quaternion = uniform_fundamental_domain(100, np.random.default_rng(0))
    radius_nm = np.linspace(30.0, 160.0, 100)
    errors = error_table(quaternion, radius_nm, quaternion, radius_nm)
    assert set(errors) == MEASURES
    for measure, values in errors.items():
        assert values.shape == (100,)
        np.testing.assert_allclose(values, 0.0, atol=1e-6, err_msg=measure)


def test_hand_made_errors():
    identity = np.array([[1.0, 0.0, 0.0, 0.0]])
    # A 10° turn about z: within the fundamental domain, so both quaternions stay as they are.
    half = math.radians(10.0) / 2
    turned = np.array([[math.cos(half), 0.0, 0.0, math.sin(half)]])
    errors = error_table(turned, [113.0], identity, [100.0])

    w_span, x_span, y_span, z_span = FUNDAMENTAL_DOMAIN.spans
    expected = {
        "w": (1.0 - math.cos(half)) / w_span,
        "x": 0.0,
        "y": 0.0,
        "z": math.sin(half) / z_span,
        "radius": 0.1,  # 13 nm of a 130 nm span
    }
    for name, value in expected.items():
        assert errors[name][0] == pytest.approx(value, abs=1e-12), name
    assert errors["mean"][0] == pytest.approx(sum(expected.values()) / 5)
    assert errors["max"][0] == pytest.approx(max(expected.values()))
    assert errors["misorientation_deg"][0] == pytest.approx(10.0)
    assert errors["radius_error_nm"][0] == pytest.approx(13.0)
    np.testing.assert_allclose(parameter_spans(), [*FUNDAMENTAL_DOMAIN.spans, 130.0])


def test_a_symmetric_twin_is_no_error():
    true_q = uniform_fundamental_domain(60, np.random.default_rng(1))
    twins = -quaternion_multiply(true_q, ICOSAHEDRAL_GROUP)  # one group element per sample
    radius_nm = np.full(60, 50.0)
    errors = error_table(twins, radius_nm, true_q, radius_nm)
    np.testing.assert_allclose(errors["misorientation_deg"], 0.0, atol=1e-5)
    np.testing.assert_allclose(errors["max"], 0.0, atol=1e-12)


def test_accepts_tensors_and_unnormalised_predictions():
    generator = torch.Generator().manual_seed(2)
    true_q = uniform_fundamental_domain(10, generator)
    errors = error_table(3.0 * true_q.requires_grad_(), torch.full((10,), 80.0),
                         true_q.detach(), torch.full((10,), 80.0))
    assert all(isinstance(values, np.ndarray) for values in errors.values())
    np.testing.assert_allclose(errors["mean"], 0.0, atol=1e-6)


def test_summarize():
    values = np.arange(101, dtype=float)  # 0, 1, ..., 100: percentiles are exact
    summary = summarize({"radius_error_nm": values, "mean": torch.from_numpy(values / 100)})
    assert summary["radius_error_nm"] == {"median": 50.0, "p90": 90.0, "p99": 99.0, "mean": 50.0}
    assert summary["mean"]["p90"] == pytest.approx(0.9)
