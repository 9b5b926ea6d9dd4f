"""Experimental diffraction images shipped with wideshot, as SPEC images with a detector mask.

The eight images of Barke et al. 2015 (Nature Communications 6, 6187; CC-BY 4.0), digitised and
put on the default detector grid by Stielow & Scheel, are in ``wideshot/data/barke2015`` (see the
README there for provenance). barke5 and barke6 are icosahedra: the cases of Figure 5 of
Stielow et al. 2020.

Examples
--------
>>> data = load_barke2015(BARKE2015_ICOSAHEDRA)
>>> data["images"].shape, data["shape"]
((2, 128, 128), ['Icosahedron', 'Icosahedron'])
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from importlib import resources
from pathlib import PurePosixPath

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.spatial import ConvexHull

from wideshot.config import DEFAULT_CONFIG

#: The icosahedra among the Barke et al. 2015 images (Figure 5 of Stielow et al. 2020).
BARKE2015_ICOSAHEDRA = ("barke5", "barke6")

#: The shape family (docs/conventions.md "Shape families") of each polyhedron named in
#: labels.csv.
BARKE2015_FAMILIES = {
    "Icosahedron": "icosahedron",
    "Decahedron": "decahedron",
    "Truncated Octahedron": "octahedral",
    "Truncated Twinned Tetrahedron": "twinned-tetrahedron",
}

BARKE2015_CITATION = (
    "I. Barke et al., \"The 3D-architecture of individual free silver nanoparticles captured by "
    "X-ray scattering\", Nature Communications 6, 6187 (2015), doi:10.1038/ncomms7187, CC-BY 4.0; "
    "digitised and rescaled to the 128 x 128 detector grid by T. Stielow and S. Scheel "
    "(github.com/thstielow/scatter-2D3D-nn)."
)

#: Breakpoints (v, u) of the piecewise-linear inversion of the published figures' colour map
#: (README of the data: slopes 0.38/0.30, 0.25/0.40 and (1 − 0.7425)/0.12 between them).
#: Below the first and above the last breakpoint u is clamped to 0 and 1.
BARKE2015_COLOUR_BREAKPOINTS = ((0.0, 0.0), (0.30, 0.38), (0.88, 0.7425), (1.0, 1.0))

#: The central hole of the detector, in the digitised frame (row, column) before the flip: a disc
#: around the centroid of the dark spot that all eight images share. Radius 3 px takes in its
#: anti-aliased rim as well. After the flip it is centred at (64.1, 63.3).
_HOLE_CENTRE_PX = (62.9, 63.7)
_HOLE_RADIUS_PX = 3.0

#: Detector area: 8-bit level (after a 3 × 3 median) that counts as signal, and the smallest
#: connected piece of signal kept (smaller ones are digitisation specks).
_SIGNAL_LEVEL = 2
_SIGNAL_MIN_PIXELS = 9

_PACKAGE_FOLDER = "barke2015"


def undo_barke2015_colour_map(values: np.ndarray) -> np.ndarray:
    """Log-intensity u in [0, 1] from the published figures' colour scale v = pixel / 255.

    Parameters
    ----------
    values : numpy.ndarray, any shape
        v, the 8-bit pixel value divided by 255.

    Returns
    -------
    numpy.ndarray of float64, same shape
        u, piecewise linear in v through :data:`BARKE2015_COLOUR_BREAKPOINTS`, clamped to
        [0, 1] outside them.
    """
    v_points, u_points = zip(*BARKE2015_COLOUR_BREAKPOINTS)
    return np.interp(np.asarray(values, dtype=np.float64), v_points, u_points)


def _detector_mask(pixels: np.ndarray) -> np.ndarray:
    """Pixels of one digitised 8-bit image (H, W) that carry information, in the digitised frame.

    Outside the detector the digitised images hold noise of 0–3 (and a dashed frame of 1–3 and a
    few isolated specks); inside, the dark troughs between streaks hold noisy low values, many of
    them exactly 0 — dark signal, not mask. The detector area (a rectangle cut by the rim of the
    round detector; its shape differs from image to image) is therefore the convex hull of the
    signal: the 3 × 3 median of the pixel values at or above :data:`_SIGNAL_LEVEL`, in connected
    pieces of at least :data:`_SIGNAL_MIN_PIXELS` pixels. The central hole is a fixed disc.
    """
    signal = ndimage.median_filter(pixels, size=3) >= _SIGNAL_LEVEL
    pieces, count = ndimage.label(signal)
    sizes = ndimage.sum_labels(signal, pieces, index=np.arange(1, count + 1))
    signal = np.isin(pieces, 1 + np.flatnonzero(sizes >= _SIGNAL_MIN_PIXELS))
    rows, columns = np.indices(pixels.shape)
    centres = np.stack([rows.ravel(), columns.ravel()], axis=1).astype(np.float64)
    hull = ConvexHull(centres[signal.ravel()])
    # Facet equations: normal · p + offset <= 0 inside; the margin keeps pixels on the hull.
    inside = np.all(centres @ hull.equations[:, :2].T + hull.equations[:, 2] <= 1e-9, axis=1)
    inside = inside.reshape(pixels.shape)
    hole = ((rows - _HOLE_CENTRE_PX[0]) ** 2 + (columns - _HOLE_CENTRE_PX[1]) ** 2
            <= _HOLE_RADIUS_PX**2)
    return inside & ~hole


def _read_labels() -> dict[str, str]:
    """Image name (e.g. "barke5") → the shape Barke et al. identified, from labels.csv."""
    folder = resources.files("wideshot.data") / _PACKAGE_FOLDER
    with (folder / "labels.csv").open("r", newline="", encoding="utf-8") as handle:
        return {PurePosixPath(row["scatter"]).stem: row["polyhedron"]
                for row in csv.DictReader(handle)}


def load_barke2015(names: Sequence[str] | None = None) -> dict:
    """The experimental images of Barke et al. 2015 as SPEC images on the default detector grid.

    Each digitised PNG becomes v = pixel / 255, then u by :func:`undo_barke2015_colour_map`, then
    is flipped along both axes onto the SPEC grid orientation (README of the data: the digitised
    images are SPEC images rotated by 180°; the zero-angle pixel (63, 63) becomes (64, 64)).
    Invalid pixels are set to 0 and the valid ones scaled to [0, 1] by their minimum and maximum.

    Valid pixels are the digitised detector area — the convex hull of the pixels whose 3 × 3
    median is at least 2/255, in pieces of 9 pixels or more; zeros inside it are dark signal, not
    mask — minus the central hole, a disc of radius 3 px around the dark spot at (64.1, 63.3) in
    SPEC pixels. 23–26 % of the grid is valid.

    Parameters
    ----------
    names : sequence of str, optional
        Images to load, e.g. ``("barke5", "barke6")`` (:data:`BARKE2015_ICOSAHEDRA`); all eight
        (barke1 … barke8) if omitted.

    Returns
    -------
    dict
        ``"names"``: list of str (B); ``"images"``: float32 (B, 128, 128) in [0, 1];
        ``"valid"``: bool (B, 128, 128); ``"shape"``: list of str (B), the polyhedron Barke et al.
        identified (labels.csv, e.g. "Icosahedron"); ``"family"``: list of str (B), its shape
        family (:data:`BARKE2015_FAMILIES`); ``"citation"``: str, to be credited.

    Raises
    ------
    ValueError
        If a name is not one of the shipped images.
    """
    labels = _read_labels()
    names = list(labels) if names is None else list(names)
    unknown = [name for name in names if name not in labels]
    if unknown:
        raise ValueError(f"unknown Barke et al. 2015 image(s) {unknown}; "
                         f"available: {', '.join(labels)}")
    folder = resources.files("wideshot.data") / _PACKAGE_FOLDER
    images, valid = [], []
    for name in names:
        with (folder / f"{name}.png").open("rb") as handle:
            pixels = np.asarray(Image.open(handle).convert("L"))
        mask = np.flip(_detector_mask(pixels), axis=(-2, -1))
        image = np.flip(undo_barke2015_colour_map(pixels / 255.0), axis=(-2, -1))
        low, high = image[mask].min(), image[mask].max()
        images.append(np.where(mask, (image - low) / (high - low), 0.0))
        valid.append(mask)
    grid = (len(names), DEFAULT_CONFIG.grid_size, DEFAULT_CONFIG.grid_size)
    return {
        "names": names,
        "images": np.asarray(images, dtype=np.float32).reshape(grid),
        "valid": np.asarray(valid, dtype=bool).reshape(grid),
        "shape": [labels[name] for name in names],
        "family": [BARKE2015_FAMILIES[labels[name]] for name in names],
        "citation": BARKE2015_CITATION,
    }
