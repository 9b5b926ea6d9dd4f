"""Other convex particle shapes, as vertices and outward triangular faces (unit circumradius).

wideshot reconstructs icosahedra; these shapes serve as what it must *not* mistake for one
(out-of-distribution checks): the other shapes Barke et al. (2015) found among silver
nanoparticles (decahedra, truncated octahedra), simple solids, and a faceted sphere.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import ConvexHull

from wideshot.geometry.icosahedron import icosahedron_faces, icosahedron_vertices


def _cube() -> np.ndarray:
    return np.array(list(itertools.product((-1.0, 1.0), repeat=3)))


def _octahedron() -> np.ndarray:
    return np.concatenate([np.eye(3), -np.eye(3)])


def _decahedron() -> np.ndarray:
    """Pentagonal bipyramid of five regular tetrahedra (Ino's decahedron without truncation)."""
    angles = 2 * np.pi * np.arange(5) / 5
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros(5)], axis=1)
    edge = 2 * np.sin(np.pi / 5)  # between ring neighbours at unit radius
    apex = np.sqrt(edge**2 - 1.0)  # apex–ring distance equals the ring edge
    return np.concatenate([ring, [[0, 0, apex], [0, 0, -apex]]])


def _truncated_octahedron() -> np.ndarray:
    base = set()
    for signs in itertools.product((-1, 1), repeat=2):
        for perm in itertools.permutations((0, 1, 2)):
            point = np.zeros(3)
            point[perm[1]], point[perm[2]] = signs[0] * 1.0, signs[1] * 2.0
            base.add(tuple(point))
    return np.array(sorted(base))


def _faceted_sphere() -> np.ndarray:
    """Icosahedron with every face split in four, pushed onto the sphere (42 vertices)."""
    vertices = icosahedron_vertices(1.0)
    points = [*vertices]
    for face in icosahedron_faces():
        for a, b in itertools.combinations(face, 2):
            middle = (vertices[a] + vertices[b]) / 2
            points.append(middle / np.linalg.norm(middle))
    return np.unique(np.round(np.array(points), 12), axis=0)


_BUILDERS = {"cube": _cube, "octahedron": _octahedron, "decahedron": _decahedron,
             "truncated-octahedron": _truncated_octahedron, "faceted-sphere": _faceted_sphere}

#: Names accepted by :func:`convex_polyhedron`.
POLYHEDRA = tuple(_BUILDERS)


def convex_polyhedron(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of a convex solid with circumradius 1, centred at the origin.

    Parameters
    ----------
    name : str
        One of :data:`POLYHEDRA`.

    Returns
    -------
    vertices : ndarray (V, 3) float64
        Unit circumradius.
    faces : ndarray (F, 3) int64
        Triangles, counter-clockwise seen from outside (coplanar facets are split).
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown polyhedron {name!r}; choose one of {list(POLYHEDRA)}")
    vertices = _BUILDERS[name]()
    vertices = vertices / np.linalg.norm(vertices, axis=1).max()
    hull = ConvexHull(vertices)
    faces = hull.simplices.copy()
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    inward = np.einsum("fi,fi->f", normals, corners.mean(axis=1)) < 0
    faces[inward] = faces[inward][:, ::-1]
    return vertices, faces.astype(np.int64)
