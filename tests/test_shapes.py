"""Tests of the shape families (wideshot.geometry.shapes, solids, groups, orientation, voxels)
against independent references (docs/conventions.md "Orientation" and "Shape families").

References used here, none of which shares code with ``wideshot``:

- scipy's ``Rotation.create_group`` for the groups I, O, D5, D3 (its axes coincide with SPEC's:
  checked in :func:`test_scipy_groups_use_specs_axes`, so no conjugation is needed);
- a brute-force search for ALL proper rotations mapping a solid's vertex set onto itself;
- polytopes built here from SPEC's table with scipy's HalfspaceIntersection / ConvexHull /
  Delaunay, and closed-form volumes, edge lengths and vertex counts derived by hand below;
- a brute-force canonical form (max |w| over the scipy group) for fundamental domains,
  misorientations and orbits, and closed forms of the fundamental domains of O, D5 and D3
  derived from their Rodrigues polytopes.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.spatial import ConvexHull, Delaunay, HalfspaceIntersection
from scipy.spatial.transform import Rotation
from scipy.stats import ks_2samp

from wideshot.geometry import (
    ALL_ROTATIONS,
    DIHEDRAL_3,
    DIHEDRAL_5,
    ICOSAHEDRAL,
    OCTAHEDRAL,
    SHAPE_FAMILIES,
    Ball,
    ConvexPolyhedron,
    canonical,
    closest_equivalent,
    fundamental_domain,
    mean_orientation,
    misorientation_deg,
    misorientation_rad,
    shape_family,
    uniform_fundamental_domain,
    voxelize,
)
from wideshot.geometry.shapes import shape_batch

PHI = (1.0 + math.sqrt(5.0)) / 2.0
INV_PHI = 1.0 / PHI

#: family → (group object, scipy group name)
GROUPS = {
    "icosahedron": (ICOSAHEDRAL, "I"),
    "decahedron": (DIHEDRAL_5, "D5"),
    "octahedral": (OCTAHEDRAL, "O"),
    "twinned-tetrahedron": (DIHEDRAL_3, "D3"),
}
ORDERS = {"I": 60, "O": 24, "D5": 10, "D3": 6}
POLYHEDRAL = tuple(GROUPS)

#: Parameters per family: the range ends, the named special solids and a generic value.
PARAMETERS = {
    "icosahedron": [None],
    "decahedron": [0.4, INV_PHI, 1.0, 1.3, 1.6],
    "octahedral": [0.0, 0.3, 0.5, 0.75, 0.9, 1.0],
    "twinned-tetrahedron": [0.0, 0.2, 0.5],
}
FAMILY_PARAMETERS = [(name, p) for name, values in PARAMETERS.items() for p in values]


# ------------------------------------------------------------------------------ helpers ----


def qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product, scalar first (written here; checked against scipy below)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, float), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, float), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def conj(q: np.ndarray) -> np.ndarray:
    return np.asarray(q, float) * np.array([1.0, -1.0, -1.0, -1.0])


def to_scipy(q) -> Rotation:
    return Rotation.from_quat(np.asarray(q, float), scalar_first=True)


def matrices(q) -> np.ndarray:
    return to_scipy(q).as_matrix()


def scipy_group(name: str) -> np.ndarray:
    """scipy's group as unit quaternions (n, 4), scalar first."""
    return Rotation.create_group(name, axis="Z").as_quat(scalar_first=True)


def random_unit(n: int, seed: int) -> np.ndarray:
    return Rotation.random(n, random_state=seed).as_quat(scalar_first=True)


def angle(q: np.ndarray) -> np.ndarray:
    """Rotation angle in [0, π] (scipy)."""
    return to_scipy(q).magnitude()


def same_rotation_sets(a: np.ndarray, b: np.ndarray, atol: float = 1e-9) -> bool:
    """Whether two sets of unit quaternions are the same set of rotations (q ~ −q)."""
    match = np.abs(np.abs(a @ b.T) - 1.0) < atol
    return len(a) == len(b) and bool((match.sum(0) == 1).all() and (match.sum(1) == 1).all())


def maps_onto_itself(rotation_matrix: np.ndarray, points: np.ndarray, atol: float = 1e-9) -> bool:
    moved = points @ rotation_matrix.T
    distances = np.linalg.norm(moved[:, None] - points[None], axis=-1)
    return bool((distances.min(axis=1) < atol).all())


def brute_canonical(q: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Of ±(q ⊗ g), the one with the largest w, by trying every g (w(q⊗g) = q·conj(g))."""
    w = q @ conj(group).T
    best = np.abs(w).argmax(-1)
    out = qmul(q, group[best])
    return out * np.where(out[..., :1] < 0, -1.0, 1.0)


def brute_misorientation(q1: np.ndarray, q2: np.ndarray, group: np.ndarray) -> np.ndarray:
    """min over g of the scipy rotation angle of q1⁻¹ ⊗ q2 ⊗ g, rad."""
    relative = to_scipy(q1).inv() * to_scipy(q2)
    return np.min([(relative * to_scipy(g)).magnitude() for g in group], axis=0)


def assert_same_quaternion_up_to_sign(a, b, atol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    error = np.minimum(np.abs(a - b).max(-1), np.abs(a + b).max(-1))
    assert error.max() < atol, error.max()


def halfspace_solid(family: str, p) -> np.ndarray:
    """Vertices (unit circumradius) of the family's solid, built here from SPEC's table."""
    if family == "icosahedron":
        v = np.array([[0.0, s1, s2 * PHI] for s1 in (-1, 1) for s2 in (-1, 1)])
        v = np.concatenate([np.roll(v, k, axis=1) for k in range(3)])  # cyclic permutations
        return v / np.linalg.norm(v, axis=1).max()
    if family == "decahedron":
        k = np.arange(5) * 2 * np.pi / 5
        points = np.concatenate([np.stack([np.cos(k), np.sin(k), 0 * k], 1),
                                 [[0, 0, p], [0, 0, -p]]])
        points = points[ConvexHull(points).vertices]
    elif family == "octahedral":
        normals = np.concatenate([np.array(list(itertools.product((-1, 1), repeat=3)), float),
                                  np.eye(3), -np.eye(3)])
        offsets = np.concatenate([np.ones(8), np.full(6, 1 - 2 * p / 3)])
        points = HalfspaceIntersection(np.hstack([normals, -offsets[:, None]]),
                                       np.zeros(3)).intersections
    elif family == "twinned-tetrahedron":
        k = np.arange(3) * 2 * np.pi / 3
        ring = np.stack([np.cos(k), np.sin(k), 0 * k], 1)
        tips = np.concatenate([ring, [[0, 0, math.sqrt(2)], [0, 0, -math.sqrt(2)]]])
        normals, offsets = [], []
        for i in range(3):  # the six faces of the bipyramid
            for apex in tips[3:]:
                n = np.cross(ring[(i + 1) % 3] - ring[i], apex - ring[i])
                n /= np.linalg.norm(n)
                n, d = (n, n @ ring[i]) if n @ ring[i] > 0 else (-n, -(n @ ring[i]))
                normals.append(n)
                offsets.append(d)
        lengths = np.linalg.norm(tips, axis=1)
        normals = np.concatenate([normals, tips / lengths[:, None]])
        offsets = np.concatenate([offsets, (1 - p) * lengths])
        points = HalfspaceIntersection(np.hstack([normals, -offsets[:, None]]),
                                       np.zeros(3)).intersections
    else:
        raise ValueError(family)
    points = points / np.linalg.norm(points, axis=1).max()
    unique = []  # drop duplicate intersections
    for point in points:
        if not any(np.linalg.norm(point - u) < 1e-9 for u in unique):
            unique.append(point)
    return np.array(unique)


def octahedral_volume(p: float) -> float:
    """Unit-circumradius volume. c = 1 − 2p/3. c ≥ 1/2: octahedron (4/3) minus six square
    pyramids of height h = 1 − c (volume 2h³/3 each), farthest vertex (c, 1−c, 0); c ≤ 1/2: cube
    (2c)³ minus eight corner tetrahedra of legs 3c − 1 (volume (3c−1)³/6), farthest (c, c, 1−2c)."""
    c = 1 - 2 * p / 3
    if c >= 0.5:
        volume, radius2 = 4 / 3 - 4 * (1 - c) ** 3, c**2 + (1 - c) ** 2
    else:
        volume, radius2 = 8 * c**3 - 4 * (3 * c - 1) ** 3 / 3, 2 * c**2 + (1 - 2 * c) ** 2
    return volume / radius2**1.5


def decahedron_volume(p: float) -> float:
    """Two pyramids of height p over the unit pentagon (area 5/2 sin 72°), scaled to R = 1."""
    return 5 / 3 * math.sin(2 * math.pi / 5) * p / max(1.0, p) ** 3


def regular_tetrahedron_volume(edge: float) -> float:
    return edge**3 / (6 * math.sqrt(2))


#: The icosahedron of circumradius 1: edge a = 1/sin(2π/5), V = 5/12 (3+√5) a³.
ICOSAHEDRON_VOLUME = 5 / 12 * (3 + math.sqrt(5)) / math.sin(2 * math.pi / 5) ** 3


def reference_volume(family: str, p) -> float:
    """Closed forms where derived, else the ConvexHull of the solid built here."""
    if family == "icosahedron":
        return ICOSAHEDRON_VOLUME
    if family == "decahedron":
        return decahedron_volume(p)
    if family == "octahedral":
        return octahedral_volume(p)
    if family == "sphere":
        return 4 / 3 * math.pi
    return ConvexHull(halfspace_solid(family, p)).volume


# ------------------------------------------------------------------- 1. rotation groups ----


def test_own_quaternion_product_matches_scipy():
    a, b = random_unit(50, 1), random_unit(50, 2)
    np.testing.assert_allclose(matrices(qmul(a, b)), (to_scipy(a) * to_scipy(b)).as_matrix(),
                               atol=1e-12)


def test_scipy_groups_use_specs_axes():
    # So that the groups compare directly (no conjugation): scipy's I has its 5-fold axes along
    # the cyclic permutations of (0, ±1, ±φ) (SPEC's vertices); D5/D3 about z have a 2-fold
    # axis along x (SPEC: "half turns about the x axis and its images"); O has 4-fold axes x, y, z.
    def axes_of_angle(name, theta):
        rotvec = Rotation.create_group(name, axis="Z").as_rotvec()
        keep = np.isclose(np.linalg.norm(rotvec, axis=1), theta)
        return rotvec[keep] / theta

    vertices = halfspace_solid("icosahedron", None)
    for axis in axes_of_angle("I", 2 * np.pi / 5):
        assert np.abs(np.abs(vertices @ axis) - 1).min() < 1e-12
    for name in ("D5", "D3"):
        assert np.abs(axes_of_angle(name, np.pi) - [1, 0, 0]).max(axis=1).min() < 1e-12
        assert np.abs(np.abs(axes_of_angle(name, 2 * np.pi / int(name[1]))) - [0, 0, 1]).max() \
            < 1e-12
    for axis in axes_of_angle("O", np.pi / 2):
        assert np.isclose(np.abs(axis).max(), 1.0)


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_group_equals_scipys_group(family):
    group, scipy_name = GROUPS[family]
    assert group is shape_family(family).group
    assert group.order == ORDERS[scipy_name] == len(group.elements) and group.is_finite
    elements = group.elements
    np.testing.assert_array_equal(elements[0], [1.0, 0.0, 0.0, 0.0])  # identity first
    assert (elements[:, 0] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(elements, axis=1), 1.0, atol=1e-14)
    assert same_rotation_sets(elements, scipy_group(scipy_name))
    assert not elements.flags.writeable


def test_icosahedral_rotation_angles():
    # Orders 60 = 1 + 24 five-fold-type (12 by 72°, 12 by 144°) + 20 three-fold + 15 two-fold.
    angles = np.degrees(angle(ICOSAHEDRAL.elements))
    counts = {a: int(np.isclose(angles, a, atol=1e-9).sum()) for a in (0, 72, 144, 120, 180)}
    assert counts == {0: 1, 72: 12, 144: 12, 120: 20, 180: 15}


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_group_is_closed_under_products_and_inverses(family):
    elements = GROUPS[family][0].elements
    products = qmul(elements[:, None], elements[None]).reshape(-1, 4)
    assert (np.abs(np.abs(products @ elements.T) - 1).min(axis=1) < 1e-12).all()
    assert (np.abs(np.abs(conj(elements) @ elements.T) - 1).min(axis=1) < 1e-12).all()


@pytest.mark.parametrize("family, p", FAMILY_PARAMETERS)
def test_every_group_element_maps_the_solid_onto_itself(family, p):
    vertices = shape_family(family).solid(p).vertices
    for rotation in matrices(GROUPS[family][0].elements):
        assert maps_onto_itself(rotation, vertices)


def full_proper_symmetry_group(points: np.ndarray) -> np.ndarray:
    """Every rotation mapping a vertex set onto itself, by brute force: a rotation is fixed by
    the images of two non-collinear vertices, and must send vertices to vertices of the same
    norm with the same dot product. Returns unit quaternions (n, 4)."""
    norms = np.linalg.norm(points, axis=1)
    a = 0
    b = int(np.argmax(np.linalg.norm(np.cross(points[a], points), axis=1)))
    frame = np.stack([points[a], points[b], np.cross(points[a], points[b])], axis=1)
    found = []
    for i, j in itertools.permutations(range(len(points)), 2):
        if (abs(norms[i] - norms[a]) > 1e-9 or abs(norms[j] - norms[b]) > 1e-9
                or abs(points[i] @ points[j] - points[a] @ points[b]) > 1e-9):
            continue
        image = np.stack([points[i], points[j], np.cross(points[i], points[j])], axis=1)
        rotation = image @ np.linalg.inv(frame)
        if np.abs(rotation @ rotation.T - np.eye(3)).max() > 1e-9:
            continue
        if np.linalg.det(rotation) > 0 and maps_onto_itself(rotation, points):
            found.append(Rotation.from_matrix(rotation).as_quat(scalar_first=True))
    return np.array(found)


@pytest.mark.parametrize("family, p", FAMILY_PARAMETERS)
def test_group_is_the_whole_rotation_symmetry_of_the_solid(family, p):
    # No rotation outside G maps the solid onto itself (and every one in G does).
    symmetries = full_proper_symmetry_group(shape_family(family).solid(p).vertices)
    assert same_rotation_sets(symmetries, GROUPS[family][0].elements)


def axis_angle(axis, theta):
    return Rotation.from_rotvec(np.asarray(axis, float) / np.linalg.norm(axis) * theta)


#: Rotations just outside each group: of a bigger dihedral group, or of the cube for I.
NEAR_MISSES = {
    "decahedron": [axis_angle([0, 0, 1], np.pi / 5), axis_angle([0, 1, 0], np.pi),
                   axis_angle([np.cos(np.pi / 10), np.sin(np.pi / 10), 0], np.pi)],
    "twinned-tetrahedron": [axis_angle([0, 0, 1], np.pi / 3), axis_angle([0, 1, 0], np.pi),
                            axis_angle([1, 0, 0], np.pi / 2)],
    "octahedral": [axis_angle([0, 0, 1], np.pi / 4), axis_angle([1, 1, 1], np.pi / 3),
                   axis_angle([1, 2, 0], np.pi)],
    "icosahedron": [axis_angle([0, 0, 1], np.pi / 2), axis_angle([1, 1, 0], np.pi),
                    axis_angle([0, 1, PHI], np.pi / 5)],
}


@pytest.mark.parametrize("family, p", FAMILY_PARAMETERS)
def test_rotations_outside_the_group_do_not_map_the_solid_onto_itself(family, p):
    vertices = shape_family(family).solid(p).vertices
    outside = list(Rotation.random(100, random_state=3)) + NEAR_MISSES[family]
    elements = GROUPS[family][0].elements
    for rotation in outside:
        q = rotation.as_quat(scalar_first=True)
        assert np.abs(np.abs(elements @ q) - 1).min() > 1e-6  # really outside G
        assert not maps_onto_itself(rotation.as_matrix(), vertices, atol=1e-6)


# --------------------------------------------------------------- 2. fundamental domains ----


def closed_form_domain(scipy_name: str) -> dict:
    """w_min and the component ranges from the Rodrigues polytope |n_g·ρ| ≤ tan(θ_g/4),
    w = 1/√(1+|ρ|²), (x, y, z) = w ρ.

    O: |ρ_i| ≤ tan(π/8) = t (4-fold), |±ρx±ρy±ρz| ≤ √3 tan(π/6) = 1 (3-fold); farthest vertex
       (t, t, 1−2t) with |ρ|² = 23 − 16√2 → w_min = (2+√2)/4 = cos²(π/8) (62.8°); the component
       x = ρx/√(1+|ρ|²) is largest at ρ = (t, 0, 0): sin(π/8).
    D_n (n odd, a = π/2n): |ρz| ≤ tan a; in plane the 2n-gon |m_k·ρ| ≤ 1 (half turns about
       m_k = (cos πk/n, sin πk/n)), circumradius 1/cos a, a vertex on the y axis, a face ⊥ x.
       Farthest vertex: |ρ|² = 1/cos²a + tan²a → w_min = cos(a)/√2; x ≤ 1/√2 at ρ = (1, 0, 0);
       y ≤ 1/√(1 + cos²a) at ρ = (0, 1/cos a, 0); z ≤ sin a at ρ = (0, 0, tan a).
    I: the dodecahedron of inradius tan(π/10); vertex along a 3-fold axis at angle β from a
       5-fold axis, cos β = φ²/√(3(1+φ²)) → |ρ| = tan(π/10)/cos β.
    """
    if scipy_name == "O":
        s = math.sin(math.pi / 8)
        return {"w_min": (2 + math.sqrt(2)) / 4, "ranges": [(-s, s)] * 3}
    if scipy_name in ("D5", "D3"):
        a = math.pi / (2 * int(scipy_name[1]))
        x, y, z = 1 / math.sqrt(2), 1 / math.sqrt(1 + math.cos(a) ** 2), math.sin(a)
        return {"w_min": math.cos(a) / math.sqrt(2), "ranges": [(-x, x), (-y, y), (-z, z)]}
    cos_beta = PHI**2 / math.sqrt(3 * (1 + PHI**2))
    rho = math.tan(math.pi / 10) / cos_beta
    return {"w_min": 1 / math.sqrt(1 + rho**2), "ranges": None}


@pytest.fixture(scope="module")
def canonical_samples():
    """200k uniform rotations (scipy), canonicalised by brute force over scipy's group."""
    q = random_unit(200_000, 11)
    return {name: brute_canonical(q, scipy_group(name)) for name in ORDERS}


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_fundamental_domain_matches_brute_force_and_closed_form(family, canonical_samples):
    group, scipy_name = GROUPS[family]
    domain = fundamental_domain(family)
    assert domain is group.domain
    sample = canonical_samples[scipy_name]
    lower = np.array([domain.w_min, domain.x_range[0], domain.y_range[0], domain.z_range[0]])
    upper = np.array([domain.w_max, domain.x_range[1], domain.y_range[1], domain.z_range[1]])
    assert domain.w_max == 1.0
    # never exceeded ...
    assert (sample >= lower - 1e-9).all() and (sample <= upper + 1e-9).all()
    # ... and reached
    np.testing.assert_allclose(sample.min(axis=0), lower, atol=6e-3)  # measured ≤ 4.2e-3
    np.testing.assert_allclose(sample.max(axis=0), upper, atol=6e-3)
    np.testing.assert_allclose(domain.spans, upper - lower, atol=1e-15)
    expected = closed_form_domain(scipy_name)
    assert domain.w_min == pytest.approx(expected["w_min"], abs=1e-9)
    assert domain.max_rotation_rad == pytest.approx(2 * math.acos(expected["w_min"]), abs=1e-8)
    if expected["ranges"] is not None:
        ranges = [domain.x_range, domain.y_range, domain.z_range]
        np.testing.assert_allclose(ranges, expected["ranges"], atol=1e-9)


def test_named_largest_misorientations():
    # I 44.48° (the known largest icosahedral misorientation), O 62.80°, D5 95.48°, D3 104.48°
    # (2·arccos of the w_min above, evaluated by hand).
    assert math.degrees(ICOSAHEDRAL.domain.max_rotation_rad) == pytest.approx(44.4775, abs=1e-3)
    assert math.degrees(OCTAHEDRAL.domain.max_rotation_rad) == pytest.approx(62.7994, abs=1e-3)
    assert math.degrees(DIHEDRAL_5.domain.max_rotation_rad) == pytest.approx(95.4796, abs=1e-3)
    assert math.degrees(DIHEDRAL_3.domain.max_rotation_rad) == pytest.approx(104.4775, abs=1e-3)


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_uniform_fundamental_domain_is_canonical_uniform(family, canonical_samples):
    q = uniform_fundamental_domain(4000, np.random.default_rng(5), shape=family)
    assert q.shape == (4000, 4)
    np.testing.assert_allclose(q, brute_canonical(q, scipy_group(GROUPS[family][1])), atol=1e-12)
    reference = canonical_samples[GROUPS[family][1]][:4000, 0]
    assert ks_2samp(q[:, 0], reference).pvalue > 1e-3
    tensor = uniform_fundamental_domain(100, torch.Generator().manual_seed(2), shape=family)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (100, 4)
    assert (tensor[:, 0] >= fundamental_domain(family).w_min - 1e-6).all()


# ------------------------------------------------ 3. canonical form and misorientation ----


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_canonical_is_invariant_and_has_the_largest_w_of_the_orbit(family):
    group = scipy_group(GROUPS[family][1])
    q = random_unit(300, 21)
    reference = canonical(q, shape=family)
    assert (reference[:, 0] >= 0).all()
    # the orbit member with the largest |w| (brute force), hence a member of q's orbit
    np.testing.assert_allclose(reference, brute_canonical(q, group), atol=1e-12)
    orbit_w = np.abs(qmul(q[:, None], group[None]))[..., 0]
    np.testing.assert_allclose(reference[:, 0], orbit_w.max(axis=1), atol=1e-12)
    for g in group:
        for sign in (1.0, -1.0):
            np.testing.assert_allclose(canonical(sign * qmul(q, g), shape=family), reference,
                                       atol=1e-12)
    # idempotent, norm kept, one quaternion accepted
    np.testing.assert_allclose(canonical(reference, shape=family), reference, atol=1e-12)
    np.testing.assert_allclose(canonical(3.0 * q, shape=family), 3.0 * reference, atol=1e-12)
    np.testing.assert_allclose(canonical(q[0], shape=family), reference[0], atol=1e-12)


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_closest_equivalent_is_the_orbit_member_nearest_a_reference(family):
    group = scipy_group(GROUPS[family][1])
    q, reference = random_unit(200, 31), random_unit(200, 32)
    result = closest_equivalent(q, reference, shape=family)
    orbit = qmul(q[:, None], group[None])  # (200, |G|, 4)
    dots = np.einsum("bgi,bi->bg", orbit, reference)
    assert isinstance(result, np.ndarray) and result.shape == (200, 4)
    np.testing.assert_allclose(np.einsum("bi,bi->b", result, reference),
                               np.abs(dots).max(axis=1), atol=1e-12)
    index = np.abs(dots).argmax(axis=1)
    assert_same_quaternion_up_to_sign(result, orbit[np.arange(200), index])


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_misorientation_matches_brute_force(family):
    group = scipy_group(GROUPS[family][1])
    q1, q2 = random_unit(300, 41), random_unit(300, 42)
    expected = brute_misorientation(q1, q2, group)
    np.testing.assert_allclose(misorientation_rad(q1, q2, shape=family), expected, atol=1e-9)
    np.testing.assert_allclose(misorientation_deg(q1, q2, shape=family), np.degrees(expected),
                               atol=1e-7)
    np.testing.assert_allclose(misorientation_rad(q2, q1, shape=family), expected, atol=1e-9)
    # zero between equivalent orientations (any g, either sign)
    g = group[np.random.default_rng(0).integers(len(group), size=300)]
    assert np.abs(misorientation_rad(q1, -qmul(q1, g), shape=family)).max() < 1e-6
    # bounded by the domain's largest rotation, which a dense sample nearly reaches
    bound = fundamental_domain(family).max_rotation_rad
    many = misorientation_rad(random_unit(50_000, 43), random_unit(50_000, 44), shape=family)
    assert many.max() <= bound + 1e-9
    assert many.max() > bound - math.radians(3)


@pytest.mark.parametrize("family", POLYHEDRAL)
def test_numpy_and_torch_paths_agree(family):
    q1, q2 = random_unit(64, 51), random_unit(64, 52)
    t1, t2 = torch.from_numpy(q1), torch.from_numpy(q2)
    for numpy_result, torch_result in [
        (canonical(q1, shape=family), canonical(t1, shape=family)),
        (closest_equivalent(q1, q2, shape=family), closest_equivalent(t1, t2, shape=family)),
        (misorientation_rad(q1, q2, shape=family), misorientation_rad(t1, t2, shape=family)),
        (mean_orientation(q1.reshape(8, 8, 4), shape=family),
         mean_orientation(t1.reshape(8, 8, 4), shape=family)),
    ]:
        assert isinstance(torch_result, torch.Tensor) and torch_result.dtype == torch.float64
        np.testing.assert_allclose(torch_result.numpy(), numpy_result, atol=1e-12)
    single = canonical(t1.float(), shape=family)
    assert single.dtype == torch.float32
    np.testing.assert_allclose(single.numpy(), canonical(q1, shape=family), atol=1e-5)


def test_sphere_has_no_orientation():
    family = shape_family("sphere")
    assert family.group is ALL_ROTATIONS and not family.has_orientation
    assert ALL_ROTATIONS.order is None and not ALL_ROTATIONS.is_finite
    q = 2.0 * random_unit(20, 61)
    np.testing.assert_allclose(canonical(q, shape="sphere"), np.tile([2.0, 0, 0, 0], (20, 1)),
                               atol=1e-12)
    tensor = canonical(torch.from_numpy(q), shape="sphere")
    np.testing.assert_allclose(tensor.numpy(), np.tile([2.0, 0, 0, 0], (20, 1)), atol=1e-12)
    assert np.abs(misorientation_deg(q, random_unit(20, 62), shape="sphere")).max() < 1e-9
    reference = random_unit(20, 63)
    np.testing.assert_allclose(closest_equivalent(q, reference, shape="sphere"), 2 * reference,
                               atol=1e-12)
    np.testing.assert_allclose(mean_orientation(q.reshape(4, 5, 4), shape="sphere"),
                               np.tile([1.0, 0, 0, 0], (4, 1)), atol=1e-12)
    np.testing.assert_allclose(uniform_fundamental_domain(5, 0, shape="sphere"),
                               np.tile([1.0, 0, 0, 0], (5, 1)), atol=1e-12)
    domain = fundamental_domain("sphere")
    assert (domain.w_min, domain.w_max, domain.max_rotation_rad) == (1.0, 1.0, 0.0)
    assert (domain.x_range, domain.y_range, domain.z_range) == ((0.0, 0.0),) * 3
    assert domain.spans == (0.0, 0.0, 0.0, 0.0)


# ------------------------------------------------------------------- 4. mean orientation ----


@pytest.mark.parametrize("robust_scale_deg", [5.0, None])
@pytest.mark.parametrize("family", POLYHEDRAL)
def test_mean_orientation_recovers_the_truth(family, robust_scale_deg):
    group = scipy_group(GROUPS[family][1])
    rng = np.random.default_rng(71)
    particles, views = 12, 16
    truth = random_unit(particles, 72)
    # each view a few degrees off the truth (1° per rotation-vector component: ~1.6° typical)
    noise = Rotation.from_rotvec(rng.normal(scale=math.radians(1.0), size=(particles * views, 3))
                                 ).as_quat(scalar_first=True)
    noisy = qmul(np.repeat(truth, views, axis=0), noise).reshape(particles, views, 4)
    # ... then replaced by a random member of its orbit, with a random sign
    members = group[rng.integers(len(group), size=(particles, views))]
    signs = rng.choice([-1.0, 1.0], size=(particles, views, 1))
    estimates = signs * qmul(noisy, members)
    mean = mean_orientation(estimates, robust_scale_deg=robust_scale_deg, shape=family)
    assert mean.shape == (particles, 4)
    error = np.degrees(brute_misorientation(truth, mean, group))
    assert error.max() < 1.0, error
    np.testing.assert_allclose(mean, brute_canonical(mean, group), atol=1e-12)  # canonical
    if robust_scale_deg is None:
        # the plain mean is the chordal mean of the unshuffled estimates, made canonical
        aligned = noisy * np.sign(np.einsum("pvi,pi->pv", noisy, truth))[..., None]
        chordal = aligned.sum(axis=1)
        chordal /= np.linalg.norm(chordal, axis=1, keepdims=True)
        np.testing.assert_allclose(mean, brute_canonical(chordal, group), atol=1e-12)


def test_mean_orientation_of_one_estimate_and_of_an_outlier():
    q = random_unit(3, 75)
    np.testing.assert_allclose(mean_orientation(q[:, None], shape="decahedron"),
                               canonical(q, shape="decahedron"), atol=1e-12)
    # four agreeing estimates and a far outlier: the robust mean stays near the four
    truth = q[0]
    near = qmul(truth, Rotation.from_rotvec(np.radians(
        [[0.5, 0, 0], [-0.5, 0, 0], [0, 0.5, 0], [0, -0.5, 0]])).as_quat(scalar_first=True))
    outlier = qmul(truth, axis_angle([0, 0, 1], math.radians(30)).as_quat(scalar_first=True))
    estimates = np.concatenate([near, outlier[None]])
    robust = mean_orientation(estimates, shape="octahedral")
    plain = mean_orientation(estimates, robust_scale_deg=None, shape="octahedral")
    assert misorientation_deg(robust, truth, shape="octahedral") < 1.0
    assert misorientation_deg(plain, truth, shape="octahedral") > 4.0


# ------------------------------------------------------------------------------ 5. solids ----


@pytest.mark.parametrize("family, p", FAMILY_PARAMETERS)
def test_solid_vertices_match_specs_table(family, p):
    solid = shape_family(family).solid(p)
    assert isinstance(solid, ConvexPolyhedron)
    expected = halfspace_solid(family, p)
    assert len(solid.vertices) == len(expected)
    distances = np.linalg.norm(solid.vertices[:, None] - expected[None], axis=-1)
    assert distances.min(axis=1).max() < 1e-9 and distances.min(axis=0).max() < 1e-9
    assert np.linalg.norm(solid.vertices, axis=1).max() == pytest.approx(1.0, abs=1e-12)
    assert solid.volume() == pytest.approx(reference_volume(family, p), rel=1e-9)


@pytest.mark.parametrize("p, n_vertices, volume", [
    (0.0, 6, 4 / 3),  # octahedron
    (0.5, 24, 32 / 27 * (3 / math.sqrt(5)) ** 3),  # truncated octahedron (2/3, 1/3, 0) …
    (0.75, 12, 5 * math.sqrt(2) / 3),  # cuboctahedron: edge = circumradius = 1
    (1.0, 8, 8 / (3 * math.sqrt(3))),  # cube of edge 2/√3
    (0.3, 24, None),
    (0.9, 24, None),  # truncated cube
])
def test_named_octahedral_solids(p, n_vertices, volume):
    solid = shape_family("octahedral").solid(p)
    assert len(solid.vertices) == n_vertices
    if volume is not None:
        assert solid.volume() == pytest.approx(volume, rel=1e-12)
        assert octahedral_volume(p) == pytest.approx(volume, rel=1e-12)


def test_cuboctahedron_and_truncated_octahedron_have_equal_edges():
    for p, neighbours in ((0.5, 3), (0.75, 4)):
        vertices = shape_family("octahedral").solid(p).vertices
        distances = np.linalg.norm(vertices[:, None] - vertices[None], axis=-1)
        shortest = np.sort(distances, axis=1)[:, 1:neighbours + 1]
        np.testing.assert_allclose(shortest, shortest[0, 0], rtol=1e-12)
        assert np.sort(distances, axis=1)[:, neighbours + 1].min() > shortest[0, 0] * 1.01


def test_regular_decahedron_has_equal_edges():
    # At p = 1/φ the apex–ring edge √(1 + 1/φ²) equals the ring edge 2 sin 36° (both
    # √((5 − √5)/2)): the pentagonal bipyramid with 15 equal edges (Johnson solid J13). The
    # five tetrahedra around the axis are then only nearly regular: the axis is 2/φ = 1.236
    # against edges of 1.176 (the 7.35° gap of five regular tetrahedra is closed by strain).
    assert math.sqrt(1 + INV_PHI**2) == pytest.approx(2 * math.sin(math.pi / 5), rel=1e-14)
    solid = shape_family("decahedron").solid(INV_PHI)
    v = solid.vertices
    assert len(v) == 7 and len(solid.faces) == 10
    edges = {tuple(sorted(e)) for f in solid.faces for e in itertools.combinations(f, 2)}
    lengths = [np.linalg.norm(v[i] - v[j]) for i, j in edges]
    assert len(edges) == 15
    np.testing.assert_allclose(lengths, 2 * math.sin(math.pi / 5), rtol=1e-12)
    assert solid.volume() == pytest.approx(decahedron_volume(INV_PHI), rel=1e-12)
    # other aspects: edges differ
    other = shape_family("decahedron").solid(1.0).vertices
    assert not np.isclose(np.linalg.norm(other[0] - other[1]),
                          np.linalg.norm(other[np.argmax(other[:, 2])] - other[0]))


def test_untruncated_twinned_tetrahedron_is_two_regular_tetrahedra():
    solid = shape_family("twinned-tetrahedron").solid(0.0)
    v = solid.vertices
    assert len(v) == 5 and len(solid.faces) == 6
    # all 9 edges equal: edge a of a tetrahedron whose apex is at distance 1 from the shared
    # face's centre (height √(2/3) a = 1)
    edge = math.sqrt(1.5)
    edges = {tuple(sorted(e)) for f in solid.faces for e in itertools.combinations(f, 2)}
    assert len(edges) == 9
    np.testing.assert_allclose([np.linalg.norm(v[i] - v[j]) for i, j in edges], edge, rtol=1e-12)
    assert solid.volume() == pytest.approx(2 * regular_tetrahedron_volume(edge), rel=1e-12)
    assert solid.volume() == pytest.approx(math.sqrt(3) / 4, rel=1e-12)


def test_truncated_twinned_tetrahedron_vertex_counts():
    # Each of the 5 tips is cut by a plane: a ring vertex (degree 4) becomes a quadrilateral,
    # an apex (degree 3) a triangle: 3·4 + 2·3 = 18 vertices while the cuts do not meet. On an
    # apex–ring edge both cuts sit at the fraction p from their end (v̂·u = 0 for the two ends),
    # so at p = 1/2 they meet and the six pairs merge: 12 vertices. (On ring edges the cuts sit
    # at 2p/3 from each end and never meet.)
    for p in (0.1, 0.2, 0.4, 0.49):
        assert len(shape_family("twinned-tetrahedron").solid(p).vertices) == 18
    vertices = shape_family("twinned-tetrahedron").solid(0.5).vertices
    assert len(vertices) == 12
    # the merged points: the midpoints of the apex–ring edges, at |(1/2, 0, √2/2)| = √3/2 before
    # scaling, are the farthest points
    assert (np.isclose(np.linalg.norm(vertices, axis=1), 1.0, atol=1e-12)).sum() == 6


@pytest.mark.parametrize("family, p", FAMILY_PARAMETERS)
def test_faces_are_outward_triangles_of_the_hull(family, p):
    solid = shape_family(family).solid(p)
    v, faces = solid.vertices, solid.faces
    assert faces.dtype == np.int64 and faces.shape[1] == 3
    assert sorted(set(faces.ravel())) == list(range(len(v)))
    hull = ConvexHull(v)
    a, b, c = (v[faces[:, i]] for i in range(3))
    normals = np.cross(b - a, c - a)
    assert (np.einsum("fi,fi->f", normals, (a + b + c) / 3) > 0).all()  # outward
    assert solid.volume() == pytest.approx(hull.volume, rel=1e-12) and solid.volume() > 0
    assert 0.5 * np.linalg.norm(normals, axis=1).sum() == pytest.approx(hull.area, rel=1e-12)
    unit, offsets = solid.halfspaces()
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-14)
    assert ((v @ unit.T - offsets) <= 1e-12).all()  # every vertex behind every face plane
    # every triangle lies in a facet plane of scipy's hull
    planes = hull.equations
    agree = np.abs(unit @ planes[:, :3].T - 1) < 1e-9
    agree &= np.abs(offsets[:, None] + planes[None, :, 3]) < 1e-9
    assert agree.any(axis=1).all()


@pytest.mark.parametrize("family, p", FAMILY_PARAMETERS)
def test_margin_tells_inside_from_outside(family, p):
    solid = shape_family(family).solid(p)
    points = np.random.default_rng(81).uniform(-1.1, 1.1, size=(8000, 3))
    hull = ConvexHull(solid.vertices)
    signed = (points @ hull.equations[:, :3].T + hull.equations[:, 3]).max(axis=1)
    clear = np.abs(signed) > 1e-9
    inside = Delaunay(solid.vertices).find_simplex(points) >= 0
    margin = solid.margin(points)
    assert margin.shape == (8000,)
    assert np.array_equal((margin <= 0)[clear], inside[clear])
    assert inside.sum() > 250 and (~inside).sum() > 250
    # outside: a lower bound of the distance to the solid (≤ the distance to the nearest vertex)
    nearest_vertex = np.linalg.norm(points[:, None] - solid.vertices[None], axis=-1).min(axis=1)
    assert (margin <= nearest_vertex + 1e-12).all()
    np.testing.assert_allclose(margin, signed, atol=1e-12)  # max over face planes
    assert np.abs(solid.margin(solid.vertices)).max() < 1e-12
    assert solid.margin(np.zeros((1, 3)))[0] < 0
    assert solid.margin(np.zeros((2, 5, 3))).shape == (2, 5)


def test_sphere_solid():
    ball = shape_family("sphere").solid()
    assert isinstance(ball, Ball) and ball.circumradius == 1.0
    assert ball.volume() == pytest.approx(4 / 3 * math.pi, rel=1e-15)
    points = np.random.default_rng(83).normal(size=(100, 3))
    np.testing.assert_allclose(ball.margin(points), np.linalg.norm(points, axis=1) - 1,
                               atol=1e-15)


def reflect(points: np.ndarray, normal) -> np.ndarray:
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    return points - 2 * np.outer(points @ normal, normal)


@pytest.mark.parametrize("family, p", FAMILY_PARAMETERS)
def test_mirror_axis_is_a_mirror_plane(family, p):
    family_ = shape_family(family)
    vertices = family_.solid(p).vertices
    mirrored = reflect(vertices, family_.mirror_axis)
    distances = np.linalg.norm(mirrored[:, None] - vertices[None], axis=-1)
    assert distances.min(axis=1).max() < 1e-9
    if family in ("decahedron", "twinned-tetrahedron"):
        assert tuple(family_.mirror_axis) == (0.0, 1.0, 0.0)
        flipped = reflect(vertices, [1, 0, 0])  # x → −x is not a mirror of these
        assert np.linalg.norm(flipped[:, None] - vertices[None], axis=-1).min(axis=1).max() > 0.1


# ------------------------------------------------------------------------- 6. validation ----


@pytest.mark.parametrize("call, words", [
    (lambda: shape_family("cube"), ["shape", "'cube'", "icosahedron", "decahedron", "octahedral",
                                    "twinned-tetrahedron", "sphere"]),
    (lambda: shape_family("cube", argument="family"), ["family", "'cube'", "sphere"]),
    (lambda: shape_family("decahedron").solid(1.7), ["shape_parameter", "aspect", "[0.4, 1.6]",
                                                     "1.7"]),
    (lambda: shape_family("decahedron").solid(0.39), ["shape_parameter", "[0.4, 1.6]"]),
    (lambda: shape_family("octahedral").solid(-0.01), ["shape_parameter", "truncation", "[0, 1]"]),
    (lambda: shape_family("twinned-tetrahedron").solid(0.6), ["shape_parameter", "[0, 0.5]"]),
    (lambda: shape_family("octahedral").solid(math.inf), ["shape_parameter", "[0, 1]"]),
    (lambda: shape_family("icosahedron").solid(0.5), ["shape_parameter", "no shape parameter",
                                                      "None or NaN"]),
    (lambda: shape_family("sphere").solid(1.0), ["shape_parameter", "no shape parameter",
                                                 "None or NaN"]),
    (lambda: shape_family("decahedron").solid(), ["shape_parameter", "aspect", "[0.4, 1.6]"]),
    (lambda: shape_family("octahedral").solid(None), ["shape_parameter", "[0, 1]"]),
    (lambda: shape_family("octahedral").solid(math.nan), ["shape_parameter", "[0, 1]"]),
    (lambda: shape_family("twinned-tetrahedron").validate_parameter(np.nan, name="p"),
     ["p:", "[0, 0.5]"]),
    (lambda: shape_batch("decahedron", [0.5, 0.6], 3), ["shape_parameter", "(2,)", "3"]),
    (lambda: shape_batch(["sphere", "sphere"], None, 3), ["shape", "2", "3"]),
    (lambda: shape_batch(["sphere", "cube"], None, 2), ["shape", "'cube'", "sphere"]),
    (lambda: shape_batch(["sphere", "decahedron"], [np.nan, 2.0], 2),
     ["shape_parameter", "[0.4, 1.6]"]),
    (lambda: shape_batch(["sphere", "decahedron"], None, 2), ["shape_parameter", "[0.4, 1.6]"]),
    (lambda: shape_batch("icosahedron", 0.5, 2), ["shape_parameter", "no shape parameter"]),
    (lambda: voxelize(10.0, [1, 0, 0, 0], 8, 1.0, shape="cube"), ["shape", "'cube'"]),
    (lambda: voxelize(10.0, [1, 0, 0, 0], 8, 1.0, shape="octahedral"), ["shape_parameter"]),
])
def test_invalid_shapes_and_parameters_raise_named_value_errors(call, words):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)


def test_valid_parameters_and_batches():
    assert shape_family("decahedron").validate_parameter(0.4) == 0.4  # range ends inclusive
    assert shape_family("decahedron").validate_parameter(np.float64(1.6)) == 1.6
    assert shape_family("decahedron").validate_parameter(np.float32(1.5)) == 1.5
    assert shape_family("octahedral").validate_parameter(0) == 0.0
    assert shape_family("icosahedron").validate_parameter(None) is None
    assert shape_family("sphere").validate_parameter(math.nan) is None
    family = shape_family("octahedral")
    assert shape_family(family) is family
    names, parameters = shape_batch(["icosahedron", family, "decahedron", "sphere"],
                                    [np.nan, 0.25, 1.0, None], 4)
    assert names == ["icosahedron", "octahedral", "decahedron", "sphere"]
    np.testing.assert_array_equal(parameters, [np.nan, 0.25, 1.0, np.nan])
    assert parameters.dtype == np.float64
    names, parameters = shape_batch("twinned-tetrahedron", 0.1, 3)
    assert names == ["twinned-tetrahedron"] * 3 and np.array_equal(parameters, [0.1] * 3)
    names, parameters = shape_batch("sphere", None, 2)
    assert names == ["sphere"] * 2 and np.isnan(parameters).all()
    assert list(SHAPE_FAMILIES) == ["icosahedron", "decahedron", "octahedral",
                                    "twinned-tetrahedron", "sphere"]
    assert [shape_family(n).parameter_range for n in SHAPE_FAMILIES] == [
        None, (0.4, 1.6), (0.0, 1.0), (0.0, 0.5), None]


# --------------------------------------------------------------------------- 7. voxelize ----

VOXEL_CASES = [("icosahedron", None), ("decahedron", 0.5), ("decahedron", 1.6),
               ("octahedral", 0.0), ("octahedral", 0.5), ("octahedral", 1.0),
               ("twinned-tetrahedron", 0.0), ("twinned-tetrahedron", 0.3), ("sphere", None)]


@pytest.mark.parametrize("family, p", VOXEL_CASES)
def test_voxelized_volume_matches_the_solid(family, p):
    radius_nm, voxel_nm = 14.0, 1.0
    q = random_unit(1, 91)[0]
    density = voxelize(radius_nm, q, 32, voxel_nm, supersample=3, shape=family,
                       shape_parameter=p)
    assert density.shape == (32, 32, 32) and density.dtype == np.float32
    assert density[0].max() == 0 and density[:, 0].max() == 0 and density[..., 0].max() == 0
    expected = reference_volume(family, p) * radius_nm**3
    assert density.sum() * voxel_nm**3 == pytest.approx(expected, rel=1e-2)


@pytest.mark.parametrize("family, p", [("decahedron", 1.2), ("octahedral", 0.4),
                                       ("twinned-tetrahedron", 0.2)])
def test_voxelize_places_the_actively_rotated_solid(family, p):
    # Voxel (k, j, i) sits at (x, y, z) = ((i − n/2), (j − n/2), (k − n/2))·voxel and is filled
    # (supersample 1) iff R(q)ᵀ r / R lies in the reference solid: checked with a Delaunay
    # triangulation of the vertices rotated here (scipy, active convention).
    radius_nm, n, voxel_nm = 9.0, 24, 1.0
    q = random_unit(1, 93)[0]
    density = voxelize(radius_nm, q, n, voxel_nm, supersample=1, shape=family, shape_parameter=p)
    lab_vertices = to_scipy(q).apply(halfspace_solid(family, p) * radius_nm)
    axis = (np.arange(n) - n // 2) * voxel_nm
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    points = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    inside = Delaunay(lab_vertices).find_simplex(points) >= 0
    hull = ConvexHull(lab_vertices)
    clear = np.abs((points @ hull.equations[:, :3].T + hull.equations[:, 3]).max(axis=1)) > 1e-6
    assert np.array_equal(density.reshape(-1)[clear] == 1, inside[clear])
    assert set(np.unique(density)) <= {0.0, 1.0}
