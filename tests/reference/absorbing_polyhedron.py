"""Exact continuum far field of the absorption-only (or refractive) MSFT model for a convex
polyhedron — no voxels, no slices.

Model (SPEC "Forward model"): A(q) = ∫_P e^{−γ d(r)} e^{−iq·r} d³r, d(r) = z − z_in(x, y) the path
inside the particle before r along +z, γ = 1/ℓ (absorption only) or γ = −i k (n − 1)
(refraction + absorption, e^{i k (n−1) d}; Re γ = kβ > 0).

Construction: the entrance surface z_in(x, y) of a convex body is piecewise linear — over the
projection of each *front* face f (outward normal with n_z < 0) it is the plane of f. So P splits
into convex cells P_f = P ∩ (vertical prism over f's projection), and on P_f, writing
z_in = z_f + a_f (x − x_f) + b_f (y − y_f) with r_f the centroid of f,

    e^{−γ d(r)} e^{−iq·r} = e^{−iq·r_f} e^{−iQ_f·(r − r_f)},   Q_f = q − i γ (−a_f, −b_f, 1),

a plane wave with a *complex* wave vector. Each cell's integral is then the analytic polyhedron
transform (``polyhedron_form_factor``, valid for complex Q) of the cell translated by −r_f, so that
|e^{−iQ_f·(r−r_f)}| = e^{−Re γ d} ≤ 1 on the cell (no overflow). Cells are built with scipy's
HalfspaceIntersection. For γ = 0 the cells tile P and the sum is the Born transform.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial import ConvexHull, HalfspaceIntersection

from . import polyhedron_form_factor as pf
from . import spec


def _front_cells(vertices: np.ndarray):
    """[(cell vertices, cell faces, front-face centroid r_f, front-face normal n_f)]."""
    hull = ConvexHull(vertices)
    eqs = hull.equations  # n·r + b ≤ 0 inside
    scale = np.abs(vertices).max()
    cells = []
    faces = spec.oriented_hull_faces(vertices)
    for face in faces:
        pts = vertices[face]
        n = np.cross(pts[1] - pts[0], pts[2] - pts[0])
        n /= np.linalg.norm(n)
        if n[2] > -1e-12:
            continue  # not a front face (vertical faces carry no entrance area)
        rf = pts.mean(axis=0)
        # vertical half-spaces bounding the projected polygon (ccw seen from −z ... use centroid)
        hs = [eq for eq in eqs]
        p2 = pts[:, :2]
        c2 = rf[:2]
        for a in range(len(face)):
            e = p2[(a + 1) % len(face)] - p2[a]
            nn = np.array([e[1], -e[0]])
            nn /= np.linalg.norm(nn)
            off = -nn @ p2[a]
            if nn @ c2 + off > 0:  # make the centroid side the inside
                nn, off = -nn, -off
            hs.append(np.array([nn[0], nn[1], 0.0, off]))
        interior = rf + np.array([0.0, 0.0, 1e-3 * scale])
        hsi = HalfspaceIntersection(np.asarray(hs), interior)
        cv = hsi.intersections
        # merge duplicates (several planes through one vertex)
        keep = []
        for p in cv:
            if not any(np.linalg.norm(p - k) < 1e-9 * scale for k in keep):
                keep.append(p)
        cv = np.asarray(keep)
        cells.append((cv, spec.oriented_hull_faces(cv), rf, n))
    return cells


def absorbing_polyhedron_amplitude(vertices, q, attenuation_length_nm: float = 12.5,
                                   refractive_index: complex | None = None,
                                   wavenumber: float = spec.K) -> np.ndarray:
    """A(q) (nm³) of the convex hull of ``vertices`` in the absorbing (or refractive) model.

    q: (..., 3) real. Returns complex128 (...).
    """
    verts = np.asarray(vertices, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    shape = q.shape[:-1]
    qf = q.reshape(-1, 3)
    gamma = spec.attenuation_coefficient(attenuation_length_nm, refractive_index, wavenumber)
    out = np.zeros(qf.shape[0], dtype=np.complex128)
    for cv, cf, rf, n in _front_cells(verts):
        a, b = -n[0] / n[2], -n[1] / n[2]  # z_in = z_f + a (x−x_f) + b (y−y_f)
        qc = qf - 1j * gamma * np.array([-a, -b, 1.0])
        out += np.exp(-1j * (qf @ rf)) * pf.polyhedron_amplitude(cv - rf, cf, qc)
    return out.reshape(shape)


def absorbing_quadrature(vertices, q, attenuation_length_nm: float = 12.5,
                         refractive_index: complex | None = None, order: int = 40) -> np.ndarray:
    """The same integral by Gauss–Legendre quadrature on the cells (an independent check of the
    face/edge formula for complex wave vectors)."""
    verts = np.asarray(vertices, dtype=np.float64)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    if refractive_index is not None:
        gamma = -1j * spec.K * (complex(refractive_index) - 1.0)
    else:
        gamma = 0.0 if math.isinf(attenuation_length_nm) else 1.0 / attenuation_length_nm
    out = np.zeros(q.shape[0], dtype=np.complex128)
    for cv, cf, rf, n in _front_cells(verts):
        a, b = -n[0] / n[2], -n[1] / n[2]
        qc = q - 1j * gamma * np.array([-a, -b, 1.0])
        out += np.exp(-1j * (q @ rf)) * pf.quadrature_amplitude(cv - rf, cf, qc, order=order)
    return out
