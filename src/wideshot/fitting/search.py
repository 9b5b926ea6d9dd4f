"""Forward fits of one pattern: Monte-Carlo simplex from random starts, or refinement from a guess.

Both run Nelder–Mead simplexes (:mod:`.simplex`) over x = (R nm, rotation vector in degrees
[, shape parameter]) on a :class:`~wideshot.fitting.objective.PatternObjective` of one shape
family (``shape=`` among the simulation options; default the icosahedron), all starts side by
side so that every step simulates one batch, and return the best particle found.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from wideshot.config import RADIUS_RANGE_NM
from wideshot.fitting.counts import CountsFrame, CountsObjective
from wideshot.fitting.objective import (
    PatternObjective,
    SearchObjective,
    parameters_to_particles,
)
from wideshot.fitting.likelihood import goodness_of_fit
from wideshot.fitting.nuisance import ImageNuisance, estimate_nuisance
from wideshot.fitting.scoring import ScoringResult, fisher_scoring
from wideshot.fitting.uncertainty import fitted_parameters
from wideshot.fitting.simplex import axis_simplex, nelder_mead
from wideshot.geometry import random_quaternions

#: Initial simplex steps (nm, degrees) of the Monte-Carlo simplex: a start may be anywhere.
GLOBAL_STEPS = (10.0, 10.0)
#: Initial simplex steps (nm, degrees) of a refinement that starts near the answer.
LOCAL_STEPS = (2.0, 2.0)
#: Initial simplex step of the shape parameter, as a fraction of the family's range: global
#: (Monte-Carlo simplex) and local (refinement).
GLOBAL_PARAMETER_STEP = 0.1
LOCAL_PARAMETER_STEP = 0.02


@dataclass(frozen=True)
class FitResult:
    """Best particle of a fit to one pattern.

    Attributes
    ----------
    radius_nm : float
    quaternion : ndarray (4,)
        Canonical (fundamental domain).
    misfit : float
        :func:`~wideshot.fitting.misfit.pattern_misfit` of the answer (0 = perfect).
    n_simulations : int
        Every pattern simulated on the way.
    objective : PatternObjective or CountsObjective
        The objective, with its recorded history if asked for.
    shape_parameter : float or None
        The family's parameter (None for a family without one).
    converged : bool
        The winning simplex met its tolerance before running out of iterations (always True
        for the Monte-Carlo simplex, which runs its iterations without a tolerance).
    dispersion : float
        Of a fit to counts: its deviance over what Poisson noise allows (about 1 for an answer
        that explains the frame; NaN for a log image).
    nuisance : ImageNuisance or None
        Of a refined log image: the beam offset and detector blur its misfit allows for
        (:mod:`.nuisance`; None where none was fitted).
    """

    radius_nm: float
    quaternion: np.ndarray
    misfit: float
    n_simulations: int
    objective: SearchObjective
    shape_parameter: float | None = None
    converged: bool = True
    dispersion: float = float("nan")
    nuisance: ImageNuisance | None = None


def make_objective(data, valid, anchors: np.ndarray, *, record: bool = False,
                   **simulation) -> SearchObjective:
    """The objective of a measurement: a log image (with its valid pixels) or a
    :class:`~wideshot.fitting.counts.CountsFrame` (``valid`` unused; its own pixels, config and
    mask), with ``shape``, ``material``, ``device``, ``precision`` (and ``config``) of the
    simulations."""
    if isinstance(data, CountsFrame):
        simulation.pop("config", None)  # the frame's detector has its own
        return CountsObjective(data, anchors, record=record, **simulation)
    return PatternObjective(data, valid, anchors, record=record, **simulation)


def _run(objective: SearchObjective, radius_nm: np.ndarray, steps: tuple[float, float],
         iterations: int, tolerance: float, shape_parameter: np.ndarray | None = None,
         parameter_step: float = LOCAL_PARAMETER_STEP) -> FitResult:
    start = np.zeros((len(radius_nm), objective.dimensions))
    start[:, 0] = radius_nm
    step_nm, step_deg = steps
    step = [step_nm, step_deg, step_deg, step_deg]
    family = objective.family
    if objective.dimensions == 5:
        low, high = family.parameter_range
        start[:, 4] = shape_parameter
        step.append(parameter_step * (high - low))
    simplex = axis_simplex(start, np.array(step))
    value_tolerance = (objective.value_tolerance if objective.value_tolerance is not None
                       else tolerance**2)
    result = nelder_mead(objective, simplex, iterations, x_tolerance=tolerance,
                         f_tolerance=value_tolerance if tolerance else 0.0)
    best = int(np.argmin(result.values))
    radius, quaternion = parameters_to_particles(result.points[best:best + 1],
                                                 objective.anchors[best:best + 1])
    return FitResult(radius_nm=float(radius[0]),
                     quaternion=family.group.canonical(quaternion)[0],
                     misfit=float(result.values[best]),
                     n_simulations=objective.n_simulations, objective=objective,
                     shape_parameter=(float(result.points[best, 4])
                                      if objective.dimensions == 5 else None),
                     converged=bool(not tolerance or result.iterations[best] < iterations))


def monte_carlo_simplex(image: np.ndarray, valid: np.ndarray, *, starts: int = 50,
                        iterations: int = 50, rng=None, steps: tuple[float, float] = GLOBAL_STEPS,
                        radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM,
                        record: bool = False, **simulation) -> FitResult:
    """The paper's baseline: Nelder–Mead from random starts, the best end point wins.

    Parameters
    ----------
    image : ndarray (H, W)
        Measured pattern (log-intensity, any affine scaling; SPEC images as they are).
    valid : ndarray (H, W) bool
        Pixels to fit.
    starts : int
        Random starts: R uniform over the training range, orientation uniform.
    iterations : int
        Nelder–Mead iterations per start (no early stop, as in the paper).
    rng : numpy.random.Generator, int or None
        Seeds the starts.
    steps : (float, float)
        Initial simplex steps in nm and degrees.
    radius_range_nm : (float, float)
        Range of the random starting radii, nm (default SPEC's training range).
    record : bool
        Keep every evaluation (for :meth:`PatternObjective.best_so_far`).
    **simulation
        ``material``, ``device``, ``precision``, ``config`` of the objective.

    Returns
    -------
    FitResult
    """
    rng = np.random.default_rng(rng)
    radius_nm = rng.uniform(*radius_range_nm, starts)
    anchors = random_quaternions(starts, rng)
    objective = make_objective(image, valid, anchors, record=record, **simulation)
    parameters = (rng.uniform(*objective.family.parameter_range, starts)
                  if objective.dimensions == 5 else None)
    return _run(objective, radius_nm, steps, iterations, tolerance=0.0,
                shape_parameter=parameters, parameter_step=GLOBAL_PARAMETER_STEP)


def refine(image: np.ndarray, valid: np.ndarray, radius_nm, quaternion, *,
           shape_parameter=None, iterations: int = 300,
           steps: tuple[float, float] = LOCAL_STEPS, tolerance: float = 0.01,
           record: bool = False, **simulation) -> FitResult:
    """Local Nelder–Mead refinement from given starting particles; the best end point wins.

    Parameters
    ----------
    image, valid
        As in :func:`monte_carlo_simplex`.
    radius_nm : array (K,)
        Starting radii in nm.
    quaternion : array (K, 4)
        Starting orientations.
    shape_parameter : float or array (K,), optional
        Starting parameters, for a family with one (``shape=`` in ``simulation``).
    iterations : int
        Most Nelder–Mead iterations per start.
    steps : (float, float)
        Initial simplex steps in nm and degrees.
    tolerance : float
        A start stops once its simplex is within ``tolerance`` (nm and degrees) of its best
        vertex and its misfits within ``tolerance²``.
    record, **simulation
        As in :func:`monte_carlo_simplex`.

    Returns
    -------
    FitResult
    """
    radius_nm = np.atleast_1d(np.asarray(radius_nm, dtype=np.float64))
    anchors = np.atleast_2d(np.asarray(quaternion, dtype=np.float64))
    objective = make_objective(image, valid, anchors, record=record, **simulation)
    return _run(objective, radius_nm, steps, iterations, tolerance,
                _starting_parameters(objective, shape_parameter, len(radius_nm)))


def _starting_parameters(objective: SearchObjective, shape_parameter, count: int
                         ) -> np.ndarray | None:
    """Starting shape parameters (count,), checked against the objective's family."""
    if objective.dimensions == 4:
        objective.family.validate_parameter(shape_parameter)  # ValueError if one is given
        return None
    values = np.broadcast_to(np.asarray(shape_parameter, dtype=np.float64), (count,))
    for value in values:
        objective.family.validate_parameter(value)
    return values


#: Radius scan of :func:`refine_guess`: half width and step (nm). Along R the misfit has local
#: minima about π/k ≈ 7 nm apart (one fringe at the detector edge), so a guess more than ~3 nm
#: off can sit in the wrong one; orientation errors of 30° still refine fine.
RADIUS_SCAN_NM = (24.0, 1.5)


def _local_minima(values: np.ndarray) -> np.ndarray:
    """Indices of the local minima of a 1-D curve (ends included), best first."""
    padded = np.r_[np.inf, values, np.inf]
    minima = np.flatnonzero((values <= padded[:-2]) & (values <= padded[2:]))
    return minima[np.argsort(values[minima], kind="stable")]


def _scan_and_refine(image, valid, radius_nm: float, quaternion: np.ndarray,
                     shape_parameter, candidates: int, iterations: int, radius_scan_nm,
                     tolerance: float, record: bool, simulation: dict,
                     better_than: float = np.inf) -> tuple[FitResult | None, int]:
    """Scan the misfit along R at one orientation and refine its best local minima.

    Only minima below ``better_than`` are refined (None if there is none); also returns the
    simulations spent.
    """
    quaternion = np.asarray(quaternion, dtype=np.float64).reshape(1, 4)
    half_width, step = radius_scan_nm
    radii = radius_nm + np.arange(-half_width, half_width + step / 2, step)
    objective = make_objective(image, valid, np.repeat(quaternion, candidates, axis=0),
                               record=record, **simulation)
    parameters = _starting_parameters(objective, shape_parameter, len(radii))
    scan = objective.misfit(radii, np.repeat(quaternion, len(radii), axis=0), parameters)
    minima = [index for index in _local_minima(scan)[:candidates] if scan[index] < better_than]
    if not minima:
        return None, objective.n_simulations
    objective.anchors = objective.anchors[:len(minima)]
    found = _run(objective, radii[minima], LOCAL_STEPS, iterations, tolerance,
                 None if parameters is None else parameters[minima])
    return found, found.n_simulations


#: Radius scan of :func:`polish_on_counts`: half width and step (nm). The counts resolve
#: fringes that the smoothed log image blurs (large particles), so the scan is finer.
COUNTS_RADIUS_SCAN_NM = (12.0, 0.5)
#: Pixel stride of the coarse stage of :func:`polish_on_counts`: its scan and first scoring see
#: every second pixel of each row and column (a quarter of the cost), and the last scoring all.
COARSE_STRIDE = 2
#: A coarse answer whose deviance exceeds what Poisson noise allows by more than this factor
#: (dispersion) is not trusted: the polish then starts again from the log image's fit on every
#: pixel. A right answer has a dispersion of 1.00 ± 0.02; a wrong basin one of 2 to 100.
COARSE_MAX_DISPERSION = 1.3


def _scan_and_score(frame: CountsFrame, found: FitResult, candidates: int,
                    radius_scan_nm: tuple[float, float], simulation: dict
                    ) -> tuple[ScoringResult, SearchObjective, int]:
    """Scan the deviance along R at a fit's orientation and score its best minima by Fisher
    scoring; returns the most likely result, its objective and the simulations spent."""
    objective = make_objective(frame, None, found.quaternion[None], **simulation)
    half_width, step = radius_scan_nm
    radii = found.radius_nm + np.arange(-half_width, half_width + step / 2, step)
    parameters = (None if found.shape_parameter is None
                  else np.full(len(radii), found.shape_parameter))
    scan = objective.misfit(radii, np.repeat(found.quaternion[None], len(radii), axis=0),
                            parameters)
    starts = [float(radii[index]) for index in _local_minima(scan)[:candidates]
              if np.isfinite(scan[index])] or [found.radius_nm]
    spent, best = objective.n_simulations, None
    for radius in starts:
        start = make_objective(frame, None, found.quaternion[None], **simulation)
        scored = fisher_scoring(start, radius, found.shape_parameter)
        spent += scored.simulations
        if best is None or scored.deviance < best[0].deviance:
            best = (scored, start)
    return (*best, spent)


def _answer(scored: ScoringResult, objective: SearchObjective
            ) -> tuple[float, np.ndarray, float | None]:
    """R (nm), quaternion (4,) and parameter (or None) of a scoring result."""
    radius, quaternion = parameters_to_particles(scored.point[None], objective.anchors[:1])
    parameter = float(scored.point[4]) if objective.dimensions == 5 else None
    return float(radius[0]), quaternion[0], parameter


def _judged(objective: CountsObjective, answer: tuple) -> tuple[float, float]:
    """Deviance of an answer and its dispersion, the deviance over what Poisson noise allows
    (one simulation)."""
    radius, quaternion, parameter = answer
    profiled = objective.expected_counts(radius, quaternion, parameter)
    fit = goodness_of_fit(objective.data, profiled.rates[0], fitted_parameters(objective.family))
    return float(profiled.deviance[0]), fit.dispersion


def polish_on_counts(frame: CountsFrame, found: FitResult, *, candidates: int = 2,
                     radius_scan_nm: tuple[float, float] = COUNTS_RADIUS_SCAN_NM,
                     coarse_stride: int = COARSE_STRIDE, rival_deviance: float = np.inf,
                     **simulation) -> FitResult:
    """Finish a fit on the photon counts behind its image.

    The Poisson likelihood of a bright frame is rugged — a tenth of a degree off, a fringe of
    one pixel misplaced, already costs hundreds of deviance — so its global search starts from
    the smoother misfit of the log image (:func:`refine_guess`) and ends here: a fine radius
    scan of the deviance at the fit's orientation (the counts resolve fringes of large
    particles that the smoothed log image blurs), then Fisher scoring
    (:func:`~wideshot.fitting.scoring.fisher_scoring`) from the scan's best minima; the most
    likely end point wins.

    Scan and scoring first run on a subsample of the pixels (:meth:`CountsFrame.subsampled`:
    an exact likelihood of fewer pixels, whose minimum lies within its own error bars of the
    full one), and the answer is then scored on every pixel, which takes a few steps. Where the
    subsample's answer fits worse than noise allows (:data:`COARSE_MAX_DISPERSION`: the log
    image's fit was far off, and the subsample lost the way back that every pixel shows), scan
    and scoring run again on every pixel — unless the answer is already less likely than a
    rival's (``rival_deviance``): a family that has lost is not searched further.

    Parameters
    ----------
    frame : CountsFrame
    found : FitResult
        The fit of the frame's log image.
    candidates : int
        Scan minima scored.
    radius_scan_nm : (float, float)
        Half width and step of the radius scan (nm).
    coarse_stride : int
        Pixel stride of the first scan and scoring (1: every pixel from the start).
    rival_deviance : float
        Deviance on every pixel of another family's answer that explains the frame (default
        none).
    **simulation
        ``shape``, ``material``, ``device``, ``precision`` of the objective.

    Returns
    -------
    FitResult
        ``misfit`` is the deviance of the answer on every pixel, ``dispersion`` its ratio to
        what noise allows; ``n_simulations`` includes the scans and the scoring (of either
        pixel set); a lost family's answer is not ``converged``.
    """
    coarse = frame.subsampled(coarse_stride)
    scored, objective, spent = _scan_and_score(coarse, found, candidates, radius_scan_nm,
                                               simulation)
    spent += found.n_simulations
    if coarse is not frame:
        answer = _answer(scored, objective)
        objective = make_objective(frame, None, answer[1][None], **simulation)
        deviance, dispersion = _judged(objective, (answer[0], answer[1], answer[2]))
        spent += 1
        if dispersion <= COARSE_MAX_DISPERSION:
            scored = fisher_scoring(objective, answer[0], answer[2])
            spent += scored.simulations
        elif deviance > rival_deviance:
            return _fit_result(answer, deviance, dispersion, spent, objective, converged=False)
        else:
            scored, objective, again = _scan_and_score(frame, found, candidates,
                                                       radius_scan_nm, simulation)
            spent += again
    answer = _answer(scored, objective)
    deviance, dispersion = _judged(objective, answer)
    return _fit_result(answer, deviance, dispersion, spent + 1, objective, scored.converged)


def _fit_result(answer: tuple, deviance: float, dispersion: float, spent: int,
                objective: SearchObjective, converged: bool) -> FitResult:
    radius, quaternion, parameter = answer
    return FitResult(radius_nm=radius,
                     quaternion=objective.family.group.canonical(quaternion[None])[0],
                     misfit=deviance, n_simulations=spent, objective=objective,
                     shape_parameter=parameter, converged=converged, dispersion=dispersion)


def _refit_with_nuisance(image, valid, best: FitResult, options: tuple
                         ) -> tuple[FitResult, int]:
    """Estimate the image's beam offset and blur at a fit's answer and, where they explain
    the image better, fit again against the moved-back image with blurred simulations.

    Returns the better of the two, both judged under the estimated nuisance (``best``'s
    answer and misfit unchanged where the identity is the best nuisance), and the simulations
    spent.
    """
    objective = best.objective
    detector_image = objective.detector_image(best.radius_nm, best.quaternion,
                                              best.shape_parameter)
    nuisance, misfit = estimate_nuisance(objective.image, objective.measured_valid,
                                         detector_image, objective.grid.illuminated,
                                         objective.smoothing_px)
    if nuisance.is_identity:
        return dataclasses.replace(best, nuisance=nuisance), 1
    candidates, iterations, radius_scan_nm, tolerance, record, simulation = options
    options = (candidates, iterations, radius_scan_nm, tolerance, record,
               {**simulation, "nuisance": nuisance})
    again, spent = _scan_and_refine(image, valid, best.radius_nm, best.quaternion,
                                    best.shape_parameter, *options, better_than=misfit)
    if again is None or again.misfit >= misfit:
        # The answer stands; its misfit is the one the nuisance allows.
        return dataclasses.replace(best, misfit=misfit, nuisance=nuisance), 1 + spent
    return dataclasses.replace(again, nuisance=nuisance), 1 + spent


def refine_guess(image: np.ndarray, valid: np.ndarray, radius_nm: float, quaternion, *,
                 shape_parameter: float | None = None, candidates: int = 2,
                 iterations: int = 300,
                 radius_scan_nm: tuple[float, float] = RADIUS_SCAN_NM, tolerance: float = 0.02,
                 fit_nuisance: bool = True, record: bool = False, **simulation) -> FitResult:
    """Refine a guess (the network's answer): radius scan, local Nelder–Mead, and once more.

    First the misfit is scanned along R at the guessed orientation (R ± half width, in steps);
    its ``candidates`` best local minima each start a local refinement (:data:`LOCAL_STEPS`).
    A guess far off in orientation can mislead that scan into the wrong fringe of R while the
    refinement still finds the orientation, so R is scanned once more at the refined
    orientation, and a minimum that beats the answer is refined too; the best answer wins.
    With ``fit_nuisance``, the beam offset and detector blur are then estimated at that answer
    (:func:`~wideshot.fitting.nuisance.estimate_nuisance`) and, unless none is found, R is
    scanned and refined a third time against the moved-back image with blurred simulations.

    Parameters
    ----------
    image, valid
        As in :func:`monte_carlo_simplex`.
    radius_nm : float
        Guessed radius (nm).
    quaternion : array (4,)
        Guessed orientation.
    shape_parameter : float, optional
        Guessed parameter, for a family with one (``shape=`` in ``simulation``); refined too.
    candidates : int
        Radius-scan minima refined in each round.
    iterations, tolerance
        Per refinement, as in :func:`refine`.
    radius_scan_nm : (float, float)
        Half width and step of the radius scan (nm).
    fit_nuisance : bool
        Allow for the image's beam offset and detector blur (default True).
    record, **simulation
        As in :func:`monte_carlo_simplex` (the objective of the best round is returned).

    Returns
    -------
    FitResult
        ``n_simulations`` counts the scans and the refinements of every round; ``nuisance``
        is the beam offset and blur allowed for (None without ``fit_nuisance``).
    """
    options = (candidates, iterations, radius_scan_nm, tolerance, record, simulation)
    first, first_simulations = _scan_and_refine(image, valid, radius_nm, quaternion,
                                                shape_parameter, *options)
    second, second_simulations = _scan_and_refine(image, valid, first.radius_nm,
                                                  first.quaternion, first.shape_parameter,
                                                  *options, better_than=first.misfit)
    best = second if second is not None and second.misfit < first.misfit else first
    spent = first_simulations + second_simulations
    if fit_nuisance:
        best, more = _refit_with_nuisance(image, valid, best, options)
        spent += more
    return dataclasses.replace(best, n_simulations=spent)
