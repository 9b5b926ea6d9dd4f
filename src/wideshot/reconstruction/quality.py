"""When to distrust an answer: the misfit threshold and how it is calibrated.

An answer is re-simulated and compared with its image (:func:`wideshot.fitting.pattern_misfit`,
the unexplained variance fraction). Images of icosahedra with the defects of real detectors
leave some misfit even for a good answer; an image that no icosahedron explains (another
shape family, two particles, only noise) leaves more. The threshold is the 99th percentile of
the misfit over simulated icosahedra with the "experiment" augmentation chain, measured for the
network's answers and for refined ones: at most ~1 % of in-distribution images are flagged.
It is stored in the model card (``quality``), because it depends on the network's accuracy.
The examples are simulated under the model's conditions (wavelength, material, radius range).
"""
from __future__ import annotations

import numpy as np
import torch

from wideshot.data.augment import make_augmentation
from wideshot.data.generate import sample_parameters
from wideshot.data.hdf5 import QUATERNION, RADIUS, SHAPE, SHAPE_PARAMETER
from wideshot.geometry import SHAPE_NAMES
from wideshot.physics import far_field, intensity_grid_units, log_intensity, scale_per_image
from wideshot.physics.conditions import DEFAULT_CONDITIONS, Conditions

#: Share of in-distribution images allowed above the threshold.
FLAG_QUANTILE = 0.99


def misfit_threshold(description: dict, *, refined: bool, override: float | None = None
                     ) -> float | None:
    """The misfit above which an answer is flagged.

    Parameters
    ----------
    description : dict
        From :func:`wideshot.training.load_model`; its ``quality`` (from a model card) holds
        ``{"max_misfit": {"network": ..., "refined": ...}}`` when calibrated.
    refined : bool
        Threshold for refined answers (else for the network's).
    override : float, optional
        A threshold given by the user; wins if given.

    Returns
    -------
    float or None
        None when neither an override nor a calibration exists (nothing is flagged).
    """
    if override is not None:
        if not np.isfinite(override) or not 0 <= override <= 1:
            raise ValueError(f"max_misfit must be in [0, 1], got {override!r}")
        return float(override)
    thresholds = description.get("quality", {}).get("max_misfit", {})
    value = thresholds.get("refined" if refined else "network")
    return None if value is None else float(value)


def _simulate_intensity(labels: dict, conditions: Conditions) -> np.ndarray:
    """Intensities (N, H, W) in grid units of sampled labels (each of its own family)."""
    shape = [SHAPE_NAMES[code] for code in labels[SHAPE]]
    amplitude = far_field(labels[RADIUS], labels[QUATERNION], shape=shape,
                          shape_parameter=labels[SHAPE_PARAMETER], material=conditions.material,
                          config=conditions.config)
    return intensity_grid_units(amplitude, conditions.config)


def _log_image(intensity: np.ndarray, conditions: Conditions) -> torch.Tensor:
    """SPEC image of grid-unit intensities (B, H, W): log(F + floor), min–max per image."""
    return torch.from_numpy(scale_per_image(log_intensity(intensity, conditions.config)))


def _with_defects(clean: torch.Tensor, seed: int, augment: str) -> dict:
    generator = torch.Generator().manual_seed(seed)
    images, valid = make_augmentation(augment).apply_with_mask(clean, generator)
    return {"images": images.numpy(), "valid": valid.numpy()}


def in_distribution_examples(n_images: int, seed: int, augment: str = "experiment",
                             conditions: Conditions = DEFAULT_CONDITIONS,
                             shapes=("icosahedron",)) -> dict:
    """Simulated particles of the families a model knows, with detector defects, as a
    calibration set (families in equal parts; their parameters uniform over their ranges).

    Returns
    -------
    dict
        ``images`` (N, 128, 128) float32, ``valid`` (N, 128, 128) bool, ``radius_nm`` (N,),
        ``quaternion`` (N, 4), ``shape`` (N,) family codes, ``shape_parameter`` (N,).
    """
    labels = sample_parameters(seed, np.arange(n_images), shapes=tuple(shapes),
                               radius_range_nm=conditions.radius_range_nm)
    clean = _log_image(_simulate_intensity(labels, conditions), conditions)
    return {**_with_defects(clean, seed, augment), **labels}


#: What no icosahedron explains: the other shape families, two particles at once, no particle.
OUT_OF_DISTRIBUTION = (*(name for name in SHAPE_NAMES if name != "icosahedron"),
                       "two-icosahedra", "no-particle")


def out_of_distribution_examples(kind: str, n_images: int, seed: int,
                                 augment: str = "experiment",
                                 conditions: Conditions = DEFAULT_CONDITIONS) -> dict:
    """Patterns that no single icosahedron explains, with detector defects.

    Parameters
    ----------
    kind : str
        One of :data:`OUT_OF_DISTRIBUTION`: a shape family other than the icosahedron
        (circumradius uniform over the conditions' range, parameter uniform over the family's),
        "two-icosahedra" (two random icosahedra in one shot, intensities added, the second
        0.2–1 times as bright) or "no-particle" (detector defects on an empty frame: photon
        noise on a flat background).
    n_images : int
    seed : int
    augment : str
        Augmentation chain of the detector defects.
    conditions : Conditions
        Physics and radius range of the simulations (the model's).

    Returns
    -------
    dict
        ``images`` (N, 128, 128) float32 and ``valid`` (N, 128, 128) bool.
    """
    if kind not in OUT_OF_DISTRIBUTION:
        raise ValueError(f"unknown kind {kind!r}; choose one of {list(OUT_OF_DISTRIBUTION)}")
    stream = OUT_OF_DISTRIBUTION.index(kind)
    size = conditions.config.grid_size
    if kind == "no-particle":
        rng = np.random.default_rng([seed, stream])
        clean = torch.from_numpy(rng.uniform(0.0, 0.05, (n_images, size, size)).astype(np.float32))
        clean[:, size // 2, size // 2] = 1.0  # one bright pixel sets the photon scale
    elif kind == "two-icosahedra":
        first, second = (sample_parameters(seed * 2 + part, np.arange(n_images),
                                           radius_range_nm=conditions.radius_range_nm)
                         for part in (0, 1))
        brightness = np.random.default_rng([seed, stream]).uniform(0.2, 1.0, n_images)
        clean = _log_image(_simulate_intensity(first, conditions)
                           + brightness[:, None, None]
                           * _simulate_intensity(second, conditions), conditions)
    else:
        labels = sample_parameters(seed, np.arange(n_images), shapes=(kind,),
                                   radius_range_nm=conditions.radius_range_nm)
        clean = _log_image(_simulate_intensity(labels, conditions), conditions)
    return _with_defects(clean, seed, augment)


def calibrate(misfit: np.ndarray, quantile: float = FLAG_QUANTILE) -> dict:
    """Threshold and summary of in-distribution misfits (N,)."""
    misfit = np.asarray(misfit, dtype=np.float64)
    return {"max_misfit": float(np.quantile(misfit, quantile)), "quantile": quantile,
            "n_images": len(misfit),
            "percentiles": {str(p): float(np.percentile(misfit, p)) for p in (50, 90, 99)}}
