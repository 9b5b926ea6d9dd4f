"""Tests of wideshot.evaluation.particle_figures: the drawn particles of every shape family and
Figure-5 panels."""
from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.image import AxesImage
from matplotlib.patches import Circle
from scipy.spatial import ConvexHull

from wideshot.evaluation.figures import draw_pattern
from wideshot.evaluation.particle_figures import (
    _particle_caption,
    draw_particle,
    save_reconstruction_grid,
    save_reconstruction_panel,
    visible_faces,
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


def unit_circumradius(points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points / np.linalg.norm(points, axis=1).max()


def decahedron_vertices(aspect: float) -> np.ndarray:
    """docs/conventions.md: ring (cos 2πk/5, sin 2πk/5, 0) and apices (0, 0, ±p)."""
    angles = 2 * np.pi * np.arange(5) / 5
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros(5)], axis=1)
    return unit_circumradius(np.concatenate([ring, [[0, 0, aspect], [0, 0, -aspect]]]))


def octahedral_vertices(truncation: float) -> np.ndarray:
    """docs/conventions.md's corners, t = 1 − 2p/3: the permutations of (±t, ±(1 − t), 0) up to
    the cuboctahedron (p = 3/4), of (±t, ±t, ±(1 − 2t)) beyond."""
    t = 1 - 2 * truncation / 3
    base = (t, 1 - t, 0.0) if truncation <= 0.75 else (t, t, 1 - 2 * t)
    points = {tuple(signs[i] * base[order[i]] for i in range(3))
              for order in itertools.permutations(range(3))
              for signs in itertools.product((1, -1), repeat=3)}
    return unit_circumradius(sorted(points))


def twinned_tetrahedron_vertices(truncation: float) -> np.ndarray:
    """Corners of the truncated twin, from where the cuts meet the edges of the two tetrahedra
    (ring of three, apices (0, 0, ±√2)): each apex–ring edge is cut at the fraction p from both
    ends, each ring edge at 2p/3 (the plane v̂·x = (1 − p)|v| of a ring vertex v)."""
    angles = 2 * np.pi * np.arange(3) / 3
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros(3)], axis=1)
    apices = np.array([[0, 0, math.sqrt(2)], [0, 0, -math.sqrt(2)]])
    edges = [(a, b, truncation) for a in ring for b in apices]
    edges += [(a, b, 2 * truncation / 3) for a, b in itertools.combinations(ring, 2)]
    points = [a + fraction * (b - a) for a, b, fraction in edges]
    points += [b + fraction * (a - b) for a, b, fraction in edges]
    return unit_circumradius(points)


#: (family, parameter, its vertices at circumradius 1, built independently of wideshot).
POLYHEDRA = [
    ("icosahedron", None, reference_vertices(1.0)),
    ("decahedron", 0.4, decahedron_vertices(0.4)),
    ("decahedron", 0.82, decahedron_vertices(0.82)),
    ("decahedron", 1.6, decahedron_vertices(1.6)),
    ("octahedral", 0.0, octahedral_vertices(0.0)),
    ("octahedral", 0.5, octahedral_vertices(0.5)),
    ("octahedral", 0.9, octahedral_vertices(0.9)),
    ("octahedral", 1.0, octahedral_vertices(1.0)),
    ("twinned-tetrahedron", 0.0, twinned_tetrahedron_vertices(0.0)),
    ("twinned-tetrahedron", 0.25, twinned_tetrahedron_vertices(0.25)),
    ("twinned-tetrahedron", 0.5, twinned_tetrahedron_vertices(0.5)),
]


def drawn_polygons(radius_nm: float, quaternion, shape: str = "icosahedron",
                   shape_parameter=None) -> list[np.ndarray]:
    """The (K, 2) polygons draw_particle puts on fresh axes, one per visible facet."""
    figure, axes = plt.subplots()
    faces = draw_particle(axes, radius_nm, quaternion, shape=shape,
                          shape_parameter=shape_parameter)
    assert list(axes.collections) == [faces]
    polygons = [path.vertices[:-1] for path in faces.get_paths()]  # closed: last = first
    plt.close(figure)
    return polygons


def outline(polygons) -> np.ndarray:
    """Corners of the projected silhouette, sorted, shape (K, 2)."""
    points = np.concatenate([np.reshape(polygon, (-1, 2)) for polygon in polygons])
    corners = np.round(points[ConvexHull(points).vertices], 9)
    return corners[np.lexsort(corners.T[::-1])]


def polygon_areas(polygons) -> np.ndarray:
    """Areas of convex polygons (K, 2) whose corners run around them (shoelace formula)."""
    return np.array([0.5 * abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
                     for x, y in (np.transpose(polygon) for polygon in polygons)])


def test_reference_orientation_shows_the_faces_turned_to_the_source():
    # Independent face normals: the convex hull of SPEC's vertices (outward unit normals).
    normals = ConvexHull(reference_vertices(1.0)).equations[:, :3]
    toward_source = int(np.sum(normals[:, 2] < -1e-9))
    assert len(normals) == 20
    assert toward_source == 8 and int(np.sum(np.abs(normals[:, 2]) < 1e-9)) == 4  # 4 edge-on
    assert len(drawn_polygons(80.0, IDENTITY)) == toward_source


@pytest.mark.parametrize("quaternion", [IDENTITY, GENERIC])
def test_visible_faces_tile_the_silhouette(quaternion):
    radius_nm = 95.0
    triangles = drawn_polygons(radius_nm, quaternion)
    assert all(len(triangle) == 3 for triangle in triangles)
    projected = (reference_vertices(radius_nm) @ quaternion_to_matrix(quaternion).T)[:, :2]
    assert polygon_areas(triangles).sum() == pytest.approx(ConvexHull(projected).volume,
                                                           rel=1e-9)
    np.testing.assert_allclose(outline(triangles), outline([projected]), atol=1e-7)


@pytest.mark.parametrize("quaternion", [IDENTITY, GENERIC])
def test_half_turn_about_the_beam_keeps_the_outline(quaternion):
    turned = quaternion_multiply(HALF_TURN_ABOUT_Z, quaternion)
    np.testing.assert_allclose(outline(drawn_polygons(70.0, turned)),
                               outline(drawn_polygons(70.0, quaternion)), atol=1e-7)


def test_particle_axes_match_the_pattern_axes():
    figure, (pattern, particle) = plt.subplots(1, 2)
    draw_pattern(pattern, np.zeros((128, 128)))
    draw_particle(particle, 60.0, IDENTITY, extent_nm=150.0)
    assert particle.yaxis_inverted() == pattern.yaxis_inverted()  # y downwards in both
    assert particle.xaxis_inverted() == pattern.xaxis_inverted()
    assert sorted(particle.get_xlim()) == [-150.0, 150.0]
    assert sorted(particle.get_ylim()) == [-150.0, 150.0]
    plt.close(figure)


@pytest.mark.parametrize("quaternion", [IDENTITY, GENERIC])
@pytest.mark.parametrize("shape, parameter, unit_vertices", POLYHEDRA,
                         ids=[f"{shape}-{parameter}" for shape, parameter, _ in POLYHEDRA])
def test_every_family_shows_the_facets_turned_to_the_source(shape, parameter, unit_vertices,
                                                            quaternion):
    radius_nm = 90.0
    corners, normals = visible_faces(radius_nm, quaternion, shape, parameter)
    assert len(corners) == len(normals) > 0
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, rtol=1e-12)
    assert np.all(normals[:, 2] < 0)  # facing the viewer on the source side
    for polygon, normal in zip(corners, normals):
        assert len(polygon) >= 3
        heights = polygon @ normal  # flat, and its normal points away from the centre
        assert heights.min() > 0 and np.ptp(heights) < 1e-9 * radius_nm

    # The facets tile the silhouette of the independently built solid: same area, same outline.
    projected = (radius_nm * unit_vertices @ quaternion_to_matrix(quaternion).T)[:, :2]
    drawn = drawn_polygons(radius_nm, quaternion, shape, parameter)
    np.testing.assert_allclose(np.concatenate(drawn),
                               np.concatenate([polygon[:, :2] for polygon in corners]))
    assert polygon_areas(drawn).sum() == pytest.approx(ConvexHull(projected).volume, rel=1e-9)
    np.testing.assert_allclose(outline(drawn), outline([projected]), atol=1e-7)
    # Nothing of a solid of circumradius R reaches beyond R; its farthest corners come close.
    reach = np.linalg.norm(np.concatenate(drawn), axis=1).max()
    assert reach == pytest.approx(np.linalg.norm(projected, axis=1).max(), rel=1e-9)
    assert 0.5 * radius_nm < reach <= radius_nm * (1 + 1e-12)


def test_polygonal_facets_are_drawn_whole():
    # A cube seen from a generic direction shows three of its squares, a truncated octahedron
    # squares and hexagons, not the triangles the solids are stored as.
    assert sorted(map(len, drawn_polygons(80.0, GENERIC, "octahedral", 1.0))) == [4, 4, 4]
    assert {len(polygon) for polygon in drawn_polygons(80.0, GENERIC, "octahedral", 0.5)} == {4, 6}


def test_sphere_is_a_shaded_disk_of_radius_r():
    figure, axes = plt.subplots()
    disk = draw_particle(axes, 75.0, GENERIC, shape="sphere", extent_nm=150.0)
    assert isinstance(disk, AxesImage)
    assert disk.get_extent() == [-75.0, 75.0, 75.0, -75.0]  # y downwards, as the polyhedra
    rgba = disk.get_array()
    rows, columns = np.indices(rgba.shape[:2])
    centre = (rgba.shape[0] - 1) / 2
    inside = np.hypot(rows - centre, columns - centre) < 0.98 * centre
    assert np.all(rgba[..., 3][inside] == 1) and np.all(rgba[..., 3][~inside & (
        np.hypot(rows - centre, columns - centre) > 1.02 * centre)] == 0)
    # Lit from the viewer's upper left (−x, −y: first rows and columns).
    brightest = np.unravel_index(np.argmax(rgba[..., :3].sum(-1) * rgba[..., 3]), rows.shape)
    assert brightest[0] < centre and brightest[1] < centre
    (circle,) = [patch for patch in axes.patches if isinstance(patch, Circle)]
    assert circle.get_radius() == 75.0 and tuple(circle.center) == (0.0, 0.0)
    assert sorted(axes.get_xlim()) == [-150.0, 150.0]
    plt.close(figure)
    with pytest.raises(ValueError, match="sphere"):
        visible_faces(75.0, GENERIC, "sphere")


def test_shape_parameter_is_checked_and_defaults_to_the_middle_of_its_range():
    with pytest.raises(ValueError, match="aspect"):
        visible_faces(80.0, GENERIC, "decahedron", 2.0)
    with pytest.raises(ValueError, match="no shape parameter"):
        visible_faces(80.0, GENERIC, "icosahedron", 0.5)
    middle = visible_faces(80.0, GENERIC, "octahedral", 0.5)
    for missing in (None, math.nan):
        corners, normals = visible_faces(80.0, GENERIC, "octahedral", missing)
        np.testing.assert_array_equal(normals, middle[1])
    assert _particle_caption(80.0, GENERIC, "octahedral", None, None).startswith(
        "octahedral, truncation 0.50\n")


def test_caption_names_the_family_and_measures_misorientation_in_its_group():
    # A fifth of a turn about the decahedron's axis is a symmetry of it, not of an icosahedron.
    fifth_turn = np.array([math.cos(math.pi / 5), 0.0, 0.0, math.sin(math.pi / 5)])
    turned = quaternion_multiply(GENERIC, fifth_turn)
    caption = _particle_caption(83.14, GENERIC, "decahedron", 0.82, (80.0, turned, "decahedron"))
    assert caption == ("decahedron, aspect 0.82\nR = 83.1 nm\n"
                       "truth R = 80.0 nm, misorientation 0.0°")
    other = _particle_caption(83.14, GENERIC, "decahedron", 0.82, (80.0, turned, "octahedral"))
    assert "truth: octahedral, R = 80.0 nm" in other and "misorientation" not in other
    icosahedral = _particle_caption(83.14, GENERIC, "icosahedron", None, (80.0, turned))
    assert icosahedral.startswith("icosahedron\nR = 83.1 nm\ntruth R = 80.0 nm, misorientation")
    assert not icosahedral.endswith(" 0.0°")
    sphere = _particle_caption(50.0, IDENTITY, "sphere", math.nan, (52.0, GENERIC, "sphere"))
    assert sphere == "sphere\nR = 50.0 nm\ntruth R = 52.0 nm"


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


def test_panel_and_grid_of_mixed_families_write_pngs(tmp_path):
    panel = save_reconstruction_panel(tmp_path / "decahedron.png", **fake_reconstruction(2),
                                      shape="decahedron", shape_parameter=0.82,
                                      truth=(80.0, GENERIC, "decahedron"))
    rows = [dict(fake_reconstruction(3), shape="octahedral", shape_parameter=0.5,
                 truth=(80.0, IDENTITY, "octahedral")),
            dict(fake_reconstruction(4), shape="twinned-tetrahedron", shape_parameter=0.25),
            dict(fake_reconstruction(5), shape="sphere", shape_parameter=math.nan,
                 truth=(85.0, IDENTITY, "icosahedron")),
            fake_reconstruction(6)]
    grid = save_reconstruction_grid(tmp_path / "mixed.png", rows)
    for path in (panel, grid):
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
