"""Tests of wideshot.geometry against independent references: scipy's Rotation, closed-form
facts about the icosahedron and its rotation group, and dense random sampling."""
from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.spatial import ConvexHull, Delaunay, HalfspaceIntersection
from scipy.spatial.transform import Rotation
from scipy.stats import kstest

from wideshot.config import GOLDEN_RATIO
from wideshot.geometry import (
    FUNDAMENTAL_DOMAIN,
    ICOSAHEDRAL_GROUP,
    canonical,
    icosahedron_faces,
    icosahedron_halfspaces,
    icosahedron_vertices,
    matrix_to_quaternion,
    misorientation_deg,
    misorientation_rad,
    normalize_quaternion,
    quaternion_conjugate,
    quaternion_multiply,
    quaternion_to_matrix,
    random_quaternions,
    rotate_points,
    rotation_angle_rad,
    uniform_fundamental_domain,
    validate_quaternions,
    voxel_centres_nm,
    voxelize,
)


def scipy_rotation(q: np.ndarray) -> Rotation:
    """scipy Rotation of scalar-first quaternions (scipy stores them scalar last)."""
    return Rotation.from_quat(np.asarray(q)[..., [1, 2, 3, 0]])


def scipy_quaternion(rotation: Rotation) -> np.ndarray:
    """Scalar-first quaternions of a scipy Rotation."""
    return rotation.as_quat()[..., [3, 0, 1, 2]]


def same_rotation(q1: np.ndarray, q2: np.ndarray, atol: float = 1e-10) -> np.ndarray:
    """Whether q1 and q2 are equal up to sign, row by row."""
    return np.minimum(np.abs(q1 - q2).max(-1), np.abs(q1 + q2).max(-1)) < atol


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def edge_length(radius_nm: float) -> float:
    """Edge a of the regular icosahedron of circumradius R: R = a·sin(2π/5)."""
    return radius_nm / math.sin(2 * math.pi / 5)


def icosahedron_volume(radius_nm: float) -> float:
    return 5.0 / 12.0 * (3.0 + math.sqrt(5.0)) * edge_length(radius_nm) ** 3


# --------------------------------------------------------------------------- quaternion algebra


def test_matrix_matches_scipy(rng):
    q = rng.normal(size=(200, 4))  # not normalised: the matrix must not depend on the norm
    np.testing.assert_allclose(quaternion_to_matrix(q), scipy_rotation(q).as_matrix(), atol=1e-12)


def test_multiply_composes_rotations(rng):
    q1, q2 = normalize_quaternion(rng.normal(size=(2, 200, 4)))
    expected = scipy_quaternion(scipy_rotation(q1) * scipy_rotation(q2))
    assert same_rotation(quaternion_multiply(q1, q2), expected).all()


def test_conjugate_is_inverse(rng):
    q = normalize_quaternion(rng.normal(size=(50, 4)))
    product = quaternion_multiply(q, quaternion_conjugate(q))
    np.testing.assert_allclose(product, np.tile([1.0, 0, 0, 0], (50, 1)), atol=1e-12)


def test_matrix_to_quaternion_inverts_scipy(rng):
    rotations = Rotation.random(300, random_state=1)
    q = matrix_to_quaternion(rotations.as_matrix())
    assert q.shape == (300, 4) and (q[:, 0] >= 0).all()
    assert same_rotation(q, scipy_quaternion(rotations)).all()
    half_turn = matrix_to_quaternion(np.diag([1.0, -1.0, -1.0]))  # w = 0 edge case
    assert same_rotation(half_turn, np.array([0.0, 1.0, 0.0, 0.0]))


def test_rotate_points_matches_scipy(rng):
    q = normalize_quaternion(rng.normal(size=(4, 4)))
    points = rng.normal(size=(4, 7, 3))
    expected = np.stack([scipy_rotation(q[b]).apply(points[b]) for b in range(4)])
    np.testing.assert_allclose(rotate_points(q, points), expected, atol=1e-12)
    shared = rotate_points(q, points[0])  # one point set, every rotation
    expected_shared = [scipy_rotation(q[b]).apply(points[0]) for b in range(4)]
    np.testing.assert_allclose(shared, expected_shared, atol=1e-12)


def test_active_convention():
    quarter_turn_z = np.array([math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)])
    x_axis = np.array([[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(rotate_points(quarter_turn_z[None], x_axis), [[[0, 1, 0]]], atol=1e-15)


def test_rotation_angle_matches_scipy(rng):
    q = normalize_quaternion(rng.normal(size=(500, 4)))
    np.testing.assert_allclose(rotation_angle_rad(q), scipy_rotation(q).magnitude(), atol=1e-12)
    tiny = np.array([math.cos(5e-9), math.sin(5e-9), 0.0, 0.0])
    assert rotation_angle_rad(tiny) == pytest.approx(1e-8, rel=1e-9)


def test_random_quaternions_are_uniform_on_so3():
    q = random_quaternions(200_000, np.random.default_rng(3))
    assert q.shape == (200_000, 4) and (q[:, 0] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    # On the unit 3-sphere |w| has density ∝ √(1 − w²): E|w| = 4/(3π) (std of the mean ~ 5e-4).
    assert np.abs(q[:, 0]).mean() == pytest.approx(4 / (3 * math.pi), abs=3e-3)
    # Haar measure: the rotation angle θ has CDF (θ − sin θ)/π.
    angles = 2 * np.arccos(np.clip(q[:50_000, 0], -1, 1))
    assert kstest(angles, lambda t: (t - np.sin(t)) / np.pi).pvalue > 1e-3


def test_random_quaternions_torch_generator():
    first = random_quaternions(20_000, torch.Generator().manual_seed(5))
    again = random_quaternions(20_000, torch.Generator().manual_seed(5))
    assert isinstance(first, torch.Tensor) and first.shape == (20_000, 4)
    assert torch.equal(first, again)
    assert first[:, 0].abs().mean().item() == pytest.approx(4 / (3 * math.pi), abs=8e-3)
    seeded = random_quaternions(3, np.random.default_rng(7))
    np.testing.assert_array_equal(random_quaternions(3, 7), seeded)


def test_numpy_and_torch_paths_agree(rng):
    q1, q2 = normalize_quaternion(rng.normal(size=(2, 30, 4)))
    points = rng.normal(size=(30, 5, 3))
    t1, t2, tp = (torch.from_numpy(a) for a in (q1, q2, points))
    pairs = [
        (quaternion_multiply(q1, q2), quaternion_multiply(t1, t2)),
        (quaternion_conjugate(q1), quaternion_conjugate(t1)),
        (normalize_quaternion(3 * q1), normalize_quaternion(3 * t1)),
        (quaternion_to_matrix(q1), quaternion_to_matrix(t1)),
        (matrix_to_quaternion(quaternion_to_matrix(q1)),
         matrix_to_quaternion(quaternion_to_matrix(t1))),
        (rotate_points(q1, points), rotate_points(t1, tp)),
        (rotation_angle_rad(q1), rotation_angle_rad(t1)),
        (canonical(q1), canonical(t1)),
        (misorientation_rad(q1, q2), misorientation_rad(t1, t2)),
        (validate_quaternions(q1), validate_quaternions(t1)),
    ]
    for expected, actual in pairs:
        assert isinstance(actual, torch.Tensor) and actual.dtype == torch.float64
        np.testing.assert_allclose(actual.numpy(), expected, atol=1e-12)


def test_torch_keeps_float32():
    q = torch.tensor([[0.9, 0.1, -0.3, 0.2]], dtype=torch.float32)
    results = [quaternion_multiply(q, q), quaternion_to_matrix(q), canonical(q), misorientation_rad(q, q)]
    assert all(result.dtype == torch.float32 for result in results)


def test_torch_gradients():
    generator = torch.Generator().manual_seed(0)
    q1, q2 = torch.randn(2, 3, 4, generator=generator, dtype=torch.float64).unbind(0)
    points = torch.randn(3, 2, 3, generator=generator, dtype=torch.float64)
    for function, inputs in [
        (quaternion_multiply, (q1, q2)),
        (quaternion_to_matrix, (q1,)),
        (rotate_points, (q1, points)),
        (canonical, (q1,)),
        (misorientation_rad, (q1, q2)),
    ]:
        inputs = tuple(x.clone().requires_grad_(True) for x in inputs)
        assert torch.autograd.gradcheck(function, inputs)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(3), "shape"),
        (np.zeros((2, 3)), "shape"),
        (np.zeros((1, 1, 4)), "shape"),
        (np.array([np.nan, 0, 0, 1.0]), "non-finite"),
        (np.array([[1.0, 0, 0, np.inf]]), "non-finite"),
        (np.zeros(4), "norm"),
        (np.array([1e-7, 0, 0, 0]), "norm"),
        (torch.zeros(4), "norm"),
    ],
)
def test_validate_quaternions_rejects(bad, message):
    with pytest.raises(ValueError, match=f"orientation.*{message}|{message}.*orientation"):
        validate_quaternions(bad, name="orientation")


def test_validate_quaternions_normalises():
    result = validate_quaternions([1.0, 0.0, 0.0, 0.01])
    assert result.shape == (1, 4)
    np.testing.assert_allclose(result, [np.array([1.0, 0, 0, 0.01]) / math.sqrt(1.0001)])
    assert validate_quaternions(torch.tensor([[2.0, 0, 0, 0]])).tolist() == [[1.0, 0, 0, 0]]


# --------------------------------------------------------------------------- icosahedral group


def test_group_has_60_distinct_rotations():
    assert ICOSAHEDRAL_GROUP.shape == (60, 4)
    assert (ICOSAHEDRAL_GROUP[:, 0] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(ICOSAHEDRAL_GROUP, axis=1), 1.0, atol=1e-14)
    matrices = scipy_rotation(ICOSAHEDRAL_GROUP).as_matrix()
    assert len(np.unique(np.round(matrices, 8).reshape(60, 9), axis=0)) == 60


def test_group_maps_vertices_onto_themselves():
    vertices = icosahedron_vertices(1.0)
    for g in ICOSAHEDRAL_GROUP:
        moved = scipy_rotation(g).apply(vertices)
        distances = np.linalg.norm(moved[:, None] - vertices[None], axis=-1)
        assert np.allclose(distances.min(axis=1), 0, atol=1e-12)
        assert sorted(distances.argmin(axis=1)) == list(range(12))


def test_group_is_closed():
    rotations = scipy_rotation(ICOSAHEDRAL_GROUP)
    for i in range(60):
        products = scipy_quaternion(rotations[i] * rotations)
        matches = same_rotation(products[:, None], ICOSAHEDRAL_GROUP[None], atol=1e-10)
        assert (matches.sum(axis=1) == 1).all()


def test_group_rotation_angles():
    # I: identity, 6 five-fold axes (72° and 144° each way: 12 + 12), 10 three-fold axes (20),
    # 15 two-fold axes (15).
    degrees = np.round(np.degrees(scipy_rotation(ICOSAHEDRAL_GROUP).magnitude()), 6)
    assert Counter(degrees.tolist()) == {0.0: 1, 72.0: 12, 144.0: 12, 120.0: 20, 180.0: 15}


def test_five_fold_axes_pass_through_vertices():
    vertices = icosahedron_vertices(1.0)
    axes = scipy_rotation(ICOSAHEDRAL_GROUP).as_rotvec()
    angles = np.linalg.norm(axes, axis=1)
    for axis in axes[np.isclose(angles, math.radians(72))]:
        assert np.isclose(np.abs(vertices @ axis / np.linalg.norm(axis)), 1.0).any()


# --------------------------------------------------------------------------- canonical form


def test_canonical_is_invariant_under_the_group(rng):
    q = normalize_quaternion(rng.normal(size=(200, 4)))
    reference = canonical(q)
    for g in ICOSAHEDRAL_GROUP:
        np.testing.assert_allclose(canonical(quaternion_multiply(q, g)), reference, atol=1e-12)
        np.testing.assert_allclose(canonical(-quaternion_multiply(q, g)), reference, atol=1e-12)


def test_canonical_has_largest_w_of_its_orbit(rng):
    q = normalize_quaternion(rng.normal(size=(300, 4)))
    result = canonical(q)
    rotations = scipy_rotation(q)
    orbit = np.stack([scipy_quaternion(rotations * scipy_rotation(g)) for g in ICOSAHEDRAL_GROUP], axis=1)
    assert (result[:, 0] >= np.abs(orbit[:, :, 0]).max(axis=1) - 1e-12).all()
    assert same_rotation(result[:, None], orbit, atol=1e-10).any(axis=1).all()  # same particle


def test_canonical_is_idempotent_and_accepts_one_quaternion(rng):
    q = normalize_quaternion(rng.normal(size=(100, 4)))
    once = canonical(q)
    np.testing.assert_allclose(canonical(once), once, atol=1e-14)
    assert canonical(q[0]).shape == (4,)
    np.testing.assert_allclose(canonical(q[0]), once[0])


def test_canonical_keeps_small_rotations():
    small = np.array([math.cos(0.1), math.sin(0.1) * 0.6, -math.sin(0.1) * 0.8, 0.0])
    np.testing.assert_allclose(canonical(small), small)
    np.testing.assert_allclose(canonical(-small), small)


def test_canonical_vectors_lie_in_a_dodecahedron():
    # SPEC: the imaginary parts of canonical quaternions form a dodecahedron; in Rodrigues
    # coordinates ρ = v/w it is bounded by |n·ρ| <= tan(72°/4) for the 6 five-fold axes n.
    q = uniform_fundamental_domain(50_000, np.random.default_rng(9))
    rodrigues = q[:, 1:] / q[:, :1]
    five_fold_axes = icosahedron_vertices(1.0)
    assert (np.abs(rodrigues @ five_fold_axes.T) <= math.tan(math.pi / 10) + 1e-12).all()


# --------------------------------------------------------------------------- misorientation


def test_misorientation_is_symmetric_and_group_invariant(rng):
    q1, q2 = normalize_quaternion(rng.normal(size=(2, 500, 4)))
    np.testing.assert_allclose(misorientation_rad(q1, q2), misorientation_rad(q2, q1), atol=1e-12)
    g = ICOSAHEDRAL_GROUP[rng.integers(0, 60, size=500)]
    np.testing.assert_allclose(misorientation_rad(q1, quaternion_multiply(q1, g)), 0.0, atol=1e-7)
    np.testing.assert_allclose(
        misorientation_rad(q1, -quaternion_multiply(q2, g)), misorientation_rad(q1, q2), atol=1e-12
    )


def test_misorientation_of_small_rotations_is_their_angle(rng):
    q = normalize_quaternion(rng.normal(size=(100, 4)))
    angles_deg = rng.uniform(0.01, 20.0, size=100)
    small = scipy_quaternion(Rotation.from_rotvec(
        normalize_quaternion(rng.normal(size=(100, 3))) * np.radians(angles_deg)[:, None]
    ))
    body_frame, lab_frame = quaternion_multiply(q, small), quaternion_multiply(small, q)
    np.testing.assert_allclose(misorientation_deg(q, body_frame), angles_deg, atol=1e-9)
    np.testing.assert_allclose(misorientation_deg(q, lab_frame), angles_deg, atol=1e-9)
    assert misorientation_deg(q[:3], q[0]).shape == (3,)  # broadcasting


def test_maximal_misorientation():
    # Independent closed form: the fundamental zone is the dodecahedron |n₅·ρ| <= tan(π/10);
    # its farthest points, its vertices, lie on the 3-fold axes, at tan(π/10)/cos α from the
    # centre, α the angle between a 5-fold axis (vertex) and a neighbouring 3-fold axis
    # (face centre).
    vertices = icosahedron_vertices(1.0)
    face_centre = vertices[icosahedron_faces()[0]].mean(axis=0)
    cos_alpha = vertices[icosahedron_faces()[0, 0]] @ face_centre / np.linalg.norm(face_centre)
    max_angle = 2 * math.atan(math.tan(math.pi / 10) / cos_alpha)
    assert FUNDAMENTAL_DOMAIN.max_rotation_rad == pytest.approx(max_angle, abs=1e-12)
    assert FUNDAMENTAL_DOMAIN.w_min == pytest.approx(math.cos(max_angle / 2), abs=1e-12)
    assert math.degrees(max_angle) == pytest.approx(44.4775, abs=1e-4)

    q1, q2 = random_quaternions(2 * 200_000, np.random.default_rng(11)).reshape(2, 200_000, 4)
    angles = misorientation_rad(q1, q2)
    assert angles.max() <= max_angle + 1e-12
    assert angles.max() > 0.97 * max_angle


# --------------------------------------------------------------------------- fundamental domain


def test_fundamental_domain_covers_a_dense_sample():
    domain = FUNDAMENTAL_DOMAIN
    q = uniform_fundamental_domain(400_000, np.random.default_rng(13))
    lower = np.array([domain.w_min, domain.x_range[0], domain.y_range[0], domain.z_range[0]])
    upper = np.array([domain.w_max, domain.x_range[1], domain.y_range[1], domain.z_range[1]])
    assert (q >= lower - 1e-12).all() and (q <= upper + 1e-12).all()
    np.testing.assert_allclose(q.min(axis=0), lower, atol=3e-3)
    np.testing.assert_allclose(q.max(axis=0), upper, atol=3e-3)
    np.testing.assert_allclose(domain.spans, upper - lower, atol=1e-15)


def test_component_extrema_by_independent_optimisation():
    # Maximise x = ρₓ/√(1+|ρ|²) over the Rodrigues dodecahedron with a generic optimiser.
    axes = icosahedron_vertices(1.0)
    bound = math.tan(math.pi / 10)
    constraints = [{"type": "ineq", "fun": lambda rho: bound - np.abs(axes @ rho)}]

    def negative_x(rho):
        return -rho[0] / math.sqrt(1 + rho @ rho)

    starts = np.random.default_rng(17).uniform(-0.3, 0.3, size=(20, 3))
    best = max(
        -minimize(negative_x, start, constraints=constraints, method="SLSQP", tol=1e-14).fun
        for start in starts
    )
    assert FUNDAMENTAL_DOMAIN.x_range[1] == pytest.approx(best, abs=1e-7)
    # The coordinate axes are 2-fold axes and their cyclic permutation a 3-fold rotation of I,
    # so the three ranges coincide and are symmetric about 0.
    domain = FUNDAMENTAL_DOMAIN
    for low, high in (domain.x_range, domain.y_range, domain.z_range):
        assert low == pytest.approx(-best, abs=1e-7) and high == pytest.approx(best, abs=1e-7)


def test_uniform_fundamental_domain_torch():
    q = uniform_fundamental_domain(1000, torch.Generator().manual_seed(1))
    assert isinstance(q, torch.Tensor) and (q[:, 0] >= FUNDAMENTAL_DOMAIN.w_min - 1e-6).all()


# --------------------------------------------------------------------------- icosahedron


def test_vertices_lie_on_circumsphere_with_five_neighbours():
    radius = 42.0
    vertices = icosahedron_vertices(radius)
    assert vertices.shape == (12, 3)
    np.testing.assert_allclose(np.linalg.norm(vertices, axis=1), radius)
    distances = np.linalg.norm(vertices[:, None] - vertices[None], axis=-1)
    assert (np.isclose(distances, edge_length(radius)).sum(axis=1) == 5).all()
    spec_vertex = radius / math.sqrt(1 + GOLDEN_RATIO**2) * np.array([0.0, 1.0, GOLDEN_RATIO])
    assert np.isclose(vertices, spec_vertex).all(axis=1).any()


def test_faces_form_the_convex_hull_counter_clockwise():
    vertices = icosahedron_vertices(1.0)
    faces = icosahedron_faces()
    assert faces.shape == (20, 3)
    edges = Counter(
        tuple(sorted(edge)) for face in faces for edge in itertools.combinations(face, 2)
    )
    assert len(edges) == 30 and set(edges.values()) == {2}
    assert 12 - len(edges) + len(faces) == 2  # Euler
    hull = ConvexHull(vertices)
    assert {frozenset(f) for f in faces} == {frozenset(s) for s in hull.simplices}
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    assert (np.einsum("fi,fi->f", np.cross(b - a, c - a), a + b + c) > 0).all()
    # Consistent orientation: every edge is traversed once in each direction.
    directed = Counter((face[i], face[(i + 1) % 3]) for face in faces for i in range(3))
    assert all(directed[(j, i)] == 1 for i, j in directed)


def test_halfspaces_bound_the_icosahedron():
    radius = 7.0
    normals, offsets = icosahedron_halfspaces(radius)
    assert normals.shape == (20, 3) and offsets.shape == (20,)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0)
    # Inradius of the regular icosahedron: φ²a/(2√3).
    np.testing.assert_allclose(offsets, GOLDEN_RATIO**2 * edge_length(radius) / (2 * math.sqrt(3)))
    vertices = icosahedron_vertices(radius)
    slack = offsets[None] - vertices @ normals.T
    assert (slack > -1e-12).all()
    assert (np.isclose(slack, 0, atol=1e-12).sum(axis=1) == 5).all()
    solid = HalfspaceIntersection(np.hstack([normals, -offsets[:, None]]), np.zeros(3))
    volume = icosahedron_volume(radius)
    assert ConvexHull(solid.intersections).volume == pytest.approx(volume, rel=1e-12)
    assert ConvexHull(vertices).volume == pytest.approx(volume, rel=1e-12)


def test_voxel_grid_has_a_voxel_at_the_origin():
    centres = voxel_centres_nm(192, 318.75 / 192)
    assert centres[96] == 0.0 and centres[0] == pytest.approx(-159.375)


def test_voxelize_matches_rotated_hull(rng):
    # Active rotation: the density must be 1 exactly inside the hull of R(q)·vertices.
    q = normalize_quaternion(rng.normal(size=4))
    radius, voxel, n = 12.0, 1.0, 32
    density = voxelize(radius, q, (n, n, n), voxel)
    assert density.dtype == np.float32 and density.shape == (n, n, n)
    hull = Delaunay(scipy_rotation(q).apply(icosahedron_vertices(radius)))
    coordinates = voxel_centres_nm(n, voxel)
    z, y, x = np.meshgrid(coordinates, coordinates, coordinates, indexing="ij")
    inside = hull.find_simplex(np.stack([x, y, z], axis=-1).reshape(-1, 3)) >= 0
    assert np.array_equal(density.reshape(-1) == 1, inside)


def test_supersampled_voxelize_is_the_mean_over_sub_voxel_points(rng):
    # Brute force: test every point of the s×s×s cell-centred lattice of every voxel.
    q = normalize_quaternion(rng.normal(size=4))
    radius, voxel, n, s = 6.0, 1.0, 16, 3
    hull = Delaunay(scipy_rotation(q).apply(icosahedron_vertices(radius)))
    fine = voxel_centres_nm(n, voxel)[:, None] + ((np.arange(s) + 0.5) / s - 0.5) * voxel
    z, y, x = np.meshgrid(fine.ravel(), fine.ravel(), fine.ravel(), indexing="ij")
    inside = hull.find_simplex(np.stack([x, y, z], axis=-1).reshape(-1, 3)) >= 0
    expected = inside.reshape(n, s, n, s, n, s).mean(axis=(1, 3, 5))
    np.testing.assert_allclose(voxelize(radius, q, n, voxel, supersample=s), expected, atol=1e-6)


def test_voxelize_volume_with_supersampling(rng):
    radius, voxel = 20.0, 1.0
    q = normalize_quaternion(rng.normal(size=4))
    density = voxelize(radius, q, (48, 50, 52), voxel, supersample=3)
    assert density.shape == (48, 50, 52) and density.min() == 0 and density.max() == 1
    assert len(np.unique(density)) > 2  # fractional occupancy at the surface
    assert density.sum() * voxel**3 == pytest.approx(icosahedron_volume(radius), rel=0.01)
    # Centred on the origin: the density's centroid is the particle's centre.
    axes = [voxel_centres_nm(size, voxel) for size in density.shape]
    centroid = [np.einsum("zyx,z->", density, axes[0]), np.einsum("zyx,y->", density, axes[1]),
                np.einsum("zyx,x->", density, axes[2])]
    np.testing.assert_allclose(np.array(centroid) / density.sum(), 0.0, atol=0.02)


def test_voxelize_rejects_several_quaternions():
    with pytest.raises(ValueError):
        voxelize(10.0, np.eye(4)[:2], 16, 1.0)
    with pytest.raises(ValueError):
        voxelize(10.0, [1.0, 0, 0, 0], 16, 1.0, supersample=0)
