"""How well a simulated pattern explains a measured one: 1 − ρ₊² over the valid pixels.

SPEC images are log-intensities scaled per image by their own minimum and maximum, and real
images carry an unknown gain and offset on top; both act on the log-intensity as an affine map
a·I + b. The misfit is therefore taken after the best such map (a ≥ 0): the fraction of the
measured image's variance that the simulation leaves unexplained. With ρ the Pearson correlation
over the valid pixels, that is 1 − ρ² for ρ > 0 and 1 otherwise (an anti-correlated simulation
explains nothing). It is 0 for a perfect match, 1 for no match, and does not depend on how
either image was scaled — so the simulation never needs SPEC's min–max step.
"""
from __future__ import annotations

import numpy as np


def pattern_misfit(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Unexplained variance fraction of an observed pattern under affine-scaled simulations.

    Parameters
    ----------
    observed : ndarray (P,) or (M, P)
        Valid pixels of the measured log-intensity image (any affine scaling), broadcast
        against ``simulated``.
    simulated : ndarray (M, P)
        The same pixels of M simulated log-intensity images.

    Returns
    -------
    ndarray (M,) float64 in [0, 1]
        1 − max(ρ, 0)², ρ the Pearson correlation of each simulation with the observation;
        1 where either image is constant on the pixels.

    Examples
    --------
    >>> observed = np.array([0.0, 1.0, 2.0, 4.0])
    >>> pattern_misfit(observed, np.stack([3 * observed + 1, -observed]))
    array([0., 1.])
    """
    observed = np.asarray(observed, dtype=np.float64)
    simulated = np.asarray(simulated, dtype=np.float64)
    observed_dev = observed - observed.mean(axis=-1, keepdims=True)
    simulated_dev = simulated - simulated.mean(axis=-1, keepdims=True)
    covariance = np.sum(observed_dev * simulated_dev, axis=-1)
    norms = np.sqrt(np.sum(observed_dev**2, axis=-1) * np.sum(simulated_dev**2, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(norms > 0, covariance / norms, 0.0)
    return 1.0 - np.clip(correlation, 0.0, 1.0) ** 2
