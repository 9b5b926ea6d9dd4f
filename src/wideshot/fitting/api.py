"""``wideshot.fit``: size and orientation by forward fitting, with or without the network.

Examples
--------
>>> import wideshot
>>> images = wideshot.simulate(90.0, [0.923, 0.103, 0.205, 0.308])
>>> result = wideshot.fit(images, method="hybrid")  # doctest: +SKIP
>>> result["radius_nm"], result["n_simulations"]  # doctest: +SKIP
(array([90.0]), array([171]))
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from wideshot.config import DEFAULT_CONFIG
from wideshot.fitting.search import monte_carlo_simplex, polish_on_counts, refine_guess
from wideshot.models.inference import (
    DEFAULT_VIEWS,
    check_images,
    check_valid,
    layout_of,
    predict,
)
from wideshot.geometry import DEFAULT_SHAPE, shape_family
from wideshot.physics.conditions import Conditions
from wideshot.training.lookup import DEFAULT_MODEL, load_model, model_conditions

#: Columns of a hybrid fit of log images: the beam offset (row, column) and the detector blur
#: its misfit allows for, in pixels of the 128 × 128 image (:mod:`wideshot.fitting.nuisance`).
IMAGE_NUISANCE_COLUMNS = ("image_offset_row_px", "image_offset_column_px", "image_blur_px")

#: Fit methods of :func:`fit`.
METHODS = ("mcs", "hybrid")

#: (starts, iterations) when not given: the paper's MCS; two local refinements for the
#: hybrid, one where counts finish it (their polish scans R again).
DEFAULT_BUDGET = {"mcs": (50, 50), "hybrid": (2, 300), "hybrid before counts": (1, 300)}
#: Tolerance (nm and degrees) of the hybrid's refinement of the log image: alone, and when
#: Fisher scoring on the counts finishes it (which needs only its basin).
LOG_IMAGE_TOLERANCE = {"hybrid": 0.02, "hybrid before counts": 0.1}


def fit(images, *, valid=None, method: str = "hybrid", starts: int | None = None,
        iterations: int | None = None, seed: int | None = None,
        device: str | torch.device | None = None,
        model: str | os.PathLike | nn.Module = DEFAULT_MODEL, views: int = DEFAULT_VIEWS,
        conditions: Conditions | None = None, shape: str = DEFAULT_SHAPE,
        counts=None, rival_deviance=None, image_nuisance: bool = True,
        progress: bool = False) -> dict:
    """Fit the particle of one shape family whose simulated pattern best explains each image.

    The misfit (:func:`~wideshot.fitting.misfit.pattern_misfit`) is the fraction of an image's
    variance over its valid pixels that the best affine-scaled simulation leaves unexplained.

    Parameters
    ----------
    images : array-like, shape (128, 128) or (B, 128, 128)
        SPEC images (log-intensity scaled per image to [0, 1]); invalid pixels may hold anything
        in [0, 1].
    valid : array-like bool, shape (128, 128) or (B, 128, 128), optional
        Pixels that carry data (default all); hole, gaps and the area outside the detector
        should be False.
    method : {"mcs", "hybrid"}
        "mcs": the paper's Monte-Carlo simplex, Nelder–Mead from ``starts`` random starts of
        ``iterations`` iterations each (default 50 × 50). "hybrid": the network's answer,
        refined (:func:`~wideshot.fitting.search.refine_guess`): a radius scan around it, then
        Nelder–Mead from the ``starts`` best radii (default 2, at most 300 iterations each,
        stopping at 0.02 nm / 0.02°; with ``counts`` 1 start stopping at 0.1, since the
        counts finish the fit).
    starts, iterations : int, optional
        Budget; defaults in :data:`DEFAULT_BUDGET`.
    seed : int, optional
        Seeds the random starts; image b uses the stream (seed, b), so a result does not depend
        on the batch it came in.
    device : str or torch.device, optional
        Where to simulate and run the network (default CPU for the simulations).
    model : str, Path or torch.nn.Module
        Network of the hybrid (see :func:`wideshot.training.load_model`).
    conditions : Conditions, optional
        Wavelength, material and radius range of the simulations (the MCS draws its starts from
        the range). Default: the model's (hybrid; what it was trained on), SPEC's (MCS).
    shape : str
        Shape family fitted (default the icosahedron). Its parameter, if it has one, is fitted
        too (the MCS starts from parameters uniform over its range). The hybrid starts from the
        network's answer for that family, so the network must know it.
    counts : sequence of B CountsFrame, optional
        The photon counts behind each image (:class:`~wideshot.fitting.counts.CountsFrame`):
        each fit of the log image is finished on them by Fisher scoring of their Poisson
        likelihood at the detector's own pixels (:func:`~wideshot.fitting.search.polish_on_counts`);
        ``misfit`` then holds the deviance.
    rival_deviance : array (B,), optional
        With ``counts``: per image, the deviance of another family's answer that explains it
        (inf where none); a fit less likely than that is not searched further
        (:func:`~wideshot.fitting.search.polish_on_counts`).
    image_nuisance : bool
        The hybrid's refinement allows for the beam's offset and the detector's blur of each
        image (:mod:`wideshot.fitting.nuisance`; default True).
    progress : bool
        Show a progress bar over the images.

    Returns
    -------
    dict
        ``radius_nm`` (B,) float64; ``quaternion`` (B, 4) canonical; ``misfit`` (B,) in [0, 1];
        ``n_simulations`` (B,) int — patterns simulated for each image; ``method``;
        ``shape`` (str) and ``shape_parameter`` (B,) (NaN for a family without one);
        ``converged`` (B,) bool — the refinement met its tolerance (the MCS: always); and for
        the hybrid ``network_radius_nm`` (B,), ``network_quaternion`` (B, 4),
        ``network_shape_parameter`` (B,), its starting point; with ``counts`` ``dispersion``
        (B,), each deviance over what Poisson noise allows (about 1: explained); for the hybrid
        without counts the image nuisances its misfit allows for (:mod:`.nuisance`), in pixels
        of the 128 × 128 image: ``image_offset_row_px``, ``image_offset_column_px`` (B,) (where
        the pattern's centre lies from the image's) and ``image_blur_px`` (B,) (σ).

    Raises
    ------
    ValueError
        For images that are not SPEC images, a wrong mask, an unknown method or budget.
    """
    if method not in METHODS:
        raise ValueError(f"unknown fit method {method!r}; choose one of {list(METHODS)}")
    family = shape_family(shape)
    stage = method if counts is None or method == "mcs" else "hybrid before counts"
    default_starts, default_iterations = DEFAULT_BUDGET[stage]
    starts = default_starts if starts is None else starts
    iterations = default_iterations if iterations is None else iterations
    for name, value in (("starts", starts), ("iterations", iterations)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    images = torch.as_tensor(images)
    size = DEFAULT_CONFIG.grid_size
    if images.ndim == 2:
        images = images[None]
    images = check_images(images, size).numpy()
    valid = check_valid(valid, images.shape)
    if counts is not None and len(counts) != len(images):
        raise ValueError(f"{len(counts)} frames of counts for {len(images)} images")
    rival_deviance = np.broadcast_to(np.inf if rival_deviance is None else rival_deviance,
                                     (len(images),))
    seed = np.random.SeedSequence().entropy if seed is None else seed
    simulation = {"device": device, "shape": family.name}

    result = {"radius_nm": np.zeros(len(images)), "quaternion": np.zeros((len(images), 4)),
              "misfit": np.zeros(len(images)), "n_simulations": np.zeros(len(images), int),
              "shape_parameter": np.full(len(images), np.nan), "shape": family.name,
              "method": method, "converged": np.ones(len(images), dtype=bool)}
    if counts is not None:
        result["dispersion"] = np.full(len(images), np.nan)
    elif method == "hybrid":
        result.update({column: np.zeros(len(images)) for column in IMAGE_NUISANCE_COLUMNS})
    if method == "hybrid":
        network, description = load_model(model, device)
        conditions = conditions or model_conditions(description)
        if family.name not in layout_of(network).shapes:
            raise ValueError(f"the hybrid fit starts from the network, which knows "
                             f"{', '.join(layout_of(network).shapes)}, not {family.name}; fit "
                             "it with method='mcs' or a network that knows it")
        labels = predict(network, images, views=views)
        start = labels.pick(np.full(len(images), labels.shapes.index(family.name)))
        network_radius, network_quaternion = start["radius_nm"], start["quaternion"]
        network_parameter = start["shape_parameter"]
        result.update(network_radius_nm=network_radius, network_quaternion=network_quaternion,
                      network_shape_parameter=network_parameter)
    conditions = conditions or Conditions()
    simulation.update(config=conditions.config, material=conditions.material)
    for index in tqdm(range(len(images)), desc=f"fit ({method}, {family.name})", unit="image",
                      file=sys.stderr, disable=not progress):
        rng = np.random.default_rng([seed, index])
        if method == "mcs":
            found = monte_carlo_simplex(images[index], valid[index], starts=starts,
                                        iterations=iterations, rng=rng,
                                        radius_range_nm=conditions.radius_range_nm,
                                        **simulation)
        else:
            found = refine_guess(images[index], valid[index], network_radius[index],
                                 network_quaternion[index],
                                 shape_parameter=(network_parameter[index]
                                                  if family.has_parameter else None),
                                 candidates=starts, iterations=iterations,
                                 tolerance=LOG_IMAGE_TOLERANCE[stage],
                                 fit_nuisance=image_nuisance, **simulation)
        if counts is not None:
            found = polish_on_counts(counts[index], found, shape=family.name,
                                     material=conditions.material, device=device,
                                     rival_deviance=float(rival_deviance[index]))
            result["dispersion"][index] = found.dispersion
        result["radius_nm"][index] = found.radius_nm
        result["quaternion"][index] = found.quaternion
        result["misfit"][index] = found.misfit
        result["n_simulations"][index] = found.n_simulations
        result["converged"][index] = found.converged
        if found.shape_parameter is not None:
            result["shape_parameter"][index] = found.shape_parameter
        if found.nuisance is not None and counts is None:
            result["image_offset_row_px"][index] = found.nuisance.row_shift_px
            result["image_offset_column_px"][index] = found.nuisance.column_shift_px
            result["image_blur_px"][index] = found.nuisance.blur_px
    return result

