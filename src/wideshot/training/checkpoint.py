"""The run folder: configuration, checkpoints and metrics of one training run.

===================  ===========================================================================
file                 content
===================  ===========================================================================
``config.json``      the :class:`~wideshot.training.config.TrainingConfig` (written at the start)
``last.pt``          state after the latest epoch: model, optimiser, scheduler, epoch, random
                     number generator states, best value, metrics history (``--resume`` reads it)
``best.pt``          model weights of the epoch with the best validation measure, its epoch and
                     metrics
``metrics.csv``      one row per finished epoch (columns: :data:`METRIC_COLUMNS`)
``metrics.json``     the same rows as a JSON list
===================  ===========================================================================

Every file is written under a temporary name and moved into place, so an interrupted run never
leaves a half-written file; checkpoints hold only tensors and plain Python values and load with
``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wideshot.choices import BEST_CHECKPOINT, CHECKPOINTS, LAST_CHECKPOINT  # noqa: F401
from wideshot.files import write_bytes_atomically
from wideshot.models import create_model
from wideshot.training.config import TrainingConfig

CONFIG_FILE = "config.json"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"


#: Columns of metrics.csv, in order: epoch (1-based), learning rate at the end of the epoch,
#: mean training loss (on augmented images), validation loss and the medians over the
#: validation set of the paper's mean and max relative errors (%), the misorientation (deg) and
#: the radius error (nm), training throughput (images/s, all processes) and epoch time (s).
METRIC_COLUMNS = (
    "epoch", "lr", "train_loss", "val_loss", "val_median_mean_error_percent",
    "val_median_max_error_percent", "val_median_misorientation_deg",
    "val_median_radius_error_nm", "val_family_error_percent",
    "val_selection_percent", "train_images_per_s", "epoch_time_s",
)


def save_checkpoint(state: dict, path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomically(Path(path), buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict:
    """A checkpoint written by :func:`save_checkpoint`, tensors on ``device``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If it is not a wideshot checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, ValueError) as error:
        raise ValueError(f"{path} is not a readable wideshot checkpoint ({error})") from None


def write_config(run_dir: Path, config: TrainingConfig) -> None:
    """Write ``RUN_DIR/config.json``."""
    write_bytes_atomically(Path(run_dir) / CONFIG_FILE,
                  (json.dumps(config.as_dict(), indent=2) + "\n").encode())


def read_config(run_dir: str | os.PathLike) -> TrainingConfig:
    """The configuration of a run folder.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a run folder (no ``config.json``).
    ValueError
        If ``config.json`` is not a valid training configuration.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a training run folder (no {CONFIG_FILE}; "
                                "make one with `wideshot train --out RUN_DIR`)")
    try:
        return TrainingConfig.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{path} is not a valid training configuration ({error})") from None


def resumed_config(run_dir: str | os.PathLike, **given) -> TrainingConfig:
    """The configuration of the run in ``run_dir``, with the options ``given`` put over it.

    Pass the result to ``train(..., resume=True)``, which refuses it where ``given`` changed
    the run (a resumed run keeps its configuration).
    """
    return TrainingConfig.from_dict({**read_config(run_dir).as_dict(), **given})


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    """Write the metrics of every finished epoch to ``metrics.csv`` and ``metrics.json``.

    Both files are rewritten whole from ``history`` (which ``last.pt`` carries), so a resumed
    run continues them exactly, without a row twice.
    """
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_bytes_atomically(Path(run_dir) / METRICS_CSV, text.getvalue().encode())
    write_bytes_atomically(Path(run_dir) / METRICS_JSON, (json.dumps(history, indent=2) + "\n").encode())


def rng_states() -> dict:
    """States of the global random number generators (torch CPU and CUDA, numpy, Python)."""
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss,
                  cached_gauss),
        "python": random.getstate(),
    }


def restore_rng_states(states: dict) -> None:
    """Set the global random number generators to states from :func:`rng_states`."""
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])
    kind, keys, position, has_gauss, cached_gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss,
                         cached_gauss))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def build_model(config: TrainingConfig) -> nn.Module:
    """The (untrained) network of a configuration."""
    return create_model(config.model, **config.model_options)


def load_run(run_dir: str | os.PathLike, which: str = "best",
             device: str | torch.device = "cpu") -> tuple[nn.Module, TrainingConfig]:
    """The trained network of a run folder, ready for :func:`wideshot.models.inference.predict`.

    Parameters
    ----------
    run_dir : str or Path
        Output folder of ``wideshot train``.
    which : {"best", "last"}
        ``best.pt`` (best validation epoch) or ``last.pt`` (latest epoch).
    device : str or torch.device
        Where to put the network.

    Returns
    -------
    model : torch.nn.Module
        In eval mode; maps images (B, 1, 128, 128) to targets (B, 5).
    config : TrainingConfig
        The run's configuration.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a run folder or lacks the checkpoint.
    ValueError
        For an unknown ``which`` or an unreadable checkpoint.
    """
    if which not in CHECKPOINTS:
        raise ValueError(f"which must be one of {list(CHECKPOINTS)}, got {which!r}")
    config = read_config(run_dir)
    state = load_checkpoint(Path(run_dir) / CHECKPOINTS[which], device)
    model = build_model(config).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), config
