"""Beam offset and detector blur of a log image: estimated, undone, and allowed for in the fit."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, shift

import wideshot
from wideshot.fitting import refine_guess
from wideshot.fitting.misfit import SMOOTHING_PX
from wideshot.fitting.nuisance import ImageNuisance, aligned, estimate_nuisance
from wideshot.fitting.objective import PatternObjective
from wideshot.geometry import misorientation_deg

from fitting_particle import TRUE_QUATERNION, TRUE_RADIUS_NM, central_disc

#: The detector's offset (rows, columns; px) and blur (σ, px) of the measured pattern.
OFFSET_PX, BLUR_PX = (1.5, -1.0), 1.5


@pytest.fixture(scope="module")
def pattern():
    return wideshot.simulate(TRUE_RADIUS_NM, TRUE_QUATERNION)[0].astype(np.float64)


@pytest.fixture(scope="module")
def measured(pattern):
    """The pattern as a detector records it: moved by the beam, blurred by the detector."""
    return gaussian_filter(shift(pattern, OFFSET_PX, order=1, mode="nearest"), BLUR_PX,
                           mode="nearest")


def test_aligned_moves_the_image_back_and_drops_pixels_from_outside():
    image = np.zeros((8, 8))
    image[3, 4] = 1.0
    valid = np.ones((8, 8), bool)
    valid[5, 5] = False
    moved, kept = aligned(image, valid, ImageNuisance(row_shift_px=1.0, column_shift_px=2.0))
    assert moved[2, 2] == 1.0 and moved.sum() == 1.0  # out[i, j] = in[i + 1, j + 2]
    assert not kept[4, 3]  # its source, (5, 5), is not data
    assert not kept[7].any() and not kept[:, 6:].any()  # sources outside the frame
    unchanged, same = aligned(image, valid, ImageNuisance(blur_px=2.0))
    assert np.array_equal(unchanged, image) and np.array_equal(same, valid)


def test_estimate_finds_the_offset_and_blur_of_a_measured_pattern(pattern, measured):
    objective = PatternObjective(measured, np.ones((128, 128), bool), TRUE_QUATERNION[None])
    detector_image = objective.detector_image(TRUE_RADIUS_NM, TRUE_QUATERNION)
    found, misfit = estimate_nuisance(measured, objective.measured_valid, detector_image,
                                      objective.grid.illuminated, SMOOTHING_PX)
    # Within 0.5 px: the blur of the frame mixes the dark outside of the detector's disc into
    # its edge, which the comparison (smoothing over valid pixels only) does not.
    assert abs(found.row_shift_px - OFFSET_PX[0]) <= 0.5
    assert abs(found.column_shift_px - OFFSET_PX[1]) <= 0.5
    assert abs(found.blur_px - BLUR_PX) <= 0.5
    plain = objective.misfit(np.array([TRUE_RADIUS_NM]), TRUE_QUATERNION[None])[0]
    assert misfit < plain / 5
    clean = PatternObjective(pattern, np.ones((128, 128), bool), TRUE_QUATERNION[None])
    none, _ = estimate_nuisance(pattern, clean.measured_valid, detector_image,
                                clean.grid.illuminated, SMOOTHING_PX)
    assert none.is_identity


def test_the_objective_with_the_nuisance_puts_its_minimum_at_the_true_radius(measured):
    nuisance = ImageNuisance(*OFFSET_PX, BLUR_PX)
    radii = TRUE_RADIUS_NM + np.arange(-6.0, 6.5, 1.0)
    quaternions = np.repeat(TRUE_QUATERNION[None], len(radii), axis=0)
    allowed, plain = (PatternObjective(measured, np.ones((128, 128), bool),
                                       TRUE_QUATERNION[None], nuisance=chosen
                                       ).misfit(radii, quaternions)
                      for chosen in (nuisance, None))
    assert radii[np.argmin(allowed)] == TRUE_RADIUS_NM
    assert allowed.min() < plain[np.argmin(allowed)] / 5


def test_refinement_allows_for_the_offset_and_blur(measured):
    valid = central_disc(40)
    start = dict(radius_nm=TRUE_RADIUS_NM + 3.0, quaternion=TRUE_QUATERNION, tolerance=0.01)
    found = refine_guess(measured, valid, **start)
    assert found.nuisance is not None and not found.nuisance.is_identity
    plain = refine_guess(measured, valid, fit_nuisance=False, **start)
    assert plain.nuisance is None and found.misfit < plain.misfit / 3
    assert abs(found.radius_nm - TRUE_RADIUS_NM) < 0.3
    assert misorientation_deg(found.quaternion, TRUE_QUATERNION) < 1.0
