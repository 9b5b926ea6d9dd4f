"""Networks shipped with wideshot: weights plus a model card, loaded by name.

A shipped model ``NAME`` is two files in :data:`SHIPPED_DIR` (``wideshot/models/weights/``):

=======================  ===================================================================
``NAME.safetensors``     the state dict (floating-point tensors in float32), at most
                         :data:`MAX_WEIGHTS_BYTES`
``NAME.json``            the model card: ``architecture`` (``name`` and ``options`` of
                         :func:`~wideshot.models.create_model`), ``weights`` (file, size,
                         sha256, number of parameters) and whatever the exporter adds — for a
                         training run (:func:`wideshot.training.export_run`) the recipe, data,
                         training time and hardware, validation and test metrics
=======================  ===================================================================

Like torchvision's weights enums, the card travels with the weights, so a loaded network says
how it was made and how well it does.

Examples
--------
>>> available_models()  # doctest: +SKIP
['default']
>>> model, card = load_shipped_model("default")  # doctest: +SKIP
>>> card["architecture"]  # doctest: +SKIP
{'name': 'compact-resnet', 'options': {'width': 16}}
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from wideshot.files import write_bytes_atomically
from wideshot import __version__
from wideshot.models.registry import create_model

#: Folder of the weights and cards installed with the package.
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"

#: Largest weights file that may ship inside the package (16 MiB).
MAX_WEIGHTS_BYTES = 16 * 2**20

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"

#: What a shipped model's name may look like (it becomes a file name).
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _folder(weights_dir: str | os.PathLike | None) -> Path:
    # SHIPPED_DIR is looked up at call time, so tests can point it elsewhere.
    return Path(SHIPPED_DIR if weights_dir is None else weights_dir)


def check_name(name: str) -> str:
    """``name`` if it can name a shipped model (letters, digits, ``.``, ``_``, ``-``), else
    ValueError."""
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise ValueError(f"a shipped model name is letters, digits, '.', '_' and '-' (not "
                         f"starting with '.', '_' or '-'), got {name!r}")
    return name


def model_files(name: str, weights_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Paths ``(NAME.safetensors, NAME.json)`` of a shipped model (whether or not they exist)."""
    folder = _folder(weights_dir)
    check_name(name)
    return folder / f"{name}{WEIGHTS_SUFFIX}", folder / f"{name}{CARD_SUFFIX}"


def available_models(weights_dir: str | os.PathLike | None = None) -> list[str]:
    """Sorted names of the shipped models (those with both a weights file and a card)."""
    folder = _folder(weights_dir)
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob(f"*{WEIGHTS_SUFFIX}")
                  if _NAME_PATTERN.fullmatch(path.stem)
                  and path.with_suffix(CARD_SUFFIX).is_file())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_shipped_model(model: nn.Module, card: dict, name: str = "default",
                       weights_dir: str | os.PathLike | None = None) -> Path:
    """Write a network and its model card as shipped model ``name``.

    Parameters
    ----------
    model : torch.nn.Module
        A network built by :func:`~wideshot.models.create_model` with the architecture of
        the card.
    card : dict
        JSON-ready model card; must hold ``architecture = {"name": ..., "options": {...}}``.
        ``name``, ``wideshot_version`` and ``weights`` (file, bytes, sha256, parameters) are
        filled in here.
    name : str
        Name of the shipped model (file stem).
    weights_dir : str or Path, optional
        Folder to write into (default :data:`SHIPPED_DIR`, inside the package).

    Returns
    -------
    Path
        The weights file ``weights_dir/NAME.safetensors``; the card is beside it as
        ``NAME.json``.

    Raises
    ------
    ValueError
        For a bad name, a card without an architecture, a model that the architecture cannot
        load, or weights larger than :data:`MAX_WEIGHTS_BYTES` (nothing is written then).
    """
    weights_path, card_path = model_files(name, weights_dir)
    architecture = card.get("architecture")
    if not isinstance(architecture, dict) or not isinstance(architecture.get("name"), str):
        raise ValueError('the model card needs architecture = {"name": ..., "options": {...}}')
    # Floating-point tensors ship as float32 whatever the training precision; integer buffers
    # (BatchNorm's num_batches_tracked) keep their type.
    tensors = {key: (value.detach().to(torch.float32) if value.is_floating_point()
                     else value.detach()).cpu().contiguous().clone()
               for key, value in model.state_dict().items()}
    _check_loads(architecture, tensors, f"the model to export as {name!r}")
    data = save(tensors, metadata={"format": "pt", "wideshot_model": name})
    if len(data) > MAX_WEIGHTS_BYTES:
        raise ValueError(f"the weights of {name!r} take {len(data) / 2**20:.1f} MiB, more than "
                         f"the {MAX_WEIGHTS_BYTES / 2**20:.0f} MiB a shipped model may have")
    card = {"name": name, "wideshot_version": __version__, **card, "weights": {
        "file": weights_path.name,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "dtype": "float32",
    }}
    try:
        card_text = json.dumps(card, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as error:
        raise ValueError(f"the model card of {name!r} is not plain JSON ({error})") from None

    weights_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomically(weights_path, data)
    write_bytes_atomically(card_path, card_text.encode())
    return weights_path


def _check_loads(architecture: dict, tensors: dict, what: str) -> nn.Module:
    """The network of ``architecture`` with ``tensors`` loaded, or ValueError naming ``what``."""
    try:
        model = create_model(architecture["name"], **architecture.get("options", {}))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: the architecture {architecture} cannot be built "
                         f"({error})") from None
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        lines = str(error).strip().splitlines()
        raise ValueError(f"{what}: the weights do not fit the architecture {architecture} "
                         f"({' '.join(line.strip() for line in lines[:3])})") from None
    return model


def read_card(name: str = "default", weights_dir: str | os.PathLike | None = None) -> dict:
    """The model card of shipped model ``name``.

    Raises
    ------
    FileNotFoundError
        If there is no card (the message names the file and the available models).
    ValueError
        If the card is not valid JSON or lacks the architecture.
    """
    _, card_path = model_files(name, weights_dir)
    if not card_path.is_file():
        raise FileNotFoundError(_missing_message(name, card_path, weights_dir))
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"the model card {card_path} is not valid JSON ({error}); "
                         "re-export the model or reinstall wideshot") from None
    architecture = card.get("architecture") if isinstance(card, dict) else None
    if not isinstance(architecture, dict) or not isinstance(architecture.get("name"), str) \
            or not isinstance(architecture.get("options", {}), dict):
        raise ValueError(f"the model card {card_path} has no valid 'architecture' entry "
                         '({"name": ..., "options": {...}})')
    return card


def update_card(name: str, key: str, value) -> Path:
    """Set the entry ``key`` of shipped model ``name``'s card to ``value`` (a calibration made
    after the export, e.g. ``quality`` or ``view_errors``), written atomically in place.

    Returns
    -------
    Path
        The card's file.
    """
    card = read_card(name)
    card[key] = value
    _, card_path = model_files(name)
    write_bytes_atomically(card_path, (json.dumps(card, indent=2) + "\n").encode())
    return card_path


def _missing_message(name: str, path: Path, weights_dir) -> str:
    available = available_models(weights_dir)
    return (f"no shipped model {name!r}: {path} does not exist (available: "
            f"{', '.join(available) if available else 'none'})")


def load_shipped_model(name: str = "default", device: str | torch.device | None = None,
                       weights_dir: str | os.PathLike | None = None) -> tuple[nn.Module, dict]:
    """A shipped network and its model card.

    Parameters
    ----------
    name : str
        Name of the shipped model (see :func:`available_models`).
    device : str or torch.device, optional
        Where to put the network (default: the CPU).
    weights_dir : str or Path, optional
        Folder of the weights and cards (default :data:`SHIPPED_DIR`).

    Returns
    -------
    model : torch.nn.Module
        In eval mode; maps images (B, 1, 128, 128) to targets (B, 5). It is cached per
        (files, device) and shared between calls: do not train or modify it in place
        (``copy.deepcopy`` it first).
    card : dict
        The model card (a fresh copy on every call).

    Raises
    ------
    FileNotFoundError
        If the weights or the card is missing (the message names the file).
    ValueError
        If either is corrupt or they do not fit together (the message names the file).
    """
    weights_path, card_path = model_files(name, weights_dir)
    for path in (weights_path, card_path):
        if not path.is_file():
            raise FileNotFoundError(_missing_message(name, path, weights_dir))
    device = torch.device("cpu" if device is None else device)
    # The files' identities are part of the key, so a re-exported model is read afresh.
    stamps = tuple((stat.st_ino, stat.st_mtime_ns, stat.st_size)
                   for stat in (weights_path.stat(), card_path.stat()))
    model, card = _load_cached(str(weights_path.resolve()), str(card_path.resolve()), stamps,
                               str(device))
    return model, copy.deepcopy(card)


@functools.lru_cache(maxsize=8)
def _load_cached(weights_file: str, card_file: str, stamps: tuple,
                 device: str) -> tuple[nn.Module, dict]:
    weights_path, card_path = Path(weights_file), Path(card_file)
    card = read_card(card_path.stem, card_path.parent)
    expected = card.get("weights", {}).get("sha256")
    if expected is not None and _sha256(weights_path) != expected:
        raise ValueError(f"the weights file {weights_path} does not match its card "
                         f"{card_path.name} (sha256 differs): it was changed or damaged; "
                         "re-export the model or reinstall wideshot")
    try:
        tensors = load_file(weights_path, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ValueError(f"the weights file {weights_path} is not a readable safetensors file "
                         f"({error}); re-export the model or reinstall wideshot") from None
    model = _check_loads(card["architecture"], tensors, f"{weights_path}")
    return model.to(device).eval(), card
