"""Figures of diffraction patterns (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from wideshot.config import DEFAULT_CONFIG, SimulationConfig  # noqa: E402


def scattering_extent(config: SimulationConfig = DEFAULT_CONFIG) -> list[float]:
    """imshow extent [left, right, bottom, top] in k_perp/k for the default detector grid."""
    n = config.grid_size
    half = config.pixel_dk / config.wavenumber
    return [(-n // 2 - 0.5) * half, (n - n // 2 - 0.5) * half,
            (n - n // 2 - 0.5) * half, (-n // 2 - 0.5) * half]


def draw_pattern(axes, image: np.ndarray, title: str | None = None,
                 config: SimulationConfig = DEFAULT_CONFIG):
    """Draw one SPEC image (H, W) on matplotlib axes with k_perp/k axes; returns the image artist."""
    artist = axes.imshow(image, cmap="inferno", vmin=0.0, vmax=1.0, extent=scattering_extent(config))
    axes.set_xlabel(r"$k_x/k$")
    axes.set_ylabel(r"$k_y/k$")
    if title:
        axes.set_title(title, fontsize=9)
    return artist


def save_pattern_png(image: np.ndarray, path: Path, title: str | None = None) -> None:
    """Save one SPEC image as a PNG with axes and a colour bar."""
    figure, axes = plt.subplots(figsize=(5.2, 4.4), dpi=120)
    artist = draw_pattern(axes, image, title)
    figure.colorbar(artist, ax=axes, label="log-intensity, scaled to [0, 1]")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
