"""Tests of the network's error bars from the spread of its views
(wideshot.reconstruction.view_errors) and of the spread itself (wideshot.models.inference)."""
from __future__ import annotations

import numpy as np
import pytest

import wideshot
from wideshot.reconstruction.view_errors import (
    coverage,
    fit_view_errors,
    network_errors,
    view_sigmas,
)
from wideshot.training import load_model


def test_fitted_scale_and_floor_give_the_coverage_asked_for():
    rng = np.random.default_rng(0)
    spreads = rng.gamma(2.0, 0.5, 4000)
    true_sigma = np.hypot(1.8 * spreads, 0.4)
    errors = rng.normal(0.0, true_sigma)
    scale, floor = fit_view_errors(errors[:2000], spreads[:2000], "radius_nm")
    assert abs(scale - 1.8) < 0.3 and abs(floor - 0.4) < 0.2
    sigmas = np.hypot(scale * spreads[2000:], floor)
    within_one, within_two = coverage(errors[2000:], sigmas, "radius_nm")
    assert abs(within_one - 0.683) < 0.03 and abs(within_two - 0.954) < 0.02
    # A spread that says nothing: the floor carries the error.
    scale, floor = fit_view_errors(rng.normal(0, 2.0, 2000), rng.random(2000) * 0.1,
                                   "radius_nm")
    assert 1.6 < floor < 2.4


def test_orientation_sigma_is_per_axis_as_the_fisher_errors():
    # Misorientations of a 3-D isotropic Gaussian error of 1 degree per axis.
    rng = np.random.default_rng(1)
    angles = np.linalg.norm(rng.normal(0.0, 1.0, (4000, 3)), axis=1)
    scale, floor = fit_view_errors(angles, np.zeros(4000), "orientation_deg")
    assert abs(floor - 1.0) < 0.08


def test_no_calibration_or_other_views_give_nan():
    spread = {"radius_nm": np.ones(2), "orientation_deg": np.ones(2),
              "shape_parameter": np.ones(2)}
    calibration = {"views": 8, "families": {"icosahedron": {"radius_nm": [2.0, 0.0],
                                                            "orientation_deg": [1.0, 1.0]}}}
    sigmas = view_sigmas(["icosahedron", "sphere"], spread, calibration, 8)
    assert sigmas["radius_nm_sigma"][0] == 2.0 and np.isnan(sigmas["radius_nm_sigma"][1])
    assert sigmas["orientation_sigma_deg"][0] == pytest.approx(np.sqrt(2.0))
    assert np.isnan(sigmas["shape_parameter_sigma"]).all()
    for other in (view_sigmas(["icosahedron"] * 2, spread, calibration, 4),
                  view_sigmas(["icosahedron"] * 2, None, calibration, 8),
                  view_sigmas(["icosahedron"] * 2, spread, None, 8)):
        assert all(np.isnan(values).all() for values in other.values())


def test_views_report_their_spread_and_reconstruct_its_error_bars():
    truth = {"shape": ["icosahedron", "decahedron"], "radius_nm": np.array([70.0, 110.0]),
             "quaternion": np.array([[0.9, 0.1, 0.3, 0.2], [0.8, -0.2, 0.1, 0.5]]),
             "shape_parameter": np.array([np.nan, 0.6])}
    truth["quaternion"] /= np.linalg.norm(truth["quaternion"], axis=1, keepdims=True)
    images = wideshot.simulate(truth["radius_nm"], truth["quaternion"], shape=truth["shape"],
                               shape_parameter=truth["shape_parameter"])
    network, description = load_model("default")
    shapes, errors, spreads = network_errors(network, images, truth, views=8)
    assert (spreads["radius_nm"] >= 0).all() and (spreads["orientation_deg"] >= 0).all()
    result = wideshot.reconstruct(images, check=False)
    if "view_errors" in description:  # the shipped default is calibrated
        assert np.isfinite(result["radius_nm_sigma"]).all()
        assert np.isfinite(result["orientation_sigma_deg"]).all()
    one_view = wideshot.reconstruct(images, check=False, views=1)
    assert np.isnan(one_view["radius_nm_sigma"]).all()
    with pytest.raises(ValueError, match="2 views"):
        network_errors(network, images, truth, views=1)


def test_averaged_views_keep_a_parameter_at_its_bound_inside_the_range():
    # Eight views all at the lower bound 0.4: their float mean is 0.39999999999999997, which
    # the simulation refused (a crash in reconstruct with counts, frame 281 of seed 7300).
    from wideshot.models.inference import VIEW_SETS, _average_views
    from wideshot.models.layout import FamilyLabels

    shapes = ("decahedron", "octahedral", "twinned-tetrahedron", "sphere", "icosahedron")
    parameters = np.tile([0.4, np.nan, np.nan, np.nan, np.nan], (8, 1))
    parameters[:, 1], parameters[:, 2] = 0.0, 0.0
    labels = FamilyLabels(shapes, np.full((8, 5), 0.2), np.tile([1.0, 0.0, 0.0, 0.0], (8, 5, 1)),
                          np.full((8, 5), 100.0), parameters)
    averaged = _average_views(labels, VIEW_SETS[8], 1)
    assert averaged.shape_parameter[0, 0] >= 0.4
    assert averaged.spread["shape_parameter"][0, 0] < 1e-12


def test_a_loaded_network_keeps_its_card():
    # Passing the network that load_model returned gives what its name gives: the error-bar
    # calibration and the misfit thresholds of its card.
    image = wideshot.simulate(90.0, [0.9, 0.2, 0.3, 0.1] / np.linalg.norm([0.9, 0.2, 0.3, 0.1]))
    network, description = load_model("default")
    by_name = wideshot.reconstruct(image, model="default")
    by_network = wideshot.reconstruct(image, model=network)
    assert by_network["max_misfit"] == by_name["max_misfit"]
    np.testing.assert_array_equal(by_network["radius_nm_sigma"], by_name["radius_nm_sigma"])
    assert load_model(network)[1] == description
