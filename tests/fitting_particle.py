"""The particle the fitting tests fit (a 45 nm icosahedron in a general orientation) and the
central discs of the detector they fit it on (fewer pixels, faster fits)."""
from __future__ import annotations

import numpy as np

from wideshot.geometry import canonical

TRUE_RADIUS_NM = 45.0
TRUE_QUATERNION = canonical(np.array([0.923, 0.103, 0.205, 0.308]) / np.linalg.norm(
    [0.923, 0.103, 0.205, 0.308]))


def central_disc(radius_px: int) -> np.ndarray:
    """(128, 128) bool: pixels within radius_px of the zero-angle pixel."""
    rows, cols = np.mgrid[:128, :128]
    return (rows - 64) ** 2 + (cols - 64) ** 2 <= radius_px**2
