"""How well a simulated pattern explains a measured one: 1 − ρ₊² over the valid pixels.

SPEC images are log-intensities scaled per image by their own minimum and maximum, and real
images carry an unknown gain and offset on top; both act on the log-intensity as an affine map
a·I + b. The misfit is therefore taken after the best such map (a ≥ 0): the fraction of the
measured image's variance that the simulation leaves unexplained. With ρ the Pearson correlation
over the valid pixels, that is 1 − ρ² for ρ > 0 and 1 otherwise (an anti-correlated simulation
explains nothing). It is 0 for a perfect match, 1 for no match, and does not depend on how
either image was scaled — so the simulation never needs SPEC's min–max step.

Both images are first smoothed alike over the valid pixels (:func:`smooth_on_mask`, a Gaussian
of :data:`SMOOTHING_PX`): photon noise, which no particle explains, would otherwise dominate the
misfit of a real frame and hide the difference between a right and a wrong shape.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

#: Gaussian σ (pixels) of the smoothing before images are compared.
SMOOTHING_PX = 1.0


#: Values within this of a frame's lowest or highest valid value count as clipped.
CLIP_TOLERANCE = 1e-6


def uncensored_pixels(images: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Valid pixels whose value is not clipped at the frame's floor or saturation level.

    A pixel at the lowest (below a detector's threshold, log floor) or highest (saturated)
    value of its frame only says "at most" or "at least": no affine map makes a simulation
    match it, so it is left out of the comparison.

    Parameters
    ----------
    images : ndarray (B, H, W)
    valid : ndarray (B, H, W) bool

    Returns
    -------
    ndarray (B, H, W) bool
    """
    images = np.asarray(images, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    masked_low = np.where(valid, images, np.inf).min(axis=(-2, -1), keepdims=True)
    masked_high = np.where(valid, images, -np.inf).max(axis=(-2, -1), keepdims=True)
    return (valid & (images > masked_low + CLIP_TOLERANCE)
            & (images < masked_high - CLIP_TOLERANCE))


def smooth_on_mask(images: np.ndarray, valid: np.ndarray, sigma_px: float = SMOOTHING_PX
                   ) -> np.ndarray:
    """Gaussian smoothing that uses valid pixels only (normalised convolution).

    Parameters
    ----------
    images : ndarray (M, H, W)
        Values at invalid pixels are ignored.
    valid : ndarray (H, W) bool
        Pixels that carry data.
    sigma_px : float
        Standard deviation in pixels; 0 returns the images unchanged.

    Returns
    -------
    ndarray (M, H, W) float64
        Σ G·(I·m) / Σ G·m at each pixel (meaningful at valid pixels).
    """
    images = np.asarray(images, dtype=np.float64)
    if sigma_px == 0:
        return images
    weights = np.asarray(valid, dtype=np.float64)
    sigma = (0.0, sigma_px, sigma_px)
    smoothed = gaussian_filter(images * weights, sigma, mode="constant")
    norm = gaussian_filter(weights[None], sigma, mode="constant")
    return smoothed / np.maximum(norm, 1e-12)


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
