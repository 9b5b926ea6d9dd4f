"""Which trained network a name means: a shipped model or a run folder of ``wideshot train``.

Shared by reconstruction, fitting (the hybrid starts from the network) and ``wideshot evaluate``.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
from torch import nn

from wideshot.data.hdf5 import read_attributes
from wideshot.models.inference import fold_batch_norm
from wideshot.physics.conditions import Conditions
from wideshot.models.shipped import available_models, load_shipped_model, model_files
from wideshot.training.checkpoint import load_run
from wideshot.devices import resolve_device

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


#: Attribute under which a loaded network keeps its description (see :func:`load_model`).
DESCRIPTION_ATTRIBUTE = "wideshot_description"


def load_model(model: str | os.PathLike | nn.Module = DEFAULT_MODEL,
               device: str | torch.device | None = None,
               which: str | None = None) -> tuple[nn.Module, dict]:
    """The network that ``model`` names, and a description of it.

    Parameters
    ----------
    model : str, Path or torch.nn.Module
        A shipped model's name (:func:`wideshot.models.available_models`; looked up first), a
        run folder of ``wideshot train``, or a network (returned as it is).
        A network that this function returned keeps its description: passed again, it
        gives the same description as its name.
    device : str or torch.device, optional
        Where to put a loaded network (default: CUDA if available, else the CPU); a given
        network stays where it is.
    which : {"best", "last"}, optional
        Checkpoint of a run folder (default "best"); a shipped model has only one.

    Returns
    -------
    model : torch.nn.Module
        Maps images (B, 1, 128, 128) to targets (B, 5). A loaded network is for inference
        only: in eval mode, with its batch norms folded into the convolutions
        (:func:`~wideshot.models.inference.fold_batch_norm`). A shipped network is shared
        between calls (see :func:`~wideshot.models.load_shipped_model`).
    description : dict
        ``name`` (architecture), ``options``, and ``shipped`` (name) or ``run`` and
        ``checkpoint``, and ``trained_on`` (the training set) and ``quality`` (the model card's
        calibrated misfit thresholds, see :mod:`wideshot.reconstruction.quality`) and
        ``view_errors`` (the calibration of the network's error bars, see
        :mod:`wideshot.reconstruction.view_errors`) where known.

    Raises
    ------
    FileNotFoundError
        If ``model`` is neither a shipped model nor a run folder, or a file is missing.
    ValueError
        For corrupt weights or card, or ``which`` given with a shipped model.
    """
    if isinstance(model, nn.Module):
        # A network this function loaded keeps its description (card thresholds, error-bar
        # calibration, conditions), so passing it on gives the answers its name gives.
        return model, getattr(model, DESCRIPTION_ATTRIBUTE, {"name": type(model).__name__})
    shipped = _shipped_name(model)
    if shipped is not None:
        if which is not None:
            raise ValueError(f"{shipped!r} is a shipped model with one set of weights; the "
                             "checkpoint choice applies to run folders only")
        network, card = load_shipped_model(shipped, resolve_device(device, prefer_cuda=True))
        network = _folded(network)
        description = {"shipped": shipped, "name": card["architecture"]["name"],
                       "options": card["architecture"].get("options", {})}
        for key in ("quality", "view_errors"):
            if key in card:
                description[key] = card[key]
        description["conditions"] = Conditions.from_dict(card.get("conditions", {})).as_dict()
        trained_on = card.get("data", {}).get("train", {}).get("file")
        if trained_on:
            description["trained_on"] = trained_on
        setattr(network, DESCRIPTION_ATTRIBUTE, description)
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
    network, config = load_run(run_dir, which=which,
                               device=resolve_device(device, prefer_cuda=True))
    description = {"run": str(run_dir.resolve()), "checkpoint": which, "name": config.model,
                   "options": config.model_options, "trained_on": config.train,
                   "conditions": training_conditions(config.train).as_dict()}
    network = fold_batch_norm(network)
    setattr(network, DESCRIPTION_ATTRIBUTE, description)
    return network, description


def training_conditions(path: str | os.PathLike) -> Conditions:
    """The conditions of a training data set (its attributes); SPEC's defaults for a file that
    is no longer readable or predates recorded conditions."""
    try:
        return Conditions.from_dict(read_attributes(path))
    except (OSError, ValueError):
        return Conditions()


def model_conditions(description: dict) -> Conditions:
    """The conditions a model was trained under, from :func:`load_model`'s description (SPEC's
    defaults for a bare network)."""
    return Conditions.from_dict(description.get("conditions", {}))


@functools.lru_cache(maxsize=8)
def _folded(network: nn.Module) -> nn.Module:
    """:func:`fold_batch_norm` of a shared (cached) shipped network, folded once."""
    return fold_batch_norm(network)
