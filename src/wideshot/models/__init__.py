"""Networks and the mapping between physical parameters and network targets.

- :mod:`.resnet` — residual networks (the paper's ResNet-34 and a compact CPU variant);
- :mod:`.registry` — ``create_model(name, **options)``;
- :mod:`.targets` — labels ``(q, R)`` of one family ↔ its scaled targets ``(B, 5)``;
- :mod:`.layout` — what a network outputs: class logits and a block of targets per family;
- :mod:`.experts` — a classifying network with specialist networks for some families;
- :mod:`.losses` — training losses on targets;
- :mod:`.metrics` — the paper's error measures of labels, per shape family;
- :mod:`.inference` — ``predict(model, images)`` → family probabilities and per-family labels,
  with input checks;
- :mod:`.shipped` — networks shipped with the package: ``load_shipped_model(name)``.
"""
from wideshot.models.losses import LOSSES, make_loss, mse_loss, symmetric_loss
from wideshot.models.registry import MODELS, create_model
from wideshot.models.resnet import BasicBlock, ResNet, compact_resnet, paper_resnet34
from wideshot.models.shipped import SHIPPED_DIR, available_models, load_shipped_model
from wideshot.models.targets import (
    NUM_TARGETS,
    TARGET_NAMES,
    labels_to_targets,
    targets_to_labels,
    targets_to_quaternion,
)

__all__ = [
    "LOSSES",
    "MODELS",
    "NUM_TARGETS",
    "SHIPPED_DIR",
    "TARGET_NAMES",
    "BasicBlock",
    "ResNet",
    "compact_resnet",
    "available_models",
    "create_model",
    "labels_to_targets",
    "load_shipped_model",
    "make_loss",
    "mse_loss",
    "paper_resnet34",
    "symmetric_loss",
    "targets_to_labels",
    "targets_to_quaternion",
]
