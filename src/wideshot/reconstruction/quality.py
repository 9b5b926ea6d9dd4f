"""When to distrust an answer: the misfit threshold and how it is calibrated.

An answer is re-simulated and compared with its image (:func:`wideshot.fitting.pattern_misfit`,
the unexplained variance fraction). Images of icosahedra with the defects of real detectors
leave some misfit even for a good answer; an image that no icosahedron explains (another
shape, two particles, only noise) leaves more. The threshold is the 99th percentile of the
misfit over simulated icosahedra with the "experiment" augmentation chain, measured for the
network's answers and for refined ones: at most ~1 % of in-distribution images are flagged.
It is stored in the model card (``quality``), because it depends on the network's accuracy.
"""
from __future__ import annotations

import numpy as np
import torch

from wideshot.data.augment import make_augmentation
from wideshot.data.generate import sample_parameters
from wideshot.physics import simulate

#: Share of in-distribution images allowed above the threshold.
FLAG_QUANTILE = 0.99

#: Keys of the card's ``quality["max_misfit"]``.
ANSWER_KINDS = ("network", "refined")


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


def in_distribution_examples(n_images: int, seed: int, augment: str = "experiment"
                             ) -> dict:
    """Simulated icosahedra with detector defects, as a calibration set.

    Returns
    -------
    dict
        ``images`` (N, 128, 128) float32, ``valid`` (N, 128, 128) bool, ``radius_nm`` (N,),
        ``quaternion`` (N, 4).
    """
    radius_nm, quaternion = sample_parameters(seed, np.arange(n_images))
    clean = torch.from_numpy(simulate(radius_nm, quaternion))
    generator = torch.Generator().manual_seed(seed)
    images, valid = make_augmentation(augment).apply_with_mask(clean, generator)
    return {"images": images.numpy(), "valid": valid.numpy(), "radius_nm": radius_nm,
            "quaternion": quaternion}


def calibrate(misfit: np.ndarray, quantile: float = FLAG_QUANTILE) -> dict:
    """Threshold and summary of in-distribution misfits (N,)."""
    misfit = np.asarray(misfit, dtype=np.float64)
    return {"max_misfit": float(np.quantile(misfit, quantile)), "quantile": quantile,
            "n_images": len(misfit),
            "percentiles": {str(p): float(np.percentile(misfit, p)) for p in (50, 90, 99)}}
