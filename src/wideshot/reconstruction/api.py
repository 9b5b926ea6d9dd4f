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
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wideshot.config import DEFAULT_CONFIG
from wideshot.models.inference import check_images, predict_targets
from wideshot.models.shipped import available_models, load_shipped_model, model_files
from wideshot.models.targets import targets_to_labels
from wideshot.training import load_run
from wideshot.training.distributed import resolve_device

DEFAULT_MODEL = "default"


def _shipped_name(model) -> str | None:
    """``model`` if it names a shipped model (either of its files exists), else None."""
    if not isinstance(model, str):
        return None
    try:
        files = model_files(model)
    except ValueError:  # not a possible name, e.g. a path with slashes
        return None
    return model if any(path.exists() for path in files) else None


def load_model(model: str | os.PathLike | nn.Module = DEFAULT_MODEL,
               device: str | torch.device | None = None,
               which: str | None = None) -> tuple[nn.Module, dict]:
    """The network that ``model`` names, and a description of it.

    Parameters
    ----------
    model : str, Path or torch.nn.Module
        A shipped model's name (:func:`wideshot.models.available_models`; looked up first), a
        run folder of ``wideshot train``, or a network (returned as it is).
    device : str or torch.device, optional
        Where to put a loaded network (default: CUDA if available, else the CPU); a given
        network stays where it is.
    which : {"best", "last"}, optional
        Checkpoint of a run folder (default "best"); a shipped model has only one.

    Returns
    -------
    model : torch.nn.Module
        Maps images (B, 1, 128, 128) to targets (B, 5). A shipped network is shared between
        calls (see :func:`~wideshot.models.load_shipped_model`).
    description : dict
        ``name`` (architecture), ``options``, and ``shipped`` (name) or ``run`` and
        ``checkpoint``, and ``trained_on`` (the training set) where known.

    Raises
    ------
    FileNotFoundError
        If ``model`` is neither a shipped model nor a run folder, or a file is missing.
    ValueError
        For corrupt weights or card, or ``which`` given with a shipped model.
    """
    if isinstance(model, nn.Module):
        return model, {"name": type(model).__name__}
    shipped = _shipped_name(model)
    if shipped is not None:
        if which is not None:
            raise ValueError(f"{shipped!r} is a shipped model with one set of weights; the "
                             "checkpoint choice applies to run folders only")
        network, card = load_shipped_model(shipped, resolve_device(device))
        description = {"shipped": shipped, "name": card["architecture"]["name"],
                       "options": card["architecture"].get("options", {})}
        trained_on = card.get("data", {}).get("train", {}).get("file")
        if trained_on:
            description["trained_on"] = trained_on
        return network, description
    run_dir = Path(model)
    if not run_dir.is_dir():
        available = available_models()
        if not available and str(model) == DEFAULT_MODEL:
            raise FileNotFoundError("no model is shipped with wideshot yet; give the run folder "
                                    "of `wideshot train`")
        raise FileNotFoundError(f"{str(model)!r} is neither a shipped model (available: "
                                f"{', '.join(available) or 'none'}) nor a run folder")
    which = which or "best"
    network, config = load_run(run_dir, which=which, device=resolve_device(device))
    return network, {"run": str(run_dir.resolve()), "checkpoint": which, "name": config.model,
                     "options": config.model_options, "trained_on": config.train}


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
