"""The Poisson likelihood of counts, Fisher scoring and counts reconstruction, against
independent references (SciPy's optimiser and Poisson distribution, Monte-Carlo draws)."""
import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize

import wideshot
from wideshot.fitting.counts import CountsFrame, CountsObjective
from wideshot.fitting.likelihood import (
    PixelCounts,
    _log_at_least,
    _log_at_most,
    deviance_moments,
    goodness_of_fit,
    pixel_deviance,
    poisson_log_likelihood,
    profile_scale_background,
)
from wideshot.fitting.objective import parameters_to_particles
from wideshot.fitting.scoring import fisher_scoring
from wideshot.geometry import misorientation_deg, quaternion_multiply, \
    rotation_vector_to_quaternion
from wideshot.physics import KGridDetector, expected_counts, record_counts


@pytest.mark.parametrize("scale, background", [(5.0, 0.3), (0.0, 2.0), (3.0, 0.0)])
def test_profile_matches_a_general_optimiser(scale, background):
    rng = np.random.default_rng(1)
    signal = rng.gamma(0.5, 1.0, (1, 3000))
    counts = rng.poisson(scale * signal[0] + background).astype(float)
    found_s, found_b = profile_scale_background(counts, signal)

    def negative(x):
        return -poisson_log_likelihood(counts, x[0] * signal[0] + x[1])
    reference = minimize(negative, [1.0, 1.0], bounds=[(0, None), (1e-12, None)],
                         method="L-BFGS-B")
    ours = poisson_log_likelihood(counts, found_s[0] * signal[0] + found_b[0])
    assert ours >= -reference.fun - 1e-6
    assert found_s[0] == pytest.approx(reference.x[0], abs=2e-3 * (1 + reference.x[0]))


def test_censored_probabilities_match_scipy():
    rates = np.array([0.5, 3.0, 30.0, 300.0])
    np.testing.assert_allclose(_log_at_least(np.full(4, 5.0), rates),
                               stats.poisson.logsf(4, rates), rtol=1e-10)
    np.testing.assert_allclose(_log_at_most(np.full(4, 2.0), rates),
                               stats.poisson.logcdf(2, rates), rtol=1e-10)
    # Far in the tail the probability underflows; the log stays finite and ordered.
    far = _log_at_least(np.array([5000.0]), np.array([1.0]))
    assert np.isfinite(far[0]) and far[0] < -1e4


def test_censored_pixels_score_by_their_probability():
    data = PixelCounts(counts=np.array([10.0, 0.0, 7.0]),
                       saturated=np.array([True, False, False]),
                       suppressed=np.array([False, True, False]), threshold=np.array([0, 2, 0.]))
    rates = np.array([4.0, 1.5, 7.0])
    deviance = pixel_deviance(data, rates)
    assert deviance[0] == pytest.approx(-2 * stats.poisson.logsf(9, 4.0))
    assert deviance[1] == pytest.approx(-2 * stats.poisson.logcdf(2, 1.5))
    assert deviance[2] == pytest.approx(0.0)


@pytest.mark.parametrize("rate", [0.01, 0.3, 2.0, 40.0])
def test_deviance_moments_match_monte_carlo(rate):
    rng = np.random.default_rng(2)
    counts = rng.poisson(rate, 400_000).astype(float)
    data = PixelCounts(counts, np.zeros(counts.size, bool), np.zeros(counts.size, bool))
    deviance = pixel_deviance(data, np.full(counts.size, rate))
    mean, variance = deviance_moments(np.array(rate))
    assert float(mean) == pytest.approx(deviance.mean(), rel=0.02, abs=1e-3)
    assert float(variance) == pytest.approx(deviance.var(), rel=0.05, abs=1e-3)


def test_goodness_of_fit_p_values_are_uniform_for_the_true_model():
    rng = np.random.default_rng(3)
    rates = rng.gamma(0.7, 2.0, 2000) + 0.01
    p_values = []
    for _ in range(200):
        counts = rng.poisson(rates).astype(float)
        data = PixelCounts(counts, np.zeros(counts.size, bool), np.zeros(counts.size, bool))
        p_values.append(goodness_of_fit(data, rates).p_value)
    p_values = np.array(p_values)
    assert 0.04 < np.mean(p_values < 0.1) < 0.18
    assert 0.4 < np.mean(p_values < 0.5) < 0.6
    # A wrong model is far outside.
    counts = rng.poisson(rates).astype(float)
    data = PixelCounts(counts, np.zeros(counts.size, bool), np.zeros(counts.size, bool))
    assert goodness_of_fit(data, rates[::-1]).p_value < 1e-6


def _frame(radius_nm=95.0, photons_max=2e3, seed=4, saturation=None):
    detector = KGridDetector()
    quaternion = np.array([0.9, 0.2, 0.3, 0.25]) / np.linalg.norm([0.9, 0.2, 0.3, 0.25])
    rates = expected_counts(radius_nm, quaternion, detector, photons_max=photons_max,
                            background=0.01)
    counts = record_counts(rates, np.random.default_rng(seed), saturation=saturation)[0]
    return counts, quaternion


@pytest.mark.parametrize("change, message", [
    (lambda c: c - 5, "negative counts"),
    (lambda c: c + 0.4, "not whole photons"),
])
def test_counts_frames_refuse_what_counts_cannot_be(change, message):
    counts, _ = _frame()
    with pytest.raises(ValueError, match=message):
        CountsFrame.from_counts(change(counts))


def test_counts_frames_check_saturation_mask_and_bin():
    counts, _ = _frame()
    with pytest.raises(ValueError, match="saturation level 1 is below the data"):
        CountsFrame.from_counts(counts, saturation=1.0)
    with pytest.raises(ValueError, match="mask is 4×4"):
        CountsFrame.from_counts(counts, valid=np.ones((4, 4), bool))
    whole = CountsFrame.from_counts(counts)
    binned = CountsFrame.from_counts(counts, max_side_px=64)
    assert binned.binning == 2 and binned.counts.shape == (64, 64)
    # Bins that hold pixels outside the Ewald sphere are left out; the others sum photons.
    assert binned.photons <= whole.photons
    assert binned.counts[32, 32] == counts[64:66, 64:66].sum()
    assert binned.solid_angle_sr[32, 32] == pytest.approx(
        KGridDetector().solid_angle_sr[64:66, 64:66].sum())


def test_fisher_scoring_recovers_the_particle_within_its_errors():
    counts, truth = _frame(photons_max=3e3)
    frame = CountsFrame.from_counts(counts)
    start = quaternion_multiply(truth[None], rotation_vector_to_quaternion(
        np.deg2rad(np.array([[0.3, -0.2, 0.2]]))))
    objective = CountsObjective(frame, start)
    scored = fisher_scoring(objective, 95.6)
    radius, quaternion = parameters_to_particles(scored.point[None], start)
    assert scored.converged and scored.simulations < 100
    assert abs(radius[0] - 95.0) < 4 * scored.errors.radius_nm_sigma
    angle = misorientation_deg(quaternion, truth[None])[0]
    assert angle < 4 * scored.errors.orientation_sigma_deg
    assert 0.0 < scored.errors.radius_nm_sigma < 0.5


def test_reconstruct_counts_refined_with_errors_and_reasons():
    counts, truth = _frame(radius_nm=80.0, photons_max=3e3, saturation=600.0)
    result = wideshot.reconstruct(counts, intensity="counts", saturation=600.0, refine=True,
                                  candidates=1)
    assert result["shape"] == ["icosahedron"]
    assert abs(result["radius_nm"][0] - 80.0) < 0.5
    assert misorientation_deg(result["quaternion"], truth[None])[0] < 0.5
    for name in ("radius_nm_sigma", "orientation_sigma_deg", "gof_p_value", "dispersion"):
        assert np.isfinite(result[name][0])
    assert np.isnan(result["shape_parameter_sigma"][0])
    assert not result["flagged"][0] and result["dispersion"][0] < 1.2
    with pytest.raises(ValueError, match="frame 1: negative counts"):
        wideshot.reconstruct(np.stack([counts, counts - 3]), intensity="counts")


def test_reconstruct_files_keeps_counts_and_reports_bad_frames(tmp_path):
    from wideshot.reconstruction.pipeline import COUNTS_COLUMNS, reconstruct_files

    counts, _ = _frame(radius_nm=70.0, photons_max=2e3)
    np.save(tmp_path / "good.npy", np.stack([counts, counts]).astype(np.uint32))
    np.save(tmp_path / "bad.npy", (counts - 4).astype(np.int32))
    summary = reconstruct_files([tmp_path / "good.npy", tmp_path / "bad.npy"], tmp_path / "out",
                                intensity="counts", gain=1.0, panels=0, progress=False)
    assert summary["ok"] == 2 and summary["failed"] == 1
    import csv
    with open(tmp_path / "out" / "reconstruction.csv") as file:
        rows = list(csv.DictReader(file))
    assert set(COUNTS_COLUMNS) <= set(rows[0])
    assert float(rows[0]["photons"]) == counts[KGridDetector().illuminated].sum()
    assert float(rows[0]["radius_nm_sigma"]) > 0  # the network's, from its views' spread
    assert rows[2]["status"] == "failed" and "negative counts" in rows[2]["reason"]
    with pytest.raises(ValueError, match="intensity 'counts'"):
        reconstruct_files([tmp_path / "good.npy"], tmp_path / "out2", saturation=100.0)


def test_fisher_scoring_finds_the_beam_centre_as_a_nuisance():
    import dataclasses

    from wideshot.physics import FlatDetector

    nominal = FlatDetector(distance_mm=12.0, pixel_size_um=320.0, shape=(96, 96))
    recording = dataclasses.replace(nominal, beam_center_px=(47.5 + 0.6, 47.5 - 0.4))
    truth = np.array([0.9, 0.2, 0.3, 0.25]) / np.linalg.norm([0.9, 0.2, 0.3, 0.25])
    rates = expected_counts(70.0, truth, recording, photons_max=3e3, background=0.01)
    frame = CountsFrame.from_counts(record_counts(rates, np.random.default_rng(6))[0],
                                    detector=nominal)
    fixed = fisher_scoring(CountsObjective(frame, truth[None]), 70.0)
    fitted = fisher_scoring(CountsObjective(frame, truth[None]), 70.0, fit_centre=True)
    np.testing.assert_allclose(fitted.centre_offset_px, [0.6, -0.4], atol=0.1)
    assert fitted.deviance < fixed.deviance - 20  # the offset explains the counts better
    assert abs(fitted.point[0] - 70.0) < 3 * fitted.errors.radius_nm_sigma
    # Left out, the offset moves the answer far beyond its error bar.
    assert abs(fixed.point[0] - 70.0) > 5 * fixed.errors.radius_nm_sigma


def test_subsampled_frame_is_the_same_likelihood_on_fewer_pixels():
    counts, truth = _frame(photons_max=3e3)
    frame = CountsFrame.from_counts(counts)
    coarse = frame.subsampled(2)
    assert frame.subsampled(1) is frame
    assert coarse.valid.sum() == frame.valid[::2, ::2].sum()
    np.testing.assert_array_equal(coarse.pixel_counts().counts, counts[::2, ::2][
        frame.valid[::2, ::2]])
    full = fisher_scoring(CountsObjective(frame, truth[None]), 95.3)
    sparse = fisher_scoring(CountsObjective(coarse, truth[None]), 95.3)
    # A quarter of the pixels: errors about twice as large, the answer within them.
    ratio = sparse.errors.radius_nm_sigma / full.errors.radius_nm_sigma
    assert 1.5 < ratio < 2.7
    assert abs(sparse.point[0] - 95.0) < 4 * sparse.errors.radius_nm_sigma


def test_fisher_scoring_from_its_answer_spends_only_the_jacobian():
    counts, truth = _frame(photons_max=3e3)
    frame = CountsFrame.from_counts(counts)
    first = fisher_scoring(CountsObjective(frame, truth[None]), 95.3)
    radius, quaternion = parameters_to_particles(first.point[None], truth[None])
    again = fisher_scoring(CountsObjective(frame, quaternion), float(radius[0]))
    assert again.converged
    assert again.simulations == 1 + 4 + 1  # start, the Jacobian of (R, 3 angles), nothing else
    assert again.deviance == pytest.approx(first.deviance, abs=0.05)


def test_polish_on_counts_finishes_on_every_pixel_and_stops_a_lost_family():
    from wideshot.fitting.search import FitResult, polish_on_counts

    counts, truth = _frame(radius_nm=80.0, photons_max=3e3)
    frame = CountsFrame.from_counts(counts)
    turned = quaternion_multiply(truth[None], rotation_vector_to_quaternion(
        np.deg2rad(np.array([[0.5, -0.4, 0.3]]))))[0]
    start = FitResult(radius_nm=82.5, quaternion=turned, misfit=0.1, n_simulations=0,
                      objective=None)
    polished = polish_on_counts(frame, start)
    assert polished.converged and 0.9 < polished.dispersion < 1.1
    assert abs(polished.radius_nm - 80.0) < 0.1
    assert misorientation_deg(polished.quaternion[None], truth[None])[0] < 0.4  # from 0.7°
    # The same answer scored on every pixel from the start: the same deviance.
    thorough = polish_on_counts(frame, start, coarse_stride=1)
    assert polished.misfit == pytest.approx(thorough.misfit, abs=0.5)
    # A sphere cannot explain an icosahedron; against a rival that does, it stops early.
    sphere = dict(shape="sphere")
    alone = polish_on_counts(frame, start, **sphere)
    lost = polish_on_counts(frame, start, rival_deviance=polished.misfit, **sphere)
    assert alone.dispersion > 1.3 and not lost.converged
    assert lost.n_simulations < alone.n_simulations
    assert lost.misfit > polished.misfit
