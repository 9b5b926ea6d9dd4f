"""Exact continuum MSFT far field of a homogeneous sphere (absorbing or refractive model).

A(q) = ∫_sphere e^{−γ d(r)} e^{−iq·r} d³r with d = z + s(ρ), s = √(R² − ρ²), ρ = |r_⊥|
(entrance at z = −s). The z integral is closed-form,

    G(ρ) = ∫_{−s}^{s} e^{−γ(z+s)} e^{−i q_z z} dz
         = e^{i q_z s} (1 − e^{−2s(γ + i q_z)})/(γ + i q_z),

and the azimuthal one gives 2π J₀(|q_⊥| ρ), leaving A = 2π ∫₀^R ρ J₀(|q_⊥|ρ) G(ρ) dρ, done by
Gauss–Legendre in ρ = R sin t (smooth integrand). γ = 1/ℓ (absorption only), −ik(n−1)
(refractive), 0 (Born: 3V j₁(qR)/(qR)).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import j0

from . import spec


def _one_minus_exp_over(x: np.ndarray, length: np.ndarray) -> np.ndarray:
    """(1 − e^{−x L})/x, = L at x → 0 (complex x)."""
    xl = x * length
    small = np.abs(xl) < 1e-6
    with np.errstate(invalid="ignore", divide="ignore"):
        val = -np.expm1(-xl) / np.where(small, 1.0, x)
    return np.where(small, length * (1 - xl / 2 + xl**2 / 6), val)


def sphere_msft_amplitude(radius_nm: float, q: np.ndarray, attenuation_length_nm: float = 12.5,
                          refractive_index: complex | None = None, order: int = 400,
                          wavenumber: float = spec.K) -> np.ndarray:
    """A(q) (nm³) of a sphere centred at the origin; q (..., 3) real. complex128 (...)."""
    q = np.asarray(q, dtype=np.float64)
    shape = q.shape[:-1]
    qf = q.reshape(-1, 3)
    gamma = spec.attenuation_coefficient(attenuation_length_nm, refractive_index, wavenumber)
    x, w = np.polynomial.legendre.leggauss(order)
    t = 0.25 * math.pi * (x + 1.0)  # t ∈ [0, π/2]
    w = 0.25 * math.pi * w
    rho = radius_nm * np.sin(t)
    s = radius_nm * np.cos(t)
    jac = radius_nm * np.cos(t)
    qperp = np.hypot(qf[:, 0], qf[:, 1])[:, None]
    qz = qf[:, 2][:, None]
    g = np.exp(1j * qz * s) * _one_minus_exp_over(gamma + 1j * qz, 2.0 * s)
    integrand = rho * j0(qperp * rho) * g * jac
    return (2.0 * math.pi * integrand @ w).reshape(shape)
