"""What a network's output vector holds: class logits and one block of targets per shape family.

A :class:`TargetLayout` names the shape families a network knows. Its outputs ``(B, T)`` are

- ``F`` class logits, one per family (only when F > 1; a softmax gives the family
  probabilities),
- then, per family in order, its **block** of regression targets: the scaled quaternion
  ``(w, x, y, z)`` of :mod:`.targets` under the family's own rotation group (not for the
  sphere, which has no orientation), the scaled radius, and the shape parameter scaled to
  [0, 1] over its range (only for families with one).

The layout of the icosahedron alone has no logits and one block of five: exactly the targets
of the paper and of this project's first networks, so those networks are layouts too. Training
regresses only the true family's block (:meth:`TargetLayout.loss`); the other blocks answer
"if this frame showed family f, which size, orientation and parameter".

Examples
--------
>>> layout = TargetLayout(("icosahedron", "decahedron", "sphere"))
>>> layout.num_outputs  # 3 logits + 5 + 6 + 1
15
>>> TargetLayout().num_outputs
5
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from wideshot.config import RADIUS_RANGE_NM
from wideshot.geometry import SHAPE_NAMES, shape_family
from wideshot.models.losses import orbit_chordal_squared
from wideshot.models.targets import labels_to_targets, targets_to_labels, targets_to_quaternion

#: Names of the targets in a family's block, in this order (a family has the ones that apply).
BLOCK_TARGETS = ("w", "x", "y", "z", "radius", "parameter")


def clip_parameters(shapes: Sequence[str], parameter: np.ndarray) -> np.ndarray:
    """Shape parameters (B, F) of the families ``shapes`` clipped to each family's range (in
    place; NaN stays NaN); returns them."""
    for index, name in enumerate(shapes):
        family = shape_family(name)
        if family.has_parameter:
            parameter[:, index] = np.clip(parameter[:, index], *family.parameter_range)
    return parameter


@dataclass(frozen=True)
class FamilyLabels:
    """Decoded network outputs: family probabilities and, per family, its labels.

    Attributes
    ----------
    shapes : tuple of str
        The layout's families (F).
    probability : ndarray (B, F)
        Family probabilities (softmax of the logits; 1 for the only family of a layout of one).
    quaternion : ndarray (B, F, 4)
        Canonical orientation under each family's group ((1, 0, 0, 0) for the sphere).
    radius_nm : ndarray (B, F)
        Circumradius in nm.
    shape_parameter : ndarray (B, F)
        Shape parameter, clipped to the family's range; NaN for families without one.
    spread : dict of ndarray (B, F), optional
        Averaged views only: how far the views disagree, per family —
        ``radius_nm`` and ``shape_parameter`` their standard deviation, ``orientation_deg``
        the median misorientation of the views from their mean (NaN where a family has no
        parameter or orientation). None for one view.
    """

    shapes: tuple[str, ...]
    probability: np.ndarray
    quaternion: np.ndarray
    radius_nm: np.ndarray
    shape_parameter: np.ndarray
    spread: dict | None = None

    def __len__(self) -> int:
        return len(self.probability)

    @classmethod
    def concatenate(cls, shapes: tuple[str, ...], parts: list[FamilyLabels]) -> FamilyLabels:
        """The labels of consecutive batches ``parts`` (all of the families ``shapes``) as one;
        empty arrays for no parts."""
        n_families = len(shapes)
        empty = (np.empty((0, n_families)), np.empty((0, n_families, 4)),
                 np.empty((0, n_families)), np.empty((0, n_families)))
        keys = ("probability", "quaternion", "radius_nm", "shape_parameter")
        spread = None
        if parts and all(part.spread is not None for part in parts):
            spread = {name: np.concatenate([part.spread[name] for part in parts])
                      for name in parts[0].spread}
        return cls(tuple(shapes), *(np.concatenate([getattr(part, key) for part in parts])
                                    if parts else empty[index]
                                    for index, key in enumerate(keys)), spread=spread)

    def best(self) -> np.ndarray:
        """Index (B,) of the most probable family of each frame."""
        return self.probability.argmax(-1)

    def pick(self, family_index: np.ndarray) -> dict:
        """Per frame the labels of the family ``family_index`` (B,): a dict of ``shape``
        (list of names), ``shape_probability`` (B,), ``quaternion`` (B, 4), ``radius_nm`` (B,),
        ``shape_parameter`` (B,), and ``spread`` (dict of (B,) arrays, or None)."""
        rows = np.arange(len(self))
        return {"shape": [self.shapes[index] for index in family_index],
                "shape_probability": self.probability[rows, family_index],
                "quaternion": self.quaternion[rows, family_index],
                "radius_nm": self.radius_nm[rows, family_index],
                "shape_parameter": self.shape_parameter[rows, family_index],
                "spread": None if self.spread is None else {
                    name: values[rows, family_index] for name, values in self.spread.items()}}


@dataclass(frozen=True)
class TargetLayout:
    """The output vector of a network that knows the families ``shapes``.

    Parameters
    ----------
    shapes : sequence of str
        Family names (:data:`wideshot.geometry.SHAPE_NAMES`), in output order; each once.
    radius_range_nm : (float, float)
        Radius mapped to 0 and to 1.
    """

    shapes: tuple[str, ...] = ("icosahedron",)
    radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM
    _slices: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shapes = tuple(self.shapes)
        if not shapes:
            raise ValueError("a target layout needs at least one shape family")
        for name in shapes:
            shape_family(name)  # ValueError listing the known families
        if len(set(shapes)) != len(shapes):
            raise ValueError(f"shape families must be distinct, got {list(shapes)}")
        object.__setattr__(self, "shapes", shapes)
        object.__setattr__(self, "radius_range_nm", tuple(float(v) for v in self.radius_range_nm))
        start, slices = self.num_logits, {}
        for name in shapes:
            slices[name] = slice(start, start + len(self.block_targets(name)))
            start = slices[name].stop
        object.__setattr__(self, "_slices", slices)

    @property
    def classifies(self) -> bool:
        """Whether the outputs start with class logits (more than one family)."""
        return len(self.shapes) > 1

    @property
    def num_logits(self) -> int:
        return len(self.shapes) if self.classifies else 0

    @property
    def num_outputs(self) -> int:
        """Length T of the output vector."""
        return self._slices[self.shapes[-1]].stop

    @staticmethod
    def block_targets(shape: str) -> tuple[str, ...]:
        """Names of the targets in the family's block (a subset of :data:`BLOCK_TARGETS`)."""
        family = shape_family(shape)
        names = ("w", "x", "y", "z") if family.has_orientation else ()
        return names + ("radius",) + (("parameter",) if family.has_parameter else ())

    def block(self, shape: str) -> slice:
        """Columns of the family's block in the output vector."""
        return self._slices[shape]

    def index_of_codes(self, shape_codes) -> np.ndarray:
        """Layout indices (B,) of data-set family codes (indices into SHAPE_NAMES); ValueError
        for a family this layout does not know."""
        codes = np.asarray(shape_codes, dtype=np.int64).reshape(-1)
        lookup = np.full(len(SHAPE_NAMES), -1)
        for index, name in enumerate(self.shapes):
            lookup[SHAPE_NAMES.index(name)] = index
        found = lookup[codes]
        if (found < 0).any():
            unknown = sorted({SHAPE_NAMES[code] for code in codes[found < 0]})
            raise ValueError(f"the network knows {', '.join(self.shapes)}, not "
                             f"{', '.join(unknown)}")
        return found

    def describe(self) -> dict:
        """Machine-readable description (model cards): families with their groups, parameter
        ranges and output columns, the radius range and the logits."""
        families = []
        for name in self.shapes:
            family = shape_family(name)
            block = self.block(name)
            families.append({
                "name": name, "group": family.group.name, "group_order": family.group.order,
                "parameter": family.parameter_name,
                "parameter_range": (list(family.parameter_range) if family.has_parameter
                                    else None),
                "w_range": ([family.group.domain.w_min, family.group.domain.w_max]
                            if family.has_orientation else None),
                "columns": dict(zip(self.block_targets(name), range(block.start, block.stop),
                                    strict=True))})
        return {"shapes": list(self.shapes), "radius_range_nm": list(self.radius_range_nm),
                "logits": [0, self.num_logits], "num_outputs": self.num_outputs,
                "families": families}

    def rows_from(self, source: TargetLayout) -> list[tuple[int, int]]:
        """Pairs (this row, source row) of output rows that mean the same thing in a network
        of layout ``source``: a block target of a family both know, and every family's radius
        from the source's first family where the source lacks the family (warm starts)."""
        pairs = []
        fallback_radius = source.block(source.shapes[0]).start + source.block_targets(
            source.shapes[0]).index("radius")
        for name in self.shapes:
            for offset, target in enumerate(self.block_targets(name)):
                row = self.block(name).start + offset
                if name in source.shapes and target in source.block_targets(name):
                    pairs.append((row, source.block(name).start
                                  + source.block_targets(name).index(target)))
                elif target == "radius":
                    pairs.append((row, fallback_radius))
        if self.classifies and source.shapes == self.shapes:
            pairs += [(row, row) for row in range(self.num_logits)]
        return pairs

    # -- training ---------------------------------------------------------------------------

    def encode(self, shape_codes: torch.Tensor, quaternion: torch.Tensor,
               radius_nm: torch.Tensor, shape_parameter: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training targets of labels.

        Parameters
        ----------
        shape_codes : tensor (B,) int
            Family codes of the data set (indices into SHAPE_NAMES).
        quaternion : tensor (B, 4); radius_nm : tensor (B,) nm; shape_parameter : tensor (B,)
            Labels (NaN parameters where a family has none).

        Returns
        -------
        family : tensor (B,) int64
            Layout index of each sample's family.
        targets : tensor (B, T)
            The true family's block filled in, zeros elsewhere.
        mask : tensor (B, T) bool
            Which columns are regressed (the true family's block).
        """
        device, dtype = quaternion.device, quaternion.dtype
        family = torch.as_tensor(self.index_of_codes(shape_codes.cpu().numpy()), device=device)
        targets = torch.zeros(len(family), self.num_outputs, dtype=dtype, device=device)
        mask = torch.zeros_like(targets, dtype=torch.bool)
        for index, name in enumerate(self.shapes):
            rows = (family == index).nonzero()[:, 0]
            if len(rows) == 0:
                continue
            block = self.block(name)
            columns = self._encode_block(name, quaternion[rows], radius_nm[rows].to(dtype),
                                         shape_parameter[rows].to(dtype))
            targets[rows, block] = columns
            mask[rows, block] = True
        return family, targets, mask

    def _encode_block(self, shape: str, quaternion, radius_nm, parameter) -> torch.Tensor:
        family = shape_family(shape)
        scaled = labels_to_targets(quaternion, radius_nm, self.radius_range_nm, shape=shape)
        columns = [scaled] if family.has_orientation else [scaled[:, 4:5]]
        if family.has_parameter:
            low, high = family.parameter_range
            columns.append(((parameter - low) / (high - low))[:, None])
        return torch.cat(columns, 1)

    def loss(self, outputs: torch.Tensor, family: torch.Tensor, targets: torch.Tensor,
             mask: torch.Tensor, classification_weight: float, symmetric: bool = False
             ) -> torch.Tensor:
        """Cross-entropy of the logits plus the mean squared error of the true family's block.

        Per sample: ``classification_weight · CE + Σ_block (output − target)² / |block|``;
        averaged over the batch. For the icosahedron-only layout this is the paper's MSE over
        the five targets. With ``symmetric``, the four quaternion columns of a family's block
        contribute, instead of their squared errors, the squared chordal distance to the
        nearest twin of the label under that family's group
        (:func:`~wideshot.models.losses.orbit_chordal_squared`): a prediction is not punished
        for landing on the other side of the fundamental domain's boundary, where the canonical
        label jumps.
        """
        squared = (outputs - targets) ** 2 * mask
        if symmetric:
            for index, name in enumerate(self.shapes):
                rows = (family == index).nonzero()[:, 0]
                if len(rows) == 0 or not shape_family(name).has_orientation:
                    continue
                quaternion = slice(self.block(name).start, self.block(name).start + 4)
                squared[rows, quaternion] = 0.0
                squared[rows, quaternion.start] = orbit_chordal_squared(
                    targets_to_quaternion(outputs[rows, quaternion], name),
                    targets_to_quaternion(targets[rows, quaternion], name), name)
        loss = (squared.sum(1) / mask.sum(1).clamp_min(1)).mean()
        if self.classifies:
            loss = loss + classification_weight * F.cross_entropy(
                outputs[:, :self.num_logits], family)
        return loss

    # -- inference --------------------------------------------------------------------------

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Family probabilities (B, F) of outputs (B, T) (ones for a layout of one family)."""
        outputs = np.asarray(outputs, dtype=np.float64)
        if not self.classifies:
            return np.ones((len(outputs), 1))
        logits = outputs[:, :self.num_logits]
        logits = logits - logits.max(1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(1, keepdims=True)

    def decode(self, outputs: np.ndarray) -> FamilyLabels:
        """Labels of every family from network outputs (B, T)."""
        outputs = np.asarray(outputs, dtype=np.float64)
        n, n_families = len(outputs), len(self.shapes)
        quaternion = np.zeros((n, n_families, 4))
        quaternion[..., 0] = 1.0
        radius_nm = np.zeros((n, n_families))
        parameter = np.full((n, n_families), np.nan)
        for index, name in enumerate(self.shapes):
            family = shape_family(name)
            block = outputs[:, self.block(name)]
            names = self.block_targets(name)
            radius_column = names.index("radius")
            if family.has_orientation:
                quaternion[:, index], radius_nm[:, index] = targets_to_labels(
                    block[:, :5], self.radius_range_nm, shape=name)
            else:
                low, high = self.radius_range_nm
                radius_nm[:, index] = low + (high - low) * block[:, radius_column]
            if family.has_parameter:
                low, high = family.parameter_range
                parameter[:, index] = low + (high - low) * block[:, -1]
        return FamilyLabels(self.shapes, self.probabilities(outputs), quaternion, radius_nm,
                            clip_parameters(self.shapes, parameter))


def layout_for(shapes: Sequence[str] | None) -> TargetLayout:
    """The layout of ``shapes`` (None: the icosahedron alone, the first networks' layout)."""
    return TargetLayout() if shapes is None else TargetLayout(tuple(shapes))
