"""Numerically stable divided differences of the exponential function.

The integral of e^{f(r)} over a triangle on which f is linear (complex) is
2·area·E[f₀, f₁, f₂], where E is the second divided difference of exp at the vertex values.
This is the kernel of the analytic MSFT (:mod:`wideshot.physics.polyhedron_msft`).
The textbook formula cancels catastrophically when vertex values are close (small q, slivers);
here the first differences use ``expm1`` and the second difference divides by the largest
vertex separation, falling back to a centred Taylor series when all separations are small.
"""
from __future__ import annotations

import math

import torch

#: Largest vertex separation below which the Taylor series is used (|Δf| < 1).
TAYLOR_RADIUS = 1.0
#: Smallest vertex separation for which the explicit three-term formula is used. Its rounding
#: error relative to the result is ~ eps·|Δf|max/|Δf|min, so pairs closer than this take the
#: careful path (first differences by expm1, then a division by the widest pair).
EXPLICIT_MIN_SEPARATION = 0.1
#: Terms of the series; |x| ≤ 2/3 after centring, so 14 terms reach double precision.
TAYLOR_TERMS = 14


def _phi1(x: torch.Tensor) -> torch.Tensor:
    """(eˣ − 1)/x, with its limit 1 at x = 0."""
    safe = torch.where(x == 0, torch.ones_like(x), x)
    return torch.where(x == 0, torch.ones_like(x), torch.expm1(safe) / safe)


def _first_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """E[a, b] = (eᵇ − eᵃ)/(b − a), expanded about the argument with the larger real part.

    Expanding about the larger real part keeps the φ₁ argument in the left half-plane, where
    it is bounded, so neither factor over- nor underflows for widely separated arguments.
    """
    a_larger = a.real >= b.real
    base = torch.where(a_larger, a, b)
    other = torch.where(a_larger, b, a)
    return torch.exp(base) * _phi1(other - base)


def exp_divided_difference_2(f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """Second divided difference E[f₀, f₁, f₂] of exp, elementwise, complex.

    Well-separated arguments (the vast majority in a diffraction pattern) use the explicit
    formula with one division; the rest are recomputed by :func:`careful_divided_difference_2`.

    Parameters
    ----------
    f0, f1, f2 : complex tensors of one shape

    Returns
    -------
    complex tensor of that shape
    """
    d01, d12, d02 = f1 - f0, f2 - f1, f2 - f0
    # exp of a complex tensor is several times slower than exp, cos and sin of real ones.
    e0, e1, e2 = (_exp_complex(f) for f in (f0, f1, f2))
    limit = EXPLICIT_MIN_SEPARATION**2
    close = ((_abs2(d01) < limit) | (_abs2(d12) < limit)) | (_abs2(d02) < limit)
    # Close elements are recomputed below; a safe denominator keeps their gradient finite.
    denominator = torch.where(close, torch.ones_like(d01), d01 * d02 * d12)
    result = (e0 * d12 - e1 * d02 + e2 * d01) / denominator
    if bool(close.any()):
        result[close] = careful_divided_difference_2(f0[close], f1[close], f2[close])
    return result


def _exp_complex(f: torch.Tensor) -> torch.Tensor:
    magnitude = torch.exp(f.real)
    return torch.complex(magnitude * torch.cos(f.imag), magnitude * torch.sin(f.imag))


def _abs2(z: torch.Tensor) -> torch.Tensor:
    return z.real * z.real + z.imag * z.imag


def careful_divided_difference_2(f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """Second divided difference E[f₀, f₁, f₂] of exp, accurate for any arguments.

    E = e^{f₀}/((f₀−f₁)(f₀−f₂)) + e^{f₁}/((f₁−f₀)(f₁−f₂)) + e^{f₂}/((f₂−f₀)(f₂−f₁)),
    continued to coincident arguments (E[f, f, f] = e^f / 2).

    Parameters
    ----------
    f0, f1, f2 : complex tensors, broadcastable

    Returns
    -------
    complex tensor of the broadcast shape
    """
    d01, d12, d02 = f1 - f0, f2 - f1, f2 - f0
    e01 = _first_difference(f0, f1)
    e12 = _first_difference(f1, f2)
    e02 = _first_difference(f0, f2)
    m01, m12, m02 = d01.abs(), d12.abs(), d02.abs()
    largest = torch.maximum(torch.maximum(m01, m12), m02)

    # Divide by the widest pair: the middle argument is the remaining one.
    safe = lambda d: torch.where(d == 0, torch.ones_like(d), d)
    by_02 = (e12 - e01) / safe(d02)
    by_12 = (e02 - e01) / safe(d12)
    by_01 = (e12 - e02) / safe(d01)
    result = torch.where(m02 >= largest, by_02, torch.where(m12 >= largest, by_12, by_01))

    near = largest < TAYLOR_RADIUS
    if bool(near.any()):
        result[near] = _taylor(f0[near], f1[near], f2[near])
    return result


def _taylor(f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """E[f₀,f₁,f₂] = e^c Σₙ hₙ(x)/(n+2)!, x = f − c, c the mean (so e₁(x) = 0).

    The complete homogeneous polynomials obey hₙ = −e₂ hₙ₋₂ + e₃ hₙ₋₃ when e₁ = 0.
    """
    centre = (f0 + f1 + f2) / 3
    x0, x1, x2 = f0 - centre, f1 - centre, f2 - centre
    e2 = x0 * x1 + x0 * x2 + x1 * x2
    e3 = x0 * x1 * x2
    h = [torch.ones_like(x0), torch.zeros_like(x0), -e2]
    total = h[0] / 2 + h[2] / 24
    for n in range(3, TAYLOR_TERMS):
        h.append(-e2 * h[n - 2] + e3 * h[n - 3])
        total = total + h[n] / math.factorial(n + 2)
    return torch.exp(centre) * total
