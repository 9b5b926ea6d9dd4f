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

Solids are drawn by :func:`wideshot.evaluation.particle_figures.draw_particle`, as in the paper's
Figure 5: orthographic projection onto the detector plane with x to the right and **y
downwards**, so that z (the beam) points into the page and the solid sits in the frame of the
pattern panels (:func:`~wideshot.evaluation.figures.draw_pattern`, k_y downwards) — facets and
the streaks they cast appear at matching angles. The viewer stands on the source side: the
facets drawn are those the beam enters through (n_z < 0), Lambert-shaded.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import wideshot  # noqa: E402
from wideshot.evaluation.figures import draw_pattern  # noqa: E402
from wideshot.evaluation.particle_figures import draw_particle  # noqa: E402
from wideshot.geometry import (  # noqa: E402
    SHAPE_FAMILIES,
    normalize_quaternion,
    rotation_vector_to_quaternion,
)

GOLDEN = (1 + 5**0.5) / 2

#: The orientation shared by every panel that does not say otherwise: generic, no symmetry axis
#: near the beam.
GENERIC_QUATERNION = normalize_quaternion(np.array([0.95, 0.1, 0.2, 0.2]))

#: Circumradius of every particle that does not say otherwise (nm).
RADIUS_NM = 100.0


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
            draw_particle(solid_axes, panel["radius_nm"], panel["quaternion"],
                          shape=panel["shape"], shape_parameter=panel["parameter"])
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
