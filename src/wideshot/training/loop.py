"""The training loop: AdamW, a per-step schedule, on-the-fly augmentation, validation, checkpoints.

One epoch:

1. the training images are read in an order fixed by ``(seed, epoch)``
   (:class:`~torch.utils.data.DistributedSampler`, also for a single process);
2. each batch is augmented on the training device with a ``torch.Generator`` seeded from
   ``(seed, epoch, rank)``, turned into network targets and fed to the network in channels_last
   memory format (on the CPU only for networks at least 8 channels wide,
   :func:`~wideshot.models.inference.memory_format`) — under bf16 autocast on CUDA, in float32
   on the CPU;
3. the loss is back-propagated, the gradient norm clipped and AdamW and the schedule stepped;
4. the clean validation images are predicted, and the paper's error measures computed
   (:func:`wideshot.models.metrics.error_table`);
5. process 0 writes ``last.pt``, ``best.pt`` if the validation measure improved, and the
   metrics (:mod:`wideshot.training.checkpoint`).

Everything random is seeded from the configuration, and ``last.pt`` holds everything that
changes from epoch to epoch, so an interrupted run resumed from it ends with the same weights as
an uninterrupted one (bit for bit on the CPU with the same number of threads; on CUDA up to the
non-determinism of its kernels).

Under ``torchrun --nproc-per-node N`` the same function trains with DistributedDataParallel:
each process reads its share of every epoch (the sampler repeats up to N − 1 images so that the
shares are equal) and validates its share of the validation set; the results are gathered, and
only process 0 writes. Batch-norm statistics are those of process 0 (DDP broadcasts them).
"""
from __future__ import annotations

import copy
import math
import os
import random
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm import tqdm

from wideshot.data.augment import Augmentation, make_augmentation
from wideshot.data.dataset import DiffractionDataset
from wideshot.data.hdf5 import (
    LOG_INTENSITY_RANGE,
    QUATERNION,
    RADIUS,
    SHAPE,
    SHAPE_PARAMETER,
    SPLIT,
    read_attributes,
)
from wideshot.models import load_shipped_model, make_loss
from wideshot.models.experts import ExpertOverride
from wideshot.models.inference import layout_of, memory_format
from wideshot.models.layout import TargetLayout, layout_for
from wideshot.models.metrics import family_error_tables
from wideshot.training import distributed
from wideshot.training.checkpoint import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    LAST_CHECKPOINT,
    build_model,
    load_checkpoint,
    read_config,
    restore_rng_states,
    rng_states,
    save_checkpoint,
    write_config,
    write_metrics,
)
from wideshot.training.config import NO_AUGMENTATION, TrainingConfig
from wideshot.training.temperature import scale_logits

#: Fraction of the steps over which the "cosine" schedule warms up linearly from 0.
WARMUP_FRACTION = 0.05

#: Most DataLoader workers per process by default on CUDA (on the CPU: none).
MAX_DEFAULT_WORKERS = 8

#: Metric that each ``select_by`` choice minimises.
_SELECTION_COLUMNS = {"mean-error": "val_selection_percent", "loss": "val_loss"}

# Independent random streams under one seed.
_AUGMENTATION_STREAM = 1


def stream_seed(seed: int, *keys: int) -> int:
    """A 64-bit seed for the random stream ``keys`` of the run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1, np.uint64)[0])


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int
                   ) -> LRScheduler:
    """Learning-rate schedule over ``total_steps`` optimiser steps (stepped after each).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its learning rate is the peak of the schedule.
    schedule : {"cosine", "onecycle"}
        "cosine": linear warm-up from 0 over the first :data:`WARMUP_FRACTION` of the steps,
        then half a cosine down to 0. "onecycle": :class:`~torch.optim.lr_scheduler.OneCycleLR`
        with its defaults (30 % up from lr/25, cosine down to lr/25 000, β₁ cycled).
    total_steps : int
        Optimiser steps of the whole run.
    """
    if schedule == "onecycle":
        peak = [group["lr"] for group in optimizer.param_groups]
        return OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps)
    warmup_steps = max(1, round(WARMUP_FRACTION * total_steps))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return LambdaLR(optimizer, factor)


def _has_split(path: str) -> bool:
    """Whether a data set file has a train/validation ``split``."""
    read_attributes(path)  # FileNotFoundError / ValueError for a missing or unfinished file
    with h5py.File(path, "r") as file:
        return SPLIT in file


def open_datasets(config: TrainingConfig) -> tuple[Dataset, Dataset]:
    """Training and validation sets of a configuration (clean images, labels by name).

    The training set is ``config.train`` — its train part if it has a ``split``; the validation
    set is ``config.val`` (all of it), or else the validation part of ``config.train``. Both are
    cut to their first ``config.limit`` images if a limit is set.

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing or unfinished file, no validation data, or an empty set.
    """
    train_has_split = _has_split(config.train)
    train_set = DiffractionDataset(config.train, split="train" if train_has_split else None)
    if config.val is not None:
        read_attributes(config.val)
        val_set = DiffractionDataset(config.val)
    elif train_has_split:
        val_set = DiffractionDataset(config.train, split="validation")
    else:
        raise ValueError(f"{config.train} has no validation part (no 'split' data set): give a "
                         "validation set with --val, or generate the training set with "
                         "--validation-fraction")
    sets = []
    shapes = layout_for(config.model_options.get("shapes")).shapes
    for name, dataset in (("training", train_set), ("validation", val_set)):
        dataset.require_shapes(shapes)
        if config.limit is not None and config.limit < len(dataset):
            dataset = Subset(dataset, range(config.limit))
        if len(dataset) == 0:
            raise ValueError(f"the {name} set is empty")
        sets.append(dataset)
    return sets[0], sets[1]


def _check_run_folder(run_dir: Path, config: TrainingConfig, resume: bool) -> None:
    """ValueError unless ``run_dir`` can start (resume=False) or continue (True) this run."""
    if run_dir.exists() and not run_dir.is_dir():
        raise NotADirectoryError(f"--out {run_dir} is a file, not a folder")
    started = (run_dir / CONFIG_FILE).exists() or (run_dir / LAST_CHECKPOINT).exists()
    if not resume:
        if started:
            raise ValueError(f"{run_dir} already holds a training run; continue it with "
                             "--resume, or choose another --out")
        return
    if not (run_dir / LAST_CHECKPOINT).is_file():
        raise FileNotFoundError(f"nothing to resume: no {LAST_CHECKPOINT} in {run_dir}")
    differences = read_config(run_dir).differences(config)
    if differences:
        raise ValueError("a resumed run keeps its configuration (start a new --out to change "
                         "it): " + "; ".join(differences))


def _label_tensors(labels: dict, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(shape codes, quaternion, radius_nm, shape_parameter) of a batch, on ``device``."""
    return tuple(labels[name].to(device, non_blocking=True)
                 for name in (SHAPE, QUATERNION, RADIUS, SHAPE_PARAMETER))


def make_training_loss(config: TrainingConfig, layout: TargetLayout):
    """``loss(outputs, family, targets, mask)`` of a configuration (see
    :meth:`TargetLayout.loss`; ``"symmetric"`` under each family's own group)."""
    make_loss(config.loss)  # ValueError for an unknown name
    symmetric = config.loss == "symmetric"
    return lambda outputs, family, targets, mask: layout.loss(
        outputs, family, targets, mask, config.classification_weight, symmetric=symmetric)


def validation_summary(tables: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """Medians of the paper's error measures over all samples (each judged in its true
    family), the share of families named wrong (0 for a network of one family), and their
    sum, which ``select_by="mean-error"`` minimises (percent)."""
    def median(key: str) -> float:
        values = np.concatenate([table[key] for table in tables.values()])
        values = values[np.isfinite(values)]
        return float(np.median(values)) if len(values) else math.nan

    wrong = np.concatenate([~table["correct"] for table in tables.values()])
    mean_error, family_error = 100.0 * median("mean"), 100.0 * float(wrong.mean())
    return {"val_selection_percent": mean_error + family_error,
            "val_median_mean_error_percent": mean_error,
            "val_median_max_error_percent": 100.0 * median("max"),
            "val_median_misorientation_deg": median("misorientation_deg"),
            "val_median_radius_error_nm": median("radius_error_nm"),
            "val_family_error_percent": family_error}


def _validate(model: nn.Module, loader: DataLoader, loss_fn, group: distributed.ProcessGroup
              ) -> dict[str, float]:
    """Validation loss and medians of the paper's error measures over the whole validation set.

    Each process predicts its share (``loader``); the predictions are gathered, so every process
    returns the same numbers.
    """
    model.eval()
    layout = layout_of(model)
    device = group.device
    layout_format = memory_format(model, device)
    outputs, labels = [], []
    with torch.inference_mode():
        for images, batch_labels in loader:
            images = images.to(device, non_blocking=True).contiguous(memory_format=layout_format)
            outputs.append(model(images).float().cpu())
            labels.append(_label_tensors(batch_labels, torch.device("cpu")))
    model.train()
    empty = (torch.empty(0, dtype=torch.int64), torch.empty(0, 4), torch.empty(0),
             torch.empty(0))
    parts = [torch.cat(outputs) if outputs else torch.empty(0, layout.num_outputs)] + [
        torch.cat([batch[part] for batch in labels]) if labels else empty[part]
        for part in range(4)]
    shares = group.gather(tuple(parts))
    outputs, codes, quaternion, radius_nm, parameter = (
        torch.cat([share[part] for share in shares]) for part in range(5))
    outputs = outputs.double()
    family, targets, mask = layout.encode(codes, quaternion.double(), radius_nm.double(),
                                          parameter.double())
    tables = family_error_tables(layout.decode(outputs.numpy()), codes.numpy(), quaternion,
                                 radius_nm, parameter, layout.radius_range_nm)
    return {"val_loss": float(loss_fn(outputs, family, targets, mask)),
            **validation_summary(tables)}


def _train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                 scheduler: LRScheduler, loss_fn, augmentation: Augmentation | None,
                 generator: torch.Generator, grad_clip: float,
                 group: distributed.ProcessGroup, bar: tqdm) -> tuple[float, int]:
    """One pass over ``loader``; returns (sum of per-image losses, images) of this process."""
    device = group.device
    on_cuda = device.type == "cuda"
    layout = memory_format(model, device)
    target_layout = layout_of(model)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    n_images = 0
    for step, (images, labels) in enumerate(loader):
        images = images.to(device, non_blocking=True)
        if augmentation is not None:
            images = augmentation(images[:, 0], generator,
                                  labels.get(LOG_INTENSITY_RANGE))[:, None]
        images = images.contiguous(memory_format=layout)
        codes, quaternion, radius_nm, parameter = _label_tensors(labels, device)
        family, targets, mask = target_layout.encode(codes, quaternion.float(),
                                                     radius_nm.float(), parameter.float())
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=on_cuda):
            outputs = model(images)
        loss = loss_fn(outputs.float(), family, targets, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach() * len(images)
        n_images += len(images)
        bar.update(len(images) * group.world_size)
        if step % 10 == 0 and not bar.disable:
            bar.set_postfix(loss=f"{loss.item():.4g}", refresh=False)
    return float(loss_sum), n_images


def _epoch_summary(row: dict, epochs: int, is_best: bool) -> str:
    return (f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4g}, "
            f"val loss {row['val_loss']:.4g}, median mean error "
            f"{row['val_median_mean_error_percent']:.2f} %, misorientation "
            f"{row['val_median_misorientation_deg']:.2f} deg, radius error "
            f"{row['val_median_radius_error_nm']:.2f} nm, family wrong "
            f"{row['val_family_error_percent']:.2f} %, "
            f"{row['train_images_per_s']:.0f} img/s" + (" (best)" if is_best else ""))


def train(config: TrainingConfig, run_dir: str | Path, *, resume: bool = False,
          device: str | torch.device | None = None, workers: int | None = None,
          stop_after: int | None = None, progress: bool = True) -> list[dict]:
    """Train a network and write its run folder (see :mod:`wideshot.training.checkpoint`).

    Parameters
    ----------
    config : TrainingConfig
        What to train. With ``resume`` it must equal the run's ``config.json``.
    run_dir : str or Path
        Output folder; created if needed. Without ``resume`` it must not hold a run yet.
    resume : bool
        Continue the run in ``run_dir`` from its ``last.pt`` (with the same number of
        processes it was started with).
    device : str or torch.device, optional
        "cpu", "cuda", "cuda:1", ... (default: CUDA when available). Under ``torchrun`` a bare
        "cuda" means each process's own GPU (``LOCAL_RANK``).
    workers : int, optional
        DataLoader worker processes per training process that read images (0: read in the
        training process). Default: 0 on the CPU, where the cores are better spent on the
        network; on CUDA the CPUs shared among the processes, at most
        :data:`MAX_DEFAULT_WORKERS`. The result does not depend on it.
    stop_after : int, optional
        Stop after this many epochs of this call (the run stays resumable), e.g. to fit a
        job's time limit.
    progress : bool
        Show progress bars (images, rate, ETA) and one line per epoch on stderr (process 0).

    Returns
    -------
    list of dict
        The metrics of every finished epoch (rows of ``metrics.csv``).

    Raises
    ------
    ValueError, OSError
        For an invalid configuration or run folder, unreadable data, or a diverged run
        (non-finite training loss).
    """
    run_dir = Path(run_dir)
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if stop_after is not None and stop_after < 1:
        raise ValueError(f"stop_after must be at least 1, got {stop_after}")
    group = distributed.setup(device)
    if workers is None:
        workers = (0 if group.device.type == "cpu" else
                   min(MAX_DEFAULT_WORKERS, (os.cpu_count() or 1) // group.world_size))
    try:
        return _train(config, run_dir, resume, group, workers, stop_after, progress)
    finally:
        distributed.teardown(group)


def _initial_weights(config: TrainingConfig, model: nn.Module) -> dict:
    """State dict that starts ``model`` from ``config.init_from`` (a run's best epoch or a
    shipped model; of an expert override, its base network): the backbone as it is, the output
    rows that mean the same targets copied (:meth:`TargetLayout.rows_from`), the other rows as
    ``model`` has them. A calibration temperature folded into a shipped model's logit rows is
    taken out again: logits scaled up by 1/T ≫ 1 would dominate the clipped gradient and starve
    the regression. ValueError if the backbones differ."""
    if Path(config.init_from).is_dir():
        weights = load_checkpoint(Path(config.init_from) / BEST_CHECKPOINT)["model"]
        source_layout = layout_for(read_config(config.init_from).model_options.get("shapes"))
    else:
        network, card = load_shipped_model(config.init_from)
        if isinstance(network, ExpertOverride):  # the shared network that names the family
            network = network.base
        temperature = card.get("calibration", {}).get("temperature")
        if temperature is not None:  # the logits as trained, not as calibrated
            network = copy.deepcopy(network)  # shipped models are cached and shared
            scale_logits(network, 1.0 / temperature)
        weights = network.state_dict()
        source_layout = layout_of(network)
    expected = model.state_dict()
    head = {"fc.weight", "fc.bias"}
    mismatched = sorted((set(weights) ^ set(expected)) - head) + sorted(
        name for name in (set(weights) & set(expected)) - head
        if weights[name].shape != expected[name].shape)
    if mismatched:
        raise ValueError(f"--init-from {config.init_from}: its network is not {config.model} "
                         f"{config.model_options} (differs in {mismatched[:3]})")
    started = dict(weights)
    for name in head:
        started[name] = expected[name].clone()
        for row, source_row in layout_of(model).rows_from(source_layout):
            started[name][row] = weights[name][source_row]
    return started


def _train(config: TrainingConfig, run_dir: Path, resume: bool,
           group: distributed.ProcessGroup, workers: int, stop_after: int | None,
           progress: bool) -> list[dict]:
    _check_run_folder(run_dir, config, resume)
    train_set, val_set = open_datasets(config)
    group.barrier()  # every process has checked the folder before process 0 writes to it
    show = progress and group.is_main
    if group.is_main and not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, config)

    random.seed(config.seed)
    np.random.seed(config.seed % 2**32)
    torch.manual_seed(config.seed)
    on_cuda = group.device.type == "cuda"
    if on_cuda:
        torch.backends.cudnn.benchmark = True

    sampler = DistributedSampler(train_set, num_replicas=group.world_size, rank=group.rank,
                                 shuffle=True, seed=config.seed)
    loader_options = {"batch_size": config.batch_size, "num_workers": workers,
                      "pin_memory": on_cuda, "persistent_workers": workers > 0}
    train_loader = DataLoader(train_set, sampler=sampler, **loader_options)
    val_share = Subset(val_set, range(group.rank, len(val_set), group.world_size))
    val_loader = DataLoader(val_share, shuffle=False, **loader_options)

    model = build_model(config).to(group.device)
    if config.init_from is not None and not resume:
        model.load_state_dict(_initial_weights(config, model))
    model = model.to(memory_format=memory_format(model, group.device))
    network = (DistributedDataParallel(model, device_ids=[group.device] if on_cuda else None)
               if group.is_distributed else model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config.schedule, config.epochs * len(train_loader))
    loss_fn = make_training_loss(config, layout_of(model))
    augmentation = (None if config.augment == NO_AUGMENTATION
                    else make_augmentation(config.augment))
    select_column = _SELECTION_COLUMNS[config.select_by]

    start_epoch, history = 0, []
    best_value, best_epoch = math.inf, 0
    if resume:
        state = load_checkpoint(run_dir / LAST_CHECKPOINT, group.device)
        if state["world_size"] != group.world_size:
            raise ValueError(f"{run_dir} was trained with {state['world_size']} processes; "
                             f"resume it with as many (not {group.world_size}), so that the "
                             "data order and schedule stay the same")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, history = state["epoch"], state["history"]
        best_value, best_epoch = state["best_value"], state["best_epoch"]
        restore_rng_states(state["rng"])
    if start_epoch >= config.epochs and show:
        print(f"{run_dir}: all {config.epochs} epochs already done", file=sys.stderr)

    last_epoch = config.epochs if stop_after is None else min(config.epochs,
                                                              start_epoch + stop_after)
    progress_options = {"file": sys.stderr, "disable": not show, "dynamic_ncols": True}
    with tqdm(total=config.epochs, initial=start_epoch, unit="epoch", desc="training",
              **progress_options) as run_bar:
        for epoch in range(start_epoch, last_epoch):
            sampler.set_epoch(epoch)
            generator = torch.Generator(device=group.device).manual_seed(
                stream_seed(config.seed, _AUGMENTATION_STREAM, epoch, group.rank))
            started = time.perf_counter()
            with tqdm(total=len(sampler) * group.world_size, unit="img", leave=False,
                      desc=f"epoch {epoch + 1}", **progress_options) as bar:
                loss_sum, n_images = _train_epoch(network, train_loader, optimizer, scheduler,
                                                  loss_fn, augmentation, generator,
                                                  config.grad_clip, group, bar)
            loss_sum, n_images = group.sum(loss_sum, n_images)
            train_seconds = time.perf_counter() - started
            train_loss = loss_sum / n_images
            if not math.isfinite(train_loss):
                raise ValueError(f"training diverged in epoch {epoch + 1} (loss {train_loss}); "
                                 "try a lower --lr or --grad-clip")
            group.broadcast_buffers(model)
            row = {"epoch": epoch + 1, "lr": scheduler.get_last_lr()[0],
                   "train_loss": train_loss, **_validate(model, val_loader, loss_fn, group),
                   "train_images_per_s": n_images / train_seconds,
                   "epoch_time_s": time.perf_counter() - started}
            history.append(row)
            is_best = row[select_column] < best_value
            if is_best:
                best_value, best_epoch = row[select_column], epoch + 1
            if group.is_main:
                if is_best:
                    save_checkpoint({"model": model.state_dict(), "epoch": epoch + 1,
                                     "metrics": row}, run_dir / BEST_CHECKPOINT)
                save_checkpoint({"model": model.state_dict(),
                                 "optimizer": optimizer.state_dict(),
                                 "scheduler": scheduler.state_dict(), "epoch": epoch + 1,
                                 "history": history, "best_value": best_value,
                                 "best_epoch": best_epoch, "rng": rng_states(),
                                 "world_size": group.world_size}, run_dir / LAST_CHECKPOINT)
                write_metrics(run_dir, history)
                if show:
                    tqdm.write(_epoch_summary(row, config.epochs, is_best), file=sys.stderr)
            run_bar.update()
    if show and last_epoch < config.epochs:
        print(f"stopped after epoch {last_epoch} of {config.epochs}; continue with --resume",
              file=sys.stderr)
    if show and history:
        print(f"{run_dir}: best epoch {best_epoch} ({select_column} {best_value:.4g}) in "
              f"{BEST_CHECKPOINT}", file=sys.stderr)
    return history
