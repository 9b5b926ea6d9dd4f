"""One process or many: the device, rank and world size of a training process.

Under ``torchrun --nproc-per-node N`` every process finds ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK`` in its environment; :func:`setup` then joins the process group (NCCL on CUDA,
gloo on the CPU) and gives process ``LOCAL_RANK`` its own GPU. Without them (or with
``WORLD_SIZE=1``) training runs in this process alone and nothing distributed is touched.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from wideshot.devices import resolve_device


@dataclass(frozen=True)
class ProcessGroup:
    """Where this training process stands.

    Attributes
    ----------
    rank : int
        Index of this process among all (0 writes files and shows progress).
    world_size : int
        Number of processes.
    device : torch.device
        Where this process trains.
    owns_group : bool
        Whether :func:`setup` joined the process group (and :func:`teardown` leaves it).
    """

    rank: int
    world_size: int
    device: torch.device
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True for the process that writes the run folder."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def sum(self, *values: float) -> list[float]:
        """Sums of scalars over all processes (the values themselves when alone)."""
        if not self.is_distributed:
            return list(values)
        totals = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(totals)
        return totals.tolist()

    def barrier(self) -> None:
        """Wait until every process got here."""
        if self.is_distributed:
            dist.barrier()

    def broadcast_buffers(self, model: torch.nn.Module) -> None:
        """Give every process the buffers (batch-norm statistics) of process 0."""
        if self.is_distributed:
            for buffer in model.buffers():
                dist.broadcast(buffer, 0)

    def gather(self, item) -> list:
        """Every process's ``item`` (any picklable object), in rank order."""
        if not self.is_distributed:
            return [item]
        items = [None] * self.world_size
        dist.all_gather_object(items, item)
        return items


def setup(device: str | torch.device | None = None) -> ProcessGroup:
    """Join the process group started by ``torchrun`` (if any) and pick this process's device.

    Parameters
    ----------
    device : str or torch.device, optional
        "cpu", "cuda", "cuda:1", ... (default: CUDA when available).

    Returns
    -------
    ProcessGroup
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup(rank=0, world_size=1,
                            device=resolve_device(device, prefer_cuda=True))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device, prefer_cuda=True, local_rank=local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ProcessGroup(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device,
                        owns_group=owns_group)


def teardown(group: ProcessGroup) -> None:
    """Leave the process group if :func:`setup` joined it."""
    if group.owns_group and dist.is_initialized():
        dist.destroy_process_group()
