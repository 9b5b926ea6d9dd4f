"""What a training run is: data, network, optimiser, schedule, loss, augmentation, seed.

A :class:`TrainingConfig` holds every choice that changes the trained weights and nothing else
(the device, the number of loader workers and progress bars are arguments of
:func:`wideshot.training.train`). It is written to ``RUN_DIR/config.json`` when a run starts and
read back to resume the run or to rebuild its network (:func:`wideshot.training.load_run`).

Examples
--------
>>> config = TrainingConfig(train="paper-train.h5", epochs=30, model="paper-resnet34")
>>> config.val is None  # the validation part of paper-train.h5's ``split``
True
>>> TrainingConfig.from_dict(config.as_dict()) == config
True
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from wideshot.choices import (  # the choices are defined there, free of torch, for the CLI
    NO_AUGMENTATION,
    SCHEDULES,
    SELECTION_MEASURES,
    TRAINING_DEFAULTS,
)
from wideshot.data.augment import make_augmentation
from wideshot.models import LOSSES, MODELS, available_models


@dataclass(frozen=True)
class TrainingConfig:
    """Every choice that determines the weights of a training run.

    Parameters
    ----------
    train : str
        Training data set (HDF5 from ``wideshot generate``). If it has a ``split`` data set,
        only its train part (split 0) is trained on.
    val : str, optional
        Validation data set. Default: the validation part (split 1) of ``train``.
    model : str
        A key of :data:`wideshot.models.MODELS`.
    model_options : dict
        Keyword overrides of the model builder (``width``, ``depth``, ``activation``,
        ``normalization``).
    epochs : int
        Passes over the training set.
    batch_size : int
        Images per optimiser step *per process* (the global batch is
        ``batch_size × processes`` under ``torchrun``).
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        Decoupled weight decay of AdamW.
    schedule : str
        One of :data:`SCHEDULES`: "cosine" (linear warm-up over the first 5 % of steps, then a
        cosine decay to 0) or "onecycle" (:class:`torch.optim.lr_scheduler.OneCycleLR`: up to
        ``lr`` over 30 % of the steps, down to ``lr``/25 000, with β₁ cycled against it).
    loss : str
        A key of :data:`wideshot.models.LOSSES` ("mse" is the paper's).
    augment : str
        A name of :data:`wideshot.data.augment.AUGMENTATIONS` applied on the fly to every
        training batch, or "none". Validation always sees the clean images.
    grad_clip : float
        Largest total gradient norm (the gradient is rescaled above it); 0 switches clipping off.
    seed : int
        Seeds the initial weights, the order of the samples and the augmentation draws.
    limit : int, optional
        Use only the first ``limit`` images of the training set and of the validation set
        (quick runs, tests).
    select_by : str
        One of :data:`SELECTION_MEASURES`: the validation measure whose lowest value picks
        ``best.pt`` — the median of the paper's mean relative error, or the validation loss.
    init_from : str, optional
        Run folder whose ``best.pt`` weights start this run, or the name of a shipped model
        (fine-tuning with a fresh optimiser and schedule). Its network must have the same
        backbone; the output layer may know other shape families: rows that mean the same
        target are copied (:meth:`~wideshot.models.layout.TargetLayout.rows_from`), the rest
        start fresh. Default: random weights.
    classification_weight : float
        Weight of the cross-entropy of the family logits against the regression of the true
        family's targets (networks of more than one family; :meth:`TargetLayout.loss`).

    Notes
    -----
    Paths are stored absolute, so a run folder can be resumed or evaluated from anywhere.
    """

    train: str
    val: str | None = None
    model: str = TRAINING_DEFAULTS.model
    model_options: dict = field(default_factory=dict)
    epochs: int = TRAINING_DEFAULTS.epochs
    batch_size: int = TRAINING_DEFAULTS.batch_size
    lr: float = TRAINING_DEFAULTS.lr
    weight_decay: float = TRAINING_DEFAULTS.weight_decay
    schedule: str = TRAINING_DEFAULTS.schedule
    loss: str = TRAINING_DEFAULTS.loss
    augment: str = TRAINING_DEFAULTS.augment
    grad_clip: float = TRAINING_DEFAULTS.grad_clip
    seed: int = TRAINING_DEFAULTS.seed
    limit: int | None = None
    select_by: str = TRAINING_DEFAULTS.select_by
    init_from: str | None = None
    classification_weight: float = TRAINING_DEFAULTS.classification_weight

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", str(Path(self.train).resolve()))
        if self.init_from is not None and (Path(self.init_from).exists()
                                           or self.init_from not in available_models()):
            object.__setattr__(self, "init_from", str(Path(self.init_from).resolve()))
        if self.val is not None:
            object.__setattr__(self, "val", str(Path(self.val).resolve()))
        # JSON form (tuples become lists), so a config equals itself read back from config.json.
        object.__setattr__(self, "model_options", json.loads(json.dumps(self.model_options)))
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {sorted(MODELS)}")
        try:
            with torch.device("meta"):  # checks the options without allocating weights
                MODELS[self.model](**self.model_options)
        except TypeError as error:
            raise ValueError(f"invalid model options {self.model_options} for {self.model!r}: "
                             f"{error}") from None
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {sorted(LOSSES)}")
        if self.augment != NO_AUGMENTATION:
            make_augmentation(self.augment)  # ValueError listing the valid names
        for name, valid in (("schedule", SCHEDULES), ("select_by", SELECTION_MEASURES)):
            if getattr(self, name) not in valid:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose one of "
                                 f"{list(valid)}")
        for name in ("epochs", "batch_size", "seed") + (("limit",) if self.limit is not None
                                                        else ()):
            value = getattr(self, name)
            lowest = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                raise ValueError(f"{name} must be an integer >= {lowest}, got {value!r}")
        for name in ("lr", "weight_decay", "grad_clip", "classification_weight"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (name == "lr" and value == 0):
                raise ValueError(f"{name} must be a finite number "
                                 f"{'> 0' if name == 'lr' else '>= 0'}, got {value!r}")

    def as_dict(self) -> dict:
        """Plain JSON-ready dict of the configuration."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainingConfig:
        """Configuration from :meth:`as_dict` output; ValueError for unknown keys."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training options {unknown}")
        return cls(**values)

    def differences(self, other: TrainingConfig) -> list[str]:
        """Human-readable list of the options in which ``other`` differs from this one."""
        mine, theirs = self.as_dict(), other.as_dict()
        return [f"{name}: {theirs[name]!r} given, {mine[name]!r} in the run"
                for name in mine if mine[name] != theirs[name]]
