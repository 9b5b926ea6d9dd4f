"""The particle of SPEC.md: a homogeneous regular icosahedron, as vertices, faces, half-spaces
and a voxel density.

Reference orientation: the 12 vertices are ``R/√(1+φ²)`` times every cyclic permutation of
``(0, ±1, ±φ)``, with R the circumradius (nm). A rotated particle is ``R(q) @ p`` for every
point ``p`` of the reference particle (active rotation, scalar-first quaternion).

Examples
--------
>>> density = voxelize(30.0, [1.0, 0.0, 0.0, 0.0], (64, 64, 64), voxel_nm=1.66, supersample=2)
>>> density.shape, density.dtype
((64, 64, 64), dtype('float32'))
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from wideshot.config import GOLDEN_RATIO
from wideshot.geometry.quaternion import quaternion_to_matrix, validate_quaternions


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


def voxel_centres_nm(size: int, voxel_nm: float) -> np.ndarray:
    """Voxel-centre coordinates along one grid axis: ``(i - size // 2) · voxel_nm``.

    This is the reference-grid convention (SPEC.md: 192 voxels over 318.75 nm): the voxel with
    index ``size // 2`` sits exactly on the origin, as the centre of an FFT grid does.

    Parameters
    ----------
    size : int
        Number of voxels along the axis.
    voxel_nm : float
        Voxel edge, nm.

    Returns
    -------
    numpy.ndarray, shape (size,)
        Coordinates in nm.
    """
    return (np.arange(size) - size // 2) * voxel_nm


def voxelize(
    radius_nm: float,
    quaternion,
    grid_shape: int | tuple[int, int, int],
    voxel_nm: float,
    supersample: int = 1,
) -> np.ndarray:
    """Density of the rotated icosahedron on a voxel grid centred on the origin.

    Voxel ``(k, j, i)`` has its centre at ``(x, y, z) = (X[i], Y[j], Z[k])`` with the axis
    coordinates of :func:`voxel_centres_nm` (the origin lies on a voxel centre). The grid is
    filled one z plane at a time, and only voxels that the surface may cross are supersampled,
    so a 192³ grid takes well under a second and little memory.

    Parameters
    ----------
    radius_nm : float
        Circumradius R, nm.
    quaternion : array-like, shape (4,) or (1, 4)
        Orientation ``(w, x, y, z)`` (active): the particle occupies ``R(q) @ p`` for every point
        ``p`` of the reference icosahedron.
    grid_shape : int or tuple of 3 ints
        ``(nz, ny, nx)``; an int gives a cube.
    voxel_nm : float
        Voxel edge, nm.
    supersample : int
        Sub-samples per voxel and axis. 1: the density is 1 where the voxel centre is inside the
        particle (boundary included), else 0. s > 1: the fraction of the s³ regularly spaced
        sub-sample points (a cell-centred s×s×s lattice in the voxel) that are inside.

    Returns
    -------
    numpy.ndarray of float32, shape (nz, ny, nx)
        Density in [0, 1], axes ordered (z, y, x).

    Raises
    ------
    ValueError
        For a non-positive radius or voxel size, ``supersample < 1``, an invalid quaternion, or
        more than one quaternion.
    """
    if radius_nm <= 0 or voxel_nm <= 0 or supersample < 1:
        raise ValueError("radius_nm and voxel_nm must be > 0 and supersample >= 1")
    quaternion = validate_quaternions(np.asarray(quaternion, dtype=np.float64), "quaternion")
    if quaternion.shape[0] != 1:
        raise ValueError(f"voxelize takes one quaternion, got {quaternion.shape[0]}")
    nz, ny, nx = (grid_shape,) * 3 if isinstance(grid_shape, int) else grid_shape

    # A lab point r is inside iff R(q)ᵀ r is inside the reference solid, i.e. (R n)·r <= d.
    reference_normals, offsets = icosahedron_halfspaces(radius_nm)
    normals = reference_normals @ quaternion_to_matrix(quaternion[0]).T

    x, y, z = (voxel_centres_nm(size, voxel_nm) for size in (nx, ny, nz))
    steps = ((np.arange(supersample) + 0.5) / supersample - 0.5) * voxel_nm
    sub_offsets = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    # The margin is 1-Lipschitz, so a voxel whose centre is farther than half its diagonal
    # from the surface (|margin| > that) is entirely inside or entirely outside.
    half_diagonal = 0.5 * math.sqrt(3.0) * voxel_nm

    density = np.zeros((nz, ny, nx), dtype=np.float32)
    for k in range(nz):
        margin = _face_margin(normals, offsets, x[None, :], y[:, None], z[k])
        density[k] = margin <= 0
        if supersample > 1:
            rows, columns = np.nonzero(np.abs(margin) <= half_diagonal)
            centres = np.stack([x[columns], y[rows], np.full(rows.size, z[k])], axis=-1)
            points = centres[:, None, :] + sub_offsets
            inside = _face_margin(normals, offsets, *np.moveaxis(points, -1, 0)) <= 0
            density[k, rows, columns] = inside.mean(axis=-1)
    return density


def _face_margin(normals: np.ndarray, offsets: np.ndarray, x, y, z) -> np.ndarray:
    """``max over faces of (n · r − d)`` at points r = (x, y, z) (broadcast arrays), nm.

    Non-positive exactly inside the solid; a lower bound of the distance to it outside.
    """
    margin = np.full(np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(z)), -np.inf)
    for (n_x, n_y, n_z), offset in zip(normals, offsets):
        np.maximum(margin, n_x * x + n_y * y + n_z * z - offset, out=margin)
    return margin
