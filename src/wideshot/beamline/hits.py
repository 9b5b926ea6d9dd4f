"""Hit finding: which frames hold a particle, by counting lit pixels.

The cheap per-frame test of a beamline hit finder: a pixel is *lit* when it holds at least
``lit_photons`` photons (value / gain), and a frame is a *hit* when at least ``min_lit_pixels``
of its valid pixels are lit. A background of a few hundredths of a photon per pixel rarely puts
two photons into one pixel; a particle's diffraction pattern puts them into hundreds.

The defaults (2 photons, 150 pixels) come from ``benchmarks/hit_finding.py``: simulated runs of
the 256×256 flat detector, 5 % particle frames (all families, beam stop, gaps, dead pixels;
10 to 10^7 photons of particle signal), the rest empty — half Poisson background of 10^-4 to
0.05 photons/pixel, half that plus stray light (up to 0.05 photons/pixel) and 10–50 hot
pixels. Over three runs (2000 frames, and 8000 frames twice) they find 100 %, 99.6 %, 99.6 %
of the particle frames with at least 10^3 photons of particle signal, with 0.68 %, 0.79 %,
0.67 % false hits on empty frames (none on background-only frames, 1.3–1.6 % on noisy ones):
a precision of 82–84 % at 5 % hits. Of all particle frames they find 67 %; below ~700 photons
of signal none. 3 photons and 50 pixels gives almost no false hits but misses 0.8–1.5 %
of the frames above 10^3 photons. Time: 0.07–0.1 ms per 256×256 frame (float64, with a mask).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Photons at which a pixel counts as lit, and lit pixels that make a frame a hit: the thresholds
#: that keep ≥ 99 % recall of particle frames with ≥ 10^3 signal photons and ≤ 1 % false hits
#: in every run of ``benchmarks/hit_finding.py`` (numbers in the module docstring).
DEFAULT_LIT_PHOTONS: float = 2.0
DEFAULT_MIN_LIT_PIXELS: int = 150


@dataclass(frozen=True)
class HitFinder:
    """Lit-pixel hit finder.

    Attributes
    ----------
    lit_photons : float
        A pixel is lit when its value / gain is at least this many photons, > 0.
    min_lit_pixels : int
        A frame is a hit when at least this many valid pixels are lit, ≥ 1.
    gain : float
        Detector units per photon (ADU/photon), > 0.

    Raises
    ------
    ValueError
        Naming the field that is not a positive finite number (``min_lit_pixels``: a whole
        number ≥ 1).

    Examples
    --------
    >>> frames = np.zeros((2, 64, 64))
    >>> frames[1, :10, :10] = 5.0
    >>> HitFinder(lit_photons=2.0, min_lit_pixels=50).is_hit(frames)
    array([False,  True])
    """

    lit_photons: float = DEFAULT_LIT_PHOTONS
    min_lit_pixels: int = DEFAULT_MIN_LIT_PIXELS
    gain: float = 1.0

    def __post_init__(self) -> None:
        for name in ("lit_photons", "gain"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float, np.number))
                    or not (math.isfinite(value) and value > 0)):
                raise ValueError(f"{name} must be a positive, finite number, got {value!r}")
        if (isinstance(self.min_lit_pixels, bool)
                or not isinstance(self.min_lit_pixels, (int, np.integer))
                or self.min_lit_pixels < 1):
            raise ValueError(f"min_lit_pixels must be a whole number >= 1, got "
                             f"{self.min_lit_pixels!r}")

    def lit_pixels(self, frames, valid=None) -> np.ndarray:
        """Number of lit valid pixels of each frame.

        Parameters
        ----------
        frames : array (H, W) or (B, H, W)
            Detector values (ADU), any real numeric dtype. NaN and ±inf pixels count as
            invalid. One frame (H, W) is B = 1.
        valid : array (H, W) or (B, H, W) bool, optional
            True = good pixel; (H, W) applies to every frame. None = all pixels good.

        Returns
        -------
        ndarray (B,) int64
            Lit pixels per frame.

        Raises
        ------
        ValueError
            If frames are not 2-D or 3-D or not real numbers, or ``valid`` does not match them
            in shape.
        """
        frames = np.asarray(frames)
        if frames.ndim not in (2, 3):
            raise ValueError(f"frames must be 2-D (H, W) or 3-D (B, H, W), got "
                             f"{frames.ndim}-D shape {frames.shape}")
        if not (np.issubdtype(frames.dtype, np.integer)
                or np.issubdtype(frames.dtype, np.floating)):
            raise ValueError(f"frames must hold real numbers, got dtype {frames.dtype}")
        frames = frames.reshape((-1,) + frames.shape[-2:])
        lit = frames >= self.lit_photons * self.gain
        if np.issubdtype(frames.dtype, np.floating):
            lit &= np.isfinite(frames)
        if valid is not None:
            valid = np.asarray(valid, dtype=bool)
            if valid.shape not in (frames.shape[1:], frames.shape):
                raise ValueError(f"valid must be a mask of shape {frames.shape[1:]} or "
                                 f"{frames.shape} like the frames, got {valid.shape}")
            lit &= valid
        return lit.sum(axis=(1, 2), dtype=np.int64)

    def is_hit(self, frames, valid=None) -> np.ndarray:
        """Whether each frame is a hit: at least ``min_lit_pixels`` lit valid pixels.

        Parameters
        ----------
        frames, valid
            As in :meth:`lit_pixels`.

        Returns
        -------
        ndarray (B,) bool
            True = hit.

        Raises
        ------
        ValueError
            As :meth:`lit_pixels`.
        """
        return self.lit_pixels(frames, valid) >= self.min_lit_pixels
