"""Batched unit-quaternion algebra on numpy arrays and torch tensors alike.

Conventions (docs/conventions.md "Orientation"):

- a quaternion is ``(w, x, y, z)``, **scalar first**, in the last axis of an array ``(..., 4)``;
- rotations are **active**: a point ``p`` of the particle in its reference orientation sits at
  ``R(q) @ p`` in the laboratory;
- ``q`` and ``-q`` are the same rotation.

Every function accepts either a numpy array (or anything ``np.asarray`` understands) or a torch
tensor and returns the same kind. The torch path is differentiable and keeps device and dtype.
``roma`` stores quaternions scalar *last* (``x, y, z, w``); where it is reused here the
components are reordered at the boundary, so no scalar-last quaternion ever leaves this module.

Examples
--------
>>> import numpy as np
>>> quarter_turn_z = np.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])
>>> np.round(rotate_points(quarter_turn_z, np.array([[1.0, 0.0, 0.0]])), 12)
array([[0., 1., 0.]])
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]

#: Quaternions with a norm below this are rejected by :func:`validate_quaternions`.
MIN_QUATERNION_NORM = 1e-6

_WXYZ_FROM_XYZW = [3, 0, 1, 2]


def _namespace(*arrays: Array):
    """``torch`` if any argument is a tensor, else ``numpy``; both spell the maths here alike."""
    return torch if any(isinstance(array, torch.Tensor) for array in arrays) else np


def _as_float(array) -> Array:
    """Tensors unchanged; anything else as a numpy array of floats (float64 unless floating)."""
    if isinstance(array, torch.Tensor):
        return array
    array = np.asarray(array)
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)


def quaternion_multiply(q1: Array, q2: Array) -> Array:
    """Hamilton product ``q1 ⊗ q2``: the rotation ``q2`` followed by ``q1``.

    Parameters
    ----------
    q1, q2 : array or tensor, shape (..., 4)
        Quaternions ``(w, x, y, z)``; leading axes broadcast against each other.

    Returns
    -------
    array or tensor, shape (..., 4)
        The product, so that ``R(q1 ⊗ q2) = R(q1) R(q2)``.
    """
    q1, q2 = _as_float(q1), _as_float(q2)
    xp = _namespace(q1, q2)
    w1, x1, y1, z1 = (q1[..., i] for i in range(4))
    w2, x2, y2, z2 = (q2[..., i] for i in range(4))
    return xp.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        -1,
    )


def quaternion_conjugate(q: Array) -> Array:
    """Conjugate ``(w, -x, -y, -z)``; the inverse rotation for a unit quaternion.

    Parameters
    ----------
    q : array or tensor, shape (..., 4)

    Returns
    -------
    array or tensor, shape (..., 4)
    """
    q = _as_float(q)
    return _namespace(q).concatenate([q[..., :1], -q[..., 1:]], -1)


def _norm(q: Array) -> Array:
    """Euclidean norm over the last axis, shape (...,)."""
    return _namespace(q).sqrt((q * q).sum(-1))


def normalize_quaternion(q: Array) -> Array:
    """Scale quaternions to unit norm (no check for zero norm: see :func:`validate_quaternions`).

    Parameters
    ----------
    q : array or tensor, shape (..., 4)

    Returns
    -------
    array or tensor, shape (..., 4)
        ``q / |q|``.
    """
    q = _as_float(q)
    return q / _norm(q)[..., None]


def quaternion_to_matrix(q: Array) -> Array:
    """Rotation matrices of quaternions (normalised first), active convention.

    Parameters
    ----------
    q : array or tensor, shape (..., 4)
        Quaternions ``(w, x, y, z)``.

    Returns
    -------
    array or tensor, shape (..., 3, 3)
        ``R(q)``, with ``p_lab = R(q) @ p_ref``.
    """
    q = normalize_quaternion(q)
    xp = _namespace(q)
    w, x, y, z = (q[..., i] for i in range(4))
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return xp.stack([xp.stack(row, -1) for row in rows], -2)


def matrix_to_quaternion(matrix: Array) -> Array:
    """Unit quaternions of rotation matrices, with ``w >= 0``.

    Uses roma's Markley/Shepperd conversion (numerically robust for every angle, and tolerant of
    slightly non-orthonormal input); numpy input goes through torch and comes back as numpy.

    Parameters
    ----------
    matrix : array or tensor, shape (..., 3, 3)
        Proper rotation matrices (active convention).

    Returns
    -------
    array or tensor, shape (..., 4)
        ``q`` with ``R(q) = matrix``, scalar first, sign chosen so that ``w >= 0``.
    """
    matrix = _as_float(matrix)
    if not isinstance(matrix, torch.Tensor):
        return matrix_to_quaternion(torch.from_numpy(matrix)).numpy()
    import roma  # on first use: importing it costs ~1.5 s (torch._dynamo)

    q = roma.rotmat_to_unitquat(matrix)[..., _WXYZ_FROM_XYZW]
    return torch.where(q[..., :1] < 0, -q, q)


def rotation_vector_to_quaternion(rotation_vector: Array) -> Array:
    """Unit quaternions of rotation vectors (axis × angle), the exponential map.

    Uses roma's ``rotvec_to_unitquat`` (accurate for small angles); numpy input goes through
    torch and comes back as numpy.

    Parameters
    ----------
    rotation_vector : array or tensor, shape (..., 3)
        Rotation axis times angle in radians.

    Returns
    -------
    array or tensor, shape (..., 4)
        ``(w, x, y, z)`` with ``w = cos(θ/2) >= 0`` for angles θ ≤ π.
    """
    rotation_vector = _as_float(rotation_vector)
    if not isinstance(rotation_vector, torch.Tensor):
        return rotation_vector_to_quaternion(torch.from_numpy(rotation_vector)).numpy()
    import roma  # on first use: importing it costs ~1.5 s (torch._dynamo)

    return roma.rotvec_to_unitquat(rotation_vector)[..., _WXYZ_FROM_XYZW]


def rotate_points(q: Array, points: Array) -> Array:
    """Apply the active rotations ``R(q)`` to points.

    Parameters
    ----------
    q : array or tensor, shape (B, 4)
        Quaternions ``(w, x, y, z)`` (normalised internally).
    points : array or tensor, shape (B, P, 3) or (P, 3)
        Points in nm (or any unit); a (P, 3) set is rotated by every quaternion.

    Returns
    -------
    array or tensor, shape (B, P, 3)
        ``R(q[b]) @ points[b, p]``.
    """
    matrix = quaternion_to_matrix(q)
    points = _as_float(points)
    return points @ _namespace(matrix).swapaxes(matrix, -1, -2)


def random_quaternions(n: int, rng=None) -> Array:
    """Unit quaternions uniform on SO(3) (Haar measure), with ``w >= 0``.

    Normalised 4D Gaussian vectors are uniform on the 3-sphere, which double-covers SO(3)
    uniformly; flipping to ``w >= 0`` keeps the distribution of rotations unchanged.

    Parameters
    ----------
    n : int
        Number of quaternions.
    rng : torch.Generator, numpy.random.Generator, int or None
        A ``torch.Generator`` gives a tensor (default dtype, on the generator's device);
        anything ``numpy.random.default_rng`` accepts gives a float64 numpy array.

    Returns
    -------
    array or tensor, shape (n, 4)
    """
    if isinstance(rng, torch.Generator):
        gaussian = torch.randn(n, 4, generator=rng, device=rng.device)
    else:
        gaussian = np.random.default_rng(rng).standard_normal((n, 4))
    q = normalize_quaternion(gaussian)
    return _namespace(q).where(q[..., :1] < 0, -q, q)


def rotation_angle_rad(q: Array) -> Array:
    """Rotation angle of each quaternion, in [0, π] rad.

    Computed as ``2·atan2(|(x, y, z)|, |w|)``, which equals ``2·arccos(|w|)`` for unit
    quaternions but keeps full precision for small angles and needs no normalisation.

    Parameters
    ----------
    q : array or tensor, shape (..., 4)

    Returns
    -------
    array or tensor, shape (...)
        Angle in radians.
    """
    q = _as_float(q)
    xp = _namespace(q)
    return 2 * xp.arctan2(_norm(q[..., 1:]), xp.abs(q[..., 0]))


def validate_quaternions(q, name: str = "quaternion") -> Array:
    """Check user-supplied quaternions and return them as a unit-norm batch.

    Parameters
    ----------
    q : array-like or tensor, shape (4,) or (B, 4)
        Quaternions ``(w, x, y, z)``; slightly non-unit ones are normalised.
    name : str
        Argument name used in error messages.

    Returns
    -------
    array or tensor, shape (B, 4)
        Unit quaternions (B = 1 for a single quaternion).

    Raises
    ------
    ValueError
        For a shape other than (4,) or (B, 4), non-finite entries, or a norm below
        ``MIN_QUATERNION_NORM``.
    """
    q = _as_float(q)
    if q.ndim not in (1, 2) or q.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (4,) or (B, 4), got {tuple(q.shape)}")
    q = q.reshape(-1, 4)
    xp = _namespace(q)
    if not bool(xp.isfinite(q).all()):
        raise ValueError(f"{name} contains non-finite entries")
    if bool((_norm(q) < MIN_QUATERNION_NORM).any()):
        raise ValueError(f"{name} has (near-)zero norm (< {MIN_QUATERNION_NORM:g})")
    return normalize_quaternion(q)
