"""A training run → a shipped model: its weights plus a model card that says how it was made.

The card (see :mod:`wideshot.models.shipped`) records

===================  ==============================================================================
``architecture``     ``name`` and ``options`` of :func:`~wideshot.models.create_model`
``recipe``           the ``wideshot train`` command that reproduces the run, its configuration and
                     number of processes
``data``             training and validation sets: file, images used, and how the file was
                     generated (seed, preset, physics configuration, material) where it is readable
``training``         epochs done, training time (sum of the epoch times), mean throughput, hardware
``validation``       the exported epoch's validation metrics (median relative errors, ...)
``source``           run folder and checkpoint it was exported from
===================  ==============================================================================

plus what the caller adds (``extra_card``, e.g. test-set results of ``wideshot evaluate``).

Example
-------
>>> export_run("runs/cpu-w16", name="default")  # doctest: +SKIP
PosixPath('.../wideshot/models/weights/default.safetensors')
"""
from __future__ import annotations

import json
import math
import os
import platform
import shlex
from pathlib import Path

import torch

from wideshot.data.hdf5 import read_attributes
from wideshot.models.experts import ExpertOverride
from wideshot.models.registry import create_model
from wideshot.models.shipped import load_shipped_model, save_shipped_model
from wideshot.training.checkpoint import (
    CHECKPOINTS,
    LAST_CHECKPOINT,
    METRICS_JSON,
    load_checkpoint,
    load_run,
)
from wideshot.training.config import TrainingConfig
from wideshot.training.lookup import training_conditions
from wideshot.training.temperature import scale_logits
from wideshot.training.loop import open_datasets

#: Attributes of a data set file that say how it was generated, copied into the card.
_GENERATION_ATTRIBUTES = ("preset", "seed", "n_samples", "validation_fraction", "device_type",
                          "wideshot_version", "config", "material", "radius_range_nm",
                          "shapes", "shape_weights")


def training_command(config: TrainingConfig, run_dir: str | os.PathLike = "RUN_DIR",
                     processes: int = 1) -> str:
    """The ``wideshot train`` command line of a configuration (every option spelt out).

    Parameters
    ----------
    config : TrainingConfig
        The run's configuration.
    run_dir : str or Path
        Value of ``--out``.
    processes : int
        Training processes; above 1 the command runs under ``torchrun``.

    Returns
    -------
    str
        A shell command; parsed by ``wideshot train`` it gives back ``config``.
    """
    def option_value(value) -> str:
        # wideshot train reads KEY=VALUE as JSON where it can and as text otherwise.
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError:
                return value
        return json.dumps(value, separators=(",", ":"))

    words = (["torchrun", "--nproc-per-node", str(processes), "$(which wideshot)"]
             if processes > 1 else ["wideshot"])
    words += ["train", "--train", config.train]
    if config.val is not None:
        words += ["--val", config.val]
    if config.limit is not None:
        words += ["--limit", str(config.limit)]
    words += ["--model", config.model]
    for key, value in config.model_options.items():
        words += ["--model-option", f"{key}={option_value(value)}"]
    words += ["--epochs", str(config.epochs), "--batch-size", str(config.batch_size),
              "--lr", repr(config.lr), "--weight-decay", repr(config.weight_decay),
              "--schedule", config.schedule, "--augment", config.augment, "--loss", config.loss,
              "--grad-clip", repr(config.grad_clip), "--select-by", config.select_by,
              "--seed", str(config.seed)]
    if config.init_from is not None:
        words += ["--init-from", config.init_from]
    words += ["--out", str(run_dir)]
    return " ".join(word if word == "$(which wideshot)" else shlex.quote(word)
                    for word in words)


def _finite(value):
    """JSON-ready copy of ``value``: non-finite floats become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _merged(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` put over it, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _generation(path: str) -> dict:
    """How the data set at ``path`` was generated, or why that is unknown."""
    try:
        attributes = read_attributes(path)
    except (OSError, ValueError) as error:
        return {"unreadable": str(error)}
    generation = {key: attributes[key] for key in _GENERATION_ATTRIBUTES if key in attributes}
    if attributes.get("preset"):
        generation["command"] = (f"wideshot generate --preset {attributes['preset']} "
                                 f"--out {shlex.quote(Path(path).name)}")
    return generation


def _data_description(config: TrainingConfig) -> dict:
    description = {"train": {"file": config.train, "generation": _generation(config.train)},
                   "validation": {"file": config.val or f"{config.train} (validation split)"}}
    if config.val is not None:
        description["validation"]["generation"] = _generation(config.val)
    try:
        train_set, val_set = open_datasets(config)
    except (OSError, ValueError) as error:
        description["n_images_unknown"] = str(error)
    else:
        description["train"]["n_images"] = len(train_set)
        description["validation"]["n_images"] = len(val_set)
    return description


def _hardware() -> dict:
    if torch.cuda.is_available():
        accelerator = f"cuda ({torch.cuda.get_device_name()}, {torch.cuda.device_count()} GPU)"
    else:
        accelerator = "none (cpu)"
    return {
        "note": "the exporting machine; a run folder does not record where it was trained",
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "accelerator": accelerator,
        "torch": torch.__version__,
    }


def _training_description(run_dir: Path, config: TrainingConfig, processes: int) -> dict:
    description = {"epochs_planned": config.epochs, "processes": processes,
                   "hardware": _hardware()}
    metrics_file = run_dir / METRICS_JSON
    try:
        history = json.loads(metrics_file.read_text())
    except (OSError, json.JSONDecodeError):
        description["epochs_done"] = None
        return description
    description["epochs_done"] = len(history)
    times = [row["epoch_time_s"] for row in history if "epoch_time_s" in row]
    if times:
        description["time_s"] = sum(times)
        description["time_h"] = round(sum(times) / 3600, 3)
    speeds = [row["train_images_per_s"] for row in history if "train_images_per_s" in row]
    if speeds:
        description["mean_train_images_per_s"] = sum(speeds) / len(speeds)
    return description


def _validation_metrics(state: dict, which: str) -> dict:
    """The validation row of the exported checkpoint's epoch, without the ``val_`` prefixes."""
    row = state.get("metrics") if which == "best" else (state.get("history") or [None])[-1]
    if not row:
        return {"epoch": state.get("epoch")}
    return {"epoch": row["epoch"], **{key.removeprefix("val_"): value
                                      for key, value in row.items() if key.startswith("val_")}}


def export_run(run_dir: str | os.PathLike, name: str = "default", which: str = "best",
               extra_card: dict | None = None,
               weights_dir: str | os.PathLike | None = None,
               experts: dict[str, str] | None = None,
               temperature: float | None = None) -> Path:
    """Ship the network of a training run as ``name``: weights and model card.

    Parameters
    ----------
    run_dir : str or Path
        Output folder of ``wideshot train``.
    name : str
        Name of the shipped model (``wideshot.reconstruct(..., model=name)``,
        ``wideshot evaluate --model name``).
    which : {"best", "last"}
        Checkpoint to export (see :func:`~wideshot.training.load_run`).
    extra_card : dict, optional
        Entries merged into the card (nested dicts key by key), e.g.
        ``{"test": {"paper-test": summary}}`` with a ``summary.json`` of ``wideshot evaluate``,
        or ``{"training": {"hardware": {...}}}`` to correct the recorded hardware.
    weights_dir : str or Path, optional
        Where to write (default :data:`wideshot.models.shipped.SHIPPED_DIR`, in the package).
    experts : dict of str to str, optional
        Family → shipped model whose answers for that family replace the run's
        (:class:`~wideshot.models.experts.ExpertOverride`), e.g. ``{"icosahedron":
        "icosahedron"}``; the card records each expert's card. A shipped model that itself
        has an expert for the family lends that expert (``{"icosahedron": "default"}`` keeps
        the default's icosahedron expert).
    temperature : float, optional
        Divide the class logits by this temperature (fitted on held-out frames with
        :func:`wideshot.training.temperature.fit_temperature`), folded into the weights.

    Returns
    -------
    Path
        The weights file ``NAME.safetensors``; the card ``NAME.json`` is beside it.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a run folder or lacks the checkpoint.
    ValueError
        For an unknown ``which``, a bad name, weights over 16 MiB or a card that is not JSON.
    """
    run_dir = Path(run_dir).resolve()
    model, config = load_run(run_dir, which=which)
    state = load_checkpoint(run_dir / CHECKPOINTS[which])
    last = state if which == "last" else (load_checkpoint(run_dir / LAST_CHECKPOINT)
                                          if (run_dir / LAST_CHECKPOINT).is_file() else {})
    processes = int(last.get("world_size", 1))
    architecture = {"name": config.model, "options": config.model_options}
    expert_cards = {}
    if experts:
        base, architecture = model, {"name": "expert-override", "options": {
            "base": architecture, "experts": {}}}
        loaded = {}
        for family, shipped in experts.items():
            network, expert_card = load_shipped_model(shipped)
            if isinstance(network, ExpertOverride) and family in network.experts:
                # the family's answers of that model are its expert's
                network, expert_card = (network.experts[family],
                                        expert_card["experts"][family]["card"])
            loaded[family] = network
            architecture["options"]["experts"][family] = expert_card["architecture"]
            expert_cards[family] = {"shipped": shipped, "card": expert_card}
        model = create_model(architecture["name"], **architecture["options"])
        model.base.load_state_dict(base.state_dict())
        for family, network in loaded.items():
            model.experts[family].load_state_dict(network.state_dict())
    if temperature is not None:
        scale_logits(model, temperature)
    layout = model.target_layout
    card = {
        "architecture": architecture,
        "input": "SPEC images (B, 1, 128, 128) float32: log-intensity scaled per image to "
                 "[0, 1]",
        "output": (f"outputs (B, {layout.num_outputs}): class logits of the shape families and "
                   "a block of targets per family (see targets), decoded by "
                   "wideshot.models.layout.TargetLayout.decode into family probabilities and, "
                   "per family, a canonical quaternion (w, x, y, z), the circumradius in nm and "
                   "the shape parameter"),
        "targets": layout.describe(),
        **({"experts": expert_cards} if expert_cards else {}),
        "recipe": {"command": training_command(config, Path("runs") / run_dir.name, processes),
                   "config": config.as_dict(), "processes": processes},
        "data": _data_description(config),
        "conditions": training_conditions(config.train).as_dict(),
        "training": _training_description(run_dir, config, processes),
        "validation": _validation_metrics(state, which),
        "source": {"run": str(run_dir), "checkpoint": which},
    }
    card = _finite(_merged(card, extra_card or {}))
    return save_shipped_model(model, card, name=name, weights_dir=weights_dir)
