"""Frames of photon counts: what the network reads, what the likelihood judges, and the verdict.

With counts, a frame is kept twice: as the SPEC image the network reads (log(counts + 1),
resampled onto the 128×128 grid, :func:`~wideshot.reconstruction.preparation.prepare_frame`)
and as a :class:`~wideshot.fitting.counts.CountsFrame` on the detector's own pixels, which the
refinement fits by the Poisson likelihood. :func:`judge_answers` then gives every answer

* its goodness of fit — the deviance against what Poisson noise allows (``gof_p_value``,
  ``dispersion``) — which flags frames no family explains;
* 1σ errors from the Fisher information at the answer (``radius_nm_sigma``,
  ``orientation_sigma_deg``, ``shape_parameter_sigma``; :mod:`~wideshot.fitting.scoring`,
  :mod:`~wideshot.fitting.uncertainty`), widened by the dispersion, for refined answers;
* the guarantee that a refined answer is never less likely than the network's own.
"""
from __future__ import annotations

import numpy as np

from wideshot.fitting.counts import CountsFrame
from wideshot.fitting.likelihood import goodness_of_fit
from wideshot.fitting.objective import parameters_to_particles
from wideshot.fitting.scoring import fisher_scoring
from wideshot.fitting.search import make_objective
from wideshot.fitting.uncertainty import fitted_parameters, free_coordinates
from wideshot.geometry import shape_family
from wideshot.physics import KGridDetector
from wideshot.reconstruction.preparation import DetectorGeometry, prepare_frame
from wideshot.reconstruction.view_errors import SIGMA_COLUMNS

#: Fewer photons than this on the valid pixels: weak evidence (reported; refinement is kept
#: only where it beats the network's answer).
MIN_EVIDENCE_PHOTONS = 1000.0

#: Default flag: the goodness-of-fit p-value below this *and* the dispersion above
#: :data:`MAX_DISPERSION` (significant and large: with 10⁴ pixels a 1 % excess is significant).
MIN_P_VALUE = 1e-3
MAX_DISPERSION = 1.5


def prepare_counts(counts, valid=None, *, geometry: DetectorGeometry | None = None,
                   saturation: float | None = None, threshold: float | None = None,
                   gain: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[CountsFrame]]:
    """Frames of counts → SPEC images for the network and counts frames for the likelihood.

    Parameters
    ----------
    counts : array (H, W) or (B, H, W)
        Detector values (photons × gain). Without ``geometry`` they must lie on SPEC's 128×128
        k-grid.
    valid : array bool, (H, W) or (B, H, W), optional
        Good pixels (True), one mask for all frames or one per frame.
    geometry : DetectorGeometry, optional
        Flat detector the frames come from.
    saturation, threshold, gain
        See :meth:`~wideshot.fitting.counts.CountsFrame.from_counts` (in the frame's units).

    Returns
    -------
    images : ndarray (B, 128, 128) float32
    image_valid : ndarray (B, 128, 128) bool
    frames : list of B CountsFrame

    Raises
    ------
    ValueError
        "frame b: <reason>" for the first frame that is not photon counts as promised.
    """
    counts = np.asarray(counts)
    if counts.ndim == 2:
        counts = counts[None]
    if counts.ndim != 3:
        raise ValueError(f"counts must be shaped (H, W) or (B, H, W), got {counts.shape}")
    masks = [None] * len(counts)
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape not in (counts.shape[1:], counts.shape):
            raise ValueError(f"valid must be shaped {counts.shape[1:]} or {counts.shape}, got "
                             f"{valid.shape}")
        masks = [valid] * len(counts) if valid.ndim == 2 else list(valid)
    images, image_valid, frames = [], [], []
    for index, (frame, mask) in enumerate(zip(counts, masks)):
        try:
            image, good, kept = prepare_counts_frame(frame, mask=mask, geometry=geometry,
                                                     saturation=saturation,
                                                     threshold=threshold, gain=gain)
        except ValueError as error:
            raise ValueError(f"frame {index}: {error}") from None
        images.append(image)
        image_valid.append(good)
        frames.append(kept)
    return np.stack(images), np.stack(image_valid), frames


def prepare_counts_frame(frame: np.ndarray, *, mask: np.ndarray | None = None,
                         geometry: DetectorGeometry | None = None,
                         saturation: float | None = None, threshold: float | None = None,
                         gain: float = 1.0) -> tuple[np.ndarray, np.ndarray, CountsFrame]:
    """One frame of counts → its SPEC image and mask (for the network) and its
    :class:`~wideshot.fitting.counts.CountsFrame` (for the likelihood); ValueError with the
    reason if it is not photon counts as promised."""
    detector = geometry.detector(frame.shape) if geometry is not None else KGridDetector()
    kept = CountsFrame.from_counts(frame, valid=mask, detector=detector, saturation=saturation,
                                   threshold=threshold, gain=gain)
    image, good = prepare_frame(frame, mask=mask, geometry=geometry, intensity="counts")
    return image, good, kept


def particle_parameters(shape: str) -> int:
    """Coordinates of a family's particle: R, the orientation (if any), the parameter (if any)."""
    return len(free_coordinates(shape_family(shape)))


def judge_answers(frames: list[CountsFrame], result: dict, *, refined: bool,
                  conditions, device=None, min_p_value: float = MIN_P_VALUE,
                  max_dispersion: float = MAX_DISPERSION, fit_centre: bool = False) -> dict:
    """Goodness of fit, errors and flag of each answer against its frame's counts.

    Parameters
    ----------
    frames : list of B CountsFrame
    result : dict
        Answers as :func:`~wideshot.reconstruction.reconstruct` builds them: ``shape`` (B str),
        ``radius_nm``, ``quaternion``, ``shape_parameter``; with ``refined`` also the network's
        (``network_shape``, ``network_radius_nm``, ...).
    refined : bool
        The answers are refined (errors from the curvature; never worse than the network).
    conditions : Conditions
        Material of the simulations.
    min_p_value, max_dispersion
        The flag: p-value below and dispersion above both.
    fit_centre : bool
        With ``refined``: fit the beam centre's offset as a nuisance in the last Fisher
        scoring (``centre_offset_row_px``, ``centre_offset_column_px``; NaN otherwise).

    Returns
    -------
    dict
        Updated ``radius_nm``, ``quaternion``, ``shape_parameter`` (polished, or the network's
        where it was more likely), and per frame ``deviance``, ``gof_p_value``, ``dispersion``,
        ``photons``, ``weak_evidence``, ``kept_network`` (bool), ``radius_nm_sigma``,
        ``orientation_sigma_deg``, ``shape_parameter_sigma`` (from the curvature; without
        refinement those of ``result``, the network's, or NaN),
        ``flagged``.
    """
    n = len(frames)
    out = {key: np.array(result[key], dtype=np.float64, copy=True)
           for key in ("radius_nm", "quaternion", "shape_parameter")}
    columns = {name: np.full(n, np.nan) for name in (
        "deviance", "gof_p_value", "dispersion", "photons", "centre_offset_row_px",
        "centre_offset_column_px")}
    # Without refinement the network's answers keep the error bars of their views.
    for name in SIGMA_COLUMNS:
        columns[name] = np.array(result.get(name, np.full(n, np.nan)), dtype=np.float64)
    kept_network = np.zeros(n, dtype=bool)
    simulation = {"material": conditions.material, "device": device}
    for index, frame in enumerate(frames):
        shape = result["shape"][index]
        family = shape_family(shape)
        quaternion = out["quaternion"][index]
        parameter = out["shape_parameter"][index] if family.has_parameter else None
        objective = make_objective(frame, None, quaternion[None], shape=shape, **simulation)
        fitted = objective.expected_counts(out["radius_nm"][index], quaternion, parameter)
        if refined and result["network_shape"][index] == shape:
            network_parameter = (result["network_shape_parameter"][index]
                                 if family.has_parameter else None)
            network = objective.expected_counts(result["network_radius_nm"][index],
                                                result["network_quaternion"][index],
                                                network_parameter)
            if network.deviance[0] < fitted.deviance[0]:  # never worse than the network
                kept_network[index] = True
                fitted = network
                out["radius_nm"][index] = result["network_radius_nm"][index]
                out["quaternion"][index] = quaternion = result["network_quaternion"][index]
                out["shape_parameter"][index] = result["network_shape_parameter"][index]
                parameter = network_parameter
                objective = make_objective(frame, None, quaternion[None], shape=shape,
                                           **simulation)
        if not refined:
            fit = goodness_of_fit(objective.data, fitted.rates[0], fitted_parameters(family))
        else:
            # Scoring from the answer: a last polish, and the Fisher information there.
            scored = fisher_scoring(objective, out["radius_nm"][index], parameter,
                                    fit_centre=fit_centre)
            radius, turned = parameters_to_particles(scored.point[None], quaternion[None])
            out["radius_nm"][index] = radius[0]
            out["quaternion"][index] = family.group.canonical(turned)[0]
            if family.has_parameter:
                out["shape_parameter"][index] = parameter = scored.point[4]
            fitted = objective.expected_counts(radius[0], turned[0], parameter,
                                               scored.centre_offset_px)
            fit = goodness_of_fit(objective.data, fitted.rates[0],
                                  fitted_parameters(family) + 2 * fit_centre)
            if fit_centre:
                columns["centre_offset_row_px"][index] = scored.centre_offset_px[0]
                columns["centre_offset_column_px"][index] = scored.centre_offset_px[1]
            errors = scored.errors.widened(fit.dispersion)
            columns["radius_nm_sigma"][index] = errors.radius_nm_sigma
            columns["orientation_sigma_deg"][index] = errors.orientation_sigma_deg
            columns["shape_parameter_sigma"][index] = errors.shape_parameter_sigma
        columns["deviance"][index] = fitted.deviance[0]
        columns["gof_p_value"][index] = fit.p_value
        columns["dispersion"][index] = fit.dispersion
        columns["photons"][index] = frame.photons
    flagged = (columns["gof_p_value"] < min_p_value) & (columns["dispersion"] > max_dispersion)
    return {**out, **columns, "kept_network": kept_network, "flagged": flagged,
            "weak_evidence": columns["photons"] < MIN_EVIDENCE_PHOTONS}
