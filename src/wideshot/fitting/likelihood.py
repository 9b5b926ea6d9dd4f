"""Poisson likelihood of detector counts under a simulated pattern, scale and background profiled.

A detector pixel i records photons N_i ~ Poisson(λ_i) with

    λ_i = s · a_i + b,    a_i = |A(q_i)|² · Ω_i,

a_i the simulated intensity times the pixel's solid angle, s ≥ 0 the unknown photon scale (pulse
energy × cross-section), b ≥ 0 a flat background per pixel. For each simulation s and b are set
to their maximum-likelihood values (:func:`profile_scale_background`), and the pattern is scored
by the Poisson **deviance** (twice the log-likelihood ratio to the saturated model):

* a counted pixel: d_i = 2[N_i log(N_i/λ_i) − (N_i − λ_i)];
* a saturated pixel (read at the level L: only N ≥ L is known): d_i = −2 log P(N ≥ L | λ_i);
* a pixel under a zero-suppression threshold T (read 0: only N ≤ T is known):
  d_i = −2 log P(N ≤ T | λ_i);
* masked pixels contribute nothing.

The deviance is 0 for a perfect model and grows with misfit; differences of deviance are
differences of −2 log L, so its curvature gives the parameters' covariance
(:mod:`~wideshot.fitting.uncertainty`). What Poisson noise alone allows is known pixel by pixel
(:func:`deviance_moments`), which gives the goodness of fit (:func:`goodness_of_fit`): a p-value
that does not depend on any threshold calibrated on one simulation chain.

The scale and background are profiled on the counted pixels; the censored ones (saturated,
suppressed) are then scored at those values — a censored pixel says little about s and b.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import gammainc, gammaincc, gammaln, xlogy
from scipy.stats import norm

#: Most Newton iterations of the profile over (s, b), and halvings of a step that does not
#: improve.
PROFILE_ITERATIONS = 30
_STEP_LENGTHS = 0.5 ** np.arange(12)


@dataclass(frozen=True)
class PixelCounts:
    """What P detector pixels recorded, for the likelihood.

    Attributes
    ----------
    counts : ndarray (P,) float64
        Photons per pixel (≥ 0; integers for an exact Poisson likelihood).
    saturated : ndarray (P,) bool
        The pixel read the saturation level: only ``counts ≥ level`` is known (its ``counts``
        hold the level).
    suppressed : ndarray (P,) bool
        The pixel read 0 under a zero-suppression threshold: only ``counts ≤ threshold`` is
        known.
    threshold : float
        The threshold in photons (0 where none).
    """

    counts: np.ndarray
    saturated: np.ndarray
    suppressed: np.ndarray
    threshold: float = 0.0

    @property
    def counted(self) -> np.ndarray:
        """(P,) bool: pixels whose count is known exactly."""
        return ~(self.saturated | self.suppressed)

    @property
    def photons(self) -> float:
        """Photons recorded on the pixels (saturated pixels at their level)."""
        return float(self.counts.sum())


def poisson_log_likelihood(counts: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Σ_i [N_i log λ_i − λ_i] over the last axis (the N-only term log N! left out).

    Parameters
    ----------
    counts : ndarray (P,)
    rates : ndarray (..., P)
        λ > 0 wherever N > 0.

    Returns
    -------
    ndarray (...)
    """
    return np.sum(xlogy(counts, rates) - rates, axis=-1)


def profile_scale_background(counts: np.ndarray, signal: np.ndarray, *,
                             background: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood scale s ≥ 0 and background b ≥ 0 of λ = s·a + b, per simulation.

    The log-likelihood is concave in (s, b); damped Newton steps (the best of a few step lengths,
    never leaving s, b ≥ 0) converge in a handful of iterations. ``b = 0`` is checked as well
    (the optimum may lie on that edge, where s = ΣN/Σa exactly).

    Parameters
    ----------
    counts : ndarray (P,)
        Photons of the counted pixels.
    signal : ndarray (M, P)
        a_i ≥ 0 of M simulations at those pixels.
    background : bool
        Fit b; False fixes b = 0.

    Returns
    -------
    scale, background : ndarray (M,), ndarray (M,)
    """
    counts = np.asarray(counts, dtype=np.float64)
    signal = np.asarray(signal, dtype=np.float64)
    total = counts.sum()
    signal_sum = np.maximum(signal.sum(axis=-1), np.finfo(np.float64).tiny)
    edge_scale = total / signal_sum  # b = 0
    if not background or total == 0:
        return edge_scale, np.zeros(len(signal))
    n_pixels = counts.size
    edge_value = poisson_log_likelihood(counts, edge_scale[:, None] * signal)

    # Start with 10 % of the photons as background.
    back = np.full(len(signal), 0.1 * total / n_pixels)
    scale = np.maximum(total - back * n_pixels, 0.0) / signal_sum
    value = poisson_log_likelihood(counts, scale[:, None] * signal + back[:, None])
    active = np.ones(len(signal), dtype=bool)
    for _ in range(PROFILE_ITERATIONS):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        part = signal[rows]
        rates = scale[rows, None] * part + back[rows, None]
        ratio = counts / rates
        weight = counts / rates**2
        grad_s = np.sum((ratio - 1.0) * part, axis=-1)
        grad_b = np.sum(ratio - 1.0, axis=-1)
        h_ss = np.maximum(np.sum(weight * part**2, axis=-1), 1e-300)
        h_sb = np.sum(weight * part, axis=-1)
        h_bb = np.maximum(np.sum(weight, axis=-1), 1e-300)
        det = h_ss * h_bb - h_sb**2
        joint = det > 1e-12 * h_ss * h_bb
        det = np.where(joint, det, 1.0)
        # Newton step of the concave log-likelihood (H⁻¹·g, H = −Hessian); where it leaves
        # s, b ≥ 0, the Newton step along the free coordinate with the other on its edge.
        step_s = np.where(joint, (h_bb * grad_s - h_sb * grad_b) / det, grad_s / h_ss)
        step_b = np.where(joint, (h_ss * grad_b - h_sb * grad_s) / det, 0.0)
        new_s, new_b = scale[rows] + step_s, back[rows] + step_b
        on_b_edge = new_b < 0
        new_s = np.where(on_b_edge, scale[rows] + grad_s / h_ss, new_s)
        new_b = np.where(on_b_edge, 0.0, new_b)
        on_s_edge = new_s < 0
        new_s = np.where(on_s_edge, 0.0, new_s)
        new_b = np.where(on_s_edge, np.maximum(back[rows] + grad_b / h_bb, 0.0), new_b)
        old_s, old_b, old_value = scale[rows], back[rows], value[rows]
        accepted = np.zeros(len(rows), dtype=bool)
        length = 1.0
        for _ in range(len(_STEP_LENGTHS)):  # backtrack where the step does not improve
            pending = ~accepted
            trial_s = old_s[pending] + length * (new_s[pending] - old_s[pending])
            trial_b = old_b[pending] + length * (new_b[pending] - old_b[pending])
            trial_rates = trial_s[:, None] * part[pending] + trial_b[:, None]
            feasible = np.all((trial_rates > 0) | (counts == 0), axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                trial_value = np.where(feasible, poisson_log_likelihood(
                    counts, np.maximum(trial_rates, 1e-300)), -np.inf)
            better = trial_value >= old_value[pending]
            where = np.flatnonzero(pending)[better]
            scale[rows[where]] = trial_s[better]
            back[rows[where]] = trial_b[better]
            value[rows[where]] = trial_value[better]
            accepted[where] = True
            if accepted.all():
                break
            length *= 0.5
        gain = value[rows] - old_value
        active[rows] = accepted & (gain > 1e-10 * (1.0 + np.abs(value[rows])))
    # The edges: no background (s = ΣN/Σa), or no signal (b = ΣN/P).
    flat = np.full(len(signal), total / n_pixels)
    flat_value = poisson_log_likelihood(counts, flat[:, None] * np.ones_like(signal[:1]))
    use_edge = edge_value >= value
    scale, back = np.where(use_edge, edge_scale, scale), np.where(use_edge, 0.0, back)
    value = np.maximum(edge_value, value)
    use_flat = flat_value > value
    return np.where(use_flat, 0.0, scale), np.where(use_flat, flat, back)


def _log_at_least(level: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """log P(N ≥ level) for N ~ Poisson(rates), level ≥ 1 (integers); safe where P
    underflows."""
    probability = gammainc(level, rates)
    with np.errstate(divide="ignore"):
        exact = np.log(probability)
    # Far in the tail P(N ≥ L) ≈ P(N = L).
    tail = level * np.log(np.maximum(rates, 1e-300)) - rates - gammaln(level + 1.0)
    return np.where(probability > 1e-250, exact, tail)


def _log_at_most(level: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """log P(N ≤ level) for N ~ Poisson(rates), level ≥ 0 (integers)."""
    probability = gammaincc(level + 1.0, rates)
    with np.errstate(divide="ignore"):
        exact = np.log(probability)
    tail = level * np.log(np.maximum(rates, 1e-300)) - rates - gammaln(level + 1.0)
    return np.where(probability > 1e-250, exact, tail)


def pixel_deviance(data: PixelCounts, rates: np.ndarray) -> np.ndarray:
    """Deviance of each pixel (see the module docstring) under expected counts.

    Parameters
    ----------
    data : PixelCounts
        P pixels.
    rates : ndarray (..., P)
        Expected counts λ > 0.

    Returns
    -------
    ndarray (..., P) ≥ 0
    """
    counts = data.counts
    rates = np.maximum(np.asarray(rates, dtype=np.float64), 1e-300)
    counted = 2.0 * (xlogy(counts, counts) - xlogy(counts, rates) - (counts - rates))
    deviance = np.where(data.counted, counted, 0.0)
    if data.saturated.any():
        level = np.ceil(np.maximum(counts, 1.0))
        deviance = np.where(data.saturated, -2.0 * _log_at_least(level, rates), deviance)
    if data.suppressed.any():
        level = np.floor(np.full(counts.shape, data.threshold))
        deviance = np.where(data.suppressed, -2.0 * _log_at_most(level, rates), deviance)
    return np.maximum(deviance, 0.0)


@dataclass(frozen=True)
class ProfiledDeviance:
    """Deviance of M simulations with their profiled scale and background.

    Attributes
    ----------
    deviance : ndarray (M,)
    scale, background : ndarray (M,)
    rates : ndarray (M, P)
        Expected counts λ at the optimum of s and b.
    """

    deviance: np.ndarray
    scale: np.ndarray
    background: np.ndarray
    rates: np.ndarray


def profiled_deviance(data: PixelCounts, signal: np.ndarray, *,
                      background: bool = True) -> ProfiledDeviance:
    """Poisson deviance of simulations, scale and background at their best values.

    Parameters
    ----------
    data : PixelCounts
        P pixels.
    signal : ndarray (M, P)
        a = |A|²·Ω of M simulations at those pixels (any common unit).
    background : bool
        Profile a flat background too (default); False fixes it at 0.

    Returns
    -------
    ProfiledDeviance
    """
    signal = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    counted = data.counted
    scale, back = profile_scale_background(data.counts[counted], signal[:, counted],
                                           background=background)
    rates = scale[:, None] * signal + back[:, None]
    deviance = pixel_deviance(data, rates).sum(axis=-1)
    return ProfiledDeviance(deviance=deviance, scale=scale, background=back, rates=rates)


# --------------------------------------------------------------------------------------------
# What Poisson noise allows
# --------------------------------------------------------------------------------------------

#: Expected counts beyond which the deviance moments take their asymptotic form.
_ASYMPTOTIC_RATE = 1e4
_TABLE_RATES = np.geomspace(1e-6, _ASYMPTOTIC_RATE, 600)


@lru_cache(maxsize=1)
def _moment_table() -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of a counted pixel's deviance at :data:`_TABLE_RATES` (exact sums)."""
    rates = _TABLE_RATES
    n_max = int(rates[-1] + 14 * np.sqrt(rates[-1]) + 40)
    means, variances = np.empty_like(rates), np.empty_like(rates)
    for index, rate in enumerate(rates):
        low = max(0, int(rate - 14 * np.sqrt(rate) - 40))
        high = min(n_max, int(rate + 14 * np.sqrt(rate) + 40))
        n = np.arange(low, high + 1, dtype=np.float64)
        log_pmf = xlogy(n, rate) - rate - gammaln(n + 1.0)
        pmf = np.exp(log_pmf)
        deviance = 2.0 * (xlogy(n, n) - xlogy(n, rate) - (n - rate))
        means[index] = np.sum(pmf * deviance)
        variances[index] = np.sum(pmf * deviance**2) - means[index] ** 2
    return means, variances


def deviance_moments(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of one counted pixel's deviance when N ~ Poisson(λ) exactly.

    For large λ they tend to 1 and 2 (χ² with one degree of freedom); for λ → 0 both vanish
    (a pixel that expects nothing records nothing). Tabulated once from exact sums over N and
    interpolated in log λ; above 10⁴ photons, 1 + 1/(6λ) and 2.

    Parameters
    ----------
    rates : ndarray (...)
        Expected counts λ ≥ 0.

    Returns
    -------
    mean, variance : ndarray (...)
    """
    rates = np.asarray(rates, dtype=np.float64)
    means, variances = _moment_table()
    log_rates = np.log(np.clip(rates, _TABLE_RATES[0], _ASYMPTOTIC_RATE))
    log_table = np.log(_TABLE_RATES)
    mean = np.interp(log_rates, log_table, means)
    variance = np.interp(log_rates, log_table, variances)
    large = rates > _ASYMPTOTIC_RATE
    mean = np.where(large, 1.0 + 1.0 / (6.0 * np.maximum(rates, 1.0)), mean)
    variance = np.where(large, 2.0, variance)
    tiny = rates < _TABLE_RATES[0]
    scale = np.where(tiny, rates / _TABLE_RATES[0], 1.0)
    return mean * scale, variance * scale


@dataclass(frozen=True)
class GoodnessOfFit:
    """How a deviance compares with what Poisson noise allows.

    Attributes
    ----------
    deviance : float
        The counted pixels' deviance.
    expected : float
        Its expectation under the model, less the fitted parameters.
    dispersion : float
        ``deviance / expected``: 1 for a model that explains the counts to their noise, above 1
        for what the noise cannot explain.
    p_value : float
        Probability of a deviance at least this large if the model were right (normal
        approximation of the sum over pixels).
    """

    deviance: float
    expected: float
    dispersion: float
    p_value: float


def goodness_of_fit(data: PixelCounts, rates: np.ndarray, fitted_parameters: int = 0
                    ) -> GoodnessOfFit:
    """Goodness of fit of expected counts to the counted pixels.

    The sum over the P counted pixels of their deviance has mean Σ E_i and variance Σ V_i
    (:func:`deviance_moments`; each fitted parameter lowers the mean by about one); with P in the
    hundreds or more the sum is close to normal. Censored pixels are left out of the test.

    Parameters
    ----------
    data : PixelCounts
    rates : ndarray (P,)
        Expected counts of the answer.
    fitted_parameters : int
        Parameters fitted to these counts (particle, scale and background).

    Returns
    -------
    GoodnessOfFit
    """
    counted = data.counted
    deviance = float(pixel_deviance(data, rates)[counted].sum())
    mean, variance = deviance_moments(np.asarray(rates, dtype=np.float64)[counted])
    expected = max(float(mean.sum()) - fitted_parameters, 1.0)
    spread = np.sqrt(max(float(variance.sum()), 1e-12))
    return GoodnessOfFit(deviance=deviance, expected=expected,
                         dispersion=deviance / expected,
                         p_value=float(norm.sf((deviance - expected) / spread)))
