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

from wideshot.config import DEFAULT_CONFIG
from wideshot.data.augment import make_augmentation
from wideshot.data.generate import sample_parameters
from wideshot.geometry import random_quaternions, rotate_points
from wideshot.geometry.polyhedra import POLYHEDRA, convex_polyhedron
from wideshot.physics import (
    Absorption,
    KGridDetector,
    far_field,
    intensity_grid_units,
    log_intensity,
    scale_per_image,
    simulate,
)
from wideshot.physics.particle import polyhedron_amplitude

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


#: What no icosahedron explains: other shapes, two particles at once, no particle.
OUT_OF_DISTRIBUTION = (*POLYHEDRA, "two-icosahedra", "no-particle")


def _log_image(intensity: np.ndarray) -> torch.Tensor:
    """SPEC image of grid-unit intensities (B, H, W): log(F + floor), min–max per image."""
    return torch.from_numpy(scale_per_image(log_intensity(intensity)))


def _polyhedron_intensity(name: str, radius_nm: np.ndarray, quaternion: np.ndarray
                          ) -> np.ndarray:
    vertices, faces = convex_polyhedron(name)
    grid = KGridDetector()
    q = torch.as_tensor(grid.q[grid.illuminated])
    rotated = radius_nm[:, None, None] * rotate_points(quaternion, vertices)
    attenuation = Absorption(DEFAULT_CONFIG.attenuation_length_nm).attenuation(DEFAULT_CONFIG)
    amplitude = np.zeros((len(radius_nm),) + grid.illuminated.shape, dtype=np.complex128)
    with torch.no_grad():
        amplitude[:, grid.illuminated] = polyhedron_amplitude(
            torch.as_tensor(rotated), torch.as_tensor(faces), q, attenuation).numpy()
    return intensity_grid_units(amplitude)


def out_of_distribution_examples(kind: str, n_images: int, seed: int,
                                 augment: str = "experiment") -> dict:
    """Patterns that no single icosahedron explains, with detector defects.

    Parameters
    ----------
    kind : str
        One of :data:`OUT_OF_DISTRIBUTION`: a convex solid of
        :data:`~wideshot.geometry.polyhedra.POLYHEDRA` (circumradius uniform on 30–160 nm),
        "two-icosahedra" (two random icosahedra in one shot, intensities added, the second
        0.2–1 times as bright) or "no-particle" (detector defects on an empty frame: photon
        noise on a flat background).
    n_images : int
    seed : int
    augment : str
        Augmentation chain of the detector defects.

    Returns
    -------
    dict
        ``images`` (N, 128, 128) float32 and ``valid`` (N, 128, 128) bool.
    """
    if kind not in OUT_OF_DISTRIBUTION:
        raise ValueError(f"unknown kind {kind!r}; choose one of {list(OUT_OF_DISTRIBUTION)}")
    rng = np.random.default_rng([seed, OUT_OF_DISTRIBUTION.index(kind)])
    radius_nm = rng.uniform(30.0, 160.0, n_images)
    quaternion = random_quaternions(n_images, rng)
    size = DEFAULT_CONFIG.grid_size
    if kind == "no-particle":
        clean = torch.from_numpy(rng.uniform(0.0, 0.05, (n_images, size, size)).astype(np.float32))
        clean[:, size // 2, size // 2] = 1.0  # one bright pixel sets the photon scale
    elif kind == "two-icosahedra":
        first = np.abs(far_field(radius_nm, quaternion)) ** 2
        second = np.abs(far_field(rng.uniform(30.0, 160.0, n_images),
                                  random_quaternions(n_images, rng))) ** 2
        brightness = rng.uniform(0.2, 1.0, n_images)[:, None, None]
        scale = DEFAULT_CONFIG.reference_voxel_volume_nm3**2
        clean = _log_image((first + brightness * second) / scale)
    else:
        clean = _log_image(_polyhedron_intensity(kind, radius_nm, quaternion))
    generator = torch.Generator().manual_seed(seed)
    images, valid = make_augmentation(augment).apply_with_mask(clean, generator)
    return {"images": images.numpy(), "valid": valid.numpy()}


def calibrate(misfit: np.ndarray, quantile: float = FLAG_QUANTILE) -> dict:
    """Threshold and summary of in-distribution misfits (N,)."""
    misfit = np.asarray(misfit, dtype=np.float64)
    return {"max_misfit": float(np.quantile(misfit, quantile)), "quantile": quantile,
            "n_images": len(misfit),
            "percentiles": {str(p): float(np.percentile(misfit, p)) for p in (50, 90, 99)}}
