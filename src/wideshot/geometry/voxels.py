"""Particles of any shape family as voxel densities (for the literal MSFT and validation).

Examples
--------
>>> density = voxelize(30.0, [1.0, 0.0, 0.0, 0.0], (64, 64, 64), voxel_nm=1.66, supersample=2)
>>> density.shape, density.dtype
((64, 64, 64), dtype('float32'))
"""
from __future__ import annotations

import math

import numpy as np

from wideshot.geometry.quaternion import quaternion_to_matrix, validate_quaternions
from wideshot.geometry.shapes import DEFAULT_SHAPE, shape_family


def voxel_centres_nm(size: int, voxel_nm: float) -> np.ndarray:
    """Voxel-centre coordinates along one grid axis: ``(i - size // 2) · voxel_nm``.

    This is the reference-grid convention (docs/conventions.md: 192 voxels over 318.75 nm): the
    voxel with index ``size // 2`` sits exactly on the origin, as the centre of an FFT grid does.

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
    shape: str = DEFAULT_SHAPE,
    shape_parameter: float | None = None,
) -> np.ndarray:
    """Density of a rotated particle on a voxel grid centred on the origin.

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
        ``p`` of the reference solid.
    grid_shape : int or tuple of 3 ints
        ``(nz, ny, nx)``; an int gives a cube.
    voxel_nm : float
        Voxel edge, nm.
    supersample : int
        Sub-samples per voxel and axis. 1: the density is 1 where the voxel centre is inside the
        particle (boundary included), else 0. s > 1: the fraction of the s³ regularly spaced
        sub-sample points (a cell-centred s×s×s lattice in the voxel) that are inside.
    shape, shape_parameter
        The shape family and its parameter (:mod:`wideshot.geometry.shapes`).

    Returns
    -------
    numpy.ndarray of float32, shape (nz, ny, nx)
        Density in [0, 1], axes ordered (z, y, x).

    Raises
    ------
    ValueError
        For a non-positive radius or voxel size, ``supersample < 1``, an invalid quaternion,
        more than one quaternion, or an unknown family or invalid parameter.
    """
    if radius_nm <= 0 or voxel_nm <= 0 or supersample < 1:
        raise ValueError("radius_nm and voxel_nm must be > 0 and supersample >= 1")
    quaternion = validate_quaternions(np.asarray(quaternion, dtype=np.float64), "quaternion")
    if quaternion.shape[0] != 1:
        raise ValueError(f"voxelize takes one quaternion, got {quaternion.shape[0]}")
    solid = shape_family(shape).solid(shape_parameter)
    nz, ny, nx = (grid_shape,) * 3 if isinstance(grid_shape, int) else grid_shape
    rotation = quaternion_to_matrix(quaternion[0])

    def margin(points: np.ndarray) -> np.ndarray:
        # A lab point r is inside iff R(q)ᵀ r / R is inside the unit reference solid; the
        # margin, scaled back by R, stays 1-Lipschitz in nm.
        return solid.margin(points @ rotation / radius_nm) * radius_nm

    x, y, z = (voxel_centres_nm(size, voxel_nm) for size in (nx, ny, nz))
    steps = ((np.arange(supersample) + 0.5) / supersample - 0.5) * voxel_nm
    sub_offsets = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    # A voxel whose centre is farther than half its diagonal from the surface (|margin| > that)
    # is entirely inside or entirely outside.
    half_diagonal = 0.5 * math.sqrt(3.0) * voxel_nm
    plane = np.stack(np.broadcast_arrays(x[None, :], y[:, None], 0.0), axis=-1)  # (ny, nx, 3)

    density = np.zeros((nz, ny, nx), dtype=np.float32)
    for k in range(nz):
        plane[..., 2] = z[k]
        centre_margin = margin(plane)
        density[k] = centre_margin <= 0
        if supersample > 1:
            rows, columns = np.nonzero(np.abs(centre_margin) <= half_diagonal)
            points = plane[rows, columns][:, None, :] + sub_offsets
            density[k, rows, columns] = (margin(points) <= 0).mean(axis=-1)
    return density
