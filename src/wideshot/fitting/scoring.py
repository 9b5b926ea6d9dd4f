"""Fisher scoring of a particle against photon counts: fast local refinement and its covariance.

Near an answer the expected counts λ = s·a(θ) + b are nearly linear in all parameters
φ = (θ, s, b), θ = (R nm, rotation vector in degrees about the start[, shape parameter]). Fisher
scoring (Gauss–Newton for the Poisson likelihood) steps by F⁻¹·g with the score
g = Jᵀ(N/λ − 1) and the Fisher information F = Jᵀ diag(1/λ) J, J = ∂λ/∂φ from one simulation per
coordinate of θ (forward differences; s and b enter linearly). A Levenberg–Marquardt damping
keeps every accepted step downhill in the full deviance (censored pixels included); it converges
in a handful of iterations where a simplex needs hundreds of simulations. At the answer F⁻¹ is
the covariance of φ (Cramér–Rao), with s and b profiled out by taking the θ block of the
inverse.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wideshot.fitting.counts import CountsObjective
from wideshot.fitting.likelihood import profile_scale_background
from wideshot.fitting.objective import parameters_to_particles
from wideshot.fitting.uncertainty import ParameterErrors, free_coordinates

#: Forward-difference steps: nm, degrees, fraction of the parameter's range.
DIFFERENCE_STEPS = (0.01, 0.01, 1e-4)
#: Stop when the deviance drops by less than this, or the step is below 1 % of σ.
DEVIANCE_CHANGE = 0.01
MAX_ITERATIONS = 25


@dataclass(frozen=True)
class ScoringResult:
    """Outcome of :func:`fisher_scoring`.

    Attributes
    ----------
    point : ndarray (dimensions,)
        The answer in the objective's search coordinates (about its first anchor).
    deviance : float
    errors : ParameterErrors
        From the inverse Fisher information (not widened by any dispersion:
        :meth:`~wideshot.fitting.uncertainty.ParameterErrors.widened`).
    converged : bool
    simulations : int
    """

    point: np.ndarray
    deviance: float
    errors: ParameterErrors
    converged: bool
    simulations: int


def _jacobian(objective: CountsObjective, point: np.ndarray, free: np.ndarray,
              steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a (P,) at ``point`` and ∂a/∂θ (P, n) by one-sided differences (n + 1 simulations;
    backwards for a parameter at the top of its range)."""
    if objective.dimensions == 5:
        steps = steps.copy()
        high = objective.family.parameter_range[1]
        steps[free == 4] *= np.where(point[4] + steps[free == 4] > high, -1.0, 1.0)
    points = np.repeat(point[None], len(free) + 1, axis=0)
    points[np.arange(1, len(free) + 1), free] += steps
    radius, quaternion = parameters_to_particles(points, np.repeat(objective.anchors[:1],
                                                                   len(points), axis=0))
    signal = objective.signal(radius, quaternion,
                              points[:, 4] if objective.dimensions == 5 else None)
    return signal[0], ((signal[1:] - signal[0]) / steps[:, None]).T


def fisher_scoring(objective: CountsObjective, radius_nm: float,
                   shape_parameter: float | None = None, *,
                   iterations: int = MAX_ITERATIONS) -> ScoringResult:
    """Refine a particle against counts by damped Fisher scoring, starting at its first anchor.

    Parameters
    ----------
    objective : CountsObjective
        Its first anchor is the starting orientation.
    radius_nm, shape_parameter
        The starting radius (and parameter).
    iterations : int
        Most scoring steps.

    Returns
    -------
    ScoringResult
    """
    free = free_coordinates(objective)
    n = len(free)
    span = (np.subtract(*objective.family.parameter_range[::-1])
            if objective.dimensions == 5 else 1.0)
    steps = np.array([{0: DIFFERENCE_STEPS[0], 4: DIFFERENCE_STEPS[2] * span}.get(
        int(index), DIFFERENCE_STEPS[1]) for index in free])
    point = np.zeros(objective.dimensions)
    point[0] = radius_nm
    if objective.dimensions == 5:
        point[4] = shape_parameter
    before = objective.n_simulations
    anchor = np.zeros(1, dtype=np.int64)
    deviance = float(objective(point[None], anchor)[0])
    data = objective._data
    counted = data.counted
    counts = data.counts[counted]
    damping, converged = 1e-3, False
    fisher = np.eye(n + 2)
    for _ in range(iterations):
        signal, derivative = _jacobian(objective, point, free, steps)
        scale, back = profile_scale_background(counts, signal[None, counted])
        scale, back = float(scale[0]), float(back[0])
        rates = np.maximum(scale * signal[counted] + back, 1e-12)
        jacobian = np.concatenate([scale * derivative[counted], signal[counted, None],
                                   np.ones((len(counts), 1))], axis=1)
        fisher = jacobian.T @ (jacobian / rates[:, None])
        score = jacobian.T @ (counts / rates - 1.0)
        improved = False
        for _ in range(8):
            damped = fisher + damping * np.diag(np.diag(fisher))
            try:
                step = np.linalg.solve(damped, score)[:n]
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            trial = point.copy()
            trial[free] += step
            value = float(objective(trial[None], anchor)[0])
            if value < deviance:
                improved = True
                change, deviance, point = deviance - value, value, trial
                damping = max(damping / 10, 1e-6)
                break
            damping *= 10
        if not improved:
            converged = True  # no downhill step left: at the minimum to the noise
            break
        covariance = np.linalg.pinv(fisher)[:n, :n]
        size = np.sqrt(max(step @ np.linalg.pinv(covariance) @ step, 0.0))
        if change < DEVIANCE_CHANGE or size < 0.01:
            converged = True
            break
    covariance = np.linalg.pinv(fisher)[:n, :n]
    sigma = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    positions = {int(index): position for position, index in enumerate(free)}
    rotation = [positions[index] for index in (1, 2, 3) if index in positions]
    errors = ParameterErrors(
        radius_nm_sigma=float(sigma[0]),
        orientation_sigma_deg=(float(np.sqrt(np.trace(covariance[np.ix_(rotation, rotation)])
                                             / 3)) if rotation else float("nan")),
        shape_parameter_sigma=float(sigma[positions[4]]) if 4 in positions else float("nan"),
        covariance=covariance, well_determined=bool(np.all(np.linalg.eigvalsh(fisher) > 0)))
    return ScoringResult(point=point, deviance=deviance, errors=errors, converged=converged,
                         simulations=objective.n_simulations - before)
