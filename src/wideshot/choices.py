"""Choices and defaults shared by the command line and the library, importable without torch.

Each is defined once, here; the modules that implement them import them from here. Keeping them
free of heavy imports lets ``wideshot COMMAND --help`` and usage errors answer at once.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Views whose network answers can be averaged (turns and mirrors of the detector square;
#: :data:`wideshot.physics.symmetry.VIEW_SETS`).
VIEW_COUNTS: tuple[int, ...] = (1, 2, 4, 8)

#: Views averaged by :func:`wideshot.models.inference.predict` unless told otherwise: all eight
#: detector symmetries. On the clean paper-test set they halve the shipped model's median
#: misorientation and radius error (README, "Network, training and the shipped model"), for
#: eight forward passes.
DEFAULT_VIEWS = 8

#: Meanings of a frame's values; see :func:`wideshot.reconstruction.prepare_frame`.
INTENSITY_SCALES: tuple[str, ...] = ("auto", "spec", "counts")

#: Samples per shard of a generated data set: the unit of work of a worker and of resuming.
SHARD_SIZE = 256

#: Checkpoint files of a training run folder.
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"

#: Checkpoints of a run folder by the name ``load_run`` and ``wideshot evaluate`` accept.
CHECKPOINTS = {"best": BEST_CHECKPOINT, "last": LAST_CHECKPOINT}

#: ``Preset.shapes`` of a data set that mixes every shape family of the registry.
ALL_SHAPES = "all"


@dataclass(frozen=True)
class Preset:
    """A named data set: size, seed, held-out validation fraction and shape families (names,
    or :data:`ALL_SHAPES`)."""

    n_samples: int
    seed: int
    validation_fraction: float
    shapes: tuple[str, ...] | str = ("icosahedron",)


#: The paper's data sets (Stielow et al. 2020): 25,058 simulated training images with one fifth
#: held out for validation, and an independent test set of 5,000 (its own seed); and the
#: mixed-shape sets of the five families of docs/conventions.md in equal parts.
PRESETS: dict[str, Preset] = {
    "paper-train": Preset(n_samples=25_058, seed=2020, validation_fraction=0.2),
    "paper-test": Preset(n_samples=5_000, seed=2021, validation_fraction=0.0),
    "shapes-train": Preset(n_samples=50_000, seed=2030, validation_fraction=0.2,
                           shapes=ALL_SHAPES),
    "shapes-test": Preset(n_samples=10_000, seed=2031, validation_fraction=0.0,
                          shapes=ALL_SHAPES),
}


#: Network builders of :data:`wideshot.models.MODELS`, in its order.
MODEL_NAMES: tuple[str, ...] = ("paper-resnet34", "compact-resnet", "expert-override")

#: Training losses of :data:`wideshot.models.LOSSES`: "mse" is the paper's, "symmetric" the same
#: for every symmetric twin of the label.
LOSS_NAMES: tuple[str, ...] = ("mse", "symmetric")

#: Filters of :data:`wideshot.data.augment.AUGMENTATIONS`, in its order.
AUGMENTATION_NAMES: tuple[str, ...] = (
    "identity", "noise", "salt-and-pepper", "blur", "jitter", "crop", "hole", "shift",
    "sensitivity", "poisson", "saturation", "blind-spots", "gaps", "log-floor", "choice",
    "combination", "experiment", "experiment-or-clean",
)

#: ``TrainingConfig.augment`` value that trains on the clean simulated images.
NO_AUGMENTATION = "none"

#: Learning-rate schedules, stepped once per optimiser step
#: (see :func:`wideshot.training.make_scheduler`).
SCHEDULES: tuple[str, ...] = ("cosine", "onecycle")

#: Validation measures that pick ``best.pt`` (lower is better).
SELECTION_MEASURES: tuple[str, ...] = ("mean-error", "loss")


@dataclass(frozen=True)
class TrainingDefaults:
    """Defaults of the :class:`wideshot.training.TrainingConfig` fields that have one to show
    (``wideshot train --help``); the fields mean the same as there."""

    model: str = "compact-resnet"
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    loss: str = "mse"
    augment: str = "experiment"
    grad_clip: float = 1.0
    seed: int = 0
    select_by: str = "mean-error"
    classification_weight: float = 0.1


#: The defaults of a training run.
TRAINING_DEFAULTS = TrainingDefaults()

#: Detector key looked up in each Karabo-bridge train unless told otherwise: the corrected
#: image of European XFEL's detectors, ``image.data`` of the bridge's simulator.
BRIDGE_KEY = "image.data"

#: With no train at all for this long (s) from its start, a Karabo bridge counts as unreachable.
BRIDGE_CONNECT_TIMEOUT_S = 10.0

#: Most seconds a hit of a stream waits for its network batch to fill.
STREAM_MAX_LATENCY_S = 0.1
