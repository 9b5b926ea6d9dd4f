"""Training losses on network outputs and targets, both ``(B, 5)`` (see :mod:`.targets`).

- ``"mse"`` — the paper's: mean squared error over the five scaled targets.
- ``"symmetric"`` — radius MSE plus an orientation term that is the same for every member
  ``±(q ⊗ g)`` of the true orientation's orbit, so that a prediction near the boundary of the
  fundamental domain is not punished for landing on the symmetric twin of the label.

Examples
--------
>>> import torch
>>> outputs, targets = torch.zeros(4, 5), torch.full((4, 5), 0.1)
>>> make_loss("mse")(outputs, targets)
tensor(0.0100)
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from wideshot.geometry import ICOSAHEDRAL_GROUP, quaternion_multiply
from wideshot.models.targets import NUM_TARGETS, RADIUS_TARGET, targets_to_quaternion

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The paper's loss: mean squared error over the batch and the five targets.

    Parameters
    ----------
    outputs, targets : torch.Tensor, shape (B, 5)
        Network outputs and targets ``(w scaled, x, y, z, R scaled)``.

    Returns
    -------
    torch.Tensor, shape ()
    """
    return F.mse_loss(outputs, targets)


def symmetric_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Radius MSE plus the squared chordal distance to the nearest symmetric twin of the label.

    Per sample, in target units,
    ``((R̂ − R)² + min over g in I, s = ±1 of |q̂ − s·(q ⊗ g)|²) / 5``,
    where ``q̂`` is the predicted quaternion (w unscaled, normalised) and ``q`` the true one.
    The chordal term equals ``2 − 2·max |⟨q̂, q ⊗ g⟩|`` ≈ θ²/4 for a misorientation θ (rad):
    for a prediction close to the label it matches the quaternion part of :func:`mse_loss`
    (up to the scaling of w), so both losses are on the same scale.

    Parameters
    ----------
    outputs, targets : torch.Tensor, shape (B, 5)
        Network outputs and targets ``(w scaled, x, y, z, R scaled)``.

    Returns
    -------
    torch.Tensor, shape ()
        Mean over the batch.
    """
    predicted = targets_to_quaternion(outputs)
    true = targets_to_quaternion(targets)
    group = torch.tensor(ICOSAHEDRAL_GROUP, dtype=true.dtype, device=true.device)
    orbit = quaternion_multiply(true[:, None, :], group)  # (B, 60, 4)
    overlap = (orbit * predicted[:, None, :]).sum(-1).abs().amax(-1)  # (B,)
    chordal_squared = 2.0 - 2.0 * overlap
    radius_squared = (outputs[:, RADIUS_TARGET] - targets[:, RADIUS_TARGET]) ** 2
    return ((chordal_squared + radius_squared) / NUM_TARGETS).mean()


#: Losses by name (``make_loss``, training configurations). The names are
#: :data:`wideshot.choices.LOSS_NAMES` (the command line offers them without torch; a test keeps
#: the two equal).
LOSSES: dict[str, Loss] = {"mse": mse_loss, "symmetric": symmetric_loss}


def make_loss(name: str) -> Loss:
    """The loss function called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`LOSSES`.

    Returns
    -------
    callable
        ``loss(outputs (B, 5), targets (B, 5)) -> scalar tensor``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name]
