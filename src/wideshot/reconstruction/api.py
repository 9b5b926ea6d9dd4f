"""Size and orientation of particles from diffraction images, in one call.

Examples
--------
>>> import wideshot
>>> images = wideshot.simulate([45.0, 120.0], [[1, 0, 0, 0], [0.923, 0.103, 0.205, 0.308]])
>>> result = wideshot.reconstruct(images)  # doctest: +SKIP
>>> result["radius_nm"].shape, result["quaternion"].shape  # doctest: +SKIP
((2,), (2, 4))
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from wideshot.config import DEFAULT_CONFIG
from wideshot.models.inference import check_images, predict_targets
from wideshot.models.targets import targets_to_labels
from wideshot.training.lookup import DEFAULT_MODEL, load_model


def reconstruct(images, *, model: str | os.PathLike | nn.Module = DEFAULT_MODEL,
                device: str | torch.device | None = None, batch_size: int = 256) -> dict:
    """Radius and orientation of the particle in each diffraction image.

    Parameters
    ----------
    images : array-like or torch.Tensor, shape (128, 128) or (B, 128, 128)
        SPEC images: log-intensity scaled per image to [0, 1] (e.g. from
        :func:`wideshot.simulate`). Checked first: a wrong shape, NaN or infinite values, an
        all-zero image or values outside [0, 1] raise ValueError naming the image.
    model : str, Path or torch.nn.Module
        A shipped model's name (default "default"), a run folder of ``wideshot train`` (its
        best checkpoint) or a network; see :func:`load_model`.
    device : str or torch.device, optional
        Where to run the network (default: CUDA if available, else the CPU; for a given
        network, where it is).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    dict
        ``radius_nm`` : numpy.ndarray (B,) float64 — circumradius in nm;
        ``quaternion`` : numpy.ndarray (B, 4) float64 — orientation (w, x, y, z), scalar first,
        canonical (in the fundamental domain of the icosahedral group);
        ``targets`` : numpy.ndarray (B, 5) float32 — the raw network outputs;
        ``model`` : str — the shipped name, run folder or network class used.

    Raises
    ------
    ValueError
        For images that are not SPEC images, or a corrupt model.
    FileNotFoundError
        If ``model`` names neither a shipped model nor a run folder.

    Examples
    --------
    >>> import wideshot
    >>> result = wideshot.reconstruct(wideshot.simulate(80.0, [1, 0, 0, 0]))  # doctest: +SKIP
    >>> result["radius_nm"]  # doctest: +SKIP
    array([80.4])
    """
    images = torch.as_tensor(images)
    size = DEFAULT_CONFIG.grid_size
    if images.ndim not in (2, 3) or tuple(images.shape[-2:]) != (size, size):
        raise ValueError(f"images must be shaped ({size}, {size}) or (B, {size}, {size}), got "
                         f"{tuple(images.shape)}")
    # Checked before a network is loaded: a wrong input fails fast.
    images = check_images(images[None] if images.ndim == 2 else images)
    network, description = load_model(model, device)
    targets = predict_targets(network, images, device=device, batch_size=batch_size)
    quaternion, radius_nm = targets_to_labels(targets.astype(np.float64))
    name = description.get("shipped") or description.get("run") or description["name"]
    return {"radius_nm": radius_nm, "quaternion": quaternion, "targets": targets,
            "model": name}
