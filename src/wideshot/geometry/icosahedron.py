"""The particle of docs/conventions.md: a homogeneous regular icosahedron, as vertices, faces and
half-spaces.

Reference orientation: the 12 vertices are ``R/√(1+φ²)`` times every cyclic permutation of
``(0, ±1, ±φ)``, with R the circumradius (nm). A rotated particle is ``R(q) @ p`` for every
point ``p`` of the reference particle (active rotation, scalar-first quaternion).

Examples
--------
>>> icosahedron_vertices(30.0).shape
(12, 3)
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from wideshot.config import GOLDEN_RATIO


def icosahedron_vertices(radius_nm: float = 1.0) -> np.ndarray:
    """Vertices of the reference icosahedron.

    Parameters
    ----------
    radius_nm : float
        Circumradius R (centre to vertex), nm.

    Returns
    -------
    numpy.ndarray, shape (12, 3)
        Vertex coordinates (x, y, z) in nm, in the order
        ``(0, ±1, ±φ), (±1, ±φ, 0), (±φ, 0, ±1)`` (signs ``++, +-, -+, --``), scaled to R.
    """
    signs = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    base = [(0.0, a, b * GOLDEN_RATIO) for a, b in signs]
    cyclic = [np.roll(base, shift, axis=1) for shift in range(3)]
    return np.concatenate(cyclic) * (radius_nm / math.sqrt(1.0 + GOLDEN_RATIO**2))


def _faces_of_unit_icosahedron() -> np.ndarray:
    """The 20 triangles of mutually adjacent vertices, counter-clockwise seen from outside."""
    vertices = icosahedron_vertices()
    edge = 2.0 / math.sqrt(1.0 + GOLDEN_RATIO**2)
    adjacent = np.isclose(np.linalg.norm(vertices[:, None] - vertices[None], axis=-1), edge)
    faces = []
    for i, j, k in itertools.combinations(range(12), 3):
        if adjacent[i, j] and adjacent[j, k] and adjacent[i, k]:
            a, b, c = vertices[[i, j, k]]
            outward = np.dot(np.cross(b - a, c - a), a + b + c) > 0
            faces.append((i, j, k) if outward else (i, k, j))
    faces = np.array(faces, dtype=np.int64)
    assert faces.shape == (20, 3), faces.shape
    return faces


_FACES = _faces_of_unit_icosahedron()


def icosahedron_faces() -> np.ndarray:
    """Triangular faces as indices into :func:`icosahedron_vertices`.

    Returns
    -------
    numpy.ndarray of int64, shape (20, 3)
        Vertex indices ``(a, b, c)`` of each face, counter-clockwise seen from outside, so that
        ``(b - a) × (c - a)`` points outward (right-hand rule).
    """
    return _FACES.copy()


def icosahedron_halfspaces(radius_nm: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The solid icosahedron as an intersection of half-spaces ``normals @ p <= offsets``.

    Parameters
    ----------
    radius_nm : float
        Circumradius R, nm.

    Returns
    -------
    normals : numpy.ndarray, shape (20, 3)
        Unit outward face normals, in the order of :func:`icosahedron_faces`.
    offsets : numpy.ndarray, shape (20,)
        Distance of each face plane from the centre (the inradius), nm.
    """
    a, b, c = np.moveaxis(icosahedron_vertices(radius_nm)[_FACES], 1, 0)
    normals = np.cross(b - a, c - a)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    return normals, np.einsum("fi,fi->f", normals, a)
