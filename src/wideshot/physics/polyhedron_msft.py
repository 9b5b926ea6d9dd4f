"""Analytic multi-slice Fourier transform (MSFT) of convex polyhedra with absorption.

SPEC's far field is A(q) = ∫ ρ(r) e^{−γ d(r)} e^{−i q·r} d³r, with d(r) the path length inside
the particle before r along the beam (+z) and γ = 1/ℓ (absorption) or −i k (n − 1) (refraction).
For a convex body the z-integral over each column (x, y) is elementary:

    ∫_{z_in}^{z_out} e^{−γ(z − z_in)} e^{−i q_z z} dz = (e^{−i q_z z_in} − e^{−γ d − i q_z z_out}) / a,

with a = γ + i q_z and d = z_out − z_in. So A = (S_in − S_out)/a, two integrals over the
projected silhouette of an exponential that is linear in (x, y) on every piece:

* S_in  — over each entrance face (outward normal n_z < 0), exponent −i q·r on the face;
* S_out — over each cell of the overlay of entrance and exit faces (the exit face's projection
  clipped to an entrance face's projection), exponent −i q·r − γ d on the exit face.

Each piece is a triangle (cells are fan-triangulated), and the integral of e^{f} over a
triangle with linear f is 2·area·E[f₀, f₁, f₂] (:mod:`~wideshot.physics.divided_differences`).
The result is exact — no voxels, no slices — at any q, so it converges to the SPEC definition
by construction. Geometry is prepared in float64; pixels are evaluated in the requested precision.
"""
from __future__ import annotations

import torch

from wideshot.physics.divided_differences import exp_divided_difference_2

#: Relative tolerance (in units of the particle size) for inside and crossing tests.
_GEOMETRY_TOLERANCE = 1e-9


def _cross2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """z-component of the cross product of 2D vectors (..., 2)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _inside_triangle(points: torch.Tensor, triangle: torch.Tensor, tol: torch.Tensor) -> torch.Tensor:
    """Whether 2D points (..., P, 2) lie in the triangles (..., 3, 2), boundary included."""
    edges = triangle.roll(-1, dims=-2) - triangle                      # (..., 3, 2)
    rel = points[..., :, None, :] - triangle[..., None, :, :]          # (..., P, 3, 2)
    side = _cross2(edges[..., None, :, :], rel)                        # (..., P, 3)
    scale = edges.norm(dim=-1)[..., None, :] * tol[..., None, None]
    return ((side >= -scale).all(dim=-1)) | ((side <= scale).all(dim=-1))


def _segment_crossings(tri_a: torch.Tensor, tri_b: torch.Tensor, tol: torch.Tensor):
    """Crossing points of the 3 edges of tri_a with the 3 edges of tri_b (2D).

    Returns points (..., 9, 2) and a validity mask (..., 9).
    """
    a0 = tri_a[..., :, None, :]
    da = (tri_a.roll(-1, dims=-2) - tri_a)[..., :, None, :]
    b0 = tri_b[..., None, :, :]
    db = (tri_b.roll(-1, dims=-2) - tri_b)[..., None, :, :]
    denom = _cross2(da, db)                                            # (..., 3, 3)
    offset = b0 - a0
    parallel = denom.abs() <= (tol * tol)[..., None, None] * (da.norm(dim=-1) * db.norm(dim=-1) + 1e-300)
    safe = torch.where(parallel, torch.ones_like(denom), denom)
    t = _cross2(offset, db) / safe
    u = _cross2(offset, da) / safe
    eps = 1e-12
    valid = (~parallel) & (t >= -eps) & (t <= 1 + eps) & (u >= -eps) & (u <= 1 + eps)
    points = a0 + t[..., None] * da
    shape = points.shape[:-3] + (9,)
    return points.reshape(*shape, 2), valid.reshape(shape)


def _plane_height(face: torch.Tensor, normal: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """z of the face's plane above the points xy (..., P, 2); face (..., 3, 3), normal (..., 3)."""
    v0 = face[..., 0, :]
    dx = xy[..., 0] - v0[..., None, 0]
    dy = xy[..., 1] - v0[..., None, 1]
    return v0[..., None, 2] - (normal[..., None, 0] * dx + normal[..., None, 1] * dy) / normal[..., None, 2]


def _take_faces(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values (B, F, ...) at face indices (B, K) → (B, K, ...)."""
    expanded = index.view(index.shape + (1,) * (values.dim() - 2)).expand(index.shape + values.shape[2:])
    return values.gather(1, expanded)


def slab_triangles(tris: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Triangles and weights whose exponential integrals sum to S_in − S_out.

    Parameters
    ----------
    tris : tensor (B, F, 3, 3), float64
        The surface triangles of B convex polyhedra in the laboratory frame (nm): corner
        (x, y, z) of every face, counter-clockwise seen from outside. Polyhedra with fewer
        faces are padded with degenerate triangles (three equal corners), which contribute
        nothing.

    Returns
    -------
    corners : tensor (B, T, 3, 4), float64
        Per triangle and corner: (x, y, z, d) — position (nm) on the entrance face (d = 0) or on
        the exit face with d the path length through the particle to it (nm).
    weights : tensor (B, T), float64
        +2·(projected area) for entrance triangles, −2·(projected area) for exit cells (nm²);
        0 for padding.
    """
    batch = tris.shape[0]
    normals = torch.linalg.cross(tris[:, :, 1] - tris[:, :, 0], tris[:, :, 2] - tris[:, :, 0])
    size = tris.norm(dim=-1).flatten(1).amax(dim=-1)                    # (B,)
    tol = size * _GEOMETRY_TOLERANCE
    flat = normals[..., 2].abs() <= (normals.norm(dim=-1) * 1e-12)
    entrance = (normals[..., 2] < 0) & ~flat                             # (B, F)
    exit_ = (normals[..., 2] > 0) & ~flat

    # S_in: every face triangle, weight |n_z| = 2 × projected area, d = 0.
    in_corners = torch.cat([tris, torch.zeros_like(tris[..., :1])], dim=-1)
    in_weights = torch.where(entrance, normals[..., 2].abs(), torch.zeros_like(normals[..., 2]))

    # S_out: overlay cells of (exit face b) ∩ (entrance face f) in projection. Only the
    # entrance × exit pairs are formed: faces sorted by n_z, as many as any item needs.
    n_entrance = int(entrance.sum(dim=1).max())
    n_exit = int(exit_.sum(dim=1).max())
    by_nz = normals[..., 2].argsort(dim=1)
    entry_idx, exit_idx = by_nz[:, :n_entrance], by_nz.flip(1)[:, :n_exit]
    face_b, normal_b, use_b = (_take_faces(x, exit_idx) for x in (tris, normals, exit_))
    face_f, normal_f, use_f = (_take_faces(x, entry_idx) for x in (tris, normals, entrance))
    pair_shape = (batch, n_exit, n_entrance)
    tri_b = face_b[:, :, None, :, :2].expand(*pair_shape, 3, 2)       # (B, Fb, Ff, 3, 2)
    tri_f = face_f[:, None, :, :, :2].expand(*pair_shape, 3, 2)
    pair_tol = tol[:, None, None]
    b_in_f = _inside_triangle(tri_b, tri_f, pair_tol)                  # (B, Fb, Ff, 3)
    f_in_b = _inside_triangle(tri_f, tri_b, pair_tol)
    cross_pts, cross_ok = _segment_crossings(tri_b, tri_f, pair_tol)
    points = torch.cat([tri_b, tri_f, cross_pts], dim=-2)              # (B, Fb, Ff, 15, 2)
    valid = torch.cat([b_in_f, f_in_b, cross_ok], dim=-1)
    valid &= (use_b[:, :, None] & use_f[:, None, :])[..., None]

    # Order the (convex-position) points by angle about their centroid and fan-triangulate
    # from the first one; duplicated points give zero-area triangles, dropped below.
    count = valid.sum(dim=-1, keepdim=True).clamp(min=1)
    centre = (points * valid[..., None]).sum(dim=-2) / count          # (B, Fb, Ff, 2)
    rel = points - centre[..., None, :]
    angle = torch.atan2(rel[..., 1], rel[..., 0])
    angle = torch.where(valid, angle, torch.full_like(angle, 10.0))
    order = angle.argsort(dim=-1)
    points = points.gather(-2, order[..., None].expand_as(points))
    valid = valid.gather(-1, order)
    first = points[..., :1, :].expand_as(points[..., 1:-1, :])
    second, third = points[..., 1:-1, :], points[..., 2:, :]
    cell_area2 = _cross2(second - first, third - first).abs()
    fan_ok = valid[..., 2:] & (cell_area2 > (tol * size)[:, None, None, None])

    fan_xy = torch.stack([first, second, third], dim=-2)                 # (..., 13, 3, 2)
    normal_b = normal_b[:, :, None].expand(*pair_shape, 3)
    normal_f = normal_f[:, None, :].expand(*pair_shape, 3)
    face_b = face_b[:, :, None].expand(*pair_shape, 3, 3)
    face_f = face_f[:, None, :].expand(*pair_shape, 3, 3)
    fan_flat = fan_xy.reshape(*fan_xy.shape[:3], -1, 2)                 # (B, Fb, Ff, 39, 2)
    z_out = _plane_height(face_b, normal_b, fan_flat)
    safe_normal_f = torch.where(normal_f[..., 2:].abs() > 0, normal_f,
                                torch.ones_like(normal_f))
    z_in = _plane_height(face_f, safe_normal_f, fan_flat)
    path = (z_out - z_in).clamp(min=0)
    out_corners = torch.cat([fan_flat, z_out[..., None], path[..., None]], dim=-1)
    out_corners = out_corners.reshape(batch, -1, 3, 4)
    out_weights = torch.where(fan_ok, -cell_area2, torch.zeros_like(cell_area2)).reshape(batch, -1)

    corners = torch.cat([in_corners, out_corners], dim=1)
    weights = torch.cat([in_weights, out_weights], dim=1)
    return _compact(corners, weights)


def _compact(corners: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop padding: keep the triangles with non-zero weight, padded to the batch maximum."""
    used = weights != 0
    keep = int(used.sum(dim=1).max().item()) if weights.numel() else 0
    order = (~used).to(torch.int8).argsort(dim=1, stable=True)[:, :keep]
    corners = corners.gather(1, order[..., None, None].expand(-1, -1, 3, 4))
    weights = weights.gather(1, order)
    return corners, weights


def slab_amplitude(corners: torch.Tensor, weights: torch.Tensor, q: torch.Tensor,
                   attenuation: complex, chunk_elements: int | None = None) -> torch.Tensor:
    """Far-field amplitude A(q) = (S_in − S_out)/(γ + i q_z) from :func:`slab_triangles`.

    Parameters
    ----------
    corners : tensor (B, T, 3, 4)
        (x, y, z, d) of every triangle corner (nm), real dtype of the evaluation.
    weights : tensor (B, T)
        Signed 2 × projected areas (nm²).
    q : tensor (P, 3)
        Momentum transfers (nm⁻¹), same real dtype.
    attenuation : complex
        γ in nm⁻¹: 1/ℓ for absorption, −i k (n − 1) for a complex index, 0 for no absorption.
    chunk_elements : int, optional
        Upper bound on B·T·3·P per step (memory): default 2²⁴ on CUDA (a few hundred MB of
        temporaries), 2¹⁸ on a CPU (cache-sized).

    Returns
    -------
    tensor (B, P), complex
        A(q) in nm³.
    """
    batch, n_tri = weights.shape
    complex_dtype = torch.complex128 if q.dtype == torch.float64 else torch.complex64
    gamma = torch.tensor(attenuation, dtype=complex_dtype, device=q.device)
    denominator = gamma + 1j * q[:, 2].to(complex_dtype)                # (P,)
    if chunk_elements is None:
        chunk_elements = 1 << 24 if q.device.type == "cuda" else 1 << 18
    pixels_per_chunk = max(1, chunk_elements // max(1, batch * n_tri * 3))
    amplitude = []
    for start in range(0, q.shape[0], pixels_per_chunk):
        q_chunk = q[start:start + pixels_per_chunk]
        phase = torch.einsum("btcj,pj->btcp", corners[..., :3], q_chunk)   # (B, T, 3, P)
        decay = corners[..., 3, None]                                      # (B, T, 3, 1)
        exponent = -gamma * decay.to(complex_dtype) - 1j * phase.to(complex_dtype)
        integral = exp_divided_difference_2(exponent[:, :, 0], exponent[:, :, 1], exponent[:, :, 2])
        amplitude.append(torch.einsum("bt,btp->bp", weights.to(complex_dtype), integral))
    return torch.cat(amplitude, dim=1) / denominator
