"""A classifying network whose answers for some families come from specialist networks.

:class:`ExpertOverride` runs a network that knows several shape families (class logits plus a
block of targets per family, :class:`~wideshot.models.layout.TargetLayout`) and, for each
family that has an *expert* — a network trained long on that family alone — replaces that
family's block by the expert's answer. Its outputs have the base network's layout, so
prediction, views, refinement and evaluation treat it like any network. It exists because a
network trained for hours on icosahedra alone reads them more precisely than a shared
backbone trained briefly on five families (model card of the default model: the numbers).

Examples
--------
>>> base = {"name": "compact-resnet", "options": {"width": 8, "depth": [1, 1, 1, 1],
...                                               "shapes": ["icosahedron", "sphere"]}}
>>> expert = {"name": "compact-resnet", "options": {"width": 8, "depth": [1, 1, 1, 1]}}
>>> model = ExpertOverride(base, {"icosahedron": expert})
>>> model.target_layout.shapes
('icosahedron', 'sphere')
"""
from __future__ import annotations

import torch
from torch import nn


class ExpertOverride(nn.Module):
    """Base network's outputs with the blocks of some families taken from expert networks.

    Parameters
    ----------
    base : dict
        ``{"name": ..., "options": {...}}`` of :func:`~wideshot.models.create_model`; a network
        that knows several families (``options["shapes"]``).
    experts : dict of str to dict
        Family name → architecture of its expert (same form); the expert must know the family
        (its own layout has a block for it).

    Notes
    -----
    Input ``(B, 1, H, W)``, output ``(B, T)`` in the base network's layout. Costs one forward
    pass of the base and one of each expert.
    """

    def __init__(self, base: dict, experts: dict[str, dict]):
        super().__init__()
        from wideshot.models.registry import create_model

        self.base = create_model(base["name"], **base.get("options", {}))
        self.target_layout = self.base.target_layout
        self.experts = nn.ModuleDict()
        columns = []
        for family, architecture in experts.items():
            if family not in self.target_layout.shapes:
                raise ValueError(f"expert for {family!r}: the base network knows "
                                 f"{', '.join(self.target_layout.shapes)}")
            expert = create_model(architecture["name"], **architecture.get("options", {}))
            if family not in expert.target_layout.shapes:
                raise ValueError(f"the expert for {family!r} does not know that family")
            self.experts[family] = expert
            source = expert.target_layout.block(family)
            columns.append((self.target_layout.block(family), source))
        # Output pieces in order: (module key or None for the base, first, stop).
        self._pieces = []
        position = 0
        for (target, source), family in sorted(zip(columns, experts), key=lambda c: c[0][0].start):
            if target.start > position:
                self._pieces.append((None, position, target.start))
            self._pieces.append((family, source.start, source.stop))
            position = target.stop
        if position < self.target_layout.num_outputs:
            self._pieces.append((None, position, self.target_layout.num_outputs))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, T)`` of images ``(B, 1, H, W)``: the base's, with the experts'
        blocks in place of their families'."""
        base = self.base(images)
        answers = {family: expert(images) for family, expert in self.experts.items()}
        return torch.cat([(base if key is None else answers[key])[:, start:stop]
                          for key, start, stop in self._pieces], dim=1)


def expert_override(**options) -> ExpertOverride:
    """Builder for :data:`wideshot.models.MODELS` (options ``base`` and ``experts``)."""
    return ExpertOverride(**options)
