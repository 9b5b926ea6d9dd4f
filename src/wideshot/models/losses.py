"""Training losses on network outputs and targets, both ``(B, 5)`` (see :mod:`.targets`).

- ``"mse"`` — the paper's: mean squared error over the five scaled targets.
- ``"symmetric"`` — radius MSE plus an orientation term that is the same for every member
  ``±(q ⊗ g)`` of the true orientation's orbit, so that a prediction near the boundary of the
  fundamental domain is not punished for landing on the symmetric twin of the label (for
  networks of several families, under each family's own group: :meth:`TargetLayout.loss`).

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

from wideshot.geometry import DEFAULT_SHAPE, shape_family
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


def orbit_chordal_squared(predicted: torch.Tensor, true: torch.Tensor,
                          shape: str = DEFAULT_SHAPE) -> torch.Tensor:
    """Squared chordal distance from predicted quaternions to the nearest symmetric twin
    ``±(q ⊗ g)``, g in the family's group, of the true ones.

    Equals ``2 − 2·max |⟨q̂, q ⊗ g⟩|`` ≈ θ²/4 for a misorientation θ (rad), so for a
    prediction close to its label it matches the squared error of the quaternion's components.
    The gradient flows to ``predicted`` only (the choice of twin is piecewise constant).

    Parameters
    ----------
    predicted, true : torch.Tensor, shape (B, 4)
        Unit quaternions ``(w, x, y, z)``; ``true`` need not be canonical.
    shape : str
        Shape family whose rotation group relates the twins (the icosahedron by default).

    Returns
    -------
    torch.Tensor, shape (B,)
    """
    twin = shape_family(shape).group.closest_equivalent(true, predicted.detach())
    return ((predicted - twin) ** 2).sum(-1)


def symmetric_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Radius MSE plus the squared chordal distance to the nearest symmetric twin of the label.

    Per sample, in target units, ``((R̂ − R)² + min over g in I, s = ±1 of |q̂ − s·(q ⊗ g)|²)
    / 5``, where ``q̂`` is the predicted quaternion (w unscaled, normalised) and ``q`` the true
    one (:func:`orbit_chordal_squared`): for a prediction close to the label it matches the
    quaternion part of :func:`mse_loss` (up to the scaling of w), so both losses are on the same
    scale. Networks of several families use :meth:`TargetLayout.loss` with ``symmetric=True``.

    Parameters
    ----------
    outputs, targets : torch.Tensor, shape (B, 5)
        Network outputs and targets ``(w scaled, x, y, z, R scaled)``.

    Returns
    -------
    torch.Tensor, shape ()
        Mean over the batch.
    """
    chordal_squared = orbit_chordal_squared(targets_to_quaternion(outputs),
                                            targets_to_quaternion(targets))
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
