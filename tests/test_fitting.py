"""Forward fitting: batched Nelder–Mead against SciPy, the misfit, MCS, refinement, hybrid."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, rosen
from torch import nn

import wideshot
from wideshot.fitting import (
    PatternObjective,
    axis_simplex,
    fit,
    monte_carlo_simplex,
    nelder_mead,
    pattern_misfit,
    refine,
    refine_guess,
)
from wideshot.fitting import objective as objective_module
from wideshot.geometry import (
    canonical,
    misorientation_deg,
    quaternion_multiply,
    rotation_vector_to_quaternion,
)
from wideshot.models import labels_to_targets

from fitting_particle import TRUE_QUATERNION, TRUE_RADIUS_NM, central_disc

@pytest.fixture(scope="module")
def pattern():
    return wideshot.simulate(TRUE_RADIUS_NM, TRUE_QUATERNION)[0]


def _turned(quaternion: np.ndarray, angle_deg: float, axis=(1.0, 2.0, -1.0)) -> np.ndarray:
    axis = np.asarray(axis) / np.linalg.norm(axis)
    return quaternion_multiply(quaternion[None],
                               rotation_vector_to_quaternion(np.deg2rad(angle_deg) * axis[None]))


@pytest.mark.parametrize("start", [[-1.2, 1.0], [0.5, -0.3, 2.0]])
@pytest.mark.parametrize("iterations", [3, 17, 60])
def test_batched_nelder_mead_follows_scipy(start, iterations):
    """Same steps as SciPy's Nelder–Mead (up to rounding: the same points are computed by
    differently ordered formulas); SciPy counts its initial sort as iteration 1."""
    simplex = axis_simplex(np.array([start]), 0.2)
    ours = nelder_mead(lambda points, index: np.array([rosen(p) for p in points]),
                       np.repeat(simplex, 3, axis=0), iterations)
    theirs = minimize(rosen, start, method="Nelder-Mead",
                      options={"initial_simplex": simplex[0], "maxiter": iterations + 1,
                               "xatol": 0, "fatol": 0})
    np.testing.assert_allclose(ours.points, np.repeat(theirs.x[None], 3, axis=0), rtol=1e-9,
                               atol=1e-9)
    np.testing.assert_allclose(ours.values, theirs.fun, rtol=1e-9)


def test_nelder_mead_stops_converged_simplexes_early():
    calls = []

    def bowl(points, index):
        calls.append(len(points))
        return np.sum((points - index[:, None]) ** 2, axis=1)

    result = nelder_mead(bowl, axis_simplex(np.zeros((2, 2)), 0.5), 500, x_tolerance=1e-6,
                         f_tolerance=1e-12)
    np.testing.assert_allclose(result.points, [[0, 0], [1, 1]], atol=1e-5)
    assert (result.iterations < 500).all()


def test_misfit_is_unexplained_variance_and_ignores_affine_scaling():
    rng = np.random.default_rng(0)
    observed = rng.random(500)
    simulated = np.stack([observed, 7 * observed - 3, rng.random(500), -observed])
    misfit = pattern_misfit(observed, simulated)
    np.testing.assert_allclose(misfit[:2], 0, atol=1e-12)
    rho = np.corrcoef(observed, simulated[2])[0, 1]
    np.testing.assert_allclose(misfit[2], 1 - max(rho, 0) ** 2, rtol=1e-12)
    assert misfit[3] == 1.0
    assert pattern_misfit(observed, np.ones((1, 500)))[0] == 1.0


def test_misfit_of_the_true_particle_is_zero_and_grows_away_from_it(pattern):
    objective = PatternObjective(pattern, np.ones((128, 128), bool), TRUE_QUATERNION[None])
    radii = np.array([TRUE_RADIUS_NM, TRUE_RADIUS_NM + 0.5, TRUE_RADIUS_NM + 2.0])
    misfit = objective.misfit(radii, np.repeat(TRUE_QUATERNION[None], 3, axis=0))
    assert misfit[0] < 1e-6
    assert misfit[0] < misfit[1] < misfit[2]


def test_refinement_from_a_nearby_start_converges(pattern):
    found = refine(pattern, central_disc(40), [TRUE_RADIUS_NM + 2.0],
                   _turned(TRUE_QUATERNION, 4.0), tolerance=0.005)
    assert misorientation_deg(found.quaternion, TRUE_QUATERNION) < 0.05
    assert abs(found.radius_nm - TRUE_RADIUS_NM) < 0.05
    assert found.misfit < 1e-5


def test_refinement_respects_the_mask(pattern):
    """Pixels outside the mask may hold anything: the fit does not see them."""
    valid = central_disc(40) & ~central_disc(4)
    spoiled = np.where(valid, pattern, np.random.default_rng(1).random(pattern.shape))
    found = refine(spoiled, valid, [TRUE_RADIUS_NM + 1.0], _turned(TRUE_QUATERNION, 2.0),
                   tolerance=0.005)
    assert misorientation_deg(found.quaternion, TRUE_QUATERNION) < 0.05
    assert abs(found.radius_nm - TRUE_RADIUS_NM) < 0.05


def test_radius_scan_recovers_a_guess_several_fringes_off(pattern):
    found = refine_guess(pattern, central_disc(40), TRUE_RADIUS_NM + 12.0,
                         _turned(TRUE_QUATERNION, 3.0)[0], tolerance=0.005)
    assert abs(found.radius_nm - TRUE_RADIUS_NM) < 0.05


def test_simulation_counter_is_exact(pattern, monkeypatch):
    simulated = []
    original = objective_module.particle_amplitude

    def counting(radius_nm, *arguments, **options):
        simulated.append(len(radius_nm))
        return original(radius_nm, *arguments, **options)

    monkeypatch.setattr(objective_module, "particle_amplitude", counting)
    found = monte_carlo_simplex(pattern, central_disc(20), starts=3, iterations=4, rng=0)
    assert found.n_simulations == sum(simulated) > 3 * 5


def test_fixed_seed_gives_identical_results(pattern):
    first = fit(pattern, valid=central_disc(20), method="mcs", starts=3, iterations=4, seed=7)
    second = fit(pattern, valid=central_disc(20), method="mcs", starts=3, iterations=4, seed=7)
    for key in ("radius_nm", "quaternion", "misfit", "n_simulations"):
        np.testing.assert_array_equal(first[key], second[key])
    other = fit(pattern, valid=central_disc(20), method="mcs", starts=3, iterations=4, seed=8)
    assert not np.array_equal(first["quaternion"], other["quaternion"])


def test_best_so_far_replays_the_starts_one_after_another(pattern):
    found = monte_carlo_simplex(pattern, central_disc(20), starts=4, iterations=6, rng=3,
                                record=True)
    misfit, radius_nm, quaternion = found.objective.best_so_far()
    assert len(misfit) == found.n_simulations
    assert np.all(np.diff(misfit) <= 0)
    assert misfit[-1] == pytest.approx(found.misfit)
    assert radius_nm[-1] == pytest.approx(found.radius_nm)
    assert misorientation_deg(quaternion[-1], found.quaternion) < 1e-6


class _FixedAnswer(nn.Module):
    """A stand-in network that answers the same (wrong) labels for every image."""

    def __init__(self, quaternion: np.ndarray, radius_nm: float):
        super().__init__()
        targets = labels_to_targets(torch.as_tensor(canonical(quaternion)[None]),
                                    torch.tensor([radius_nm]))
        self.register_buffer("answer", torch.as_tensor(targets, dtype=torch.float32))
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, images):
        return self.answer.expand(len(images), -1) + 0 * self.anchor


def test_hybrid_improves_on_the_network(pattern):
    network = _FixedAnswer(_turned(TRUE_QUATERNION, 6.0)[0], TRUE_RADIUS_NM + 9.0)
    result = fit(pattern, valid=central_disc(40), method="hybrid", model=network, seed=0)
    network_error = misorientation_deg(result["network_quaternion"][0], TRUE_QUATERNION)
    assert network_error > 5.0
    assert misorientation_deg(result["quaternion"][0], TRUE_QUATERNION) < 0.1
    assert abs(result["radius_nm"][0] - TRUE_RADIUS_NM) < 0.1
    assert result["n_simulations"][0] > 0


@pytest.mark.parametrize("options, message", [
    ({"method": "newton"}, "unknown fit method"),
    ({"starts": 0}, "starts must be"),
    ({"valid": np.ones((64, 64), bool)}, "valid must be shaped"),
    ({"valid": np.ones((128, 128))}, "boolean mask"),
])
def test_fit_rejects_bad_options(pattern, options, message):
    with pytest.raises(ValueError, match=message):
        fit(pattern, **{"method": "mcs", **options})


def test_fit_rejects_bad_images():
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit(np.full((128, 128), np.nan), method="mcs")
    with pytest.raises(ValueError, match="shaped"):
        fit(np.zeros((3, 64, 64)), method="mcs")


# --- other shape families ------------------------------------------------------------------


def test_refinement_fits_a_decahedron_with_its_aspect():
    truth = {"radius_nm": 52.0, "quaternion": TRUE_QUATERNION, "shape_parameter": 0.8}
    image = wideshot.simulate(52.0, TRUE_QUATERNION, shape="decahedron", shape_parameter=0.8)[0]
    found = refine(image, central_disc(40), 53.5, _turned(TRUE_QUATERNION, 3.0),
                   shape_parameter=0.86, shape="decahedron", tolerance=0.001)
    assert abs(found.radius_nm - truth["radius_nm"]) < 0.05
    assert abs(found.shape_parameter - truth["shape_parameter"]) < 0.002
    assert misorientation_deg(found.quaternion, TRUE_QUATERNION, shape="decahedron") < 0.05
    np.testing.assert_allclose(canonical(found.quaternion, shape="decahedron"),
                               found.quaternion, atol=1e-12)  # canonical under D5
    assert found.misfit < 1e-4


def test_monte_carlo_simplex_fits_a_sphere_and_keeps_parameters_in_range():
    image = wideshot.simulate(64.0, [1, 0, 0, 0], shape="sphere")[0]
    result = fit(image, valid=central_disc(30), method="mcs", starts=4, iterations=40,
                 seed=1, shape="sphere")
    assert abs(result["radius_nm"][0] - 64.0) < 0.2 and result["shape"] == "sphere"
    np.testing.assert_allclose(result["quaternion"][0], [1, 0, 0, 0], atol=1e-12)
    assert np.isnan(result["shape_parameter"][0])
    octahedral = fit(image, valid=central_disc(20), method="mcs", starts=3, iterations=8,
                     seed=2, shape="octahedral")
    assert 0.0 <= octahedral["shape_parameter"][0] <= 1.0


def test_answer_misfit_knows_the_family():
    from wideshot.fitting.objective import answer_misfit

    image = wideshot.simulate(70.0, TRUE_QUATERNION, shape="twinned-tetrahedron",
                              shape_parameter=0.2)
    valid = np.ones_like(image, dtype=bool)
    right = answer_misfit(image, valid, np.array([70.0]), TRUE_QUATERNION[None],
                          shape="twinned-tetrahedron", shape_parameter=0.2)
    wrong = answer_misfit(image, valid, np.array([70.0]), TRUE_QUATERNION[None])
    assert right[0] < 1e-6 < 0.1 < wrong[0]


def test_fits_of_other_families_refuse_what_they_cannot_do(pattern):
    with pytest.raises(ValueError, match="knows icosahedron, not decahedron"):
        fit(pattern, method="hybrid", shape="decahedron", model="icosahedron")
    with pytest.raises(ValueError, match="unknown shape family 'cube'"):
        fit(pattern, method="mcs", shape="cube")
    with pytest.raises(ValueError, match="no shape parameter"):
        refine(pattern, central_disc(20), 45.0, TRUE_QUATERNION, shape_parameter=0.5)
