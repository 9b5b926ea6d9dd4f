"""Size and orientation of particles from diffraction images, in one call.

Examples
--------
>>> import wideshot
>>> images = wideshot.simulate([45.0, 120.0], [[1, 0, 0, 0], [0.923, 0.103, 0.205, 0.308]])
>>> result = wideshot.reconstruct(images)  # doctest: +SKIP
>>> result["radius_nm"].shape, result["quaternion"].shape  # doctest: +SKIP
((2,), (2, 4))
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from wideshot.config import DEFAULT_CONFIG
from wideshot.fitting import fit
from wideshot.fitting.api import IMAGE_NUISANCE_COLUMNS
from wideshot.fitting.objective import answer_misfit
from wideshot.fitting.search import (
    COARSE_MAX_DISPERSION,
    COUNTS_RADIUS_SCAN_NM,
    FitResult,
    polish_on_counts,
)
from wideshot.geometry import shape_family
from wideshot.models.inference import DEFAULT_VIEWS, check_images, check_valid, predict
from wideshot.reconstruction.counts import (
    MAX_DISPERSION,
    MIN_P_VALUE,
    judge_answers,
    particle_parameters,
    prepare_counts,
)
from wideshot.reconstruction.preparation import DetectorGeometry
from wideshot.reconstruction.quality import misfit_threshold
from wideshot.reconstruction.view_errors import view_sigmas
from wideshot.devices import resolve_device
from wideshot.physics.conditions import Conditions
from wideshot.training.lookup import DEFAULT_MODEL, load_model, model_conditions

#: A runner-up family is refined too only if the network gives it at least this probability.
MIN_CANDIDATE_PROBABILITY = 0.01

#: (starts, iterations) of the Monte-Carlo simplex that searches a flagged frame of counts
#: again from scratch (``rescue``).
RESCUE_BUDGET = (20, 60)


def reconstruct(images, *, valid=None, model: str | os.PathLike | nn.Module = DEFAULT_MODEL,
                device: str | torch.device | None = None, batch_size: int = 256,
                refine: bool = False, max_misfit: float | None = None, seed: int = 0,
                starts: int | None = None, iterations: int | None = None,
                views: int = DEFAULT_VIEWS, check: bool = True,
                conditions: Conditions | None = None, candidates: int = 2,
                intensity: str = "spec", geometry: DetectorGeometry | str | None = None,
                saturation: float | None = None, threshold: float | None = None,
                gain: float = 1.0, counts=None, min_p_value: float = MIN_P_VALUE,
                max_dispersion: float = MAX_DISPERSION, rescue: bool = True,
                fit_centre: bool = False, image_nuisance: bool = True,
                progress: bool = False) -> dict:
    """Shape family, size, orientation and shape parameter of the particle in each image,
    with a quality check.

    The network names the most probable shape family of each image and reads its radius,
    orientation and parameter; the answer is re-simulated and compared with the image on the
    valid pixels (the misfit, :func:`wideshot.fitting.pattern_misfit`: the fraction of the
    image's variance the answer leaves unexplained). With ``refine`` the network's answers for
    the most probable families (up to ``candidates``; a runner-up only with a probability of at
    least :data:`MIN_CANDIDATE_PROBABILITY`) are each refined by forward fitting
    (:func:`wideshot.fit`, "hybrid") and the family whose fit explains the image best wins. An
    answer whose misfit exceeds the threshold is *flagged*: no family the network knows
    explains the image (another shape, two particles, no particle, a broken frame) and the
    answer should not be trusted.

    Parameters
    ----------
    images : array-like or torch.Tensor, shape (128, 128) or (B, 128, 128)
        SPEC images: log-intensity scaled per image to [0, 1] (e.g. from
        :func:`wideshot.simulate`, or :func:`wideshot.reconstruction.prepare_frame` for
        detector frames). Checked first: a wrong shape, NaN or infinite values, an all-zero
        image or values outside [0, 1] raise ValueError naming the image.
    valid : array-like bool, shape (128, 128) or (B, 128, 128), optional
        Pixels that carry data (default all); masked pixels (hole, gaps, outside the detector)
        should hold 0, as in training, and are ignored by the misfit and the refinement.
    model : str, Path or torch.nn.Module
        A shipped model's name (default "default"), a run folder of ``wideshot train`` (its
        best checkpoint) or a network; see :func:`wideshot.training.load_model`.
    device : str or torch.device, optional
        Where to run (default: CUDA if available for the network; the CPU kernel simulates).
    batch_size : int
        Images per forward pass.
    refine : bool
        Refine every answer by forward fitting (about 200–500 simulations per image).
    max_misfit : float, optional
        Flag answers with a larger misfit. Default: the threshold calibrated for the model
        (its card's ``quality``; network or refined answers), or no flagging if it has none.
    seed : int
        Seeds the refinement's random choices.
    starts, iterations : int, optional
        Budget of the refinement (see :func:`wideshot.fit`, "hybrid").
    views : int
        1, 2, 4 or 8 views of each image whose network answers are averaged (turns and mirrors
        about the beam, exact symmetries; see :func:`wideshot.models.inference.predict`).
    check : bool
        Re-simulate each answer and compute its misfit (default). False skips the quality
        check, which costs about as much as the network (one simulation per image): ``misfit``
        is NaN and nothing is flagged. A refined answer always has its misfit.
    conditions : Conditions, optional
        Wavelength, material and radius range of the re-simulations. Default: those the model
        was trained under (its card or training data; SPEC's for a bare network).
    candidates : int
        Most families refined per image with ``refine``.
    intensity : {"spec", "counts"}
        What ``images`` hold: SPEC images (default), or detector **photon counts**. Counts are
        checked (non-negative whole photons after ``gain``, a ``saturation`` level not below
        the data), read by the network as log(counts + 1) and, with ``refine``, fitted by the
        Poisson likelihood at the detector's own pixels (scale and background profiled;
        saturated pixels count as "at least", suppressed ones as "at most";
        :mod:`wideshot.fitting.likelihood`). Each answer then carries its goodness of fit and,
        refined, 1σ errors from the likelihood's curvature; the flag comes from the goodness
        of fit instead of the misfit threshold.
    geometry : DetectorGeometry or str, optional
        With counts: the flat detector they come from (else SPEC's 128×128 k-grid).
    saturation, threshold, gain : float, optional
        With counts: the saturation level, the zero-suppression threshold and ADU per photon,
        in the frames' units.
    counts : sequence of CountsFrame, optional
        Counts already checked, one per SPEC image in ``images`` (what
        ``intensity="counts"`` builds; for callers that prepare frames themselves).
    min_p_value, max_dispersion : float
        With counts: flag an answer whose goodness-of-fit p-value is below ``min_p_value``
        and whose dispersion (deviance over its expectation) exceeds ``max_dispersion``.
    rescue : bool
        With counts and ``refine``: a refined answer that the counts flag (and that has the
        evidence, ≥ 1000 photons) is searched for once more from scratch — a Monte-Carlo
        simplex of its candidate families (:data:`RESCUE_BUDGET`) polished on the counts — and
        replaced where that is more likely (``rescued``). Costs ~10–60 s per such frame.
    fit_centre : bool
        With counts and ``refine``: fit the beam centre's offset from the detector's as a
        nuisance in the final Fisher scoring (``centre_offset_row_px``,
        ``centre_offset_column_px``, in detector pixels). A centre wrong by 0.3 pixel already
        biases the answers beyond their error bars (``benchmarks/counts_nuisances.py``).
    image_nuisance : bool
        With ``refine``: let each log-image fit allow for the beam's offset and the detector's
        blur (:mod:`wideshot.fitting.nuisance`; default True). Without counts the result then
        holds them per frame (``image_offset_row_px``, ``image_offset_column_px``,
        ``image_blur_px``, pixels of the 128 × 128 image).
    progress : bool
        Progress bars (frames, rate, ETA) of the refinement, one per candidate family.

    Returns
    -------
    dict
        ``shape`` : list of B str — the shape family (the network's most probable one, or the
        refinement's winner);
        ``shape_probability`` : ndarray (B,) — the network's probability of that family;
        ``shape_parameter`` : ndarray (B,) — its shape parameter (NaN for families without);
        ``shapes``, ``probabilities`` : the network's families (F) and their probabilities
        (B, F);
        ``radius_nm`` : ndarray (B,) float64 — circumradius in nm;
        ``quaternion`` : ndarray (B, 4) float64 — orientation (w, x, y, z), scalar first,
        canonical under the family's rotation group ((1, 0, 0, 0) for a sphere);
        ``misfit`` : ndarray (B,) — 0 (perfect) to 1 (nothing explained); NaN without
        ``check``;
        ``flagged`` : ndarray (B,) bool — misfit above ``max_misfit``;
        ``max_misfit`` : float or None — the threshold used (None without ``check``);
        ``refined`` : bool; with ``refine`` also the network's own answer
        (``network_shape``, ``network_radius_nm``, ``network_quaternion``,
        ``network_shape_parameter``), ``candidate_misfits`` (per image a dict family → misfit
        of its refined answer) and ``n_simulations`` (B,);
        ``model`` : str — the shipped name, run folder or network class used;
        ``radius_nm_sigma`` (nm), ``orientation_sigma_deg`` (per axis: 68 % / 95 % of true
        orientations lie within 1.88σ / 2.80σ), ``shape_parameter_sigma`` (B,) — 1σ errors:
        of the network's answers from the spread of its views, calibrated on simulated frames
        (:mod:`~wideshot.reconstruction.view_errors`; NaN for a model without that
        calibration, or views it was not calibrated for); of refined answers with counts from
        the likelihood's curvature; NaN for refined answers without counts and where a family
        has no orientation or parameter;
        with counts also ``deviance``, ``gof_p_value``, ``dispersion``, ``photons``,
        ``weak_evidence`` (fewer than 1000 photons), ``kept_network`` (the refinement did
        not beat the network's answer, which is kept) and ``rescued``.

    Raises
    ------
    ValueError
        For images that are not SPEC images, a wrong mask, or a corrupt model.
    FileNotFoundError
        If ``model`` names neither a shipped model nor a run folder.

    Examples
    --------
    >>> import wideshot
    >>> result = wideshot.reconstruct(wideshot.simulate(80.0, [1, 0, 0, 0]))  # doctest: +SKIP
    >>> result["radius_nm"], result["misfit"]  # doctest: +SKIP
    (array([80.4]), array([0.03]))
    """
    if candidates < 1:
        raise ValueError(f"candidates must be at least 1, got {candidates}")
    if intensity not in ("spec", "counts"):
        raise ValueError(f"intensity must be 'spec' or 'counts', got {intensity!r}")
    if intensity == "counts":
        if counts is not None:
            raise ValueError("give counts either as images with intensity='counts' or as "
                             "counts=..., not both")
        if isinstance(geometry, str):
            geometry = DetectorGeometry.parse(geometry)
        images, valid, counts = prepare_counts(images, valid, geometry=geometry,
                                               saturation=saturation, threshold=threshold,
                                               gain=gain)
    images = torch.as_tensor(images)
    size = DEFAULT_CONFIG.grid_size
    if images.ndim not in (2, 3) or tuple(images.shape[-2:]) != (size, size):
        raise ValueError(f"images must be shaped ({size}, {size}) or (B, {size}, {size}), got "
                         f"{tuple(images.shape)}")
    # Checked before a network is loaded: a wrong input fails fast.
    images = check_images(images[None] if images.ndim == 2 else images).numpy()
    valid = check_valid(valid, images.shape)
    if counts is not None and len(counts) != len(images):
        raise ValueError(f"{len(counts)} frames of counts for {len(images)} images")
    network, description = load_model(model, device)
    conditions = conditions or model_conditions(description)
    simulation_device = resolve_device(device, prefer_cuda=True)
    check = check or refine  # a refined answer comes with its misfit
    name = description.get("shipped") or description.get("run") or description["name"]
    labels = predict(network, images, device=device, batch_size=batch_size, views=views)
    answer = labels.pick(labels.best())
    spread = answer.pop("spread")
    result = {**answer, "shapes": list(labels.shapes), "probabilities": labels.probability}
    # Refined answers are not the network's: they get errors from the counts, or none.
    result.update(view_sigmas(answer["shape"], None if refine else spread,
                              description.get("view_errors"), views))
    if refine:
        result.update(_refine_candidates(images, valid, network, labels, candidates,
                                         simulation_device, conditions, views=views, seed=seed,
                                         starts=starts, iterations=iterations, counts=counts,
                                         image_nuisance=image_nuisance,
                                         progress=progress))
    if counts is not None:
        verdict = {"conditions": conditions, "device": simulation_device,
                   "min_p_value": min_p_value, "max_dispersion": max_dispersion,
                   "fit_centre": fit_centre}
        result.update(judge_answers(counts, result, refined=refine, **verdict))
        result["rescued"] = np.zeros(len(images), dtype=bool)
        if refine and rescue:
            _rescue_flagged(images, valid, counts, labels, result, candidates, verdict,
                            seed=seed, progress=progress)
    if counts is not None or (check and not refine):  # a refined misfit is the answer's
        result["misfit"] = answer_misfit(images, valid, result["radius_nm"],
                                         result["quaternion"], shape=result["shape"],
                                         shape_parameter=result["shape_parameter"],
                                         device=simulation_device, config=conditions.config,
                                         material=conditions.material)
    elif not refine:
        result["misfit"] = np.full(len(images), np.nan)
    limit = (misfit_threshold(description, refined=refine, override=max_misfit)
             if check and counts is None else None)
    if counts is None:
        result["flagged"] = (result["misfit"] > limit if limit is not None
                             else np.zeros(len(images), dtype=bool))
    result.update(max_misfit=limit, refined=refine, model=name)
    return result


def candidate_families(probability: np.ndarray, candidates: int,
                       min_probability: float = MIN_CANDIDATE_PROBABILITY) -> list[list[int]]:
    """Per frame, the families to refine: the most probable one, then the next ones in order
    of probability (up to ``candidates`` in all) whose probability is at least
    ``min_probability``.

    Parameters
    ----------
    probability : ndarray (B, F)
        Family probabilities of the network.

    Returns
    -------
    list of list of int
        Family indices per frame, most probable first.
    """
    order = np.argsort(-probability, axis=1, kind="stable")
    chosen = []
    for row, ranked in zip(probability, order, strict=True):
        picked = [int(ranked[0])] + [int(index) for index in ranked[1:candidates]
                                     if row[index] >= min_probability]
        chosen.append(picked)
    return chosen


def _refine_candidates(images, valid, network, labels, candidates: int, device, conditions,
                       counts=None, **fit_options) -> dict:
    """Hybrid fits of each frame's candidate families; per frame the family with the lowest
    misfit (with counts: deviance + 2 × parameters) wins. Returns the winners' labels, misfit
    (with counts: that criterion), convergence and simulations, and the network's."""
    n = len(images)
    chosen = candidate_families(labels.probability, candidates)
    best = labels.pick(labels.best())
    won = {"radius_nm": np.zeros(n), "quaternion": np.zeros((n, 4)), "misfit": np.full(n, np.inf),
           "shape_parameter": np.full(n, np.nan), "shape": [""] * n,
           "shape_probability": np.zeros(n), "n_simulations": np.zeros(n, dtype=int),
           "converged": np.ones(n, dtype=bool), "candidate_misfits": [{} for _ in range(n)]}
    if counts is None:  # the log-image fits report what they allowed for
        won.update({column: np.full(n, np.nan) for column in IMAGE_NUISANCE_COLUMNS})
    # Most probable families first: a family that explains a frame is the rival that lets a
    # less likely one stop early (fit's rival_deviance).
    rival = np.full(n, np.inf)
    for rank in range(max(len(families) for families in chosen)):
        for index, family in enumerate(labels.shapes):
            rows = np.array([row for row in range(n)
                             if rank < len(chosen[row]) and chosen[row][rank] == index],
                            dtype=int)
            if len(rows) == 0:
                continue
            fitted = fit(images[rows], valid=valid[rows], method="hybrid", model=network,
                         device=device, conditions=conditions, shape=family,
                         counts=None if counts is None else [counts[row] for row in rows],
                         rival_deviance=None if counts is None else rival[rows],
                         **fit_options)
            # Deviances of families with more parameters are lower by about one per parameter:
            # compare them by Akaike's criterion, deviance + 2 × parameters.
            penalty = 0.0 if counts is None else 2.0 * particle_parameters(family)
            for position, row in enumerate(rows):
                misfit = float(fitted["misfit"][position]) + penalty
                won["candidate_misfits"][row][family] = misfit
                won["n_simulations"][row] += int(fitted["n_simulations"][position])
                if counts is not None and fitted["dispersion"][position] <= COARSE_MAX_DISPERSION:
                    rival[row] = min(rival[row], float(fitted["misfit"][position]))
                if misfit < won["misfit"][row]:
                    won["misfit"][row] = misfit
                    won["shape"][row] = family
                    won["shape_probability"][row] = labels.probability[row, index]
                    won["radius_nm"][row] = fitted["radius_nm"][position]
                    won["quaternion"][row] = fitted["quaternion"][position]
                    won["shape_parameter"][row] = fitted["shape_parameter"][position]
                    won["converged"][row] = fitted["converged"][position]
                    for column in IMAGE_NUISANCE_COLUMNS:
                        if column in fitted:
                            won[column][row] = fitted[column][position]
    return {**won, "network_shape": best["shape"], "network_radius_nm": best["radius_nm"],
            "network_quaternion": best["quaternion"],
            "network_shape_parameter": best["shape_parameter"]}


def _rescue_flagged(images, valid, counts, labels, result: dict, candidates: int,
                    verdict: dict, *, seed: int, progress: bool) -> None:
    """Search flagged frames of counts (with evidence) again by a Monte-Carlo simplex of their
    candidate families; keep the more likely answer (deviance + 2 × parameters) and judge it
    anew. Updates ``result`` in place."""
    rows = np.flatnonzero(result["flagged"] & ~result["weak_evidence"])
    if len(rows) == 0:
        return
    chosen = dict(zip(rows, candidate_families(labels.probability[rows], candidates)))
    best = {row: result["deviance"][row] + 2.0 * particle_parameters(result["shape"][row])
            for row in rows}
    starts, iterations = RESCUE_BUDGET
    improved = set()
    for index, family in enumerate(labels.shapes):
        members = np.array([row for row in rows if index in chosen[row]], dtype=int)
        if len(members) == 0:
            continue
        if shape_family(family).has_orientation:
            fitted = fit(images[members], valid=valid[members], method="mcs", starts=starts,
                         iterations=iterations, seed=seed, device=verdict["device"],
                         conditions=verdict["conditions"], shape=family,
                         counts=[counts[row] for row in members], progress=progress)
        else:  # R alone: scan the deviance over the whole range
            fitted = _scan_whole_range([counts[row] for row in members], family, verdict)
        for position, row in enumerate(members):
            value = fitted["misfit"][position] + 2.0 * particle_parameters(family)
            if value < best[row]:
                best[row] = value
                improved.add(row)
                result["shape"][row] = family
                result["shape_probability"][row] = labels.probability[row, index]
                for key in ("radius_nm", "quaternion", "shape_parameter", "converged"):
                    result[key][row] = fitted[key][position]
    if not improved:
        return
    changed = np.array(sorted(improved))
    part = {key: [result[key][row] for row in changed]
            for key in ("shape", "radius_nm", "quaternion", "shape_parameter", "network_shape",
                        "network_radius_nm", "network_quaternion", "network_shape_parameter")}
    judged = judge_answers([counts[row] for row in changed], part, refined=True, **verdict)
    for key, value in judged.items():
        result[key][changed] = value
    result["rescued"][changed] = True


def _scan_whole_range(frames, family: str, verdict: dict) -> dict:
    """Fits of a family without orientation (a sphere) to counts by a radius scan of the
    deviance over the whole radius range (and 10 nm beyond), then Fisher scoring: its search
    is one-dimensional, and the counts resolve what the log image blurs."""
    low, high = verdict["conditions"].radius_range_nm
    scan = ((high - low) / 2 + 10.0, COUNTS_RADIUS_SCAN_NM[1])
    start = FitResult(radius_nm=(low + high) / 2, quaternion=np.array([1.0, 0.0, 0.0, 0.0]),
                      misfit=np.inf, n_simulations=0, objective=None)
    found = [polish_on_counts(frame, start, candidates=3, radius_scan_nm=scan, shape=family,
                              material=verdict["conditions"].material,
                              device=verdict["device"]) for frame in frames]
    return {"radius_nm": np.array([item.radius_nm for item in found]),
            "quaternion": np.array([item.quaternion for item in found]),
            "shape_parameter": np.full(len(found), np.nan),
            "converged": np.array([item.converged for item in found]),
            "misfit": np.array([item.misfit for item in found])}
