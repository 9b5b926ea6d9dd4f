"""Far fields of particles of every shape family, batched (any device, mixed families).

A family's solid (:mod:`wideshot.geometry.shapes`) is one of two kinds, each with its exact
MSFT: a convex polyhedron (:mod:`~wideshot.physics.polyhedron_msft`, summed by a torch or a fused
CPU kernel) or a ball (:mod:`~wideshot.physics.sphere_msft`). :func:`particle_amplitude` groups a
batch by kind; polyhedra of different topologies go through the kernel together, padded with
degenerate triangles (which contribute nothing).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from wideshot.geometry import Ball, ConvexPolyhedron, quaternion_to_matrix, shape_family
from wideshot.geometry.shapes import DEFAULT_SHAPE, shape_batch
from wideshot.physics.polyhedron_msft import slab_amplitude, slab_triangles
from wideshot.physics.slab_kernel_cpu import slab_amplitude_cpu
from wideshot.physics.sphere_msft import sphere_amplitude

#: Kernels that sum the polyhedron MSFT (see :func:`triangles_amplitude`).
KERNELS = ("auto", "torch", "fused")


def triangles_amplitude(tris: torch.Tensor, q: torch.Tensor, attenuation: complex,
                        kernel: str = "auto") -> torch.Tensor:
    """Far-field amplitudes (B, P) of convex polyhedra given by their surface triangles.

    The exact MSFT of :mod:`~wideshot.physics.polyhedron_msft`, summed by one of two kernels
    with the same values: "torch" (any device, differentiable) or "fused" (numba, float64,
    CPU only, several times faster there); "auto" takes the fused one on a CPU.

    Parameters
    ----------
    tris : tensor (B, F, 3, 3) float64
        Corners (x, y, z) of every face (nm) in the laboratory frame, counter-clockwise seen
        from outside; degenerate triangles pad polyhedra with fewer faces.
    q : tensor (P, 3)
        Momentum transfers (nm⁻¹); its dtype (float32/float64) sets the precision of the torch
        kernel (geometry is always prepared in float64).
    attenuation : complex
        γ in nm⁻¹.
    kernel : {"auto", "torch", "fused"}

    Returns
    -------
    tensor (B, P) complex
        A(q) in nm³.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {list(KERNELS)}, got {kernel!r}")
    if kernel == "auto":
        kernel = "fused" if q.device.type == "cpu" else "torch"
    if kernel == "fused" and q.device.type != "cpu":
        raise ValueError("the fused kernel runs on the CPU only")
    tris = tris.to(device=q.device, dtype=torch.float64)
    corners, weights = slab_triangles(tris)
    if kernel == "fused":
        amplitude = torch.from_numpy(slab_amplitude_cpu(corners.numpy(), weights.numpy(),
                                                        q.double().numpy(), attenuation))
    else:
        amplitude = slab_amplitude(corners.to(q.dtype), weights.to(q.dtype), q, attenuation)
    return _born_forward_limit(amplitude, tris, q, attenuation)


def polyhedron_amplitude(vertices: torch.Tensor, faces: torch.Tensor, q: torch.Tensor,
                         attenuation: complex, kernel: str = "auto") -> torch.Tensor:
    """Far-field amplitudes (B, P) of convex polyhedra with shared faces.

    Parameters
    ----------
    vertices : tensor (B, V, 3) float64
        Vertices in the laboratory frame (nm).
    faces : tensor (F, 3) int64
        Triangles, counter-clockwise seen from outside.
    q, attenuation, kernel
        As in :func:`triangles_amplitude`.
    """
    vertices = torch.as_tensor(vertices, dtype=torch.float64)
    return triangles_amplitude(vertices[:, torch.as_tensor(faces, device=vertices.device)], q,
                               attenuation, kernel)


def _born_forward_limit(amplitude: torch.Tensor, tris: torch.Tensor, q: torch.Tensor,
                        attenuation: complex) -> torch.Tensor:
    """Without absorption, A(0) = V, where (S_in − S_out)/(i q_z) is 0/0."""
    if attenuation != 0:
        return amplitude
    forward = q.abs().amax(dim=-1) == 0
    volume = torch.einsum("bfi,bfi->b", tris[:, :, 0],
                          torch.linalg.cross(tris[:, :, 1], tris[:, :, 2])) / 6
    return torch.where(forward[None], volume.to(amplitude.dtype)[:, None], amplitude)


@functools.lru_cache(maxsize=1024)
def _unit_surface(solid: ConvexPolyhedron) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertices (V, 3) float64 and faces (F, 3) int64 of a (cached) unit solid, as tensors."""
    return torch.from_numpy(solid.vertices), torch.from_numpy(solid.faces)


def _polyhedra(solids: list, radius_nm: torch.Tensor, rotation: torch.Tensor, q: torch.Tensor,
               attenuation: complex, kernel: str) -> torch.Tensor:
    surfaces = [_unit_surface(solid) for solid in solids]
    # Topologies may differ: vertices are padded with the origin, faces with (0, 0, 0), a
    # degenerate triangle.
    n_vertices = max(len(vertices) for vertices, _ in surfaces)
    n_faces = max(len(faces) for _, faces in surfaces)
    unit_vertices = torch.zeros(len(solids), n_vertices, 3, dtype=torch.float64)
    faces = torch.zeros(len(solids), n_faces, 3, dtype=torch.int64)
    for item, (item_vertices, item_faces) in enumerate(surfaces):
        unit_vertices[item, :len(item_vertices)] = item_vertices
        faces[item, :len(item_faces)] = item_faces
    unit_vertices, faces = unit_vertices.to(q.device), faces.to(q.device)
    vertices = radius_nm[:, None, None] * unit_vertices @ rotation.transpose(-1, -2)
    tris = vertices[torch.arange(len(solids), device=q.device)[:, None, None], faces]
    return triangles_amplitude(tris, q, attenuation, kernel)


def _balls(solids: list, radius_nm: torch.Tensor, rotation: torch.Tensor, q: torch.Tensor,
           attenuation: complex, kernel: str) -> torch.Tensor:
    return sphere_amplitude(radius_nm, q, attenuation)


#: The MSFT of each kind of solid: (solids, radii (b,), rotations (b, 3, 3), q, γ, kernel).
_AMPLITUDE_OF_KIND = {ConvexPolyhedron: _polyhedra, Ball: _balls}


def particle_amplitude(radius_nm: torch.Tensor, quaternion: torch.Tensor, q: torch.Tensor,
                       attenuation: complex, shape=DEFAULT_SHAPE, shape_parameter=None,
                       kernel: str = "torch") -> torch.Tensor:
    """Far-field amplitude of particles of any families at arbitrary momentum transfers.

    With the default torch kernel it is differentiable with respect to ``radius_nm`` and
    ``quaternion``; ``kernel="auto"`` takes the faster fused kernel for polyhedra on a CPU.

    Parameters
    ----------
    radius_nm : tensor (B,)
        Circumradii (nm).
    quaternion : tensor (B, 4)
        Unit quaternions (w, x, y, z), active.
    q : tensor (P, 3)
        Momentum transfers (nm⁻¹) on the Ewald sphere; its dtype (float32/float64) sets the
        precision of the evaluation (geometry is always prepared in float64).
    attenuation : complex
        γ in nm⁻¹ (:meth:`Absorption.attenuation`, :meth:`RefractiveIndex.attenuation`).
    shape : str or sequence of B str
        Family names (:data:`~wideshot.geometry.SHAPE_NAMES`).
    shape_parameter : None, float or array (B,)
        The families' parameters (NaN/None where a family has none).
    kernel : {"torch", "fused", "auto"}
        See :func:`triangles_amplitude`.

    Returns
    -------
    tensor (B, P) complex
        A(q) in nm³.
    """
    names, parameters = shape_batch(shape, shape_parameter, len(radius_nm))
    solids = [shape_family(name).solid(None if np.isnan(value) else value)
              for name, value in zip(names, parameters)]
    radius_nm = radius_nm.to(device=q.device, dtype=torch.float64)
    rotation = quaternion_to_matrix(quaternion.to(device=q.device, dtype=torch.float64))
    kinds = {}
    for item, solid in enumerate(solids):
        kinds.setdefault(type(solid), []).append(item)
    parts = {kind: _AMPLITUDE_OF_KIND[kind]([solids[i] for i in items], radius_nm[items],
                                            rotation[items], q, attenuation, kernel)
             for kind, items in kinds.items()}
    if len(parts) == 1:
        return next(iter(parts.values()))
    first = next(iter(parts.values()))
    amplitude = first.new_zeros(len(solids), q.shape[0])
    for kind, items in kinds.items():
        amplitude = amplitude.index_copy(0, torch.as_tensor(items, device=q.device), parts[kind])
    return amplitude


def icosahedron_amplitude(radius_nm: torch.Tensor, quaternion: torch.Tensor, q: torch.Tensor,
                          attenuation: complex, kernel: str = "torch") -> torch.Tensor:
    """:func:`particle_amplitude` of icosahedra (B, P) (the paper's particle)."""
    return particle_amplitude(radius_nm, quaternion, q, attenuation, kernel=kernel)
