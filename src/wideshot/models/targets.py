"""Mapping between physical labels and network targets (docs/conventions.md "Parameter vector").

A **label** is ``(w, x, y, z, R)``: a canonical unit quaternion (scalar first) and the
circumradius R in nm. The network **targets** are, as in the paper,

- ``(w − w_min) / (1 − w_min)``, with ``w_min`` the smallest w on the fundamental domain,
- ``x, y, z`` unchanged (each within ±0.357 on the fundamental domain),
- ``(R − 30 nm) / 130 nm``,

so that w and R span [0, 1]. Every function accepts numpy arrays or torch tensors and returns the
same kind; the torch path is differentiable and keeps device and dtype.

Examples
--------
>>> import numpy as np
>>> targets = labels_to_targets(np.array([[1.0, 0.0, 0.0, 0.0]]), np.array([95.0]))
>>> np.round(targets, 3)
array([[1. , 0. , 0. , 0. , 0.5]])
>>> quaternion, radius_nm = targets_to_labels(targets)
>>> float(radius_nm[0])
95.0
"""
from __future__ import annotations

import numpy as np
import torch

from wideshot.config import RADIUS_RANGE_NM
from wideshot.geometry import DEFAULT_SHAPE, canonical, fundamental_domain, normalize_quaternion
from wideshot.geometry.quaternion import Array, _as_float

#: Names of the five network outputs, in order.
TARGET_NAMES: tuple[str, ...] = ("w", "x", "y", "z", "radius")
NUM_TARGETS = len(TARGET_NAMES)

#: Column of the scaled radius among the targets.
RADIUS_TARGET = TARGET_NAMES.index("radius")

#: Quaternion norms are clamped to at least this before normalising decoded outputs.
_MIN_NORM = 1e-12


def _w_range(shape: str = DEFAULT_SHAPE) -> tuple[float, float]:
    """(w_min, w_max) of the family's fundamental domain: the w mapped to 0 and to 1."""
    domain = fundamental_domain(shape)
    return domain.w_min, domain.w_max


def labels_to_targets(quaternion: Array, radius_nm: Array,
                      radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM,
                      shape: str = DEFAULT_SHAPE) -> Array:
    """Network targets of physical labels.

    Parameters
    ----------
    quaternion : array or tensor, shape (B, 4)
        Orientations ``(w, x, y, z)``; normalised and made canonical here (a no-op for labels as
        stored in data sets), so every member of an orbit gives the same targets.
    radius_nm : array or tensor, shape (B,)
        Circumradii in nm.
    radius_range_nm : (float, float)
        Radius mapped to 0 and to 1 (the training range of docs/conventions.md by default).
    shape : str
        Shape family whose rotation group defines the canonical form and the w range
        (w_min of its fundamental domain); the icosahedron by default.

    Returns
    -------
    array or tensor, shape (B, 5)
        ``(w scaled, x, y, z, R scaled)``; the type, dtype and device of ``quaternion``.
    """
    q = canonical(normalize_quaternion(quaternion), shape)
    is_torch = isinstance(q, torch.Tensor)
    xp = torch if is_torch else np
    radius_nm = (torch.as_tensor(radius_nm, dtype=q.dtype, device=q.device) if is_torch
                 else np.asarray(radius_nm, dtype=q.dtype))
    w_low, w_high = _w_range(shape)
    r_low, r_high = radius_range_nm
    w_scaled = (q[..., 0] - w_low) / (w_high - w_low)
    radius_scaled = (radius_nm - r_low) / (r_high - r_low)
    return xp.stack([w_scaled, q[..., 1], q[..., 2], q[..., 3], radius_scaled], -1)


def targets_to_quaternion(outputs: Array, shape: str = DEFAULT_SHAPE) -> Array:
    """Unit quaternions encoded by targets, *not* made canonical (for losses), shape (B, 4).

    Parameters
    ----------
    outputs : array or tensor, shape (B, 5) (or (B, ≥ 4): the first four columns are read)
        Targets or network outputs.
    shape : str
        Shape family of the targets (its w range).

    Returns
    -------
    array or tensor, shape (B, 4)
        ``(w, x, y, z)`` with w unscaled, normalised to unit norm.
    """
    outputs = _as_float(outputs)
    w_low, w_high = _w_range(shape)
    xp = torch if isinstance(outputs, torch.Tensor) else np
    w = w_low + (w_high - w_low) * outputs[..., 0]
    q = xp.stack([w, outputs[..., 1], outputs[..., 2], outputs[..., 3]], -1)
    norm = xp.sqrt((q * q).sum(-1, keepdims=True))
    return q / (norm.clamp_min(_MIN_NORM) if xp is torch else np.maximum(norm, _MIN_NORM))


def targets_to_labels(outputs: Array, radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM,
                      shape: str = DEFAULT_SHAPE) -> tuple[Array, Array]:
    """Physical labels of network outputs (inverse of :func:`labels_to_targets`).

    Outputs slightly outside the domain decode to the nearest sensible label: the quaternion is
    normalised and made canonical, the radius is unscaled linearly and not clipped.

    Parameters
    ----------
    outputs : array or tensor, shape (B, 5)
        Network outputs ``(w scaled, x, y, z, R scaled)``.
    radius_range_nm : (float, float)
        As in :func:`labels_to_targets`.
    shape : str
        As in :func:`labels_to_targets`.

    Returns
    -------
    quaternion : array or tensor, shape (B, 4)
        Canonical unit quaternions ``(w, x, y, z)``.
    radius_nm : array or tensor, shape (B,)
        Circumradii in nm.
    """
    outputs = _as_float(outputs)
    r_low, r_high = radius_range_nm
    radius_nm = r_low + (r_high - r_low) * outputs[..., RADIUS_TARGET]
    return canonical(targets_to_quaternion(outputs, shape), shape), radius_nm
