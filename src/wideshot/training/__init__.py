"""Training: the loop, its configuration, run folders and checkpoints.

- :mod:`.config` — :class:`TrainingConfig`, every choice that determines the weights;
- :mod:`.loop` — :func:`train` (one process, or DistributedDataParallel under ``torchrun``);
- :mod:`.checkpoint` — the run folder (config.json, best.pt, last.pt, metrics) and
  :func:`load_run`;
- :mod:`.distributed` — process group and device of a training process;
- :mod:`.export` — :func:`export_run`, a run folder → a shipped model (weights + model card);
- :mod:`.lookup` — :func:`load_model`: a shipped model's name or a run folder → its network.

Example
-------
>>> from wideshot.training import TrainingConfig, load_run, train
>>> config = TrainingConfig(train="train.h5", val="val.h5", epochs=2)  # doctest: +SKIP
>>> history = train(config, "runs/first")  # doctest: +SKIP
>>> model, config = load_run("runs/first", which="best")  # doctest: +SKIP
"""
from wideshot.training.checkpoint import (
    CHECKPOINTS,
    METRIC_COLUMNS,
    load_run,
    read_config,
    resumed_config,
)
from wideshot.training.config import (
    NO_AUGMENTATION,
    SCHEDULES,
    SELECTION_MEASURES,
    TrainingConfig,
)
from wideshot.training.export import export_run, training_command
from wideshot.training.lookup import DEFAULT_MODEL, load_model
from wideshot.training.loop import make_scheduler, open_datasets, train

__all__ = [
    "CHECKPOINTS", "DEFAULT_MODEL", "METRIC_COLUMNS", "NO_AUGMENTATION", "SCHEDULES", "SELECTION_MEASURES",
    "TrainingConfig", "export_run", "load_model", "load_run", "make_scheduler", "open_datasets",
    "read_config", "resumed_config", "train", "training_command",
]
