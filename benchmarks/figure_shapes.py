"""Figure: the five shape families, each solid seen along the beam beside its SPEC pattern.

    python benchmarks/figure_shapes.py --out docs/shapes.png

One row per family (docs/conventions.md "Shape families"), three (solid | pattern) pairs per row.
The families with a parameter are shown at three values of it (decahedron: aspect 0.4, 1/φ, 1.6;
octahedral: octahedron, truncated octahedron, cube; twinned tetrahedron: truncation 0, 0.25,
0.5), all at R = 100 nm in one generic orientation, so that neighbouring rows differ in shape
only. The icosahedron has no parameter: it is shown in that same orientation and then with a
5-fold and a 3-fold axis along the beam, where its pattern takes the axis' symmetry (5 and 3
mirror lines, no Friedel symmetry under absorption). The sphere has neither parameter nor
orientation: it is shown at three radii.

Solids are drawn as :mod:`wideshot.evaluation.particle_figures` draws the paper's Figure 5:
orthographic projection onto the detector plane with x to the right and **y downwards**, so that
z (the beam) points into the page and the solid sits in the frame of the pattern panels
(:func:`~wideshot.evaluation.figures.draw_pattern`, k_y downwards) — facets and the streaks they
cast appear at matching angles. The viewer stands on the source side: the faces drawn are those
the beam enters through (n_z < 0), shaded by the same light as Figure 5; lines are the solid's
true edges (the triangulation of polygonal facets is hidden).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

import wideshot  # noqa: E402
from wideshot.evaluation.figures import draw_pattern  # noqa: E402
from wideshot.evaluation.particle_figures import (  # noqa: E402
    PARTICLE_EXTENT_NM,
    _AMBIENT,
    _DIFFUSE,
    _LIGHT_DIRECTION,
)
from wideshot.geometry import (  # noqa: E402
    SHAPE_FAMILIES,
    ConvexPolyhedron,
    normalize_quaternion,
    quaternion_to_matrix,
    rotation_vector_to_quaternion,
)

GOLDEN = (1 + 5**0.5) / 2

#: The orientation shared by every panel that does not say otherwise: generic, no symmetry axis
#: near the beam.
GENERIC_QUATERNION = normalize_quaternion(np.array([0.95, 0.1, 0.2, 0.2]))

#: Circumradius of every particle that does not say otherwise (nm).
RADIUS_NM = 100.0

#: Colour of a face lit head-on (as Figure 5's particles).
SOLID_COLOUR = "#b8bec9"

#: Normals closer than this (1 − cos of the angle between them) belong to one facet.
_COPLANAR = 1e-9


def _axis_along_beam(axis) -> np.ndarray:
    """The quaternion of the smallest rotation that turns the reference direction ``axis`` (3,)
    onto +z, the beam."""
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    turn = np.cross(axis, [0.0, 0.0, 1.0])
    angle = np.arctan2(np.linalg.norm(turn), axis[2])
    return rotation_vector_to_quaternion(turn / np.linalg.norm(turn) * angle)


def panels() -> list[list[dict]]:
    """Rows of the figure: per family three panels of (shape, p, R, quaternion, title)."""
    def panel(shape, parameter=None, label=None, radius_nm=RADIUS_NM,
              quaternion=GENERIC_QUATERNION):
        family = SHAPE_FAMILIES[shape]
        if label is None:
            label = f"{family.parameter_name} p = {parameter:g}"
        title = f"{shape} [{family.group.name}]\n{label}"
        return dict(shape=shape, parameter=np.nan if parameter is None else parameter,
                    radius_nm=radius_nm, quaternion=quaternion, title=title)

    return [
        [panel("icosahedron", label="generic orientation"),
         # A vertex (0, 1, φ) sits on a 5-fold axis, the centre (1, 1, 1) of a face on a 3-fold.
         panel("icosahedron", label="5-fold axis ∥ beam",
               quaternion=_axis_along_beam([0, 1, GOLDEN])),
         panel("icosahedron", label="3-fold axis ∥ beam",
               quaternion=_axis_along_beam([1, 1, 1]))],
        [panel("decahedron", 0.4),
         panel("decahedron", 1 / GOLDEN, "aspect p = 1/φ ≈ 0.618 (Ino)"),
         panel("decahedron", 1.6)],
        [panel("octahedral", 0.0, "p = 0: octahedron"),
         panel("octahedral", 0.5, "p = 0.5: truncated octahedron"),
         panel("octahedral", 1.0, "p = 1: cube")],
        [panel("twinned-tetrahedron", 0.0),
         panel("twinned-tetrahedron", 0.25),
         panel("twinned-tetrahedron", 0.5)],
        [panel("sphere", label=f"R = {radius:g} nm (no orientation)", radius_nm=radius)
         for radius in (50.0, 100.0, 150.0)],
    ]


def draw_polyhedron(axes, solid: ConvexPolyhedron, radius_nm: float, quaternion) -> None:
    """The faces of a unit-circumradius polyhedron, scaled to R and rotated by q, that face the
    source (n_z < 0), Lambert-shaded; then its true edges, where two facets of different
    normals meet and at least one of them is in view."""
    rotation = quaternion_to_matrix(np.asarray(quaternion, dtype=np.float64))
    corners = (radius_nm * solid.vertices @ rotation.T)[solid.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    facing = normals[:, 2] < -1e-9
    lambert = np.clip(normals[facing] @ _LIGHT_DIRECTION, 0.0, None)
    shades = np.clip((_AMBIENT + _DIFFUSE * lambert)[:, None] * to_rgb(SOLID_COLOUR), 0, 1)
    # Edge colour = face colour closes the hairline seams between triangles of one facet.
    axes.add_collection(PolyCollection(corners[facing, :, :2], facecolors=shades,
                                       edgecolors=shades, linewidths=0.3))
    neighbours: dict[tuple[int, int], list[int]] = {}
    for index, face in enumerate(solid.faces):
        for a, b in ((face[0], face[1]), (face[1], face[2]), (face[2], face[0])):
            neighbours.setdefault((min(a, b), max(a, b)), []).append(index)
    vertices = radius_nm * solid.vertices @ rotation.T
    edges = [vertices[list(edge), :2] for edge, (f, g) in neighbours.items()
             if (facing[f] or facing[g]) and normals[f] @ normals[g] < 1 - _COPLANAR]
    axes.add_collection(LineCollection(edges, colors="0.15", linewidths=0.7))


def draw_ball(axes, radius_nm: float, extent_nm: float, pixels: int = 240) -> None:
    """A ball of radius R seen along the beam, shaded by the same light as the polyhedra."""
    grid = np.linspace(-extent_nm, extent_nm, pixels)
    x, y = np.meshgrid(grid, grid)  # row index grows with y: drawn downwards with the axes
    inside = x**2 + y**2 < radius_nm**2
    depth = -np.sqrt(np.clip(radius_nm**2 - x**2 - y**2, 0, None))  # n_z < 0: facing the source
    normals = np.stack([x, y, depth], axis=-1) / radius_nm
    lambert = np.clip(normals @ _LIGHT_DIRECTION, 0.0, None)
    rgba = np.zeros(x.shape + (4,))
    rgba[..., :3] = np.clip((_AMBIENT + _DIFFUSE * lambert)[..., None] * to_rgb(SOLID_COLOUR), 0, 1)
    rgba[..., 3] = inside
    axes.imshow(rgba, extent=(-extent_nm, extent_nm, extent_nm, -extent_nm),
                interpolation="bilinear")
    axes.add_patch(Circle((0, 0), radius_nm, fill=False, edgecolor="0.15", linewidth=0.7))


def draw_solid(axes, shape: str, parameter: float, radius_nm: float, quaternion,
               extent_nm: float = PARTICLE_EXTENT_NM) -> None:
    """One family's solid seen along the beam, x right, y down, on ±extent_nm."""
    family = SHAPE_FAMILIES[shape]
    solid = family.solid(parameter if family.has_parameter else None)
    if isinstance(solid, ConvexPolyhedron):
        draw_polyhedron(axes, solid, radius_nm, quaternion)
    else:
        draw_ball(axes, radius_nm * solid.circumradius, extent_nm)
    axes.set_aspect("equal")
    axes.set_xlim(-extent_nm, extent_nm)
    axes.set_ylim(extent_nm, -extent_nm)  # y downwards, as in draw_pattern
    axes.set_xticks([-100, 0, 100])
    axes.set_yticks([-100, 0, 100])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/shapes.png"),
                        help="output image (default docs/shapes.png)")
    parser.add_argument("--dpi", type=int, default=110, help="resolution (default 110)")
    args = parser.parse_args()

    rows = panels()
    flat = [panel for row in rows for panel in row]
    # One mixed batch: every family through the same call.
    images = wideshot.simulate([p["radius_nm"] for p in flat],
                               np.stack([p["quaternion"] for p in flat]),
                               shape=[p["shape"] for p in flat],
                               shape_parameter=np.array([p["parameter"] for p in flat]))

    columns = 2 * len(rows[0])
    figure, axes = plt.subplots(len(rows), columns, figsize=(12.0, 2.2 * len(rows) + 0.5),
                                dpi=args.dpi, squeeze=False,
                                gridspec_kw=dict(wspace=0.08, hspace=0.55))
    for row_index, row in enumerate(rows):
        for pair, panel in enumerate(row):
            solid_axes, pattern_axes = axes[row_index, 2 * pair], axes[row_index, 2 * pair + 1]
            draw_solid(solid_axes, panel["shape"], panel["parameter"], panel["radius_nm"],
                       panel["quaternion"])
            artist = draw_pattern(pattern_axes, images[row_index * len(row) + pair])
            # One title for the pair, centred over both panels.
            solid_axes.set_title(panel["title"], fontsize=8.5, x=1.0 + 0.04, ha="center")
            bottom = row_index == len(rows) - 1
            for panel_axes in (solid_axes, pattern_axes):
                panel_axes.tick_params(labelsize=6.5, length=2, pad=1.5, labelbottom=bottom,
                                       labelleft=(panel_axes is solid_axes and pair == 0))
                panel_axes.set_xlabel("")
                panel_axes.set_ylabel("")
            if bottom:
                solid_axes.set_xlabel("x (nm)", fontsize=8, labelpad=1)
                pattern_axes.set_xlabel(r"$k_x/k$", fontsize=8, labelpad=1)
            if pair == 0:
                solid_axes.set_ylabel("y (nm)", fontsize=8, labelpad=1)
    figure.subplots_adjust(left=0.05, right=0.93, bottom=0.05, top=0.895)
    top, bottom = axes[0, -1].get_position().y1, axes[-1, -1].get_position().y0
    colourbar = figure.colorbar(artist, cax=figure.add_axes((0.945, bottom, 0.012, top - bottom)))
    colourbar.set_label("SPEC image: log(F + 100), scaled to [0, 1] per image", fontsize=8)
    colourbar.ax.tick_params(labelsize=7)
    q = ", ".join(f"{c:.3f}" for c in GENERIC_QUATERNION)
    figure.suptitle("The five shape families: each solid seen along the beam (x right, y down, "
                    "beam into the page) beside its SPEC pattern (k_x right, k_y down, −1…1)\n"
                    f"R = {RADIUS_NM:g} nm and orientation q = ({q}) in every panel that does not "
                    "say otherwise; [G] = rotation group", fontsize=9.5)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    plt.close(figure)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
