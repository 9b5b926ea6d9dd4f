"""Figures of reconstructed particles: the paper's Figure 5 (measured pattern | the particle as seen
along the beam | its re-simulated pattern), one image per row.

Patterns are drawn by :func:`wideshot.evaluation.figures.draw_pattern`: k_x to the right, k_y
downwards (row i of the image grows down the page). The particle is drawn in the same frame — x to
the right, y downwards, so z = x × y points into the page — which puts facets and the streaks
they cause at matching angles in neighbouring panels.

Examples
--------
>>> import wideshot
>>> from wideshot.data.experimental import load_barke2015
>>> data = load_barke2015(["barke5"])
>>> quaternion = [1.0, 0.0, 0.0, 0.0]
>>> resimulated = wideshot.simulate(80.0, quaternion)[0]
>>> save_reconstruction_panel("barke5.png", data["images"][0], data["valid"][0], 80.0,
...                           quaternion, resimulated, title="barke5")  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.ticker import MultipleLocator

from wideshot.config import DEFAULT_CONFIG, SimulationConfig
from wideshot.evaluation.figures import draw_pattern
from wideshot.geometry import (
    icosahedron_faces,
    icosahedron_vertices,
    misorientation_deg,
    quaternion_to_matrix,
)

#: Half-width of the particle panels (nm): the largest training radius plus a margin, so that
#: sizes compare across panels and figures.
PARTICLE_EXTENT_NM = 170.0

#: Panels widen to this many circumradii when a particle would not fit the extent.
PARTICLE_MARGIN = 1.08

#: Colour of masked detector pixels (no information) in pattern panels.
MASKED_COLOUR = "0.62"

#: Direction towards the light for the Lambert shading, in the laboratory frame: from the viewer's
#: side (−z), above (−y, since y points down the page) and to the left (−x).
_LIGHT_DIRECTION = np.array([-0.45, -0.55, -1.0]) / np.linalg.norm([-0.45, -0.55, -1.0])

#: Brightness of a face turned away from the light, and of one facing it.
_AMBIENT, _DIFFUSE = 0.45, 0.55

#: Detector pixels kept around the valid region when pattern panels zoom onto it.
_ZOOM_MARGIN_PX = 2


def visible_faces(radius_nm: float, quaternion) -> tuple[np.ndarray, np.ndarray]:
    """The faces of the rotated icosahedron that face the viewer, who looks along the beam.

    Parameters
    ----------
    radius_nm : float
        Circumradius R, nm.
    quaternion : array, shape (4,)
        Orientation (w, x, y, z), scalar first, active (docs/conventions.md).

    Returns
    -------
    corners_nm : numpy.ndarray, shape (F, 3, 3)
        Laboratory coordinates (x, y, z) of the corners of each visible face, nm.
    normals : numpy.ndarray, shape (F, 3)
        Their unit outward normals, all with n_z < 0 (facing the source). Faces seen edge-on
        (n_z = 0, as four are in the reference orientation) are left out: they have no area.
    """
    rotation = quaternion_to_matrix(np.asarray(quaternion, dtype=np.float64))
    corners = (icosahedron_vertices(radius_nm) @ rotation.T)[icosahedron_faces()]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    facing = normals[:, 2] < -1e-9
    return corners[facing], normals[facing]


def draw_icosahedron(axes, radius_nm: float, quaternion, *, color="#b8bec9",
                     title: str | None = None, extent_nm: float = PARTICLE_EXTENT_NM
                     ) -> PolyCollection:
    """Draw the icosahedron of circumradius R in orientation q, seen along the beam.

    Orthographic projection onto the detector plane, in the frame of
    :func:`~wideshot.evaluation.figures.draw_pattern`: x to the right, **y downwards**, z (the beam)
    into the page. The viewer stands on the source side looking downstream and sees the faces
    whose outward normal has n_z < 0 — the faces the beam enters through. Seen from the
    detector, the particle would look like this drawing turned upside down (y → −y), with the
    opposite faces in view; the outline is the same.

    Parameters
    ----------
    axes : matplotlib.axes.Axes
    radius_nm : float
        Circumradius R, nm.
    quaternion : array, shape (4,)
        Orientation (w, x, y, z), scalar first, active (docs/conventions.md).
    color : matplotlib colour
        Colour of a face lit head-on; faces are shaded by a Lambert factor.
    title : str, optional
        Panel title.
    extent_nm : float
        The axes span ±extent_nm in x and y, so that sizes compare across panels.

    Returns
    -------
    matplotlib.collections.PolyCollection
        One triangle per visible face.
    """
    corners, normals = visible_faces(radius_nm, quaternion)
    lambert = np.clip(normals @ _LIGHT_DIRECTION, 0.0, None)
    shades = (_AMBIENT + _DIFFUSE * lambert)[:, None] * np.asarray(to_rgb(color))
    faces = PolyCollection(corners[:, :, :2], facecolors=np.clip(shades, 0.0, 1.0),
                           edgecolors="0.15", linewidths=0.7)
    axes.add_collection(faces)
    axes.set_aspect("equal")
    axes.set_xlim(-extent_nm, extent_nm)
    axes.set_ylim(extent_nm, -extent_nm)  # y downwards, as in draw_pattern
    axes.xaxis.set_major_locator(MultipleLocator(100.0))
    axes.yaxis.set_major_locator(MultipleLocator(100.0))
    axes.set_xlabel("x (nm)")
    axes.set_ylabel("y (nm)")
    if title:
        axes.set_title(title, fontsize=9)
    return faces


def _masked_pattern(axes, image: np.ndarray, valid: np.ndarray, title: str | None,
                    config: SimulationConfig) -> None:
    """A SPEC image with invalid pixels in :data:`MASKED_COLOUR`, zoomed onto the valid pixels."""
    # Masked pixels are transparent in imshow: the axes background shows through.
    axes.set_facecolor(MASKED_COLOUR)
    draw_pattern(axes, np.ma.masked_array(image, mask=~valid), title=title, config=config)
    rows, columns = np.nonzero(valid)
    if len(rows) == 0:
        return
    step = config.pixel_dk / config.wavenumber
    centre = config.grid_size // 2
    low = np.array([columns.min(), rows.min()]) - centre - 0.5 - _ZOOM_MARGIN_PX
    high = np.array([columns.max(), rows.max()]) - centre + 0.5 + _ZOOM_MARGIN_PX
    axes.set_xlim(low[0] * step, high[0] * step)
    axes.set_ylim(high[1] * step, low[1] * step)  # k_y downwards, as draw_pattern shows it


def _rescaled_on(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``image`` scaled to [0, 1] by its minimum and maximum over the valid pixels.

    Experimental images are scaled this way; a re-simulated image scaled over the whole grid is
    brought onto the same footing, and one already scaled so is left unchanged.
    """
    values = np.asarray(image, dtype=np.float64)
    if not valid.any():
        return values
    low, high = values[valid].min(), values[valid].max()
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _particle_caption(radius_nm: float, quaternion, truth) -> str:
    """"R = 83.1 nm", and with a truth (radius_nm, quaternion) its radius and the misorientation."""
    caption = f"R = {radius_nm:.1f} nm"
    if truth is not None:
        true_radius_nm, true_quaternion = truth
        angle = float(misorientation_deg(np.asarray(quaternion, dtype=np.float64),
                                         np.asarray(true_quaternion, dtype=np.float64)))
        caption += f"\ntruth R = {true_radius_nm:.1f} nm, misorientation {angle:.1f}°"
    return caption


def _draw_row(axes, image: np.ndarray, valid: np.ndarray, radius_nm: float, quaternion,
              resimulated: np.ndarray, *, title: str | None = None, truth=None,
              misfit: float | None = None, config: SimulationConfig, extent_nm: float) -> None:
    """Measured | particle | re-simulated on three axes; ``title`` starts the first panel title
    and ``misfit`` ends the last one (grids have no title per row)."""
    valid = np.asarray(valid, dtype=bool)
    measured_title = f"{title}: measured" if title else "measured"
    _masked_pattern(axes[0], np.asarray(image), valid, measured_title, config)
    # A particle larger than the usual extent is shown whole (sizes compare within a figure).
    draw_icosahedron(axes[1], float(radius_nm), quaternion,
                     extent_nm=max(extent_nm, PARTICLE_MARGIN * float(radius_nm)),
                     title=_particle_caption(float(radius_nm), quaternion, truth))
    resimulated_title = "re-simulated"
    if misfit is not None:
        resimulated_title += f", misfit {misfit:.4g}"
    _masked_pattern(axes[2], _rescaled_on(resimulated, valid), valid, resimulated_title, config)


def save_reconstruction_panel(path, image: np.ndarray, valid: np.ndarray, radius_nm: float,
                              quaternion, resimulated: np.ndarray, *, title: str | None = None,
                              truth: tuple[float, np.ndarray] | None = None,
                              misfit: float | None = None,
                              config: SimulationConfig = DEFAULT_CONFIG,
                              extent_nm: float = PARTICLE_EXTENT_NM) -> Path:
    """The paper's Figure 5 for one image: measured pattern | particle | re-simulated pattern.

    Parameters
    ----------
    path : str or Path
        Output image (.png, .pdf, .svg).
    image : numpy.ndarray, shape (H, W)
        Measured SPEC image, in [0, 1] over its valid pixels.
    valid : numpy.ndarray of bool, shape (H, W)
        Pixels that carry information; the others are drawn grey in both pattern panels.
    radius_nm : float
        Reconstructed circumradius R, nm.
    quaternion : array, shape (4,)
        Reconstructed orientation (w, x, y, z), scalar first, active.
    resimulated : numpy.ndarray, shape (H, W)
        SPEC image simulated from the reconstruction; drawn rescaled to [0, 1] over the valid
        pixels, as the measured image is (no change if it already is).
    title : str, optional
        Figure title.
    truth : (float, array (4,)), optional
        True radius (nm) and orientation, when known: the particle panel then also gives the true
        radius and the misorientation in degrees.
    misfit : float, optional
        Misfit of the re-simulated pattern, shown in the figure title.
    config : SimulationConfig
        Detector grid of the images.
    extent_nm : float
        Half-width of the particle panel, nm.

    Returns
    -------
    Path
        ``path``.
    """
    figure, axes = plt.subplots(1, 3, figsize=(11.4, 4.0), dpi=120)
    # Title and misfit go into the figure title, not the panel titles.
    _draw_row(axes, image, valid, radius_nm, quaternion, resimulated, truth=truth, config=config,
              extent_nm=extent_nm)
    heading = [text for text in (title, None if misfit is None else f"misfit {misfit:.4g}")
               if text]
    if heading:
        figure.suptitle(" — ".join(heading), fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return Path(path)


def save_reconstruction_grid(path, rows: list[dict], *, title: str | None = None,
                             config: SimulationConfig = DEFAULT_CONFIG,
                             extent_nm: float = PARTICLE_EXTENT_NM) -> Path:
    """Figure 5 for several images, one row each (see :func:`save_reconstruction_panel`).

    Parameters
    ----------
    path : str or Path
        Output image.
    rows : list of dict
        One per image, with the keys ``image``, ``valid``, ``radius_nm``, ``quaternion``,
        ``resimulated`` and optionally ``title`` (starts the row's first panel title), ``truth``
        and ``misfit`` (ends the row's last panel title), as in
        :func:`save_reconstruction_panel`.
    title : str, optional
        Figure title.
    config : SimulationConfig
        Detector grid of the images.
    extent_nm : float
        Half-width of the particle panels, nm.

    Returns
    -------
    Path
        ``path``.
    """
    figure, axes = plt.subplots(len(rows), 3, figsize=(11.4, 3.9 * len(rows)), dpi=120,
                                squeeze=False)
    extent_nm = max([extent_nm] + [PARTICLE_MARGIN * float(row["radius_nm"]) for row in rows])
    for row_axes, row in zip(axes, rows):
        _draw_row(row_axes, **row, config=config, extent_nm=extent_nm)
    title_inches = 0.0
    if title:
        figure.suptitle(title, fontsize=10)
        title_inches = 0.3
    figure.tight_layout(rect=(0, 0, 1, 1 - title_inches / figure.get_figheight()))
    figure.savefig(path)
    plt.close(figure)
    return Path(path)
