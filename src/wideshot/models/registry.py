"""Networks by name: ``create_model("paper-resnet34")``.

Examples
--------
>>> sorted(MODELS)
['compact-resnet', 'expert-override', 'paper-resnet34']
>>> model = create_model("compact-resnet", activation="silu")
"""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from wideshot.models.experts import expert_override
from wideshot.models.resnet import compact_resnet, paper_resnet34

#: Model builders by name; each accepts :class:`~wideshot.models.resnet.ResNet` keyword overrides.
#: The names are :data:`wideshot.choices.MODEL_NAMES` (the command line offers them without
#: torch; a test keeps the two equal).
MODELS: dict[str, Callable[..., nn.Module]] = {
    "paper-resnet34": paper_resnet34,
    "compact-resnet": compact_resnet,
    "expert-override": expert_override,
}


def create_model(name: str, **overrides) -> nn.Module:
    """Build the network called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    **overrides
        Architecture options passed to the builder: ``width`` (filters of the first stage),
        ``depth`` (blocks per stage), ``activation`` ("tanh", "relu", "silu"),
        ``normalization`` ("none", "batch", "group"), ``shapes`` (families it knows); for
        "expert-override" ``base`` and ``experts`` (:class:`~wideshot.models.experts.
        ExpertOverride`).

    Returns
    -------
    torch.nn.Module
        Maps images ``(B, 1, 128, 128)`` float32 to outputs ``(B, T)``; its
        ``target_layout`` says what they hold.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or an invalid option value.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name](**overrides)
