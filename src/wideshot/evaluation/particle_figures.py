"""Figures of reconstructed particles: the paper's Figure 5 (measured pattern | the particle as seen
along the beam | its re-simulated pattern), one image per row.

Patterns are drawn by :func:`wideshot.evaluation.figures.draw_pattern`: k_x to the right, k_y
downwards (row i of the image grows down the page). The particle is drawn in the same frame — x to
the right, y downwards, so z = x × y points into the page — which puts facets and the streaks
they cause at matching angles in neighbouring panels. The particle may belong to any shape family
(docs/conventions.md "Shape families"); the icosahedron of the paper is the default.

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

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.image import AxesImage
from matplotlib.patches import Circle
from matplotlib.ticker import MultipleLocator

from wideshot.config import DEFAULT_CONFIG, SimulationConfig
from wideshot.evaluation.figures import draw_pattern
from wideshot.geometry import (
    DEFAULT_SHAPE,
    ConvexPolyhedron,
    ShapeFamily,
    misorientation_deg,
    quaternion_to_matrix,
    shape_family,
)

#: Half-width of the particle panels (nm): the largest training radius plus a margin, so that
#: sizes compare across panels and figures.
PARTICLE_EXTENT_NM = 170.0

#: Panels widen to this many circumradii when a particle would not fit the extent.
PARTICLE_MARGIN = 1.08

#: Colour of a particle's surface lit head-on.
PARTICLE_COLOUR = "#b8bec9"

#: Colour of masked detector pixels (no information) in pattern panels.
MASKED_COLOUR = "0.62"

#: Direction towards the light for the Lambert shading, in the laboratory frame: from the viewer's
#: side (−z), above (−y, since y points down the page) and to the left (−x).
_LIGHT_DIRECTION = np.array([-0.45, -0.55, -1.0]) / np.linalg.norm([-0.45, -0.55, -1.0])

#: Brightness of a face turned away from the light, and of one facing it.
_AMBIENT, _DIFFUSE = 0.45, 0.55

#: Detector pixels kept around the valid region when pattern panels zoom onto it.
_ZOOM_MARGIN_PX = 2

#: Triangles whose unit normals differ by less than this (1 − cos of their angle) are one facet.
_COPLANAR = 1e-9

#: Pixels across the diameter of a drawn sphere.
_BALL_PIXELS = 240


def visible_faces(radius_nm: float, quaternion, shape: str = DEFAULT_SHAPE,
                  shape_parameter: float | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """The facets of a rotated polyhedral particle that face the viewer, who looks along the beam.

    Parameters
    ----------
    radius_nm : float
        Circumradius R, nm.
    quaternion : array, shape (4,)
        Orientation (w, x, y, z), scalar first, active (docs/conventions.md).
    shape : str
        Shape family (docs/conventions.md "Shape families"); any family but the sphere.
    shape_parameter : float, optional
        The family's parameter p; None (or NaN) draws a family that has one at the middle of its
        range (:meth:`~wideshot.geometry.ShapeFamily.default_parameter`).

    Returns
    -------
    corners_nm : list of F numpy.ndarray, each shape (K, 3)
        Laboratory coordinates (x, y, z) of the corners of each visible facet, nm: a convex
        polygon of K ≥ 3 corners (a hexagon of a truncated octahedron is one facet, not four
        triangles), counter-clockwise seen from outside.
    normals : numpy.ndarray, shape (F, 3)
        Their unit outward normals, all with n_z < 0 (facing the source). Facets seen edge-on
        (n_z = 0, as four of the icosahedron's are in the reference orientation) are left out:
        they have no area.

    Raises
    ------
    ValueError
        For the sphere, which has no facets (:func:`draw_particle` draws it as a disk), an
        unknown family or a parameter outside the family's range.
    """
    family, parameter = _family_and_parameter(shape, shape_parameter)
    solid = family.solid(parameter)
    if not isinstance(solid, ConvexPolyhedron):
        raise ValueError(f"shape: the {family.name} has no faces; draw_particle draws it as a "
                         "disk")
    rotation = quaternion_to_matrix(np.asarray(quaternion, dtype=np.float64))
    vertices = radius_nm * solid.vertices @ rotation.T
    polygons, normals = _facets(solid)
    normals = normals @ rotation.T
    facing = normals[:, 2] < -1e-9
    return ([vertices[polygon] for polygon, seen in zip(polygons, facing) if seen],
            normals[facing])


def draw_particle(axes, radius_nm: float, quaternion, *, shape: str = DEFAULT_SHAPE,
                  shape_parameter: float | None = None, color=PARTICLE_COLOUR,
                  title: str | None = None, extent_nm: float = PARTICLE_EXTENT_NM) -> Artist:
    """Draw a particle of circumradius R in orientation q, seen along the beam.

    Orthographic projection onto the detector plane, in the frame of
    :func:`~wideshot.evaluation.figures.draw_pattern`: x to the right, **y downwards**, z (the beam)
    into the page. The viewer stands on the source side looking downstream and sees the facets
    whose outward normal has n_z < 0 — the facets the beam enters through (:func:`visible_faces`).
    Seen from the detector, the particle would look like this drawing turned upside down
    (y → −y), with the opposite facets in view; the outline is the same. The sphere, which has
    neither facets nor orientation, is a disk of radius R shaded as a ball by the same light.

    Parameters
    ----------
    axes : matplotlib.axes.Axes
    radius_nm : float
        Circumradius R, nm.
    quaternion : array, shape (4,)
        Orientation (w, x, y, z), scalar first, active (docs/conventions.md); ignored for the
        sphere.
    shape : str
        Shape family (docs/conventions.md "Shape families").
    shape_parameter : float, optional
        The family's parameter p; None (or NaN) draws a family that has one at the middle of its
        range.
    color : matplotlib colour
        Colour of a surface lit head-on; surfaces are shaded by a Lambert factor.
    title : str, optional
        Panel title.
    extent_nm : float
        The axes span ±extent_nm in x and y, so that sizes compare across panels.

    Returns
    -------
    matplotlib.artist.Artist
        The visible facets (a PolyCollection, one polygon per facet), or for the sphere the
        image of the shaded disk.

    Raises
    ------
    ValueError
        For an unknown family or a parameter outside the family's range.
    """
    family, parameter = _family_and_parameter(shape, shape_parameter)
    if isinstance(family.solid(parameter), ConvexPolyhedron):
        corners, normals = visible_faces(radius_nm, quaternion, family.name, parameter)
        faces = PolyCollection([polygon[:, :2] for polygon in corners],
                               facecolors=_shaded(normals, color), edgecolors="0.15",
                               linewidths=0.7)
        artist = axes.add_collection(faces)
    else:
        artist = _draw_ball(axes, radius_nm, color)
    axes.set_aspect("equal")
    axes.set_xlim(-extent_nm, extent_nm)
    axes.set_ylim(extent_nm, -extent_nm)  # y downwards, as in draw_pattern
    axes.xaxis.set_major_locator(MultipleLocator(100.0))
    axes.yaxis.set_major_locator(MultipleLocator(100.0))
    axes.set_xlabel("x (nm)")
    axes.set_ylabel("y (nm)")
    if title:
        axes.set_title(title, fontsize=9)
    return artist


def _family_and_parameter(shape, shape_parameter) -> tuple[ShapeFamily, float | None]:
    """The family and its checked parameter; a missing one (None, NaN) is the range's middle."""
    family = shape_family(shape)
    missing = shape_parameter is None or math.isnan(float(shape_parameter))
    if family.has_parameter and missing:
        return family, family.default_parameter()
    return family, family.validate_parameter(shape_parameter)


def _facets(solid: ConvexPolyhedron) -> tuple[list[np.ndarray], np.ndarray]:
    """The polygonal facets of a convex polyhedron, merged from its triangles.

    Returns vertex indices of each facet (K,), counter-clockwise seen from outside, and the unit
    outward normals (F, 3). On a convex solid all triangles with one outward normal lie in one
    facet, so grouping by normal is enough.
    """
    triangle_normals, _ = solid.halfspaces()
    normals: list[np.ndarray] = []
    members: list[list[int]] = []
    for triangle, normal in enumerate(triangle_normals):
        for facet, facet_normal in enumerate(normals):
            if normal @ facet_normal > 1.0 - _COPLANAR:
                members[facet].append(triangle)
                break
        else:
            normals.append(normal)
            members.append([triangle])
    polygons = []
    for normal, triangles in zip(normals, members):
        indices = np.unique(solid.faces[triangles])
        offsets = solid.vertices[indices] - solid.vertices[indices].mean(axis=0)
        # Angles about the normal in the right-handed frame (u, n × u): counter-clockwise
        # seen from outside.
        u = offsets[0] / np.linalg.norm(offsets[0])
        angles = np.arctan2(offsets @ np.cross(normal, u), offsets @ u)
        polygons.append(indices[np.argsort(angles)])
    return polygons, np.array(normals)


def _shaded(normals: np.ndarray, color) -> np.ndarray:
    """Lambert-shaded RGB (..., 3) of surfaces with unit outward normals (..., 3)."""
    lambert = np.clip(normals @ _LIGHT_DIRECTION, 0.0, None)
    return np.clip((_AMBIENT + _DIFFUSE * lambert)[..., None] * np.asarray(to_rgb(color)),
                   0.0, 1.0)


def _draw_ball(axes, radius_nm: float, color, pixels: int = _BALL_PIXELS) -> AxesImage:
    """A ball of radius R seen along the beam: a disk shaded as the ball's near half, outlined."""
    grid = np.linspace(-radius_nm, radius_nm, pixels)
    x, y = np.meshgrid(grid, grid)  # row index grows with y: drawn downwards with the axes
    # The near half faces the source: n_z < 0.
    depth = -np.sqrt(np.clip(radius_nm**2 - x**2 - y**2, 0.0, None))
    rgba = np.zeros(x.shape + (4,))
    rgba[..., :3] = _shaded(np.stack([x, y, depth], axis=-1) / radius_nm, color)
    rgba[..., 3] = x**2 + y**2 < radius_nm**2
    image = axes.imshow(rgba, extent=(-radius_nm, radius_nm, radius_nm, -radius_nm),
                        interpolation="bilinear")
    axes.add_patch(Circle((0.0, 0.0), radius_nm, fill=False, edgecolor="0.15", linewidth=0.7))
    return image


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


def _particle_caption(radius_nm: float, quaternion, shape: str, shape_parameter,
                      truth) -> str:
    """"decahedron, aspect 0.82\nR = 83.1 nm", and with a truth (radius_nm, quaternion[, shape])
    its radius, its family if another, and else the misorientation under the family's group."""
    family, parameter = _family_and_parameter(shape, shape_parameter)
    caption = family.name
    if parameter is not None:
        caption += f", {family.parameter_name} {parameter:.2f}"
    caption += f"\nR = {radius_nm:.1f} nm"
    if truth is not None:
        true_radius_nm, true_quaternion, *true_shape = truth
        true_family = shape_family(true_shape[0] if true_shape else DEFAULT_SHAPE, "truth")
        caption += "\ntruth"
        if true_family is not family:
            caption += f": {true_family.name},"
        caption += f" R = {true_radius_nm:.1f} nm"
        if true_family is family and family.has_orientation:
            angle = float(misorientation_deg(np.asarray(quaternion, dtype=np.float64),
                                             np.asarray(true_quaternion, dtype=np.float64),
                                             shape=family.name))
            caption += f", misorientation {angle:.1f}°"
    return caption


def _draw_row(axes, image: np.ndarray, valid: np.ndarray, radius_nm: float, quaternion,
              resimulated: np.ndarray, *, shape: str = DEFAULT_SHAPE,
              shape_parameter: float | None = None, title: str | None = None, truth=None,
              misfit: float | None = None, config: SimulationConfig, extent_nm: float) -> None:
    """Measured | particle | re-simulated on three axes; ``title`` starts the first panel title
    and ``misfit`` ends the last one (grids have no title per row)."""
    valid = np.asarray(valid, dtype=bool)
    measured_title = f"{title}: measured" if title else "measured"
    _masked_pattern(axes[0], np.asarray(image), valid, measured_title, config)
    # A particle larger than the usual extent is shown whole (sizes compare within a figure).
    draw_particle(axes[1], float(radius_nm), quaternion, shape=shape,
                  shape_parameter=shape_parameter,
                  extent_nm=max(extent_nm, PARTICLE_MARGIN * float(radius_nm)),
                  title=_particle_caption(float(radius_nm), quaternion, shape, shape_parameter,
                                          truth))
    resimulated_title = "re-simulated"
    if misfit is not None:
        resimulated_title += f", misfit {misfit:.4g}"
    _masked_pattern(axes[2], _rescaled_on(resimulated, valid), valid, resimulated_title, config)


def save_reconstruction_panel(path, image: np.ndarray, valid: np.ndarray, radius_nm: float,
                              quaternion, resimulated: np.ndarray, *,
                              shape: str = DEFAULT_SHAPE, shape_parameter: float | None = None,
                              title: str | None = None, truth: tuple | None = None,
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
    shape : str
        Reconstructed shape family (docs/conventions.md "Shape families"); the icosahedron by
        default.
    shape_parameter : float, optional
        Its parameter p; None (or NaN) for a family without one. A family with one is drawn at
        the middle of its range when it is missing.
    resimulated : numpy.ndarray, shape (H, W)
        SPEC image simulated from the reconstruction; drawn rescaled to [0, 1] over the valid
        pixels, as the measured image is (no change if it already is).
    title : str, optional
        Figure title.
    truth : (float, array (4,)) or (float, array (4,), str), optional
        True radius (nm), orientation and family (the icosahedron when not given), when known:
        the particle panel then also gives the true radius, and the true family when it is not
        ``shape``, else the misorientation in degrees under the family's rotation group (none
        for the sphere).
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
    _draw_row(axes, image, valid, radius_nm, quaternion, resimulated, shape=shape,
              shape_parameter=shape_parameter, truth=truth, config=config, extent_nm=extent_nm)
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
        ``resimulated`` and optionally ``shape``, ``shape_parameter``, ``title`` (starts the
        row's first panel title), ``truth`` and ``misfit`` (ends the row's last panel title), as
        in :func:`save_reconstruction_panel`. Rows may show different families.
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
