"""Fisher scoring of a particle against photon counts: fast local refinement and its covariance.

Near an answer the expected counts λ = s·a(θ) + b are nearly linear in all parameters
φ = (θ, s, b), θ = (R nm, rotation vector in degrees about the start[, shape parameter]).
Fisher scoring (Gauss–Newton for the Poisson likelihood) steps by F⁻¹·g with the score
g = Jᵀ(N/λ − 1) and the Fisher information F = Jᵀ diag(1/λ) J, J = ∂λ/∂φ from one simulation
per coordinate of θ (forward differences; s and b enter linearly). A Levenberg–Marquardt damping
keeps every accepted step downhill in the full deviance (censored pixels included); it converges
in a handful of iterations where a simplex needs hundreds of simulations. At the answer F⁻¹ is
the covariance of φ (Cramér–Rao), with s and b (and a fitted beam-centre offset) profiled out
by taking the θ block of the inverse.
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
#: Step (detector pixels) of the differences along the beam centre.
CENTRE_STEP_PX = 0.05
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
    centre_offset_px : ndarray (2,)
        The beam centre's (row, column) offset, in detector pixels (zeros unless fitted).
    """

    point: np.ndarray
    deviance: float
    errors: ParameterErrors
    converged: bool
    simulations: int
    centre_offset_px: np.ndarray


def _signal(objective: CountsObjective, points: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """a (M, P) of search points (M, dimensions) with the beam centre ``offset`` px off."""
    radius, quaternion = parameters_to_particles(points, np.repeat(objective.anchors[:1],
                                                                   len(points), axis=0))
    return objective.signal(radius, quaternion,
                            points[:, 4] if objective.dimensions == 5 else None,
                            centre_offset_px=tuple(offset))


def _jacobian(objective: CountsObjective, point: np.ndarray, offset: np.ndarray,
              free: np.ndarray, steps: np.ndarray, fit_centre: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """a (P,) at ``point`` and ∂a/∂(θ[, centre]) (P, n[+2]) by one-sided differences (one
    simulation per coordinate; backwards for a parameter at the top of its range)."""
    if objective.dimensions == 5:
        steps = steps.copy()
        high = objective.family.parameter_range[1]
        steps[free == 4] *= np.where(point[4] + steps[free == 4] > high, -1.0, 1.0)
    points = np.repeat(point[None], len(free) + 1, axis=0)
    points[np.arange(1, len(free) + 1), free] += steps
    signal = _signal(objective, points, offset)
    columns = [(signal[1:] - signal[0]) / steps[:, None]]
    if fit_centre:
        for axis in range(2):
            moved = offset.copy()
            moved[axis] += CENTRE_STEP_PX
            columns.append((_signal(objective, point[None], moved) - signal[0]) / CENTRE_STEP_PX)
    return signal[0], np.concatenate(columns).T


def _deviance(objective: CountsObjective, point: np.ndarray, offset: np.ndarray) -> float:
    """Profiled deviance at a search point with a centre offset; +inf outside the ranges."""
    radius, quaternion = parameters_to_particles(point[None], objective.anchors[:1])
    parameter = point[4:5] if objective.dimensions == 5 else None
    if not objective.inside(radius, parameter)[0]:
        return np.inf
    return float(objective.profiled(radius, quaternion, parameter, offset).deviance[0])


def fisher_scoring(objective: CountsObjective, radius_nm: float,
                   shape_parameter: float | None = None, *, fit_centre: bool = False,
                   iterations: int = MAX_ITERATIONS) -> ScoringResult:
    """Refine a particle against counts by damped Fisher scoring, starting at its first anchor.

    Parameters
    ----------
    objective : CountsObjective
        Its first anchor is the starting orientation.
    radius_nm, shape_parameter
        The starting radius (and parameter).
    fit_centre : bool
        Fit the beam centre's offset from the detector's (row, column, in its pixels) as a
        nuisance: the particle's errors then include what the centre leaves unknown.
    iterations : int
        Most scoring steps.

    Returns
    -------
    ScoringResult
    """
    free = free_coordinates(objective.family)
    n = len(free)
    extra = 2 if fit_centre else 0
    span = (np.subtract(*objective.family.parameter_range[::-1])
            if objective.dimensions == 5 else 1.0)
    steps = np.array([{0: DIFFERENCE_STEPS[0], 4: DIFFERENCE_STEPS[2] * span}.get(
        int(index), DIFFERENCE_STEPS[1]) for index in free])
    point = np.zeros(objective.dimensions)
    point[0] = radius_nm
    if objective.dimensions == 5:
        point[4] = shape_parameter
    offset = np.zeros(2)
    before = objective.n_simulations
    deviance = _deviance(objective, point, offset)
    data = objective.data
    counted = data.counted
    counts = data.counts[counted]
    damping, converged = 1e-3, False
    fisher = np.eye(n + extra + 2)
    for _ in range(iterations):
        signal, derivative = _jacobian(objective, point, offset, free, steps, fit_centre)
        scale, back = profile_scale_background(counts, signal[None, counted])
        scale, back = float(scale[0]), float(back[0])
        rates = np.maximum(scale * signal[counted] + back, 1e-12)
        jacobian = np.concatenate([scale * derivative[counted], signal[counted, None],
                                   np.ones((len(counts), 1))], axis=1)
        fisher = jacobian.T @ (jacobian / rates[:, None])
        score = jacobian.T @ (counts / rates - 1.0)
        try:  # the deviance that a full Gauss–Newton step would gain, gᵀF⁻¹g
            promised = float(score @ np.linalg.solve(fisher, score))
        except np.linalg.LinAlgError:
            promised = np.inf
        if 0.0 <= promised < DEVIANCE_CHANGE:
            converged = True  # at the minimum already: no simulation spent on trial steps
            break
        improved = False
        for _ in range(8):
            damped = fisher + damping * np.diag(np.diag(fisher))
            try:
                step = np.linalg.solve(damped, score)[:n + extra]
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            trial = point.copy()
            trial[free] += step[:n]
            trial_offset = offset + step[n:] if fit_centre else offset
            value = _deviance(objective, trial, trial_offset)
            if value < deviance:
                improved = True
                change, deviance, point, offset = deviance - value, value, trial, trial_offset
                damping = max(damping / 10, 1e-6)
                break
            damping *= 10
        if not improved:
            converged = True  # no downhill step left: at the minimum to the noise
            break
        covariance = np.linalg.pinv(fisher)[:n + extra, :n + extra]
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
                         simulations=objective.n_simulations - before,
                         centre_offset_px=offset)
