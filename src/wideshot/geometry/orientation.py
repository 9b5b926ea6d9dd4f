"""Orientations of particles of a shape family: the group operations, looked up by family name.

Every function takes ``shape`` (a name of :data:`~wideshot.geometry.shapes.SHAPE_FAMILIES`,
default the icosahedron) and applies that family's rotation group
(:class:`~wideshot.geometry.groups.RotationGroup`). For the sphere every orientation is the
identity: :func:`canonical` gives (1, 0, 0, 0) and misorientations are 0.

Examples
--------
>>> import numpy as np
>>> q = np.array([0.3, 0.5, -0.2, 0.8])
>>> float(misorientation_deg(q, canonical(q, shape="decahedron"), shape="decahedron")) < 1e-6
True
"""
from __future__ import annotations

import math

from wideshot.geometry.groups import ROBUST_SCALE_DEG, FundamentalDomain
from wideshot.geometry.quaternion import Array
from wideshot.geometry.shapes import DEFAULT_SHAPE, shape_family


def canonical(q: Array, shape: str = DEFAULT_SHAPE) -> Array:
    """q (..., 4) projected into the family's fundamental domain: of ``±(q ⊗ g)``, g in G, the
    one with the largest w (norm kept); see :meth:`RotationGroup.canonical`."""
    return shape_family(shape).group.canonical(q)


def closest_equivalent(q: Array, reference: Array, shape: str = DEFAULT_SHAPE) -> Array:
    """The member of q's orbit (..., 4) closest to ``reference`` (..., 4)."""
    return shape_family(shape).group.closest_equivalent(q, reference)


def misorientation_rad(q1: Array, q2: Array, shape: str = DEFAULT_SHAPE) -> Array:
    """Misorientation (...) in rad between particles of orientations q1, q2 (..., 4): the
    smallest rotation angle of ``q1⁻¹ ⊗ q2 ⊗ g`` over the family's group."""
    return shape_family(shape).group.misorientation_rad(q1, q2)


def misorientation_deg(q1: Array, q2: Array, shape: str = DEFAULT_SHAPE) -> Array:
    """:func:`misorientation_rad` in degrees, shape (...)."""
    return misorientation_rad(q1, q2, shape) * (180.0 / math.pi)


def mean_orientation(q: Array, robust_scale_deg: float | None = ROBUST_SCALE_DEG,
                     shape: str = DEFAULT_SHAPE) -> Array:
    """Robust symmetry-aware mean (..., 4) of K estimates (..., K, 4); see
    :meth:`RotationGroup.mean_orientation`."""
    return shape_family(shape).group.mean_orientation(q, robust_scale_deg)


def uniform_fundamental_domain(n: int, rng=None, shape: str = DEFAULT_SHAPE) -> Array:
    """Canonical quaternions (n, 4) of rotations uniform on SO(3)."""
    return shape_family(shape).group.uniform(n, rng)


def fundamental_domain(shape: str = DEFAULT_SHAPE) -> FundamentalDomain:
    """Extent of the family's fundamental domain (spans for Appendix-C relative errors)."""
    return shape_family(shape).group.domain
