"""Predicted labels of diffraction images: a trained network plus the target decoding.

:func:`predict` is the one path from images to physical parameters; it checks its input first,
because a network answers garbage without complaint when it is handed something that is not a
SPEC image (unscaled counts, NaN from a failed resampling, an empty frame).

Examples
--------
>>> import torch
>>> from wideshot.models import create_model
>>> model = create_model("compact-resnet", width=8, depth=(1, 1, 1, 1))
>>> labels = predict(model, torch.rand(3, 128, 128))
>>> labels.quaternion.shape, labels.radius_nm.shape  # one family: the icosahedron
((3, 1, 4), (3, 1))
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.fx.experimental.optimization import fuse

from wideshot.choices import DEFAULT_VIEWS
from wideshot.config import DEFAULT_CONFIG
from wideshot.geometry import mean_orientation, misorientation_deg, shape_family
from wideshot.models.layout import FamilyLabels, TargetLayout, clip_parameters
from wideshot.physics.symmetry import (
    VIEW_SETS,
    transform_images,
    untransform_quaternions,
)

#: Tolerance on the [0, 1] range of SPEC images (rounding of rescaled or resampled images).
RANGE_TOLERANCE = 1e-4



#: On the CPU, channels_last is used only for networks whose convolutions all have at least this
#: many output channels: oneDNN runs width-16 networks 1.3–1.6× faster in it, but its backward
#: pass on 4-channel layers took minutes instead of a second, and on width-8 networks with an
#: odd batch size it corrupted the heap ("free(): invalid next size", torch 2.13, AMD EPYC).
MIN_CHANNELS_LAST_CPU = 16


def memory_format(model: nn.Module, device: torch.device) -> torch.memory_format:
    """The memory format to run ``model`` in on ``device``: channels_last where it is fast."""
    if device.type == "cuda":
        return torch.channels_last
    narrowest = min((module.out_channels for module in model.modules()
                     if isinstance(module, nn.Conv2d)), default=0)
    return torch.channels_last if narrowest >= MIN_CHANNELS_LAST_CPU else torch.contiguous_format


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """An inference-only copy of ``model`` with each batch norm folded into its convolution.

    In eval mode a batch norm after a convolution is an affine map per channel, so it can be
    merged into the convolution's weights and bias (``torch.fx.experimental.optimization.fuse``).
    The outputs agree with the original's to float32 rounding (~1e-6); on the CPU the
    compact networks run about a fifth faster (``benchmarks/bench_reconstruct.py``). The copy is
    in eval mode and must not be trained; ``model`` itself is left as it is. A network without
    batch norm comes back as a plain eval-mode copy.

    Parameters
    ----------
    model : torch.nn.Module
        A network of :mod:`wideshot.models`, traceable by ``torch.fx``.

    Returns
    -------
    torch.nn.Module
        Maps the same inputs to the same outputs.
    """
    from wideshot.models.experts import ExpertOverride

    if isinstance(model, ExpertOverride):  # its forward picks frames: fold the parts
        folded = copy.deepcopy(model).eval()
        folded.base = fold_batch_norm(folded.base)
        for family in folded.experts:
            folded.experts[family] = fold_batch_norm(folded.experts[family])
        return folded
    folded = fuse(copy.deepcopy(model).eval(), inplace=True)
    folded.target_layout = layout_of(model)
    return folded


def check_images(images, image_size: int = DEFAULT_CONFIG.grid_size,
                 first_index: int = 0) -> torch.Tensor:
    """SPEC images as a float32 CPU tensor, or ValueError naming the first problem.

    Parameters
    ----------
    images : array-like or torch.Tensor, shape (B, N, N)
        Log-intensity images scaled per image to [0, 1] (docs/conventions.md "Image").
    image_size : int
        N, the detector grid size the network was trained on (128).
    first_index : int
        Index of ``images[0]`` in messages (for blocks of a larger set).

    Returns
    -------
    torch.Tensor, shape (B, N, N), float32
        The images (on the CPU; a copy only where a conversion was needed).

    Raises
    ------
    ValueError
        For a wrong shape, and for the first image (by index) that holds NaN or infinite
        values, is entirely zero, or has values outside [0, 1].
    """
    images = torch.as_tensor(images).detach().cpu()
    if images.ndim != 3 or tuple(images.shape[1:]) != (image_size, image_size):
        hint = " (for a single image pass images[None])" if images.ndim == 2 else ""
        raise ValueError(f"images must be shaped (B, {image_size}, {image_size}), got "
                         f"{tuple(images.shape)}{hint}")
    if images.is_complex() or images.dtype == torch.bool:
        raise ValueError(f"images must be real numbers, got dtype {images.dtype}")
    images = images.to(torch.float32)
    flat = images.flatten(1)
    checks = [
        ((~torch.isfinite(flat)).any(1), "holds NaN or infinite values"),
        ((flat == 0).all(1), "is all zero (no signal)"),
        (((flat < -RANGE_TOLERANCE) | (flat > 1 + RANGE_TOLERANCE)).any(1),
         "has values outside [0, 1]: scale each image by its minimum and maximum "
         "(docs/conventions.md 'Image')"),
    ]
    for bad, description in checks:
        if bad.any():
            index = first_index + int(bad.nonzero()[0, 0])
            others = int(bad.sum()) - 1
            more = f" (and {others} more)" if others else ""
            raise ValueError(f"image {index}{more} {description}")
    return images


def check_valid(valid, shape: tuple[int, ...]) -> np.ndarray:
    """Validity masks (B, H, W) bool from None (all valid), one (H, W) mask or a batch."""
    if valid is None:
        return np.ones(shape, dtype=bool)
    valid = np.asarray(valid)
    if valid.dtype != bool:
        raise ValueError(f"valid must be a boolean mask (True = pixel carries data), got dtype "
                         f"{valid.dtype}")
    if valid.shape not in (shape, shape[1:]):
        raise ValueError(f"valid must be shaped {shape[1:]} or {shape}, got {valid.shape}")
    return np.broadcast_to(valid, shape)


def predict_targets(model: nn.Module, images, device: str | torch.device | None = None,
                    batch_size: int = 256) -> np.ndarray:
    """Raw network outputs for diffraction images, before decoding into labels.

    Parameters
    ----------
    model, images, device, batch_size
        As for :func:`predict`.

    Returns
    -------
    numpy.ndarray, shape (B, T), float32
        The outputs as the network gave them (class logits and per-family targets,
        :class:`~wideshot.models.layout.TargetLayout`); ``layout_of(model).decode`` decodes
        them.

    Raises
    ------
    ValueError
        For images that are not SPEC images (see :func:`check_images`) or batch_size < 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return _network_outputs(model, check_images(images), layout_of(model), device, batch_size)


def _network_outputs(model: nn.Module, images: torch.Tensor, layout: TargetLayout, device,
                     batch_size: int) -> np.ndarray:
    """Outputs (B, T) of checked images (B, N, N), ``batch_size`` per forward pass."""
    if device is None:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else "cpu"
    device = torch.device(device)
    was_training = model.training
    layout = memory_format(model, device)
    model.to(device, memory_format=layout).eval()
    outputs = []
    try:
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = images[start:start + batch_size, None].to(device).contiguous(
                    memory_format=layout)
                outputs.append(model(batch).float().cpu())
    finally:
        model.train(was_training)
    return (torch.cat(outputs) if outputs else torch.empty(0, layout.num_outputs)).numpy()


def layout_of(model: nn.Module) -> TargetLayout:
    """What the network's outputs hold (its ``target_layout``; the icosahedron-only layout of
    the paper for a network without one)."""
    layout = getattr(model, "target_layout", None)
    if layout is None and hasattr(model, "module"):  # DistributedDataParallel
        layout = getattr(model.module, "target_layout", None)
    return layout if layout is not None else TargetLayout()


def predict(model: nn.Module, images, device: str | torch.device | None = None,
            batch_size: int = 256, views: int = DEFAULT_VIEWS) -> FamilyLabels:
    """Shape family, orientation, size and shape parameter of the particles in images.

    Parameters
    ----------
    model : torch.nn.Module
        A network of :mod:`wideshot.models` (its ``target_layout`` says what it outputs), e.g.
        from ``wideshot.training.load_model``. It is run in eval mode in float32; its mode is
        restored afterwards, and it is moved to ``device``.
    images : array-like or torch.Tensor, shape (B, 128, 128)
        SPEC images: log-intensity scaled per image to [0, 1]. Checked by :func:`check_images`.
    device : str or torch.device, optional
        Where to run the network (default: the device of the model's parameters).
    batch_size : int
        Images per forward pass (memory; the result does not depend on it beyond rounding).
    views : int
        1, 2, 4 or 8: the network also sees the image turned and mirrored about the beam
        (exact symmetries of the detector, :data:`wideshot.physics.symmetry.VIEW_SETS`). Per
        family, each view's orientation is mapped back to the original frame under that
        family's mirror plane and group, and the views are averaged
        (:func:`~wideshot.geometry.mean_orientation`; mean radius, parameter and family
        probability). Costs ``views`` forward passes. 1 is the network alone, as in the paper.

    Returns
    -------
    FamilyLabels
        ``probability`` (B, F) and per family ``quaternion`` (B, F, 4) canonical under its
        group, ``radius_nm`` (B, F), ``shape_parameter`` (B, F) (NaN without one);
        ``.best()`` and ``.pick(index)`` select a family per frame.

    Raises
    ------
    ValueError
        For images that are not SPEC images (see :func:`check_images`), batch_size < 1 or an
        unsupported number of views.
    """
    if views not in VIEW_SETS:
        raise ValueError(f"views must be one of {sorted(VIEW_SETS)}, got {views!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    images = check_images(images)
    layout = layout_of(model)
    names = VIEW_SETS[views]
    if views == 1:
        return layout.decode(_network_outputs(model, images, layout, device, batch_size))
    # The views of a few images go through the network together: one forward pass of up to
    # batch_size images, also when a single image is asked for.
    step = max(1, batch_size // views)
    parts = []
    for start in range(0, len(images), step):
        chunk = images[start:start + step]
        stacked = torch.cat([transform_images(chunk, name) for name in names])
        outputs = _network_outputs(model, stacked, layout, device, batch_size=len(stacked))
        parts.append(_average_views(layout.decode(outputs), names, len(chunk)))
    return FamilyLabels.concatenate(layout.shapes, parts)


def _average_views(labels: FamilyLabels, names: tuple[str, ...], n: int) -> FamilyLabels:
    """Average of the decoded views (view-major, ``len(names) · n`` rows) of n images, with
    the views' spread about it (:attr:`FamilyLabels.spread`)."""
    views = len(names)
    quaternion = labels.quaternion.reshape(views, n, len(labels.shapes), 4)
    averaged = np.empty((n, len(labels.shapes), 4))
    orientation_spread = np.full((n, len(labels.shapes)), np.nan)
    for index, shape in enumerate(labels.shapes):
        if not shape_family(shape).has_orientation:
            averaged[:, index] = quaternion[0, :, index]
            continue
        back = np.stack([untransform_quaternions(quaternion[view, :, index], name, shape)
                         for view, name in enumerate(names)], axis=1)  # (n, views, 4)
        averaged[:, index] = mean_orientation(back, shape=shape)
        orientation_spread[:, index] = np.median(
            misorientation_deg(back, averaged[:, index, None], shape), axis=1)

    def by_view(values: np.ndarray) -> np.ndarray:
        return values.reshape(views, n, *values.shape[1:])

    spread = {"radius_nm": by_view(labels.radius_nm).std(axis=0),
              "orientation_deg": orientation_spread,
              "shape_parameter": by_view(labels.shape_parameter).std(axis=0)}
    # A mean of values at a bound may round past it (eight 0.4 average to 0.39999999999999997).
    parameter = clip_parameters(labels.shapes, by_view(labels.shape_parameter).mean(axis=0))
    return FamilyLabels(labels.shapes, by_view(labels.probability).mean(axis=0), averaged,
                        by_view(labels.radius_nm).mean(axis=0), parameter, spread=spread)
