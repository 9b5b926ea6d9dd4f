"""Error bars of a fitted particle: what is reported and how to read it.

The covariance C of an answer in the search coordinates (R nm, rotation vector in degrees about
the answer[, shape parameter]) comes from the Fisher information of the counts at the answer
(:mod:`~wideshot.fitting.scoring`, Cramér–Rao). A model that explains the data worse than their
noise allows (dispersion φ > 1, :func:`~wideshot.fitting.likelihood.goodness_of_fit`) widens C
by φ, the usual quasi-likelihood correction. Reported:

* ``radius_nm_sigma``, ``shape_parameter_sigma``: 1σ of R and of the parameter (68 % of true
  values within ±1σ, 95 % within ±2σ for a calibrated fit);
* ``orientation_sigma_deg``: the per-axis 1σ of the rotation error, √(tr C_rot / 3). The angle
  of a three-dimensional error of per-axis σ is Maxwell-distributed: 68 % of true orientations
  lie within 1.88σ of the answer, 95 % within 2.80σ (:data:`ORIENTATION_QUANTILES`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from wideshot.geometry.shapes import ShapeFamily

#: Misorientation within which 68.3 % and 95.4 % of true orientations lie, in units of the
#: per-axis σ (√ of the χ² quantiles with 3 degrees of freedom).
ORIENTATION_QUANTILES = {0.683: float(np.sqrt(chi2.ppf(0.683, 3))),
                         0.954: float(np.sqrt(chi2.ppf(0.954, 3)))}

@dataclass(frozen=True)
class ParameterErrors:
    """1σ errors of a fitted particle.

    Attributes
    ----------
    radius_nm_sigma : float
    orientation_sigma_deg : float
        Per-axis 1σ of the rotation (NaN for a family without orientation).
    shape_parameter_sigma : float
        NaN for a family without a parameter.
    covariance : ndarray (n, n)
        Of the free coordinates (:func:`free_coordinates`).
    well_determined : bool
        The information was positive in every direction.
    """

    radius_nm_sigma: float
    orientation_sigma_deg: float
    shape_parameter_sigma: float
    covariance: np.ndarray
    well_determined: bool

    def widened(self, dispersion: float) -> ParameterErrors:
        """The errors widened by a dispersion φ > 1 (σ × √φ); unchanged for φ ≤ 1."""
        factor = max(float(dispersion), 1.0)
        return ParameterErrors(self.radius_nm_sigma * np.sqrt(factor),
                               self.orientation_sigma_deg * np.sqrt(factor),
                               self.shape_parameter_sigma * np.sqrt(factor),
                               self.covariance * factor, self.well_determined)


def free_coordinates(family: ShapeFamily) -> np.ndarray:
    """Indices of the search coordinates (R, rotation vector[, parameter]) that move a
    family's pattern: R, the rotation (not for a sphere), the parameter (if it has one)."""
    free = [0]
    if family.has_orientation:
        free += [1, 2, 3]
    if family.has_parameter:
        free.append(4)
    return np.array(free)


def fitted_parameters(family: ShapeFamily) -> int:
    """Parameters fitted to a frame's counts: the particle's free coordinates, the scale and
    the background (what the goodness of fit discounts)."""
    return len(free_coordinates(family)) + 2
