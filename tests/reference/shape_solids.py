"""The five shape families of docs/conventions.md ("Shape families"), re-derived independently of
``wideshot`` (numpy only; scipy only through ``spec.oriented_hull_faces``).

Every polyhedral family is written as the half-space description given in SPEC's table
(n·x ≤ b), converted to its vertex set here by brute force (every triple of planes is
intersected; points satisfying all half-spaces are kept and de-duplicated), then scaled so
that the farthest vertex is at distance 1 (circumradius R = centre to farthest point; for a
convex polytope centred at the origin the farthest point is a vertex).

  decahedron(p)           pentagonal bipyramid: ring (cos 2πk/5, sin 2πk/5, 0), apices (0,0,±p)
  octahedral(p)           {|x|+|y|+|z| ≤ 1} ∩ {|x|,|y|,|z| ≤ 1 − 2p/3}
  twinned_tetrahedron(p)  ring (cos 2πk/3, sin 2πk/3, 0), apices (0,0,±√2), every vertex v cut by
                          the plane v̂·x = (1 − p)|v|
  icosahedron()           spec.icosahedron_reference_vertices(1)
  sphere                  the unit ball (no vertices)

Closed-form volumes (at unit circumradius) for every p are given as an independent check
(``*_volume``); they are derived by hand in the docstrings.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from . import spec

FAMILIES = ("icosahedron", "decahedron", "octahedral", "twinned-tetrahedron", "sphere")
POLYHEDRAL = ("icosahedron", "decahedron", "octahedral", "twinned-tetrahedron")
#: parameter range per family (None: the family has no parameter)
PARAMETER_RANGE = {"icosahedron": None, "decahedron": (0.4, 1.6), "octahedral": (0.0, 1.0),
                   "twinned-tetrahedron": (0.0, 0.5), "sphere": None}
INV_PHI = 2.0 / (1.0 + math.sqrt(5.0))


# ------------------------------------------------------------------------ H → V conversion --
def vertices_from_halfspaces(normals: np.ndarray, offsets: np.ndarray,
                             tol: float = 1e-10) -> np.ndarray:
    """Vertices of the bounded polytope {x : normals @ x ≤ offsets} (brute force over triples)."""
    normals = np.asarray(normals, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    pts = []
    for i, j, k in itertools.combinations(range(len(normals)), 3):
        m = normals[[i, j, k]]
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        x = np.linalg.solve(m, offsets[[i, j, k]])
        if np.all(normals @ x <= offsets + tol):
            if not any(np.linalg.norm(x - p) < 1e-8 for p in pts):
                pts.append(x)
    return np.asarray(pts)


def _face_planes(points: np.ndarray, triangles) -> tuple[np.ndarray, np.ndarray]:
    """Outward planes (n, b), n·x ≤ b, through the given triangles of a body containing 0."""
    ns, bs = [], []
    for a, b, c in triangles:
        n = np.cross(points[b] - points[a], points[c] - points[a])
        n /= np.linalg.norm(n)
        off = n @ points[a]
        if off < 0:
            n, off = -n, -off
        ns.append(n)
        bs.append(off)
    return np.asarray(ns), np.asarray(bs)


def _bipyramid_planes(ring_n: int, apex: float):
    """Planes of the bipyramid with ring (cos 2πk/n, sin 2πk/n, 0) and apices (0, 0, ±apex)."""
    ang = 2.0 * math.pi * np.arange(ring_n) / ring_n
    ring = np.stack([np.cos(ang), np.sin(ang), np.zeros(ring_n)], axis=1)
    pts = np.concatenate([ring, [[0.0, 0.0, apex], [0.0, 0.0, -apex]]])
    tris = [(k, (k + 1) % ring_n, ring_n + s) for k in range(ring_n) for s in (0, 1)]
    return pts, *_face_planes(pts, tris)


def _to_unit_circumradius(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1).max()


# -------------------------------------------------------------------- the reference solids --
def decahedron(p: float) -> np.ndarray:
    """Pentagonal bipyramid, unit circumradius (7 vertices)."""
    _, n, b = _bipyramid_planes(5, p)
    return _to_unit_circumradius(vertices_from_halfspaces(n, b))


def octahedral(p: float) -> np.ndarray:
    """Truncated octahedron family, unit circumradius (6, 24, 12, 24 or 8 vertices)."""
    t = 1.0 - 2.0 * p / 3.0
    normals = [np.array(s, dtype=float) for s in itertools.product((-1, 1), repeat=3)]
    offsets = [1.0] * 8
    for axis in range(3):
        for sgn in (-1.0, 1.0):
            e = np.zeros(3)
            e[axis] = sgn
            normals.append(e)
            offsets.append(t)
    return _to_unit_circumradius(vertices_from_halfspaces(np.asarray(normals),
                                                          np.asarray(offsets)))


def twinned_tetrahedron(p: float) -> np.ndarray:
    """Two regular tetrahedra sharing a face, every vertex truncated; unit circumradius."""
    pts, n, b = _bipyramid_planes(3, math.sqrt(2.0))
    cut_n = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    cut_b = (1.0 - p) * np.linalg.norm(pts, axis=1)
    return _to_unit_circumradius(vertices_from_halfspaces(np.concatenate([n, cut_n]),
                                                          np.concatenate([b, cut_b])))


def icosahedron() -> np.ndarray:
    return spec.icosahedron_reference_vertices(1.0)


def reference_vertices(family: str, p: float | None = None) -> np.ndarray:
    """Unit-circumradius vertices of ``family`` in its reference orientation."""
    if family == "icosahedron":
        return icosahedron()
    if family == "decahedron":
        return decahedron(float(p))
    if family == "octahedral":
        return octahedral(float(p))
    if family == "twinned-tetrahedron":
        return twinned_tetrahedron(float(p))
    raise ValueError(f"no vertices for family {family!r}")


def shape_vertices(family: str, p: float | None, radius_nm: float,
                   quaternion=(1.0, 0.0, 0.0, 0.0)) -> np.ndarray:
    """Laboratory vertices (V, 3) in nm: reference solid × R, rotated actively by q (w first)."""
    v = reference_vertices(family, p) * float(radius_nm)
    return v @ spec.quaternion_to_matrix(quaternion).T


def shape(family: str, p: float | None, radius_nm: float, quaternion=(1.0, 0.0, 0.0, 0.0)):
    """(vertices, faces ccw from outside) in the laboratory."""
    v = shape_vertices(family, p, radius_nm, quaternion)
    return v, spec.oriented_hull_faces(v)


# ----------------------------------------------------------------- closed-form volumes --
def decahedron_volume(p: float) -> float:
    """Two pyramids of height p over the unit-circumradius pentagon (area (5/2) sin 72°),
    scaled by 1/max(1, p)³."""
    return (5.0 / 3.0) * math.sin(2.0 * math.pi / 5.0) * p / max(1.0, p) ** 3


def octahedral_volume(p: float) -> float:
    """t = 1 − 2p/3. t ≥ 1/2: octahedron 4/3 minus six square pyramids (2/3)(1−t)³, farthest
    vertex (t, 1−t, 0). t ≤ 1/2: cube (2t)³ minus eight corner tetrahedra (3t−1)³/6, farthest
    vertex (t, t, 1−2t)."""
    t = 1.0 - 2.0 * p / 3.0
    if t >= 0.5:
        vol, r2 = 4.0 / 3.0 - 4.0 * (1.0 - t) ** 3, t**2 + (1.0 - t) ** 2
    else:
        vol, r2 = 8.0 * t**3 - (4.0 / 3.0) * (3.0 * t - 1.0) ** 3, 2 * t**2 + (1 - 2 * t) ** 2
    return vol / r2**1.5


def twinned_tetrahedron_volume(p: float) -> float:
    """Two regular tetrahedra of edge √3 (volume √(3/2) together) minus the corners cut off:
    three degree-4 ring corners (rhombic pyramids, 2√2 p³/(3√3) each) and two apex corners
    (triangular pyramids, √6 p³/4 each) — disjoint for p ≤ 1/2. Farthest points: the cut
    points on the apex edges, (p cos, p sin, √2(1−p)), at √(p² + 2(1−p)²)."""
    vol = math.sqrt(1.5) - 3 * 2 * math.sqrt(2) * p**3 / (3 * math.sqrt(3)) \
        - 2 * math.sqrt(6) * p**3 / 4
    return vol / (p**2 + 2 * (1 - p) ** 2) ** 1.5


def unit_volume(family: str, p: float | None = None) -> float:
    """Closed-form volume at circumradius 1."""
    if family == "icosahedron":
        return spec.icosahedron_volume(1.0)
    if family == "decahedron":
        return decahedron_volume(p)
    if family == "octahedral":
        return octahedral_volume(p)
    if family == "twinned-tetrahedron":
        return twinned_tetrahedron_volume(p)
    if family == "sphere":
        return 4.0 / 3.0 * math.pi
    raise ValueError(family)
