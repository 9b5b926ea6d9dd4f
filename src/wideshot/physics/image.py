"""From far-field amplitudes to SPEC images: grid-unit intensity, log, per-image min–max."""
from __future__ import annotations

import numpy as np

from wideshot.config import DEFAULT_CONFIG, SimulationConfig


def intensity_grid_units(amplitude: np.ndarray, config: SimulationConfig = DEFAULT_CONFIG) -> np.ndarray:
    """F = |A|²/v₀² (SPEC's "grid units"); amplitude in nm³, any shape."""
    return np.abs(amplitude) ** 2 / config.reference_voxel_volume_nm3**2


def log_intensity(intensity: np.ndarray, config: SimulationConfig = DEFAULT_CONFIG) -> np.ndarray:
    """log(F + floor) of grid-unit intensities F, any shape: a SPEC image before its scaling."""
    return np.log(intensity + config.intensity_floor)


def scale_per_image(log_intensity: np.ndarray) -> np.ndarray:
    """Scale each image (…, H, W) linearly to [0, 1] by its own minimum and maximum (float32).

    A constant image maps to all zeros.
    """
    low = log_intensity.min(axis=(-2, -1), keepdims=True)
    high = log_intensity.max(axis=(-2, -1), keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    return ((log_intensity - low) / span).astype(np.float32)


def spec_image(amplitude: np.ndarray, config: SimulationConfig = DEFAULT_CONFIG) -> np.ndarray:
    """SPEC image I = log(F + 100), scaled per image to [0, 1].

    Parameters
    ----------
    amplitude : ndarray (..., H, W) complex
        Far-field amplitude A in nm³.

    Returns
    -------
    ndarray (..., H, W) float32 in [0, 1]
    """
    return scale_per_image(log_intensity(intensity_grid_units(amplitude, config), config))
