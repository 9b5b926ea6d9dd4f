"""The two kinds of solid a particle can be: a convex polyhedron or a ball (unit circumradius).

A solid answers where it is (:meth:`margin`, ≤ 0 inside, 1-Lipschitz, for voxelisation) and,
for a polyhedron, what its surface is (vertices and outward triangles, for the exact MSFT). A
shape family (:mod:`wideshot.geometry.shapes`) builds one of these for a shape parameter.

Examples
--------
>>> cube = ConvexPolyhedron.from_halfspaces(np.concatenate([np.eye(3), -np.eye(3)]), np.ones(6))
>>> cube.vertices.shape, cube.faces.shape
((8, 3), (12, 3))
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, HalfspaceIntersection

#: Vertices closer than this (relative to the circumradius) are one vertex.
_MERGE_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class ConvexPolyhedron:
    """A convex polyhedron centred on the origin.

    Attributes
    ----------
    vertices : numpy.ndarray, shape (V, 3)
        Vertex coordinates (x, y, z).
    faces : numpy.ndarray of int64, shape (F, 3)
        Triangles as vertex indices, counter-clockwise seen from outside, so that
        ``(b − a) × (c − a)`` points outward (polygonal facets are split into triangles).
    """

    vertices: np.ndarray
    faces: np.ndarray

    @classmethod
    def from_vertices(cls, points) -> ConvexPolyhedron:
        """The convex hull of points (N, 3) (duplicates and interior points are dropped)."""
        points = np.asarray(points, dtype=np.float64)
        scale = np.linalg.norm(points, axis=1).max()
        keys = np.round(points / (scale * _MERGE_TOLERANCE)).astype(np.int64)
        _, first = np.unique(keys, axis=0, return_index=True)
        points = points[np.sort(first)]
        hull = ConvexHull(points)
        used = np.unique(hull.simplices)
        remap = np.full(len(points), -1)
        remap[used] = np.arange(len(used))
        vertices, faces = points[used], remap[hull.simplices]
        corners = vertices[faces]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        inward = np.einsum("fi,fi->f", normals, corners.mean(axis=1)) < 0
        faces[inward] = faces[inward][:, ::-1]
        return cls(vertices, faces.astype(np.int64))

    @classmethod
    def from_halfspaces(cls, normals, offsets) -> ConvexPolyhedron:
        """The intersection of half-spaces ``normals @ p <= offsets`` (K, 3), (K,), which
        must contain the origin in its interior."""
        normals, offsets = np.asarray(normals, np.float64), np.asarray(offsets, np.float64)
        halfspaces = np.hstack([normals, -offsets[:, None]])  # scipy: A·p + b <= 0
        return cls.from_vertices(HalfspaceIntersection(halfspaces, np.zeros(3)).intersections)

    @property
    def circumradius(self) -> float:
        """Distance from the origin to the farthest vertex."""
        return float(np.linalg.norm(self.vertices, axis=1).max())

    def scaled(self, factor: float) -> ConvexPolyhedron:
        """The polyhedron scaled about the origin."""
        return ConvexPolyhedron(self.vertices * factor, self.faces)

    def halfspaces(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit outward normals (F, 3) and offsets (F,) of the face planes (one per triangle):
        the solid is ``normals @ p <= offsets``."""
        normals, offsets = self._planes
        return normals.copy(), offsets.copy()

    @functools.cached_property
    def _planes(self) -> tuple[np.ndarray, np.ndarray]:
        a, b, c = np.moveaxis(self.vertices[self.faces], 1, 0)
        normals = np.cross(b - a, c - a)
        normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
        return normals, np.einsum("fi,fi->f", normals, a)

    def margin(self, points: np.ndarray) -> np.ndarray:
        """``max over faces of (n · p − d)`` at points (..., 3): ≤ 0 exactly inside; outside a
        lower bound of the distance to the solid."""
        normals, offsets = self._planes
        margin = np.full(points.shape[:-1], -np.inf)
        for normal, offset in zip(normals, offsets):
            np.maximum(margin, points @ normal - offset, out=margin)
        return margin

    def volume(self) -> float:
        """Volume (divergence theorem over the outward triangles)."""
        a, b, c = np.moveaxis(self.vertices[self.faces], 1, 0)
        return float(np.einsum("fi,fi->", a, np.cross(b, c)) / 6.0)


@dataclass(frozen=True, eq=False)
class Ball:
    """The ball of radius 1 centred on the origin."""

    circumradius: float = 1.0

    def margin(self, points: np.ndarray) -> np.ndarray:
        """``|p| − 1`` at points (..., 3): the signed distance to the sphere."""
        return np.linalg.norm(points, axis=-1) - self.circumradius

    def volume(self) -> float:
        """4π/3."""
        return 4.0 / 3.0 * np.pi * self.circumradius**3


Solid = ConvexPolyhedron | Ball
