"""Self-tests of the independent references in tests/reference (no wideshot imports).

They check the references against closed forms (cube sincs, sphere j₁, exact discrete sums,
volumes), against an independent quadrature, and against each other (literal MSFT → analytic
form factor as the voxel size → 0). Fast: a few seconds in total.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from reference import absorbing_polyhedron as ap
from reference import literal_msft as lm
from reference import mie
from reference import polyhedron_form_factor as pf
from reference import spec
from reference import sphere_msft as sm

DET = spec.detector()
ILL = DET.illuminated


def pearson(a, b, mask=ILL):
    return float(np.corrcoef(np.ravel(a[mask]), np.ravel(b[mask]))[0, 1])


def rel_err_above_floor(a, ref, floor=spec.FLOOR):
    """max and median |a − ref|/|ref| over pixels where |ref|²/v₀² > floor."""
    sel = np.abs(ref) ** 2 / spec.V0**2 > floor
    r = np.abs(a - ref)[sel] / np.abs(ref)[sel]
    return float(r.max()), float(np.median(r))


def sphere_amplitude(radius_nm, q):
    """3V j₁(qR)/(qR) = 4π (sin qR − qR cos qR)/q³, with the q → 0 limit V."""
    qn = np.linalg.norm(q, axis=-1)
    x = qn * radius_nm
    vol = 4.0 / 3.0 * math.pi * radius_nm**3
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 3.0 * (np.sin(x) - x * np.cos(x)) / x**3
    f = np.where(x < 1e-4, 1.0 - x**2 / 10.0, f)
    return vol * f


# --------------------------------------------------------------------------------- geometry --
def test_detector_grid():
    assert spec.DK == pytest.approx(0.0073920, abs=5e-8)
    assert DET.kx[5, 0] == pytest.approx(-64 * spec.DK) and DET.kx[7, 64] == 0.0
    assert DET.ky[5, 0] == pytest.approx(-59 * spec.DK) and DET.ky[64, 9] == 0.0
    assert np.all(DET.q[64, 64] == 0.0)
    kp = np.hypot(DET.kx, DET.ky)
    assert np.array_equal(ILL, kp < spec.K)
    # k = 62.96 Δk: the grid reaches just beyond the Ewald edge
    assert ILL.sum() > 0.7 * 128**2 and not ILL[0, 0] and not ILL[64, 1] and ILL[64, 2]
    # q on the Ewald sphere: |k_in + q| = k
    kout = DET.q[ILL] + np.array([0.0, 0.0, spec.K])
    assert np.allclose(np.linalg.norm(kout, axis=1), spec.K, rtol=1e-13)


def test_quaternion_active_and_icosahedron():
    # +90° about z moves x̂ to ŷ (active)
    r = spec.quaternion_to_matrix((math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)))
    assert np.allclose(r @ [1, 0, 0], [0, 1, 0])
    q = spec.random_quaternions(5, 0)
    for qq in q:
        m = spec.quaternion_to_matrix(qq)
        assert np.allclose(m @ m.T, np.eye(3)) and np.linalg.det(m) == pytest.approx(1.0)
        assert np.allclose(spec.quaternion_to_matrix(-qq), m)
    v, f = spec.icosahedron(70.0, q[0])
    assert v.shape == (12, 3) and len(f) == 20 and all(len(x) == 3 for x in f)
    assert np.allclose(np.linalg.norm(v, axis=1), 70.0)
    edges = {tuple(sorted((a[i], a[(i + 1) % 3]))) for a in f for i in range(3)}
    lengths = [np.linalg.norm(v[a] - v[b]) for a, b in edges]
    assert len(edges) == 30 and np.allclose(lengths, 70.0 / math.sin(2 * math.pi / 5))
    for face in f:  # ccw from outside: (v1−v0)×(v2−v0) points away from the centre
        n = np.cross(v[face[1]] - v[face[0]], v[face[2]] - v[face[0]])
        assert n @ v[face].mean(axis=0) > 0


# ------------------------------------------------------------------ polyhedron form factor --
@pytest.mark.parametrize("radius", [30.0, 160.0])
def test_polyhedron_volume_at_q0(radius):
    v, f = spec.icosahedron(radius, spec.random_quaternions(1, 3)[0])
    vol = spec.icosahedron_volume(radius)
    assert pf.polyhedron_amplitude(v, f, np.zeros(3)) == pytest.approx(vol, rel=1e-13)
    # tiny q: continuous across the series / closed-form switch, phase of a shifted body
    shift = np.array([3.0, -7.0, 11.0])
    for s in (1e-9, 1e-6, 0.5e-2 / radius, 2e-2 / radius, 1e-3):
        qv = np.array([[s, 0, 0], [0, 0, s], [s, s, -s]])
        a = pf.polyhedron_amplitude(v + shift, f, qv)
        b = pf.quadrature_amplitude(v + shift, f, qv, order=12)
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12 * vol)


def test_polyhedron_cube_vs_sincs():
    s = 7.0
    c = np.array([1.5, -2.0, 0.5])
    verts = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * s / 2 + c
    faces = spec.oriented_hull_faces(verts)
    assert len(faces) == 6 and all(len(x) == 4 for x in faces)
    rng = np.random.default_rng(1)
    q = np.concatenate([
        rng.normal(size=(200, 3)) * 1.5,
        np.array([[0.7, 0, 0], [0, -0.3, 0], [0, 0, 2.2], [0.4, 0.4, 0], [0, 1e-5, 0.9],
                  [2 * np.pi / s, 0, 0], [2 * np.pi / s, 1e-7, 3.0], [1e-12, 0, 0]]),
    ])
    exact = s**3 * np.prod(np.sinc(q * s / 2 / np.pi), axis=1) * np.exp(-1j * q @ c)
    got = pf.polyhedron_amplitude(verts, faces, q)
    assert np.max(np.abs(got - exact)) < 1e-11 * s**3


@pytest.mark.parametrize("radius,order", [(30.0, 30), (160.0, 50)])
def test_polyhedron_vs_quadrature_on_detector(radius, order):
    """Closed form vs tensor Gauss–Legendre on 20 tetrahedra, at detector q up to the edge."""
    quat = spec.random_quaternions(1, 7)[0]
    v, f = spec.icosahedron(radius, quat)
    idx = [(64, 64), (64, 65), (70, 80), (20, 64), (64, 1), (3, 60), (100, 110), (40, 12)]
    q = np.array([DET.q[i, j] for i, j in idx])
    a = pf.polyhedron_amplitude(v, f, q)
    b = pf.quadrature_amplitude(v, f, q, order=order)
    vol = spec.icosahedron_volume(radius)
    assert np.max(np.abs(a - b)) < 1e-9 * vol
    # q parallel to a face normal and perpendicular to an edge
    face = f[0]
    n = np.cross(v[face[1]] - v[face[0]], v[face[2]] - v[face[0]])
    n /= np.linalg.norm(n)
    e = v[face[1]] - v[face[0]]
    perp = np.cross(e, n)
    q2 = np.array([0.3 * n, -0.05 * n, 0.2 * perp / np.linalg.norm(perp), 1e-4 * n])
    a2 = pf.polyhedron_amplitude(v, f, q2)
    b2 = pf.quadrature_amplitude(v, f, q2, order=order)
    assert np.max(np.abs(a2 - b2)) < 1e-9 * vol


def test_polyhedron_symmetries():
    v, f = spec.icosahedron(50.0, spec.random_quaternions(1, 11)[0])
    q = np.random.default_rng(2).normal(size=(50, 3)) * 0.3
    a = pf.polyhedron_amplitude(v, f, q)
    assert np.allclose(pf.polyhedron_amplitude(v, f, -q), np.conj(a), atol=1e-9)
    assert np.max(np.abs(a.imag)) < 1e-8 * np.abs(a).max()  # centrosymmetric body: real A
    # the identity orientation is mirror symmetric in x, y and z
    v0, f0 = spec.icosahedron(50.0)
    a0 = pf.polyhedron_amplitude(v0, f0, q)
    for flip in (np.array([-1, 1, 1]), np.array([1, -1, 1]), np.array([1, 1, -1])):
        assert np.allclose(pf.polyhedron_amplitude(v0, f0, q * flip), a0, atol=1e-8)


# --------------------------------------------------------------------------- literal MSFT --
def test_literal_msft_fft_equals_dft_and_axes():
    """The zero-padded FFT construction = the explicit DFT; shifts along x, y, z give the
    phases e^{−i k_x h}, e^{−i k_y h}, e^{−i q_z h} (axis order [z, y, x], sign e^{−iq·r})."""
    rho = lm.icosahedron_density(25.0, spec.random_quaternions(1, 5)[0])
    a = lm.literal_msft_amplitude(None, density=rho)
    b = lm.msft_amplitude(rho, method="dft")
    assert np.max(np.abs(a - b)) < 1e-12 * np.abs(a).max()
    for axis, k in ((2, DET.kx), (1, DET.ky), (0, DET.q[..., 2])):
        shifted = lm.literal_msft_amplitude(None, density=np.roll(rho, 1, axis=axis))
        phase = np.where(ILL, np.exp(-1j * k * spec.VOXEL_NM), 0)
        assert np.max(np.abs(shifted - a * phase)) < 1e-12 * np.abs(a).max()
    c = lm.literal_msft_amplitude(None, density=rho, complex64=True)
    assert c.dtype == np.complex64 and np.max(np.abs(c - a)) < 1e-5 * np.abs(a).max()


def test_literal_msft_box_exact_discrete_sums():
    """An axis-aligned box of voxels, absorbing: the literal MSFT must equal the product of
    the geometric sums Σ_x e^{−ik_x x} · Σ_y e^{−ik_y y} · Σ_z e^{−d_z/ℓ} e^{−iq_z z} · h³
    with d_z = h (m + 1/2) for the m-th occupied slice (path to the voxel centre)."""
    h = spec.VOXEL_NM
    n = spec.N_VOXELS
    xs, ys, zs = np.arange(90, 101), np.arange(80, 97), np.arange(85, 109)  # off-centre box
    rho = np.zeros((n, n, n))
    rho[zs[0]:zs[-1] + 1, ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1] = 1.0
    ell = 12.5
    a = lm.literal_msft_amplitude(None, density=rho, attenuation_length_nm=ell)
    sx = np.exp(-1j * DET.kx[..., None] * ((xs - 96) * h)).sum(-1)
    sy = np.exp(-1j * DET.ky[..., None] * ((ys - 96) * h)).sum(-1)
    d = h * (np.arange(len(zs)) + 0.5)
    sz = (np.exp(-d / ell) * np.exp(-1j * DET.q[..., 2:3] * ((zs - 96) * h))).sum(-1)
    exact = np.where(ILL, sx * sy * sz * h**3, 0)
    assert np.max(np.abs(a - exact)) < 1e-12 * np.abs(exact).max()
    # refractive option: factor e^{i k (n−1) d}
    nidx = spec.SILVER_INDEX
    a = lm.literal_msft_amplitude(None, density=rho, refractive_index=nidx)
    sz = (np.exp(1j * spec.K * (nidx - 1) * d)
          * np.exp(-1j * DET.q[..., 2:3] * ((zs - 96) * h))).sum(-1)
    exact = np.where(ILL, sx * sy * sz * h**3, 0)
    assert np.max(np.abs(a - exact)) < 1e-12 * np.abs(exact).max()


def test_literal_msft_born_vs_analytic_reference_grid():
    """Literal MSFT (Born) vs the analytic form factor at the paper's 192³ grid: the voxel
    staircase costs a few percent of correlation (measured 0.96–0.998 over R ∈ [30, 160] and
    orientations; the identity orientation, faces through voxel-centre planes, is worst)."""
    for radius, quat in ((30.0, (1, 0, 0, 0)), (100.0, spec.random_quaternions(1, 1)[0])):
        v, f = spec.icosahedron(radius, quat)
        ref = np.where(ILL, pf.polyhedron_amplitude(v, f, DET.q), 0)
        lit = lm.literal_msft_amplitude(radius, quat, attenuation_length_nm=math.inf)
        corr = pearson(lm.spec_image(lit), lm.spec_image(ref))
        assert corr > 0.96, corr
        assert lit[64, 64].real == pytest.approx(ref[64, 64].real, rel=0.03)


@pytest.mark.parametrize("radius", [30.0, 80.0])
def test_literal_msft_converges_to_analytic(radius):
    """Same construction (DFT variant) on grids h/2, h/4: converges to the analytic transform."""
    quat = spec.random_quaternions(1, 4)[0]
    v, f = spec.icosahedron(radius, quat)
    ref = np.where(ILL, pf.polyhedron_amplitude(v, f, DET.q), 0)
    med = []
    for div in (1, 2, 4) if radius < 50 else (1, 2):
        h = spec.VOXEL_NM / div
        n = 2 * int(radius / h) + 6
        rho = lm.voxelise_convex(v, n, h)
        a = lm.msft_amplitude(rho, h, attenuation_length_nm=math.inf, method="dft")
        med.append(rel_err_above_floor(a, ref)[1])
    corr = pearson(lm.spec_image(a), lm.spec_image(ref))
    assert all(m2 < 0.6 * m1 for m1, m2 in zip(med, med[1:])), med
    assert corr > (0.9995 if radius < 50 else 0.995), corr


def test_literal_msft_sphere_vs_j1():
    """Fractional-occupancy sphere in the literal MSFT (Born) vs 3V j₁(qR)/(qR), reference grid."""
    radius = 40.0
    rho = lm.sphere_density(radius, spec.N_VOXELS, spec.VOXEL_NM, supersample=8)
    assert rho.sum() * spec.V0 == pytest.approx(4 / 3 * math.pi * radius**3, rel=2e-4)
    a = lm.literal_msft_amplitude(None, density=rho, attenuation_length_nm=math.inf)
    ref = np.where(ILL, sphere_amplitude(radius, DET.q), 0)
    # the fractional occupancy is the voxel-averaged density, whose transform is the sphere's
    # times Π sinc(q_i h/2) (down to 0.965 at the detector edge); what remains is aliasing and
    # the 8³ sub-sampling, measured ≈ 6e-5·V in absolute terms — a third of the floor amplitude
    # 10 v₀, hence large relative errors in the few pixels just above the floor near j₁ zeros.
    box = np.prod(np.sinc(DET.q * spec.VOXEL_NM / 2 / np.pi), axis=-1)
    err = np.abs(a - ref * box)
    assert err.max() < 1.5e-4 * ref[64, 64], err.max() / ref[64, 64]
    sel = np.abs(ref) ** 2 / spec.V0**2 > spec.FLOOR
    rel = err[sel] / np.abs(ref[sel])
    assert np.median(rel) < 2e-3 and np.percentile(rel, 90) < 0.015, np.percentile(rel, [50, 90])
    assert pearson(lm.spec_image(a), lm.spec_image(ref)) > 0.9995


# ------------------------------------------------- continuum absorbing references (exact) --
def test_absorbing_polyhedron_cells_and_quadrature():
    """Cells over the front faces tile the body (ℓ = ∞ gives the Born transform), and the
    complex-wave-vector face/edge formula equals Gauss–Legendre quadrature on the cells."""
    idx = [(64, 64), (64, 65), (70, 80), (20, 64), (64, 2), (3, 60), (100, 110), (40, 12)]
    q = np.array([DET.q[i, j] for i, j in idx])
    for radius, quat in ((30.0, (1, 0, 0, 0)), (77.0, spec.random_quaternions(1, 3)[0])):
        v, f = spec.icosahedron(radius, quat)
        vol = spec.icosahedron_volume(radius)
        born = ap.absorbing_polyhedron_amplitude(v, q, math.inf)
        assert np.max(np.abs(born - pf.polyhedron_amplitude(v, f, q))) < 1e-12 * vol
        for kw in (dict(attenuation_length_nm=12.5), dict(refractive_index=spec.SILVER_INDEX)):
            a = ap.absorbing_polyhedron_amplitude(v, q, **kw)
            b = ap.absorbing_quadrature(v, q, order=30, **kw)
            assert np.max(np.abs(a - b)) < 1e-11 * abs(a[0]), kw


def test_literal_msft_converges_to_absorbing_continuum():
    """The literal MSFT with absorption (h, h/2, h/4; d to voxel centres) converges to the exact
    continuum model: median relative error falls ≥ 2.5× per halving (measured ~5×)."""
    radius, quat = 30.0, spec.random_quaternions(1, 1)[0]
    v, _ = spec.icosahedron(radius, quat)
    ref = np.where(ILL, ap.absorbing_polyhedron_amplitude(v, DET.q), 0)
    lit = lm.literal_msft_amplitude(radius, quat)
    med = [rel_err_above_floor(lit, ref)[1]]
    for div in (2, 4):
        h = spec.VOXEL_NM / div
        a = lm.msft_amplitude(lm.voxelise_convex(v, 2 * int(radius / h) + 6, h), h, method="dft")
        med.append(rel_err_above_floor(a, ref)[1])
    assert all(m2 < m1 / 2.5 for m1, m2 in zip(med, med[1:])), med
    assert pearson(lm.spec_image(a), lm.spec_image(ref)) > 0.99999


def test_sphere_msft_continuum():
    """Continuum sphere MSFT: Born limit = 3V j₁(qR)/(qR); absorbing/refractive = the limit of the
    voxel MSFT (0.5 nm, fractional occupancy)."""
    radius = 30.0
    born = sm.sphere_msft_amplitude(radius, DET.q, math.inf, order=200)
    ref = sphere_amplitude(radius, DET.q)
    assert np.max(np.abs(born - ref)[ILL]) < 1e-12 * ref[64, 64]
    h = 0.5
    rho = lm.sphere_density(radius, 2 * int(radius / h) + 6, h, supersample=6)
    for kw in (dict(attenuation_length_nm=12.5), dict(refractive_index=spec.SILVER_INDEX)):
        c = np.where(ILL, sm.sphere_msft_amplitude(radius, DET.q, order=200, **kw), 0)
        c2 = np.where(ILL, sm.sphere_msft_amplitude(radius, DET.q, order=300, **kw), 0)
        assert np.max(np.abs(c - c2)) < 1e-12 * abs(c[64, 64])
        m = lm.msft_amplitude(rho, h, method="dft", **kw)
        mx, med = rel_err_above_floor(m, c)
        assert med < 5e-3, (kw, med)
        assert pearson(lm.spec_image(m), lm.spec_image(c)) > 0.99999


# ------------------------------------------------------------------------------------- Mie --
def test_mie_rayleigh_gans_limit():
    """Weak, non-absorbing sphere: Mie ('scalar' polarisation) ∝ |3V j₁(qR)/(qR)|²,
    q = 2k sin(θ/2) — checks the angle mapping and the miepython call."""
    radius = 20.0
    n = 1.0 - 1e-4
    i_mie = mie.mie_detector_intensity(radius, n, polarization="scalar")
    i_rg = np.where(ILL, sphere_amplitude(radius, DET.q) ** 2, 0)
    i_mie = mie.scale_to_forward(i_mie, i_rg[64, 64])
    # 1% of the local intensity, or 1e-7 of the forward one near the j₁ zeros
    assert np.all(np.abs(i_mie - i_rg)[ILL] < 0.01 * i_rg[ILL] + 1e-7 * i_rg[64, 64])
    u = mie.mie_detector_intensity(radius, n, polarization="unpolarized")
    assert np.allclose(u[ILL] / i_mie[ILL] * i_mie[64, 64] / u[64, 64],
                       (1 + DET.cos_theta[ILL] ** 2) / 2)


def test_mie_silver_minima():
    """Silver spheres: the first minimum moves inward ∝ 1/R (sanity of the fringe finder)."""
    m30, m60 = mie.mie_minima_pixels(30.0, count=2), mie.mie_minima_pixels(60.0, count=2)
    assert 17 < m30[0] < 20 and 8 < m60[0] < 10
    assert m30[0] / m60[0] == pytest.approx(2.0, rel=0.15)
