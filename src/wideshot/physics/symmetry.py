"""Exact symmetries of the detector image: turns and mirrors about the beam axis.

Turning the particle about the beam (+z) turns its diffraction pattern on the detector by the same
angle, and mirroring it in a plane that contains the beam mirrors the pattern. On the SPEC grid
(pixel (i, j) at ``k_x = (j − N/2)·Δk``, ``k_y = (i − N/2)·Δk``) the eight maps of the square onto
itself — quarter turns and mirrors, the dihedral group D4 — move pixels onto pixels, with ``−N/2``
wrapping onto itself: row and column 0 lie beyond k and receive no field (docs/conventions.md
"Detector grid"). So each of the eight is an exact map between two valid SPEC images, and
between their labels:

- a turn ``T`` about z: the particle ``R(q)`` becomes ``T·R(q)``, ``q → t ⊗ q``;
- a mirror ``T·M_x`` (``M_x``: x → −x): every shape family's reference solid S has a mirror
  plane, with normal a (:attr:`~wideshot.geometry.ShapeFamily.mirror_axis`: x for the
  icosahedron and the octahedral family, y for the decahedron and the twinned tetrahedron), so
  ``M_a S = S`` and the mirrored particle ``T·M_x·R(q)·S = T·(M_x R(q) M_x)(M_x M_a)·S`` is a
  proper rotation of S: ``M_x R(q) M_x`` has quaternion ``(w, x, −y, −z)`` and ``M_x M_a`` is
  the half turn about ``x × a`` (the identity for a = x).

Absorption along +z is unchanged by all eight. Uses: eight images of the same particle for the
price of one simulation (training), and eight views of one measured frame whose answers can be
averaged (:func:`wideshot.models.inference.predict`, ``views=``).

Examples
--------
>>> import torch
>>> images = torch.rand(2, 128, 128)
>>> turned = transform_images(images, "turn-90")
>>> bool(torch.equal(transform_images(turned, "turn-270"), images))
True
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from wideshot.choices import VIEW_COUNTS
from wideshot.geometry.quaternion import (
    Array,
    matrix_to_quaternion,
    quaternion_conjugate,
    quaternion_multiply,
)
from wideshot.geometry.shapes import DEFAULT_SHAPE, shape_family


@dataclass(frozen=True)
class DetectorSymmetry:
    """One map of the detector square onto itself.

    Attributes
    ----------
    name : str
        "identity", "turn-90", "turn-180", "turn-270" (counter-clockwise about +z, seen with x
        to the right and y up), "mirror-x" (x → −x) and "mirror-x-turn-90/180/270" (the
        mirror, then the turn).
    turn_deg : int
        Turn about +z, degrees (0, 90, 180, 270).
    mirror : bool
        Whether x → −x comes first.
    """

    name: str
    turn_deg: int
    mirror: bool

    def matrix(self) -> np.ndarray:
        """The map on transverse wave vectors ``(k_x, k_y)``, shape (2, 2), integer entries."""
        cos = round(math.cos(math.radians(self.turn_deg)))
        sin = round(math.sin(math.radians(self.turn_deg)))
        turn = np.array([[cos, -sin], [sin, cos]])
        return turn @ np.diag([-1, 1]) if self.mirror else turn

    def turn_quaternion(self) -> np.ndarray:
        """Quaternion ``(w, x, y, z)`` of the turn about +z, shape (4,)."""
        half = math.radians(self.turn_deg) / 2
        return np.array([math.cos(half), 0.0, 0.0, math.sin(half)])


def _name(turn_deg: int, mirror: bool) -> str:
    turn = f"turn-{turn_deg}" if turn_deg else ""
    if mirror:
        return "mirror-x" + (f"-{turn}" if turn else "")
    return turn or "identity"


#: The eight symmetries by name; "identity" first.
DETECTOR_SYMMETRIES: dict[str, DetectorSymmetry] = {
    _name(turn, mirror): DetectorSymmetry(_name(turn, mirror), turn, mirror)
    for mirror in (False, True) for turn in (0, 90, 180, 270)
}

#: Subsets used for averaging over views: 1, 2, 4 or 8 symmetries (:data:`VIEW_COUNTS`).
VIEW_SETS: dict[int, tuple[str, ...]] = dict(zip(VIEW_COUNTS, (
    ("identity",),
    ("identity", "turn-180"),
    ("identity", "turn-90", "turn-180", "turn-270"),
    tuple(DETECTOR_SYMMETRIES),
), strict=True))


def _symmetry(name: str) -> DetectorSymmetry:
    if name not in DETECTOR_SYMMETRIES:
        raise ValueError(f"unknown detector symmetry {name!r}; choose one of "
                         f"{list(DETECTOR_SYMMETRIES)}")
    return DETECTOR_SYMMETRIES[name]


@functools.lru_cache(maxsize=64)
def _source_index(symmetry: DetectorSymmetry, size: int) -> torch.Tensor:
    """Flat index of the source pixel of every output pixel, shape (size·size,); cached (the
    views of every batch reuse it)."""
    if size % 2:
        raise ValueError(f"detector symmetries need an even grid size, got {size}")
    centred = torch.arange(size) - size // 2
    k_y, k_x = torch.meshgrid(centred, centred, indexing="ij")
    inverse = torch.as_tensor(np.round(np.linalg.inv(symmetry.matrix())).astype(np.int64))
    source_x = inverse[0, 0] * k_x + inverse[0, 1] * k_y
    source_y = inverse[1, 0] * k_x + inverse[1, 1] * k_y
    rows = (source_y + size // 2) % size
    columns = (source_x + size // 2) % size
    return (rows * size + columns).flatten()


def transform_images(images: torch.Tensor, name: str) -> torch.Tensor:
    """The images of the transformed particle.

    Parameters
    ----------
    images : torch.Tensor, shape (..., N, N)
        SPEC images (or masks), rows along k_y and columns along k_x; N even.
    name : str
        A key of :data:`DETECTOR_SYMMETRIES`.

    Returns
    -------
    torch.Tensor, shape (..., N, N)
        ``out(k) = images(T⁻¹ k)``; a new tensor on the input's device.
    """
    symmetry = _symmetry(name)
    size = images.shape[-1]
    if images.shape[-2] != size:
        raise ValueError(f"images must be square, got {tuple(images.shape[-2:])}")
    index = _source_index(symmetry, size).to(images.device)
    return images.flatten(-2)[..., index].reshape(images.shape)


def _mirror_x(q: Array) -> Array:
    """Quaternion of ``M_x R(q) M_x``: ``(w, x, −y, −z)``."""
    sign = q.new_tensor([1, 1, -1, -1]) if isinstance(q, torch.Tensor) else np.array([1, 1, -1, -1])
    return q * sign


def _turn_like(symmetry: DetectorSymmetry, q: Array) -> Array:
    """The symmetry's turn quaternion (4,) in q's array type (dtype and device for tensors)."""
    return _like(symmetry.turn_quaternion(), q)


def _like(quaternion: np.ndarray, q: Array) -> Array:
    return torch.as_tensor(quaternion, dtype=q.dtype, device=q.device) \
        if isinstance(q, torch.Tensor) else quaternion


@functools.lru_cache(maxsize=16)
def _mirror_correction(shape: str) -> np.ndarray:
    """Quaternion (4,) of ``M_x M_a``, a the normal of the family's mirror plane."""
    normal = np.asarray(shape_family(shape).mirror_axis, dtype=np.float64)
    normal /= np.linalg.norm(normal)
    mirror_x = np.diag([-1.0, 1.0, 1.0])
    return matrix_to_quaternion(mirror_x @ (np.eye(3) - 2 * np.outer(normal, normal)))


def transform_quaternions(q: Array, name: str, shape: str = DEFAULT_SHAPE) -> Array:
    """Orientation of the transformed particle (not canonicalised).

    Parameters
    ----------
    q : array or tensor, shape (..., 4)
        Orientations ``(w, x, y, z)`` of the original particles.
    name : str
        A key of :data:`DETECTOR_SYMMETRIES`.
    shape : str
        The particles' shape family (its mirror plane decides the mirrors' label map).

    Returns
    -------
    array or tensor, shape (..., 4)
        ``t ⊗ q`` for a turn t, ``t ⊗ (w, x, −y, −z) ⊗ m`` for a mirror followed by the turn t,
        m the quaternion of ``M_x M_a``.
    """
    symmetry = _symmetry(name)
    if symmetry.mirror:
        q = quaternion_multiply(_mirror_x(q), _like(_mirror_correction(shape), q))
    return quaternion_multiply(_turn_like(symmetry, q), q)


def untransform_quaternions(q: Array, name: str, shape: str = DEFAULT_SHAPE) -> Array:
    """Inverse of :func:`transform_quaternions`: the original orientation, shape (..., 4)."""
    symmetry = _symmetry(name)
    unturned = quaternion_multiply(quaternion_conjugate(_turn_like(symmetry, q)), q)
    if not symmetry.mirror:
        return unturned
    correction = _like(quaternion_conjugate(_mirror_correction(shape)), q)
    return _mirror_x(quaternion_multiply(unturned, correction))
