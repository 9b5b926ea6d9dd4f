"""A classifying network whose answers for some families come from specialist networks.

:class:`ExpertOverride` runs a network that knows several shape families (class logits plus a
block of targets per family, :class:`~wideshot.models.layout.TargetLayout`) and, for each
family that has an *expert* — a network trained long on that family alone — replaces that
family's block by the expert's answer, on the frames where the base network gives the family
at least 1 % (elsewhere the block cannot become an answer or a refinement's candidate, and the
expert's cost is saved). Its outputs have the base network's layout, so
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

#: A frame's block of a family comes from the family's expert when the base network gives the
#: family at least this probability (the floor of the refinement's candidates).
EXPERT_MIN_PROBABILITY = 0.01


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
    pass of the base, and of each expert on the frames its family may explain.
    """

    def __init__(self, base: dict, experts: dict[str, dict]):
        super().__init__()
        from wideshot.models.registry import create_model

        self.base = create_model(base["name"], **base.get("options", {}))
        self.target_layout = self.base.target_layout
        self.experts = nn.ModuleDict()
        self._columns = {}
        for family, architecture in experts.items():
            if family not in self.target_layout.shapes:
                raise ValueError(f"expert for {family!r}: the base network knows "
                                 f"{', '.join(self.target_layout.shapes)}")
            expert = create_model(architecture["name"], **architecture.get("options", {}))
            if family not in expert.target_layout.shapes:
                raise ValueError(f"the expert for {family!r} does not know that family")
            self.experts[family] = expert
            self._columns[family] = (self.target_layout.block(family),
                                     expert.target_layout.block(family))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, T)`` of images ``(B, 1, H, W)``: the base's, with the experts'
        blocks in place of their families' for the frames where the base gives the family at
        least :data:`EXPERT_MIN_PROBABILITY` (the others keep the base's block: no candidate
        of a refinement, and the expert's cost is spent only where it can matter)."""
        base = self.base(images)
        layout = self.target_layout
        probability = (torch.softmax(base[:, :layout.num_logits].float(), dim=1)
                       if layout.classifies else None)
        out = base.clone()
        for family, expert in self.experts.items():
            block, source = self._columns[family]
            rows = (torch.arange(len(images), device=images.device) if probability is None
                    else (probability[:, layout.shapes.index(family)]
                          >= EXPERT_MIN_PROBABILITY).nonzero()[:, 0])
            if len(rows):
                out[rows, block.start:block.stop] = expert(images[rows])[
                    :, source.start:source.stop].to(out.dtype)
        return out


def expert_override(**options) -> ExpertOverride:
    """Builder for :data:`wideshot.models.MODELS` (options ``base`` and ``experts``)."""
    return ExpertOverride(**options)
