"""Beam pointing and detector blur of a log image: nuisances of its fit, estimated and undone.

A measured pattern sits where the beam put it — its centre a pixel or two off the detector's —
and is blurred by the detector's point spread; a simulation is neither. Left out of the model,
both pull the fit to the wrong answer: they wash out the fringes, and a larger particle, whose
finer fringes the comparison's own smoothing washes out as well, then explains the image better
(through the experiment chain an 86 nm sphere's misfit falls monotonically towards 120 nm).

:func:`estimate_nuisance` finds the offset and the extra blur that best match one answer's
simulation to the image; a :class:`~wideshot.fitting.objective.PatternObjective` given an
:class:`ImageNuisance` compares the image moved back by the offset with simulations blurred by
the extra width. Both are searched on grids (:data:`SHIFT_SEARCH_PX`, :data:`BLUR_GRID_PX`),
one nuisance at a time, at the cost of one simulation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import shift

from wideshot.fitting.misfit import pattern_misfit, smooth_on_mask

#: Beam offsets searched (px, each axis): half width and step of the coarse grid, then half
#: width and step of the fine grid around its best point.
SHIFT_SEARCH_PX = ((3.0, 0.5), (0.5, 0.125))
#: Extra Gaussian blur widths σ (px) searched.
BLUR_GRID_PX = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
#: Fewest pixels the moved-back image must keep for a nuisance to be considered.
MIN_ALIGNED_PIXELS = 16


@dataclass(frozen=True)
class ImageNuisance:
    """How a measured log image differs from a simulation apart from the particle.

    Attributes
    ----------
    row_shift_px, column_shift_px : float
        Offset of the pattern on the detector (px): the measured pattern at pixel (i, j) is the
        simulation's at (i − row, j − column), as :class:`~wideshot.data.augment.Shift` draws
        it (positive: towards larger row / column indices).
    blur_px : float
        Gaussian σ (px) of the detector's blur, on top of the comparison's own smoothing.
    """

    row_shift_px: float = 0.0
    column_shift_px: float = 0.0
    blur_px: float = 0.0

    @property
    def is_identity(self) -> bool:
        """No offset and no blur: the image is compared as it is."""
        return self.row_shift_px == 0 and self.column_shift_px == 0 and self.blur_px == 0


def aligned(image: np.ndarray, valid: np.ndarray, nuisance: ImageNuisance
            ) -> tuple[np.ndarray, np.ndarray]:
    """The image moved back by the nuisance's offset, and where it is still data.

    Parameters
    ----------
    image : ndarray (H, W)
    valid : ndarray (H, W) bool
    nuisance : ImageNuisance

    Returns
    -------
    image : ndarray (H, W) float64
        ``out[i, j] = image[i + row, j + column]``, bilinear (0 where not valid).
    valid : ndarray (H, W) bool
        Pixels whose four source pixels are all valid and inside the frame.
    """
    image = np.asarray(image, dtype=np.float64)
    if nuisance.row_shift_px == 0 and nuisance.column_shift_px == 0:
        return image, np.asarray(valid, dtype=bool)
    offset = (-nuisance.row_shift_px, -nuisance.column_shift_px)
    weights = np.asarray(valid, dtype=np.float64)
    moved = shift(image * weights, offset, order=1, mode="constant", cval=0.0)
    kept = shift(weights, offset, order=1, mode="constant", cval=0.0) > 1 - 1e-9
    return np.where(kept, moved, 0.0), kept


def simulation_smoothing_px(smoothing_px: float, nuisance: ImageNuisance | None) -> float:
    """Gaussian σ (px) applied to a simulation: the comparison's smoothing and the nuisance's
    blur, added in quadrature."""
    blur = 0.0 if nuisance is None else nuisance.blur_px
    return math.hypot(smoothing_px, blur)


def nuisance_misfit(image: np.ndarray, valid: np.ndarray, simulated: np.ndarray,
                    simulated_pixels: np.ndarray, nuisance: ImageNuisance,
                    smoothing_px: float) -> float:
    """Misfit of one simulated image to a measured one under a nuisance.

    Parameters
    ----------
    image : ndarray (H, W)
        Measured log-intensity image.
    valid : ndarray (H, W) bool
        Its pixels to compare (clipped ones already left out).
    simulated : ndarray (H, W)
        Simulated log intensity.
    simulated_pixels : ndarray (H, W) bool
        Where ``simulated`` is meaningful (the illuminated detector).
    nuisance : ImageNuisance
    smoothing_px : float
        The comparison's smoothing (:data:`~wideshot.fitting.misfit.SMOOTHING_PX`).

    Returns
    -------
    float
        :func:`~wideshot.fitting.misfit.pattern_misfit` on the moved-back image's valid pixels
        (1 with fewer than :data:`MIN_ALIGNED_PIXELS`).
    """
    moved, kept = aligned(image, valid, nuisance)
    kept &= simulated_pixels
    if kept.sum() < MIN_ALIGNED_PIXELS:
        return 1.0
    observed = smooth_on_mask(moved[None], kept, smoothing_px)[0][kept]
    answer = smooth_on_mask(np.asarray(simulated, dtype=np.float64)[None], kept,
                            simulation_smoothing_px(smoothing_px, nuisance))[0][kept]
    return float(pattern_misfit(observed, answer[None])[0])


def estimate_nuisance(image: np.ndarray, valid: np.ndarray, simulated: np.ndarray,
                      simulated_pixels: np.ndarray, smoothing_px: float
                      ) -> tuple[ImageNuisance, float]:
    """The beam offset and extra blur that best match a simulation to a measured image.

    A coordinate search: the offset on the coarse grid of :data:`SHIFT_SEARCH_PX` (no blur),
    the blur on :data:`BLUR_GRID_PX` at that offset, the offset on the fine grid at that blur.

    Parameters
    ----------
    image, valid, simulated, simulated_pixels, smoothing_px
        As in :func:`nuisance_misfit` (simulate the whole illuminated detector: an offset
        brings pixels into view that the image alone would not compare).

    Returns
    -------
    nuisance : ImageNuisance
        The best one searched (the identity if nothing beats it).
    misfit : float
        Its misfit.
    """
    def score(nuisance: ImageNuisance) -> float:
        return nuisance_misfit(image, valid, simulated, simulated_pixels, nuisance,
                               smoothing_px)

    def shift_grid(center: ImageNuisance, half_width: float, step: float) -> list:
        offsets = np.arange(-half_width, half_width + step / 2, step)
        return [ImageNuisance(center.row_shift_px + row, center.column_shift_px + column,
                              center.blur_px) for row in offsets for column in offsets]

    best = ImageNuisance()
    best_misfit = score(best)

    def search(trials: list) -> None:
        nonlocal best, best_misfit
        for trial in trials:
            value = score(trial)
            if value < best_misfit:
                best, best_misfit = trial, value

    (coarse_half, coarse_step), (fine_half, fine_step) = SHIFT_SEARCH_PX
    search(shift_grid(best, coarse_half, coarse_step))
    search([ImageNuisance(best.row_shift_px, best.column_shift_px, blur)
            for blur in BLUR_GRID_PX])
    search(shift_grid(best, fine_half, fine_step))
    return best, best_misfit
