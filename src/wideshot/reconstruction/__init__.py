"""Reconstruction: diffraction images in, particle size and orientation out.

- :mod:`.api` — :func:`reconstruct` (images → radius, canonical quaternion) with a shipped
  network, a run folder or any network; :func:`load_model` resolves which.
"""
from wideshot.reconstruction.api import load_model, reconstruct

__all__ = ["load_model", "reconstruct"]
