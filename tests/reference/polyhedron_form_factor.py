"""Analytic Born far field of a homogeneous convex polyhedron: A(q) = ∫_P e^{−i q·r} d³r.

Method (divergence theorem twice, as in Komrska 1987 / Wuttke 2017, "form factor of polyhedra"):

* Volume → faces. With c = i q/q², ∇·(c e^{−iq·r}) = e^{−iq·r}, hence

      A(q) = Σ_f (i q·n_f / q²) F_f(q),       F_f(q) = ∫_f e^{−iq·r} d²r,

  n_f the outward unit normal of face f.
* Face → edges. On face f write p = q − (q·n_f) n_f (in-plane part). For p ≠ 0 the same trick in
  the plane gives

      F_f(q) = Σ_e (i q·m_e / p²) L_e e^{−i q·c_e} sinc(q·(v₂−v₁)/2),

  edge e from v₁ to v₂ (ccw seen from outside), length L_e, midpoint c_e, outward in-plane
  normal m_e = t_e × n_f, sinc(x) = sin(x)/x.

Small arguments, where the 1/p² and 1/q² divisions cancel catastrophically, are replaced by exact
Taylor series of the integrals built from simplex moments,

      ∫_simplex (l·(r − c))^n = vol · n! d! / (n+d)! · h_n(l·(v_0−c), …, l·(v_d−c)),

(h_n the complete homogeneous symmetric polynomial), on a fan of triangles (faces, |p|·size <
SMALL) or of tetrahedra from the centroid (whole body, |q|·size < SMALL), to order N_TAYLOR.
With SMALL = 1e-2 both the closed form (round-off ~ ε/SMALL²) and the series (truncation
~ SMALL^(N+1)/(N+1)!) are accurate to ~1e-12 relative.

Complex wave vectors Q (used for absorbing media, see ``absorbing_polyhedron``) are handled by
replacing q/q² with Q̄/(Q̄·Q) (any vector c with c·Q = i gives ∇·(c e^{−iQ·r}) = e^{−iQ·r}), and
p/p² with P̄/(P̄·P); for real q this is the formula above. Q̄·Q = |Q|² never vanishes for Q ≠ 0.

Everything is float64/complex128. No multi-slice, no divided differences of exponentials.
"""
from __future__ import annotations

import math

import numpy as np

SMALL = 1e-2
N_TAYLOR = 6


def _complete_homogeneous(us: list[np.ndarray], nmax: int) -> list[np.ndarray]:
    """[h_0, …, h_nmax] of the variables ``us`` (each an array of the same shape)."""
    shape = us[0].shape
    # h[n] for the variables seen so far; start with none: h_0 = 1, h_n = 0
    h = [np.ones(shape)] + [np.zeros(shape) for _ in range(nmax)]
    for u in us:
        for n in range(1, nmax + 1):
            h[n] = h[n] + u * h[n - 1]  # h_n(x..,u) = h_n(x..) + u h_{n-1}(x..,u)
    return h


def _simplex_series(q: np.ndarray, simplices: list[np.ndarray], centre: np.ndarray, nmax: int):
    """Σ_simplices ∫ e^{−i q·(r−centre)} by Taylor series to order nmax (q: (M,3))."""
    out = np.zeros(q.shape[0], dtype=np.complex128)
    for verts in simplices:  # verts: (d+1, 3)
        d = verts.shape[0] - 1
        if d == 3:
            vol = abs(np.linalg.det(verts[1:] - verts[0])) / 6.0
        else:
            vol = 0.5 * np.linalg.norm(np.cross(verts[1] - verts[0], verts[2] - verts[0]))
        us = [q @ (v - centre) for v in verts]
        h = _complete_homogeneous(us, nmax)
        for n in range(nmax + 1):
            # (−i)^n/n! × vol n! d!/(n+d)! h_n
            coef = vol * math.factorial(d) / math.factorial(n + d)
            out += coef * (-1j) ** n * h[n]
    return out


def _face_integral(q: np.ndarray, verts: np.ndarray, face: list[int]) -> np.ndarray:
    """F_f(q) = ∫_face e^{−iq·r} d²r for q (M,3), real or complex."""
    pts = verts[face]
    centre = pts.mean(axis=0)
    normal = np.cross(pts[1] - pts[0], pts[2] - pts[0])
    normal /= np.linalg.norm(normal)
    size = np.max(np.linalg.norm(pts - centre, axis=1))
    qn = q @ normal
    p = q - qn[:, None] * normal  # in-plane part (complex if q is)
    p2 = np.einsum("ij,ij->i", np.conj(p), p).real  # P̄·P = |P|²
    small = np.sqrt(p2) * size < SMALL
    out = np.zeros(q.shape[0], dtype=np.complex128)

    big = ~small
    if np.any(big):
        qb = q[big]
        pbar = np.conj(p[big])
        acc = np.zeros(qb.shape[0], dtype=np.complex128)
        nv = len(face)
        for a in range(nv):
            v1, v2 = pts[a], pts[(a + 1) % nv]
            edge = v2 - v1
            length = np.linalg.norm(edge)
            m = np.cross(edge / length, normal)  # outward in-plane normal
            half = 0.5 * (qb @ edge)
            sinc = np.sinc(half / np.pi)
            acc += (pbar @ m) * length * np.exp(-1j * (qb @ (0.5 * (v1 + v2)))) * sinc
        out[big] = 1j * acc / p2[big]
    if np.any(small):
        qs = q[small]
        tris = [np.stack([centre, pts[a], pts[(a + 1) % len(face)]]) for a in range(len(face))]
        out[small] = np.exp(-1j * (qs @ centre)) * _simplex_series(qs, tris, centre, N_TAYLOR)
    return out


def polyhedron_amplitude(vertices, faces, q) -> np.ndarray:
    """A(q) = ∫_P e^{−iq·r} d³r (nm³ for nm inputs) of the convex polyhedron (vertices, faces).

    vertices: (V, 3); faces: sequences of vertex indices, counter-clockwise seen from outside;
    q: (..., 3), real or complex. Returns complex128 (...).
    """
    verts = np.asarray(vertices, dtype=np.float64)
    q = np.asarray(q)
    q = q.astype(np.complex128 if np.iscomplexobj(q) else np.float64)
    shape = q.shape[:-1]
    qf = q.reshape(-1, 3)
    centre = verts.mean(axis=0)
    size = np.max(np.linalg.norm(verts - centre, axis=1))
    q2 = np.einsum("ij,ij->i", np.conj(qf), qf).real  # Q̄·Q = |Q|²
    small = np.sqrt(q2) * size < SMALL
    out = np.zeros(qf.shape[0], dtype=np.complex128)

    big = ~small
    if np.any(big):
        qb = qf[big]
        acc = np.zeros(qb.shape[0], dtype=np.complex128)
        for face in faces:
            pts = verts[list(face)]
            normal = np.cross(pts[1] - pts[0], pts[2] - pts[0])
            normal /= np.linalg.norm(normal)
            acc += (np.conj(qb) @ normal) * _face_integral(qb, verts, list(face))
        out[big] = 1j * acc / q2[big]
    if np.any(small):
        qs = qf[small]
        tets = []
        for face in faces:
            pts = verts[list(face)]
            for a in range(1, len(face) - 1):  # fan triangulation of the face
                tets.append(np.stack([centre, pts[0], pts[a], pts[a + 1]]))
        out[small] = np.exp(-1j * (qs @ centre)) * _simplex_series(qs, tets, centre, N_TAYLOR)
    return out.reshape(shape)


def polyhedron_volume(vertices, faces) -> float:
    return float(polyhedron_amplitude(vertices, faces, np.zeros(3)).real)


# ---------------------------------------------------------------------------------------------
# Independent brute-force check: Gauss–Legendre quadrature on a tetrahedral decomposition
# (Duffy collapsed coordinates). Exponentially convergent for the smooth integrand e^{−iq·r}.
# ---------------------------------------------------------------------------------------------
def quadrature_amplitude(vertices, faces, q, order: int = 40) -> np.ndarray:
    """∫_P e^{−iq·r} d³r by tensor Gauss–Legendre (``order``³ points per tetrahedron)."""
    verts = np.asarray(vertices, dtype=np.float64)
    q = np.atleast_2d(np.asarray(q))
    x, w = np.polynomial.legendre.leggauss(order)
    x = 0.5 * (x + 1.0)
    w = 0.5 * w
    a, b, c = np.meshgrid(x, x, x, indexing="ij")
    wa, wb, wc = np.meshgrid(w, w, w, indexing="ij")
    u = a
    v = (1 - a) * b
    t = (1 - a) * (1 - b) * c
    weight = (wa * wb * wc * (1 - a) ** 2 * (1 - b)).ravel()
    u, v, t = u.ravel(), v.ravel(), t.ravel()
    centre = verts.mean(axis=0)
    out = np.zeros(q.shape[0], dtype=np.complex128)
    for face in faces:
        pts = verts[list(face)]
        for k in range(1, len(face) - 1):
            v0, v1, v2, v3 = centre, pts[0], pts[k], pts[k + 1]
            jac = abs(np.linalg.det(np.stack([v1 - v0, v2 - v0, v3 - v0])))
            r = v0 + np.outer(u, v1 - v0) + np.outer(v, v2 - v0) + np.outer(t, v3 - v0)
            out += jac * (np.exp(-1j * (q @ r.T)) @ weight)
    return out
