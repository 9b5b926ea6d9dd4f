"""Photon counts: what a pixel detector records of a far field, before any log scaling.

A pixel collects λ = s·|A|²·Ω + b photons on average: |A|² (nm⁶) the far-field intensity of
:func:`~wideshot.physics.forward.far_field`, Ω (sr) the pixel's solid angle
(``detector.solid_angle_sr``), s (photons/(nm⁶·sr)) the incident fluence times the
Thomson/material constants — here fixed per particle by the brightest pixel, ``photons_max`` —
and b a flat background (photons per pixel). :func:`expected_counts` gives λ,
:func:`record_counts` what a detector makes of it: a Poisson draw, clipped at saturation,
zero-suppressed below a threshold, times a gain.
"""
from __future__ import annotations

import numpy as np

from wideshot.config import SimulationConfig
from wideshot.geometry.shapes import DEFAULT_SHAPE
from wideshot.physics.forward import far_field
from wideshot.physics.material import Absorption, RefractiveIndex


def _per_particle(value, name: str, batch: int, *, allow_zero: bool = False,
                  allow_inf: bool = False) -> np.ndarray:
    """A scalar or (batch,) argument as float64 (batch,); ``ValueError`` unless positive (or
    ≥ 0 with ``allow_zero``) and finite (or +inf with ``allow_inf``)."""
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or one number per frame, got {value!r}") \
            from None
    if values.ndim > 1 or (values.ndim == 1 and len(values) != batch):
        raise ValueError(f"{name} must be a scalar or one value per frame ({batch}), "
                         f"got shape {values.shape}")
    finite = np.isfinite(values) | (allow_inf & (values == np.inf))
    bad = ~finite | ((values < 0) if allow_zero else (values <= 0))
    if np.any(bad):
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {sign} and finite, got {value!r}")
    return np.broadcast_to(values, (batch,)).copy()


def expected_counts(radius_nm, quaternion, detector, *, photons_max, shape=DEFAULT_SHAPE,
                    shape_parameter=None, background=0.0, mask=None,
                    material: Absorption | RefractiveIndex | None = None,
                    config: SimulationConfig | None = None, precision: str = "double",
                    device=None) -> np.ndarray:
    """Mean photon counts λ = s·|A|²·Ω + background of particles on a detector.

    Parameters
    ----------
    radius_nm, quaternion, shape, shape_parameter
        The particles, as in :func:`~wideshot.physics.forward.far_field`: radii (B,) in nm,
        quaternions (B, 4) scalar first, family names and parameters.
    detector : KGridDetector or FlatDetector
        Anything with ``k_perp`` (H, W, 2), ``solid_angle_sr`` (H, W) and ``config``.
    photons_max : float or array (B,)
        Mean photons in the brightest pixel of each particle's signal (without background),
        > 0: it fixes the scale s of each particle.
    background : float or array (B,)
        Mean background photons per pixel, ≥ 0, added to every pixel (including pixels that
        receive no propagating wave).
    mask : array (H, W) or (B, H, W) bool, optional
        Good pixels (True), among which the brightest gets ``photons_max`` (a detector's
        brightest pixels often lie behind its beam stop). Default: all pixels. λ is returned
        for every pixel either way.
    material : Absorption or RefractiveIndex, optional
        Default SPEC's absorption-only model.
    config : SimulationConfig, optional
        Default (and it must agree on the wavelength) the detector's configuration.
    precision, device
        As in :func:`~wideshot.physics.forward.far_field`.

    Returns
    -------
    ndarray (B, H, W) float64
        Mean photons per pixel; the background alone where no field arrives (Ω = 0).

    Raises
    ------
    ValueError
        For invalid particles, photons_max, background or mask, a config whose wavelength
        differs from the detector's, or a particle that scatters nothing onto its good pixels.

    Examples
    --------
    >>> from wideshot.physics import KGridDetector
    >>> counts = expected_counts(60.0, [1, 0, 0, 0], KGridDetector(), photons_max=1e4)
    >>> counts.shape, float(counts.max())
    ((1, 128, 128), 10000.0)
    """
    detector_config = detector.config
    config = config or detector_config
    if config.wavelength_nm != detector_config.wavelength_nm:
        raise ValueError(f"config has wavelength {config.wavelength_nm} nm but the detector "
                         f"{detector_config.wavelength_nm} nm")
    amplitude = far_field(radius_nm, quaternion, shape=shape, shape_parameter=shape_parameter,
                          material=material, detector=detector, config=config,
                          precision=precision, device=device)
    batch = len(amplitude)
    photons_max = _per_particle(photons_max, "photons_max", batch)
    background = _per_particle(background, "background", batch, allow_zero=True)
    signal = np.abs(amplitude.astype(np.complex128)) ** 2 * detector.solid_angle_sr
    if mask is None:
        brightest = signal.max(axis=(-2, -1))
    else:
        mask = np.asarray(mask)
        if mask.shape not in (signal.shape[1:], signal.shape):
            raise ValueError(f"mask must be (H, W) or (B, H, W) = {signal.shape}, got "
                             f"{mask.shape}")
        brightest = np.where(mask != 0, signal, 0.0).max(axis=(-2, -1))
    if not np.all(brightest > 0):
        raise ValueError("a particle scatters no intensity onto the (good pixels of the) "
                         f"detector: particles {np.flatnonzero(~(brightest > 0)).tolist()}")
    scale = photons_max / brightest
    return scale[:, None, None] * signal + background[:, None, None]


def record_counts(expected, rng, *, saturation=None, threshold=None,
                  gain: float = 1.0) -> np.ndarray:
    """What a photon-counting detector records of mean counts: Poisson, saturation, threshold.

    Parameters
    ----------
    expected : array (B, H, W)
        Mean photons per pixel (:func:`expected_counts`), finite and ≥ 0.
    rng : numpy.random.Generator
        Source of the Poisson draws (anything ``numpy.random.default_rng`` accepts).
    saturation : None, float or array (B,)
        Photons at which a pixel clips, > 0: pixels with photons ≥ saturation read
        ``saturation``. None (or inf) = no clipping.
    threshold : None, float or array (B,)
        Zero-suppression level, ≥ 0 and below ``saturation``: pixels with photons ≤ threshold
        read 0. None = no zero-suppression.
    gain : float
        Detector units per photon (ADU/photon), > 0.

    Returns
    -------
    ndarray (B, H, W) float64
        gain · (clipped, thresholded photon counts); integer photon counts for gain 1.

    Raises
    ------
    ValueError
        Naming the argument that is not an array of finite non-negative means, or not a
        positive (threshold: non-negative) finite level.

    Examples
    --------
    >>> counts = record_counts(np.full((1, 2, 2), 5.0), np.random.default_rng(0), saturation=4)
    >>> float(counts.max()) <= 4
    True
    """
    expected = np.asarray(expected, dtype=np.float64)
    if expected.ndim != 3:
        raise ValueError(f"expected must be (B, H, W) mean photon counts, got shape "
                         f"{expected.shape}")
    if not np.all(np.isfinite(expected)) or np.any(expected < 0):
        raise ValueError("expected must hold finite, non-negative mean photon counts")
    if isinstance(gain, bool) or np.ndim(gain) != 0:
        raise ValueError(f"gain must be a positive, finite number (ADU per photon), got {gain!r}")
    gain = float(_per_particle(gain, "gain (ADU per photon)", 1)[0])
    batch = len(expected)
    levels = {}
    if saturation is not None:  # inf: a detector that never clips
        levels["saturation"] = _per_particle(saturation, "saturation", batch, allow_inf=True)
    if threshold is not None:
        levels["threshold"] = _per_particle(threshold, "threshold", batch, allow_zero=True)
    if len(levels) == 2 and np.any(levels["threshold"] >= levels["saturation"]):
        raise ValueError(f"threshold ({threshold!r}) must lie below saturation ({saturation!r})")

    photons = np.random.default_rng(rng).poisson(expected).astype(np.float64)
    if "saturation" in levels:
        photons = np.minimum(photons, levels["saturation"][:, None, None])
    if "threshold" in levels:
        photons[photons <= levels["threshold"][:, None, None]] = 0.0
    return photons * gain
