"""Where tensors live: one rule for turning a user's device choice into a torch device."""
from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None = None, *, prefer_cuda: bool = False,
                   local_rank: int = 0) -> torch.device:
    """A torch device from ``None``, a name ("cpu", "cuda", "cuda:1") or a device.

    Parameters
    ----------
    device : str, torch.device or None
        The choice; None picks the default below.
    prefer_cuda : bool
        Default for None: CUDA where available (networks), else the CPU (simulations, whose
        fused CPU kernel is the fast path there).
    local_rank : int
        A bare "cuda" becomes ``cuda:LOCAL_RANK``, so each process of a node gets its own GPU.

    Raises
    ------
    ValueError
        For a malformed device name, or CUDA asked for but not available.
    """
    if device is None:
        device = "cuda" if prefer_cuda and torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r} (use 'cpu', 'cuda' or 'cuda:N')") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", local_rank)
    return resolved
