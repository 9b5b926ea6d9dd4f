"""Tests of wideshot.evaluation.particle_figures: the drawn icosahedron and Figure-5 panels."""
from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.spatial import ConvexHull

from wideshot.evaluation.figures import draw_pattern
from wideshot.evaluation.particle_figures import (
    draw_icosahedron,
    save_reconstruction_grid,
    save_reconstruction_panel,
)
from wideshot.geometry import quaternion_multiply, quaternion_to_matrix

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])
HALF_TURN_ABOUT_Z = np.array([0.0, 0.0, 0.0, 1.0])
GENERIC = np.array([0.9, 0.3, -0.2, 0.25]) / np.linalg.norm([0.9, 0.3, -0.2, 0.25])


def reference_vertices(radius_nm: float) -> np.ndarray:
    """docs/conventions.md's reference icosahedron: every cyclic permutation of (0, ±1, ±φ), scaled
    to R."""
    phi = (1.0 + math.sqrt(5.0)) / 2.0
    points = [np.roll([0.0, a, b * phi], shift)
              for a, b in itertools.product((1.0, -1.0), repeat=2) for shift in range(3)]
    return np.array(points) * radius_nm / math.sqrt(1.0 + phi**2)


def drawn_triangles(radius_nm: float, quaternion) -> np.ndarray:
    """The (F, 3, 2) triangles draw_icosahedron puts on fresh axes."""
    figure, axes = plt.subplots()
    faces = draw_icosahedron(axes, radius_nm, quaternion)
    assert list(axes.collections) == [faces]
    triangles = np.array([path.vertices[:3] for path in faces.get_paths()])
    plt.close(figure)
    return triangles


def outline(triangles: np.ndarray) -> np.ndarray:
    """Corners of the projected silhouette, sorted, shape (K, 2)."""
    points = triangles.reshape(-1, 2)
    corners = np.round(points[ConvexHull(points).vertices], 9)
    return corners[np.lexsort(corners.T[::-1])]


def triangle_areas(triangles: np.ndarray) -> np.ndarray:
    edges_1, edges_2 = triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
    return 0.5 * np.abs(edges_1[:, 0] * edges_2[:, 1] - edges_1[:, 1] * edges_2[:, 0])


def test_reference_orientation_shows_the_faces_turned_to_the_source():
    # Independent face normals: the convex hull of SPEC's vertices (outward unit normals).
    normals = ConvexHull(reference_vertices(1.0)).equations[:, :3]
    toward_source = int(np.sum(normals[:, 2] < -1e-9))
    assert len(normals) == 20
    assert toward_source == 8 and int(np.sum(np.abs(normals[:, 2]) < 1e-9)) == 4  # 4 edge-on
    assert len(drawn_triangles(80.0, IDENTITY)) == toward_source


@pytest.mark.parametrize("quaternion", [IDENTITY, GENERIC])
def test_visible_faces_tile_the_silhouette(quaternion):
    radius_nm = 95.0
    triangles = drawn_triangles(radius_nm, quaternion)
    projected = (reference_vertices(radius_nm) @ quaternion_to_matrix(quaternion).T)[:, :2]
    assert triangle_areas(triangles).sum() == pytest.approx(ConvexHull(projected).volume,
                                                            rel=1e-9)
    np.testing.assert_allclose(outline(triangles), outline(projected[None]), atol=1e-7)


@pytest.mark.parametrize("quaternion", [IDENTITY, GENERIC])
def test_half_turn_about_the_beam_keeps_the_outline(quaternion):
    turned = quaternion_multiply(HALF_TURN_ABOUT_Z, quaternion)
    np.testing.assert_allclose(outline(drawn_triangles(70.0, turned)),
                               outline(drawn_triangles(70.0, quaternion)), atol=1e-7)


def test_particle_axes_match_the_pattern_axes():
    figure, (pattern, particle) = plt.subplots(1, 2)
    draw_pattern(pattern, np.zeros((128, 128)))
    draw_icosahedron(particle, 60.0, IDENTITY, extent_nm=150.0)
    assert particle.yaxis_inverted() == pattern.yaxis_inverted()  # y downwards in both
    assert particle.xaxis_inverted() == pattern.xaxis_inverted()
    assert sorted(particle.get_xlim()) == [-150.0, 150.0]
    assert sorted(particle.get_ylim()) == [-150.0, 150.0]
    plt.close(figure)


def fake_reconstruction(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    valid = np.zeros((128, 128), dtype=bool)
    valid[33:94, 28:100] = True
    valid[61:67, 61:67] = False
    image = np.where(valid, rng.random((128, 128)), 0.0).astype(np.float32)
    return {"image": image, "valid": valid, "radius_nm": 83.1, "quaternion": GENERIC,
            "resimulated": rng.random((128, 128)).astype(np.float32)}


def test_panel_and_grid_write_pngs(tmp_path):
    row = fake_reconstruction(0)
    open_before = plt.get_fignums()
    panel = save_reconstruction_panel(tmp_path / "panel.png", **row, title="barke5",
                                      truth=(80.0, IDENTITY), misfit=0.0123)
    rows = [dict(row, title="barke5", misfit=0.02),
            dict(fake_reconstruction(1), truth=(90.0, GENERIC))]
    grid = save_reconstruction_grid(tmp_path / "grid.png", rows, title="layout")
    for path in (panel, grid):
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
    assert plt.get_fignums() == open_before  # the figures are closed
