"""Mie far field of a homogeneous sphere on the SPEC detector (miepython).

The scattering angle of pixel (i, j) follows from its transverse outgoing wave vector:
sin θ = |k_⊥|/k, cos θ = k_z/k (forward hemisphere only; pixels with |k_⊥| ≥ k get 0).

Index convention: the physics here uses n = 1 − δ + iβ (Im n > 0 absorbs, e^{i(kz−ωt)}); miepython
uses m = n − iκ (Im m < 0 absorbs), so it is given conj(n).

Intensities (arbitrary overall scale — only the angular shape is meaningful):

* ``"unpolarized"``: |S1|² + |S2|² (unpolarised incident light).
* ``"s1"``: |S1|² (polarisation perpendicular to the scattering plane; no cos θ factor).
* ``"scalar"``: (|S1|² + |S2|²)/(1 + cos²θ) — the unpolarised intensity with the Thomson
  polarisation factor divided out, the natural counterpart of a scalar theory such as the MSFT
  (in the Rayleigh–Gans limit S1 ∝ F(q), S2 ∝ cos θ F(q), so this is exactly |F(q)|² there).
"""
from __future__ import annotations

import numpy as np
import miepython

from . import spec


def mie_s1_s2(radius_nm: float, refractive_index: complex, cos_theta: np.ndarray,
              wavelength_nm: float = spec.WAVELENGTH_NM):
    """S1, S2 at the given cos θ (miepython's 'bohren' normalisation; only shapes are used)."""
    m = np.conj(complex(refractive_index))
    x = 2.0 * np.pi * radius_nm / wavelength_nm
    mu = np.asarray(cos_theta, dtype=np.float64)
    s1, s2 = miepython.S1_S2(m, x, mu.ravel(), norm="bohren")
    return np.asarray(s1).reshape(mu.shape), np.asarray(s2).reshape(mu.shape)


def mie_intensity_profile(radius_nm: float, refractive_index: complex, cos_theta,
                          polarization: str = "unpolarized") -> np.ndarray:
    s1, s2 = mie_s1_s2(radius_nm, refractive_index, cos_theta)
    mu = np.asarray(cos_theta, dtype=np.float64)
    if polarization == "unpolarized":
        return np.abs(s1) ** 2 + np.abs(s2) ** 2
    if polarization == "s1":
        return np.abs(s1) ** 2
    if polarization == "scalar":
        return (np.abs(s1) ** 2 + np.abs(s2) ** 2) / (1.0 + mu**2)
    raise ValueError(polarization)


def mie_detector_intensity(radius_nm: float, refractive_index: complex = spec.SILVER_INDEX,
                           polarization: str = "unpolarized",
                           det: spec.Detector | None = None) -> np.ndarray:
    """Mie intensity (128, 128) on the SPEC detector; 0 where not illuminated."""
    det = det or spec.detector()
    out = np.zeros(det.kx.shape)
    ill = det.illuminated
    out[ill] = mie_intensity_profile(radius_nm, refractive_index, det.cos_theta[ill], polarization)
    return out


def pixel_radius_to_cos_theta(r_pixels) -> np.ndarray:
    """cos θ of a transverse radius given in detector pixels (|k_⊥| = r Δk)."""
    s = np.asarray(r_pixels, dtype=np.float64) * spec.DK / spec.K
    return np.sqrt(np.clip(1.0 - s**2, 0.0, None))


def mie_minima_pixels(radius_nm: float, refractive_index: complex = spec.SILVER_INDEX,
                      count: int = 3, polarization: str = "scalar", r_max: float = 63.0,
                      step: float = 0.005) -> np.ndarray:
    """Radii (detector pixels, sub-pixel) of the first ``count`` minima of the Mie profile."""
    r = np.arange(0.0, r_max, step)
    prof = mie_intensity_profile(radius_nm, refractive_index, pixel_radius_to_cos_theta(r),
                                 polarization)
    idx = np.nonzero((prof[1:-1] < prof[:-2]) & (prof[1:-1] <= prof[2:]))[0] + 1
    return r[idx[:count]]


def scale_to_forward(intensity: np.ndarray, forward_intensity: float) -> np.ndarray:
    """Rescale so that the centre pixel (64, 64) (θ = 0) carries ``forward_intensity``."""
    c = intensity.shape[-1] // 2
    return intensity * (forward_intensity / intensity[..., c, c])
