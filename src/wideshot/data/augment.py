"""Detector-defect augmentations for simulated diffraction images (Stielow et al. 2020, App. D).

A network trained on simulated images has to read experimental ones, so training images are
degraded on the fly with the defects of real detectors: noise, blur, a beam dump, gaps between
detector panels, a finite detector, and so on. Each defect is a small batched transform.

Conventions shared by every filter
----------------------------------
- Images are ``(B, H, W)`` float tensors in [0, 1], the log-intensity of docs/conventions.md
  ("Detector grid and image"), on any device. The output has the same shape, dtype and device; the
  input is never modified in place.
- ``augmentation(images, generator)`` draws its random parameters **per image** from the explicit
  ``torch.Generator``; the same generator state gives the same output. Random numbers are drawn on
  ``generator.device`` and moved to the images' device, so a CPU generator gives the same draws for
  CPU and CUDA images; pass a generator on the images' device to avoid the transfer.
- ``augmentation.apply_with_mask(images, generator, valid=None)`` returns ``(images, valid)``,
  where ``valid`` (B, H, W) bool marks pixels that still carry measured signal. Filters that
  remove information (central hole, crop, readout gaps, blind spots) clear it; filters that move
  pixels (shift, jitter) move it and clear the zero-filled border. Pixels that are not valid are
  exactly 0, and stay 0 through every later filter of a chain.
- ``log_range`` (B, 2), optional wherever images go in: the minimum and maximum of
  log(F + floor) of each image before its SPEC scaling (data sets store it as
  ``log_intensity_range``), so that the grid-unit intensity F = |A|²/v₀² of every pixel is known.
  Only :class:`PoissonNoise` uses it (to draw counts from the true intensity); composite filters
  pass the rows of their images on.
- "Renormalises" below means the output is rescaled per image by the minimum and maximum of its
  valid pixels to [0, 1], as docs/conventions.md scales a measured image; otherwise valid pixels
  keep their values except where the filter says so.
- The zero-angle pixel, the centre of holes, crops and gaps, is (row N/2, column N/2): pixel
  (i, j) sits at k = (j − N/2, i − N/2)·Δk (docs/conventions.md). All lengths below are in pixels
  (px).

Choose a filter by name with :func:`make_augmentation` (see :data:`AUGMENTATIONS`).

Example
-------
>>> import torch
>>> from wideshot.data.augment import make_augmentation
>>> augmentation = make_augmentation("experiment")
>>> generator = torch.Generator().manual_seed(0)
>>> images = torch.rand(8, 128, 128)
>>> augmented = augmentation(images, generator)
>>> augmented.shape
torch.Size([8, 128, 128])
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "BlindSpots",
    "CenterCrop",
    "CentralHole",
    "Compose",
    "ExperimentLike",
    "GaussianBlur",
    "Identity",
    "JitterDistortion",
    "LogFloor",
    "PoissonNoise",
    "RandomChoice",
    "RandomCombination",
    "ReadoutGaps",
    "Rescale",
    "SaltAndPepper",
    "Saturation",
    "Shift",
    "UnevenSensitivity",
    "UniformNoise",
    "experiment_or_clean",
    "make_augmentation",
]

Range = tuple[float, float]
Parameters = dict[str, torch.Tensor]


# --------------------------------------------------------------------------------------------
# Helpers: random draws, pixel coordinates, rescaling, warping
# --------------------------------------------------------------------------------------------


def _check_range(name: str, bounds: Sequence[float], lowest: float | None = None,
                 highest: float | None = None) -> None:
    """Raise ValueError unless ``bounds`` is (low, high) with lowest ≤ low ≤ high ≤ highest."""
    if len(bounds) != 2 or not bounds[0] <= bounds[1]:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {bounds!r}")
    if lowest is not None and bounds[0] < lowest:
        raise ValueError(f"{name} must not go below {lowest}, got {bounds!r}")
    if highest is not None and bounds[1] > highest:
        raise ValueError(f"{name} must not exceed {highest}, got {bounds!r}")


def _uniform(bounds: Sequence[float], shape: int | tuple[int, ...], generator: torch.Generator,
             device: torch.device) -> torch.Tensor:
    """Uniform draws on [low, high] (float32), made on the generator's device, moved to device."""
    shape = (shape,) if isinstance(shape, int) else shape
    unit = torch.rand(shape, generator=generator, device=generator.device)
    return (bounds[0] + (bounds[1] - bounds[0]) * unit).to(device)


def _log_uniform(bounds: Sequence[float], shape: int | tuple[int, ...],
                 generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Log-uniform draws on [low, high] (both > 0), float32 on ``device``."""
    log_bounds = (math.log(bounds[0]), math.log(bounds[1]))
    return torch.exp(_uniform(log_bounds, shape, generator, device))


def _integers(bounds: Sequence[int], shape: int | tuple[int, ...], generator: torch.Generator,
              device: torch.device) -> torch.Tensor:
    """Uniform integers in [low, high] inclusive (int64) on ``device``."""
    shape = (shape,) if isinstance(shape, int) else shape
    draws = torch.randint(int(bounds[0]), int(bounds[1]) + 1, shape, generator=generator,
                          device=generator.device)
    return draws.to(device)


def _pixel_noise(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per-pixel uniform [0, 1) numbers shaped and typed like ``images``."""
    unit = torch.rand(images.shape, generator=generator, device=generator.device)
    return unit.to(device=images.device, dtype=images.dtype)


def _offsets_from_center(height: int, width: int, device: torch.device,
                         dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column offsets (px) from the zero-angle pixel (N/2, N/2): shapes (H, 1), (1, W)."""
    rows = torch.arange(height, device=device, dtype=dtype) - height / 2
    cols = torch.arange(width, device=device, dtype=dtype) - width / 2
    return rows[:, None], cols[None, :]


def _per_image(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B,) → (B, 1, 1), for broadcasting against images (B, H, W)."""
    return values.to(dtype)[:, None, None]


def _rescale(images: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Min–max rescale each image to [0, 1] over its valid pixels; invalid pixels become 0.

    An image whose valid pixels are all equal becomes 0 (there is no contrast left to scale).
    """
    lowest = torch.where(valid, images, math.inf).amin(dim=(-2, -1), keepdim=True)
    highest = torch.where(valid, images, -math.inf).amax(dim=(-2, -1), keepdim=True)
    span = (highest - lowest).clamp_min(torch.finfo(images.dtype).eps)
    rescaled = ((images - lowest) / span).clamp(0.0, 1.0)
    return torch.where(valid, rescaled, 0.0)


def _image_maximum(images: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Largest valid pixel of each image, (B, 1, 1); 0 for an image without valid pixels."""
    return torch.where(valid, images, 0.0).amax(dim=(-2, -1), keepdim=True)


def _warp(images: torch.Tensor, valid: torch.Tensor, row_shift_px: torch.Tensor,
          col_shift_px: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move image content by a displacement field, bilinear, zero fill outside the detector.

    ``out[b, i, j] = images[b, i − row_shift, j − col_shift]``, so positive shifts move the
    content towards larger row / column indices. Shifts broadcast to (B, H, W) (px). The validity
    mask moves with the content (nearest pixel); pixels filled from outside become invalid.
    """
    _, height, width = images.shape
    rows = torch.arange(height, device=images.device, dtype=images.dtype)[None, :, None]
    cols = torch.arange(width, device=images.device, dtype=images.dtype)[None, None, :]
    source_rows, source_cols = torch.broadcast_tensors(rows - row_shift_px, cols - col_shift_px)
    # grid_sample wants (x, y) in [-1, 1], corners at pixel centres (align_corners=True).
    grid = torch.stack((2.0 * source_cols / (width - 1) - 1.0,
                        2.0 * source_rows / (height - 1) - 1.0), dim=-1)
    moved = F.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros",
                          align_corners=True)[:, 0]
    moved_valid = F.grid_sample(valid[:, None].to(images.dtype), grid, mode="nearest",
                                padding_mode="zeros", align_corners=True)[:, 0] > 0.5
    return moved, moved_valid


def _rectangle_cover(top: torch.Tensor, height_px: torch.Tensor, left: torch.Tensor,
                     width_px: torch.Tensor, weights: torch.Tensor, image_height: int,
                     image_width: int, dtype: torch.dtype) -> torch.Tensor:
    """Sum of ``weights`` of the axis-aligned rectangles that cover each pixel.

    Parameters
    ----------
    top, left : torch.Tensor
        (B, n) first row / column of each rectangle (px).
    height_px, width_px : torch.Tensor
        (B, n) extent of each rectangle (px); rows top ≤ i < top + height are covered.
    weights : torch.Tensor
        (B, n) weight of each rectangle (0 switches a rectangle off).

    Returns
    -------
    torch.Tensor
        (B, H, W): Σ over rectangles covering the pixel of their weight. Rectangles are separable
        (row indicator × column indicator), so this is one batched matrix product.
    """
    rows = torch.arange(image_height, device=top.device, dtype=dtype)
    cols = torch.arange(image_width, device=top.device, dtype=dtype)
    top, height_px, left, width_px = (bound.to(dtype)[..., None]
                                      for bound in (top, height_px, left, width_px))
    in_rows = ((rows >= top) & (rows < top + height_px)).to(dtype)  # (B, n, H)
    in_cols = ((cols >= left) & (cols < left + width_px)).to(dtype)  # (B, n, W)
    return torch.bmm((in_rows * weights.to(dtype)[..., None]).transpose(1, 2), in_cols)


# --------------------------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------------------------


class Augmentation:
    """A random, batched image transform; subclasses implement one detector defect.

    Subclasses override :meth:`draw_parameters` (the per-image random parameters, drawn first,
    so a generator in the same state reproduces them) and :meth:`_transform`.
    """

    def draw_parameters(self, batch_size: int, generator: torch.Generator,
                        device: torch.device | str | None = None) -> Parameters:
        """Draw the per-image parameters of this filter.

        Parameters
        ----------
        batch_size : int
            Number of images B.
        generator : torch.Generator
            Source of randomness; draws happen on ``generator.device``.
        device : torch.device or str, optional
            Where the returned tensors live (default: the generator's device).

        Returns
        -------
        dict[str, torch.Tensor]
            Tensors with leading dimension B (units in the subclass's docstring). A call
            ``f(images, generator)`` makes exactly ``f.draw_parameters(B, generator, device)``
            its first draws, so a generator seeded alike reproduces them.
        """
        return {}

    def _transform(self, images: torch.Tensor, valid: torch.Tensor, parameters: Parameters,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the filter with given parameters: (B, H, W) images and mask → new ones."""
        raise NotImplementedError

    def apply_with_mask(self, images: torch.Tensor, generator: torch.Generator,
                        valid: torch.Tensor | None = None, parameters: Parameters | None = None,
                        log_range: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the filter and track which pixels still carry measured signal.

        Parameters
        ----------
        images : torch.Tensor
            (B, H, W) float, values in [0, 1].
        generator : torch.Generator
            Source of randomness (see the module docstring for devices).
        valid : torch.Tensor, optional
            (B, H, W) bool mask of pixels carrying signal before this filter (default: all).
        parameters : dict[str, torch.Tensor], optional
            Parameters from :meth:`draw_parameters` to use instead of drawing new ones.
        log_range : torch.Tensor, optional
            (B, 2) min and max of log(F + floor) of each image before its scaling (see the
            module docstring); filters that can use it find it as ``parameters["log_range"]``.

        Returns
        -------
        images : torch.Tensor
            (B, H, W), same dtype and device; 0 wherever ``valid`` is False.
        valid : torch.Tensor
            (B, H, W) bool.
        """
        _check_images(images, generator)
        if valid is None:
            valid = torch.ones(images.shape, dtype=torch.bool, device=images.device)
        if images.shape[0] == 0:
            return images.clone(), valid
        if parameters is None:
            parameters = self.draw_parameters(images.shape[0], generator, images.device)
        if log_range is not None:
            parameters = {**parameters, "log_range": _check_log_range(log_range, images)}
        augmented, valid = self._transform(images, valid, parameters, generator)
        return torch.where(valid, augmented, 0.0), valid

    def __call__(self, images: torch.Tensor, generator: torch.Generator,
                 log_range: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the filter: (B, H, W) images in [0, 1] → augmented (B, H, W) images
        (``log_range`` (B, 2) as in :meth:`apply_with_mask`)."""
        return self.apply_with_mask(images, generator, log_range=log_range)[0]


def _check_log_range(log_range, images: torch.Tensor) -> torch.Tensor:
    """``log_range`` as a float tensor (B, 2) on the images' device, or ValueError."""
    log_range = torch.as_tensor(log_range, device=images.device)
    if log_range.shape != (images.shape[0], 2) or not torch.isfinite(log_range).all():
        raise ValueError(f"log_range must be finite and shaped ({images.shape[0]}, 2) "
                         f"(min, max of log intensity per image), got {tuple(log_range.shape)}")
    return log_range.to(torch.float64)


def _rows(log_range: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor | None:
    """The rows ``index`` of an optional per-image tensor."""
    return None if log_range is None else log_range[index.to(log_range.device)]


def _check_images(images: torch.Tensor, generator: torch.Generator) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 3 or not images.is_floating_point():
        raise ValueError("images must be a float tensor shaped (B, H, W), got "
                         f"{getattr(images, 'shape', type(images))}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")


# --------------------------------------------------------------------------------------------
# Single filters
# --------------------------------------------------------------------------------------------


@dataclass
class Identity(Augmentation):
    """Leave the images as they are (the "no augmentation" choice). Does not renormalise."""

    def _transform(self, images, valid, parameters, generator):
        return images, valid


@dataclass
class Rescale(Augmentation):
    """Rescale each image to [0, 1] over its valid pixels (SPEC scaling); deterministic."""

    def _transform(self, images, valid, parameters, generator):
        return _rescale(images, valid), valid


@dataclass
class UniformNoise(Augmentation):
    """Additive uniform background noise, then clip to [0, 1]. Does not renormalise.

    Every pixel gets ``U(0, a·max)`` added, where ``max`` is the image's largest pixel and the
    fraction ``a`` is drawn per image.

    Parameters
    ----------
    amplitude_range : (float, float)
        Range of ``a``, fraction of the image maximum (default (0, 0.5)).

    Drawn parameters: ``amplitude`` (B,), the fraction ``a``.
    """

    amplitude_range: Range = (0.0, 0.5)

    def __post_init__(self):
        _check_range("amplitude_range", self.amplitude_range, lowest=0.0)

    def draw_parameters(self, batch_size, generator, device=None):
        return {"amplitude": _uniform(self.amplitude_range, batch_size, generator,
                                      device or generator.device)}

    def _transform(self, images, valid, parameters, generator):
        scale = _per_image(parameters["amplitude"], images.dtype) * _image_maximum(images, valid)
        noisy = images + scale * _pixel_noise(images, generator)
        return noisy.clamp(0.0, 1.0), valid


@dataclass
class SaltAndPepper(Augmentation):
    """Set a random fraction of pixels to 0 or 1 (equally likely). Does not renormalise.

    Parameters
    ----------
    fraction_range : (float, float)
        Range of the fraction of corrupted pixels, drawn per image (default (0, 0.05)).

    Drawn parameters: ``fraction`` (B,).
    """

    fraction_range: Range = (0.0, 0.05)

    def __post_init__(self):
        _check_range("fraction_range", self.fraction_range, lowest=0.0, highest=1.0)

    def draw_parameters(self, batch_size, generator, device=None):
        return {"fraction": _uniform(self.fraction_range, batch_size, generator,
                                     device or generator.device)}

    def _transform(self, images, valid, parameters, generator):
        fraction = _per_image(parameters["fraction"], images.dtype)
        corrupted = _pixel_noise(images, generator) < fraction
        salt = _pixel_noise(images, generator) < 0.5
        return torch.where(corrupted, salt.to(images.dtype), images), valid


@dataclass
class GaussianBlur(Augmentation):
    """Gaussian blur with a per-image width σ (finite detector resolution). Renormalises.

    Separable convolution with per-image kernels (grouped conv2d), edges padded by replication.
    The kernel reaches ±ceil(3·σ_max) px.

    Parameters
    ----------
    sigma_range_px : (float, float)
        Range of σ (px), drawn per image (default (0, 5)); σ = 0 leaves the image unchanged
        (before renormalisation).

    Drawn parameters: ``sigma_px`` (B,).
    """

    sigma_range_px: Range = (0.0, 5.0)

    def __post_init__(self):
        _check_range("sigma_range_px", self.sigma_range_px, lowest=0.0)

    def draw_parameters(self, batch_size, generator, device=None):
        return {"sigma_px": _uniform(self.sigma_range_px, batch_size, generator,
                                     device or generator.device)}

    def _transform(self, images, valid, parameters, generator):
        batch_size = images.shape[0]
        sigma = parameters["sigma_px"].to(images.dtype).clamp_min(1e-3)  # σ→0: a delta kernel
        radius = max(1, math.ceil(3.0 * self.sigma_range_px[1]))
        offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
        kernels = torch.exp(-0.5 * (offsets[None, :] / sigma[:, None]) ** 2)
        kernels = kernels / kernels.sum(dim=1, keepdim=True)  # (B, 2r+1)
        # The batch becomes the channel axis, so each image gets its own kernel (groups=B).
        padded = F.pad(images[None], (radius, radius, radius, radius), mode="replicate")
        blurred = F.conv2d(padded, kernels[:, None, :, None], groups=batch_size)
        blurred = F.conv2d(blurred, kernels[:, None, None, :], groups=batch_size)
        return _rescale(blurred[0], valid), valid


@dataclass
class JitterDistortion(Augmentation):
    """Small smooth random displacement field (elastic-like), bilinear. Does not renormalise.

    Displacements are drawn uniform in [−1, 1] on a coarse ``control_points`` × ``control_points``
    grid, interpolated bicubically to the image and scaled by the per-image amplitude, so no pixel
    moves much more than the amplitude. Content moved in from outside the detector is 0 and not
    valid.

    Parameters
    ----------
    amplitude_range_px : (float, float)
        Range of the displacement amplitude (px), per image (default (0, 1.5)).
    control_points : int
        Control points per side of the coarse displacement grid (default 8); fewer is smoother.

    Drawn parameters: ``amplitude_px`` (B,).
    """

    amplitude_range_px: Range = (0.0, 1.5)
    control_points: int = 8

    def __post_init__(self):
        _check_range("amplitude_range_px", self.amplitude_range_px, lowest=0.0)
        if self.control_points < 2:
            raise ValueError(f"control_points must be >= 2, got {self.control_points}")

    def draw_parameters(self, batch_size, generator, device=None):
        return {"amplitude_px": _uniform(self.amplitude_range_px, batch_size, generator,
                                         device or generator.device)}

    def _transform(self, images, valid, parameters, generator):
        batch_size, height, width = images.shape
        coarse = _uniform((-1.0, 1.0), (batch_size, 2, self.control_points, self.control_points),
                          generator, images.device).to(images.dtype)
        field_px = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
        field_px = field_px * parameters["amplitude_px"].to(images.dtype)[:, None, None, None]
        return _warp(images, valid, field_px[:, 0], field_px[:, 1])


@dataclass
class CenterCrop(Augmentation):
    """Finite detector: keep a centred square or disc, zero (and invalid) outside.

    Kept pixels: ``max(|i − N/2|, |j − N/2|) ≤ h`` (square) or
    ``(i − N/2)² + (j − N/2)² ≤ h²`` (disc). Does not renormalise.

    Parameters
    ----------
    half_width_range_px : (float, float)
        Range of the half-width h (px), per image (default (32, 64); for N = 128, h = 32 keeps
        scattering angles up to ≈ 30°, h = 64 the whole square).
    shapes : tuple of str
        Shapes drawn from, equally likely: "square" and/or "disc" (default both).

    Drawn parameters: ``half_width_px`` (B,), ``is_disc`` (B,) bool.
    """

    half_width_range_px: Range = (32.0, 64.0)
    shapes: tuple[str, ...] = ("square", "disc")

    def __post_init__(self):
        _check_range("half_width_range_px", self.half_width_range_px, lowest=0.0)
        if not self.shapes or not set(self.shapes) <= {"square", "disc"}:
            raise ValueError(f"shapes must be a non-empty subset of ('square', 'disc'), "
                             f"got {self.shapes!r}")

    def draw_parameters(self, batch_size, generator, device=None):
        device = device or generator.device
        half_width = _uniform(self.half_width_range_px, batch_size, generator, device)
        choice = _integers((0, len(self.shapes) - 1), batch_size, generator, device)
        is_disc = torch.tensor([shape == "disc" for shape in self.shapes], device=device)[choice]
        return {"half_width_px": half_width, "is_disc": is_disc}

    def _transform(self, images, valid, parameters, generator):
        _, height, width = images.shape
        rows, cols = _offsets_from_center(height, width, images.device, images.dtype)
        half_width = _per_image(parameters["half_width_px"], images.dtype)
        in_square = torch.maximum(rows.abs(), cols.abs()) <= half_width
        in_disc = rows**2 + cols**2 <= half_width**2
        kept = torch.where(parameters["is_disc"][:, None, None], in_disc, in_square)
        return images, valid & kept


@dataclass
class CentralHole(Augmentation):
    """Beam dump / central hole: zero (and invalidate) a disc around the zero-angle pixel.

    Removed pixels: ``(i − N/2)² + (j − N/2)² ≤ r²``. Does not renormalise.

    Parameters
    ----------
    radius_range_px : (float, float)
        Range of the hole radius r (px), per image (default (2, 12)).

    Drawn parameters: ``radius_px`` (B,).
    """

    radius_range_px: Range = (2.0, 12.0)

    def __post_init__(self):
        _check_range("radius_range_px", self.radius_range_px, lowest=0.0)

    def draw_parameters(self, batch_size, generator, device=None):
        return {"radius_px": _uniform(self.radius_range_px, batch_size, generator,
                                      device or generator.device)}

    def _transform(self, images, valid, parameters, generator):
        _, height, width = images.shape
        rows, cols = _offsets_from_center(height, width, images.device, images.dtype)
        radius = _per_image(parameters["radius_px"], images.dtype)
        return images, valid & (rows**2 + cols**2 > radius**2)


@dataclass
class Shift(Augmentation):
    """Beam pointing: translate the pattern, bilinear, zero fill. Does not renormalise.

    ``out[i, j] = in[i − Δrow, j − Δcol]``: positive shifts move the pattern towards larger row /
    column indices (larger k_y / k_x). The zero-filled border is not valid.

    Parameters
    ----------
    max_shift_px : float
        Δrow and Δcol are drawn independently, uniform in [−max, max] (px) (default 3).
    integer : bool
        Round the shifts to whole pixels (default False: subpixel shifts).

    Drawn parameters: ``row_shift_px``, ``col_shift_px`` (B,).
    """

    max_shift_px: float = 3.0
    integer: bool = False

    def __post_init__(self):
        if self.max_shift_px < 0:
            raise ValueError(f"max_shift_px must be >= 0, got {self.max_shift_px}")

    def draw_parameters(self, batch_size, generator, device=None):
        device = device or generator.device
        bounds = (-self.max_shift_px, self.max_shift_px)
        shifts = _uniform(bounds, (batch_size, 2), generator, device)
        if self.integer:
            shifts = shifts.round()
        return {"row_shift_px": shifts[:, 0], "col_shift_px": shifts[:, 1]}

    def _transform(self, images, valid, parameters, generator):
        return _warp(images, valid, _per_image(parameters["row_shift_px"], images.dtype),
                     _per_image(parameters["col_shift_px"], images.dtype))


@dataclass
class UnevenSensitivity(Augmentation):
    """Multiply a few random rectangles (detector tiles of lower gain) by factors < 1.

    The log-scaled image is multiplied by the factor inside each rectangle (overlaps multiply),
    then renormalised.

    Parameters
    ----------
    count_range : (int, int)
        Number of rectangles per image, inclusive (default (1, 3)).
    size_range_px : (float, float)
        Range of each rectangle's height and width (px), drawn independently (default (12, 64)).
    factor_range : (float, float)
        Range of the gain factor of each rectangle (default (0.5, 1.0)).

    Drawn parameters (n = count_range[1]): ``top``, ``left``, ``height_px``, ``width_px``,
    ``factor`` (B, n); ``active`` (B, n) bool, True for the first ``count`` rectangles.
    """

    count_range: tuple[int, int] = (1, 3)
    size_range_px: Range = (12.0, 64.0)
    factor_range: Range = (0.5, 1.0)

    def __post_init__(self):
        _check_range("count_range", self.count_range, lowest=0)
        _check_range("size_range_px", self.size_range_px, lowest=0.0)
        _check_range("factor_range", self.factor_range, lowest=0.0)

    def draw_parameters(self, batch_size, generator, device=None):
        device = device or generator.device
        slots = (batch_size, int(self.count_range[1]))
        count = _integers(self.count_range, batch_size, generator, device)
        sizes = _uniform(self.size_range_px, slots + (2,), generator, device).round()
        # Top-left corners as fractions of the image, scaled once the image size is known.
        corners = _uniform((0.0, 1.0), slots + (2,), generator, device)
        factor = _uniform(self.factor_range, slots, generator, device)
        active = torch.arange(slots[1], device=device)[None, :] < count[:, None]
        return {"corner_fraction": corners, "height_px": sizes[..., 0], "width_px": sizes[..., 1],
                "factor": factor, "active": active}

    def _transform(self, images, valid, parameters, generator):
        _, height, width = images.shape
        corners = parameters["corner_fraction"]
        top = (corners[..., 0] * (height - parameters["height_px"]).clamp_min(0)).floor()
        left = (corners[..., 1] * (width - parameters["width_px"]).clamp_min(0)).floor()
        log_factor = torch.where(parameters["active"],
                                 parameters["factor"].clamp_min(1e-12).log(), 0.0)
        log_gain = _rectangle_cover(top, parameters["height_px"], left, parameters["width_px"],
                                    log_factor, height, width, images.dtype)
        return _rescale(images * torch.exp(log_gain), valid), valid


@dataclass
class PoissonNoise(Augmentation):
    """Photon (shot) noise at a random flux. Renormalises.

    Where the true intensity is known (``log_range`` given: the image's min and max of
    log(F + floor) before its scaling), counts are drawn from it, as a detector records them:
    ``F = exp(lo + u·(hi − lo)) − floor`` for the image u ∈ [0, 1], expected counts
    ``λ = n · F / F_max + b`` with n photons in the brightest pixel (drawn from
    ``true_max_count_range``) and a background of b photons per pixel. Dark fringes then get
    (almost) no photon, as they do at a detector.

    Otherwise the log-scaled image is read as log-intensity over a dynamic range of D decades
    (a guess): ``λ = n_max · exp((u − u_max)·D·ln 10)``, n_max photons in the brightest pixel.

    Counts ~ Poisson(λ) are re-logged as ``log(counts + 1)`` and rescaled to [0, 1].

    Parameters
    ----------
    decades_range : (float, float)
        Without ``log_range``: range of the dynamic range D (decades) the image is taken to span
        (default (2, 6)).
    max_count_range : (float, float)
        Without ``log_range``: range of n_max (photons in the brightest pixel), drawn
        log-uniformly (default (10, 1e4)).
    true_max_count_range : (float, float)
        With ``log_range``: range of n (photons in the brightest pixel, which is the forward
        peak, usually hidden later by the beam stop; the brightest pixel outside a beam stop
        holds 1–2 decades less), drawn log-uniformly (default (3e2, 3e6)).
    background_range : (float, float)
        With ``log_range``: range of the background b (photons per pixel), drawn uniformly
        (default (0, 0.02)).
    intensity_floor : float
        The floor of the SPEC log, log(F + floor) (default 100, docs/conventions.md).

    Drawn parameters: ``decades`` (B,), ``max_count`` (B,), ``true_max_count`` (B,),
    ``background`` (B,).
    """

    decades_range: Range = (2.0, 6.0)
    max_count_range: Range = (10.0, 1e4)
    true_max_count_range: Range = (3e2, 3e6)
    background_range: Range = (0.0, 0.02)
    intensity_floor: float = 100.0

    def __post_init__(self):
        _check_range("decades_range", self.decades_range, lowest=0.0)
        _check_range("background_range", self.background_range, lowest=0.0)
        for name in ("max_count_range", "true_max_count_range"):
            _check_range(name, getattr(self, name))
            if getattr(self, name)[0] <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not self.intensity_floor > 0:
            raise ValueError(f"intensity_floor must be positive, got {self.intensity_floor}")

    def draw_parameters(self, batch_size, generator, device=None):
        device = device or generator.device
        return {"decades": _uniform(self.decades_range, batch_size, generator, device),
                "max_count": _log_uniform(self.max_count_range, batch_size, generator, device),
                "true_max_count": _log_uniform(self.true_max_count_range, batch_size, generator,
                                               device),
                "background": _uniform(self.background_range, batch_size, generator, device)}

    def _transform(self, images, valid, parameters, generator):
        # Rates are computed and sampled on the generator's device, so that one generator gives
        # the same counts for CPU and CUDA images.
        sample_device = generator.device
        valid_here = valid.to(sample_device)
        if "log_range" in parameters:
            rates = self._true_rates(images.to(sample_device, torch.float64), valid_here,
                                     parameters["log_range"].to(sample_device),
                                     parameters["true_max_count"].to(sample_device),
                                     parameters["background"].to(sample_device))
        else:
            rates = self._guessed_rates(images.to(sample_device, torch.float32), valid_here,
                                        parameters["decades"].to(sample_device),
                                        parameters["max_count"].to(sample_device))
        counts = torch.poisson(rates.to(torch.float32), generator=generator)
        relogged = torch.log1p(counts).to(device=images.device, dtype=images.dtype)
        return _rescale(relogged, valid), valid

    def _true_rates(self, log_images, valid, log_range, max_count, background):
        """λ (B, H, W) from the true intensity: n photons at the brightest valid pixel, plus
        the background."""
        low, high = log_range[:, 0, None, None], log_range[:, 1, None, None]
        intensity = (torch.exp(low + log_images * (high - low)) - self.intensity_floor
                     ).clamp_min(0.0)
        brightest = torch.where(valid, intensity, 0.0).amax(dim=(-2, -1), keepdim=True)
        return (max_count.to(torch.float64)[:, None, None] * intensity
                / brightest.clamp_min(torch.finfo(torch.float64).tiny)
                + background.to(torch.float64)[:, None, None])

    @staticmethod
    def _guessed_rates(log_images, valid, decades, max_count):
        """λ (B, H, W) from the log image read as ``decades`` of dynamic range."""
        brightest = _image_maximum(log_images, valid)
        log_attenuation = (log_images - brightest) * (decades * math.log(10.0))[:, None, None]
        return max_count[:, None, None] * torch.exp(log_attenuation)


@dataclass
class Saturation(Augmentation):
    """Detector saturation: clip the top of the image at a level s, then renormalise.

    ``u → min(u, s)``, rescaled to [0, 1] over the valid pixels.

    Parameters
    ----------
    level_range : (float, float)
        Range of the clip level s (fraction of the [0, 1] scale), per image (default (0.6, 1.0)).

    Drawn parameters: ``level`` (B,).
    """

    level_range: Range = (0.6, 1.0)

    def __post_init__(self):
        _check_range("level_range", self.level_range, lowest=0.0, highest=1.0)

    def draw_parameters(self, batch_size, generator, device=None):
        return {"level": _uniform(self.level_range, batch_size, generator,
                                  device or generator.device)}

    def _transform(self, images, valid, parameters, generator):
        clipped = torch.minimum(images, _per_image(parameters["level"], images.dtype))
        return _rescale(clipped, valid), valid


@dataclass
class LogFloor(Augmentation):
    """Limited dynamic range: raise the floor to t, ``u → max(u, t) − t``, then renormalise.

    Parameters
    ----------
    threshold_range : (float, float)
        Range of the floor t (fraction of the [0, 1] scale), per image (default (0, 0.4)).

    Drawn parameters: ``threshold`` (B,).
    """

    threshold_range: Range = (0.0, 0.4)

    def __post_init__(self):
        _check_range("threshold_range", self.threshold_range, lowest=0.0, highest=1.0)

    def draw_parameters(self, batch_size, generator, device=None):
        return {"threshold": _uniform(self.threshold_range, batch_size, generator,
                                      device or generator.device)}

    def _transform(self, images, valid, parameters, generator):
        threshold = _per_image(parameters["threshold"], images.dtype)
        return _rescale(torch.maximum(images, threshold) - threshold, valid), valid


@dataclass
class BlindSpots(Augmentation):
    """Dead pixels and small dead clusters: random squares set to 0 (and invalid).

    Does not renormalise.

    Parameters
    ----------
    count_range : (int, int)
        Number of dead clusters per image, inclusive (default (1, 20)).
    size_range_px : (int, int)
        Side of each square cluster (px), inclusive (default (1, 3); 1 = a single dead pixel).

    Drawn parameters (n = count_range[1]): ``corner_fraction`` (B, n, 2) position in [0, 1) of
    the image, ``size_px`` (B, n), ``active`` (B, n) bool.
    """

    count_range: tuple[int, int] = (1, 20)
    size_range_px: tuple[int, int] = (1, 3)

    def __post_init__(self):
        _check_range("count_range", self.count_range, lowest=0)
        _check_range("size_range_px", self.size_range_px, lowest=1)

    def draw_parameters(self, batch_size, generator, device=None):
        device = device or generator.device
        slots = (batch_size, int(self.count_range[1]))
        count = _integers(self.count_range, batch_size, generator, device)
        corners = _uniform((0.0, 1.0), slots + (2,), generator, device)
        size = _integers(self.size_range_px, slots, generator, device)
        active = torch.arange(slots[1], device=device)[None, :] < count[:, None]
        return {"corner_fraction": corners, "size_px": size, "active": active}

    def _transform(self, images, valid, parameters, generator):
        _, height, width = images.shape
        corners, size = parameters["corner_fraction"], parameters["size_px"]
        top = (corners[..., 0] * height).floor()
        left = (corners[..., 1] * width).floor()
        cover = _rectangle_cover(top, size, left, size, parameters["active"].to(images.dtype),
                                 height, width, images.dtype)
        return images, valid & (cover < 0.5)


@dataclass
class ReadoutGaps(Augmentation):
    """Gaps between detector panels (pnCCD, CSPAD): full-length zero bars, invalid.

    Each bar is horizontal or vertical (equally likely), ``width`` px wide, centred at
    ``N/2 + offset``. Does not renormalise.

    Parameters
    ----------
    count_range : (int, int)
        Number of bars per image, inclusive (default (1, 2)).
    width_range_px : (int, int)
        Bar width (px), inclusive (default (1, 6)).
    max_offset_px : float
        The bar centre is drawn uniform within ±max_offset_px of the central row / column
        (default 32), so gaps often pass near the centre, as between two detector halves.

    Drawn parameters (n = count_range[1]): ``offset_px``, ``width_px``, ``is_vertical``,
    ``active`` (B, n).
    """

    count_range: tuple[int, int] = (1, 2)
    width_range_px: tuple[int, int] = (1, 6)
    max_offset_px: float = 32.0

    def __post_init__(self):
        _check_range("count_range", self.count_range, lowest=0)
        _check_range("width_range_px", self.width_range_px, lowest=0)
        if self.max_offset_px < 0:
            raise ValueError(f"max_offset_px must be >= 0, got {self.max_offset_px}")

    def draw_parameters(self, batch_size, generator, device=None):
        device = device or generator.device
        slots = (batch_size, int(self.count_range[1]))
        count = _integers(self.count_range, batch_size, generator, device)
        offset = _uniform((-self.max_offset_px, self.max_offset_px), slots, generator, device)
        width = _integers(self.width_range_px, slots, generator, device)
        is_vertical = _integers((0, 1), slots, generator, device).bool()
        active = torch.arange(slots[1], device=device)[None, :] < count[:, None]
        return {"offset_px": offset, "width_px": width, "is_vertical": is_vertical,
                "active": active}

    def _transform(self, images, valid, parameters, generator):
        _, height, width = images.shape
        offset = parameters["offset_px"].to(images.dtype)
        bar_width = parameters["width_px"].to(images.dtype)
        vertical, active = parameters["is_vertical"], parameters["active"]

        def covered(length: int, bars: torch.Tensor) -> torch.Tensor:
            # (B, n) bars → (B, length): lines inside any selected bar.
            start = (length / 2 + offset - bar_width / 2).round()[..., None]
            lines = torch.arange(length, device=images.device, dtype=images.dtype)
            inside = (lines >= start) & (lines < start + bar_width[..., None]) & bars[..., None]
            return inside.any(dim=1)

        gap_rows = covered(height, active & ~vertical)
        gap_cols = covered(width, active & vertical)
        gaps = gap_rows[:, :, None] | gap_cols[:, None, :]
        return images, valid & ~gaps


# --------------------------------------------------------------------------------------------
# Combinations
# --------------------------------------------------------------------------------------------


def _apply_to_selected(augmentation: Augmentation, images: torch.Tensor, valid: torch.Tensor,
                       selected: torch.Tensor, generator: torch.Generator,
                       log_range: torch.Tensor | None) -> None:
    """Apply ``augmentation`` to the images where ``selected`` (B,) is True, writing into
    ``images`` and ``valid`` (callers pass their own copies)."""
    index = selected.nonzero().squeeze(1)
    if index.numel() == 0:
        return
    images[index], valid[index] = augmentation.apply_with_mask(
        images[index], generator, valid[index], log_range=_rows(log_range, index))


@dataclass
class Compose(Augmentation):
    """Apply filters one after another, in the given order, to every image.

    Parameters
    ----------
    augmentations : sequence of Augmentation
        The chain, first applied first. Renormalises only where its filters do.
    """

    augmentations: Sequence[Augmentation] = ()

    def __post_init__(self):
        self.augmentations = tuple(self.augmentations)

    def apply_with_mask(self, images, generator, valid=None, parameters=None, log_range=None):
        _check_images(images, generator)
        if valid is None:
            valid = torch.ones(images.shape, dtype=torch.bool, device=images.device)
        for augmentation in self.augmentations:
            images, valid = augmentation.apply_with_mask(images, generator, valid,
                                                         log_range=log_range)
        return images, valid


def _default_filters() -> tuple[Augmentation, ...]:
    """Every single defect filter with its default ranges (for the random combinations)."""
    return (UniformNoise(), SaltAndPepper(), GaussianBlur(), JitterDistortion(), CenterCrop(),
            CentralHole(), Shift(), UnevenSensitivity(), PoissonNoise(), Saturation(),
            BlindSpots(), ReadoutGaps(), LogFloor())


@dataclass
class RandomChoice(Augmentation):
    """Apply exactly one filter per image, chosen at random (per image).

    Parameters
    ----------
    augmentations : sequence of Augmentation
        The candidates (default: :class:`Identity` and every single defect filter).
    weights : sequence of float, optional
        Relative probability of each candidate (default: equal).
    """

    augmentations: Sequence[Augmentation] = field(
        default_factory=lambda: (Identity(),) + _default_filters())
    weights: Sequence[float] | None = None

    def __post_init__(self):
        self.augmentations = tuple(self.augmentations)
        if not self.augmentations:
            raise ValueError("RandomChoice needs at least one augmentation")
        if self.weights is not None and (len(self.weights) != len(self.augmentations)
                                         or min(self.weights) < 0 or sum(self.weights) <= 0):
            raise ValueError("weights must be non-negative, one per augmentation, not all zero")

    def apply_with_mask(self, images, generator, valid=None, parameters=None, log_range=None):
        _check_images(images, generator)
        images = images.clone()
        valid = (torch.ones(images.shape, dtype=torch.bool, device=images.device)
                 if valid is None else valid.clone())
        weights = torch.as_tensor(self.weights if self.weights is not None
                                  else [1.0] * len(self.augmentations),
                                  dtype=torch.float32, device=generator.device)
        choice = torch.multinomial(weights, images.shape[0], replacement=True,
                                   generator=generator).to(images.device)
        for position, augmentation in enumerate(self.augmentations):
            _apply_to_selected(augmentation, images, valid, choice == position, generator,
                               log_range)
        return images, valid


@dataclass
class RandomCombination(Augmentation):
    """Apply a random subset of filters in a random order, drawn per image.

    Each filter is applied to each image with probability ``probability``; the order of the
    applied filters is a random permutation per image.

    Parameters
    ----------
    augmentations : sequence of Augmentation
        The candidates (default: every single defect filter with its default ranges).
    probability : float
        Probability that a filter is applied to an image (default 0.3, ≈ 4 of the 13 defaults).
    """

    augmentations: Sequence[Augmentation] = field(default_factory=_default_filters)
    probability: float = 0.3

    def __post_init__(self):
        self.augmentations = tuple(self.augmentations)
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must lie in [0, 1], got {self.probability}")

    def apply_with_mask(self, images, generator, valid=None, parameters=None, log_range=None):
        _check_images(images, generator)
        images = images.clone()
        valid = (torch.ones(images.shape, dtype=torch.bool, device=images.device)
                 if valid is None else valid.clone())
        batch_size, count = images.shape[0], len(self.augmentations)
        order = _uniform((0.0, 1.0), (batch_size, count), generator, images.device).argsort(dim=1)
        applied = (_uniform((0.0, 1.0), (batch_size, count), generator, images.device)
                   < self.probability)
        # Step by step, each image runs the filter at its current place in its own order.
        for step in range(count):
            step_filter = order[:, step]
            step_applied = applied.gather(1, step_filter[:, None])[:, 0]
            for position, augmentation in enumerate(self.augmentations):
                _apply_to_selected(augmentation, images, valid,
                                   step_applied & (step_filter == position), generator,
                                   log_range)
        return images, valid


@dataclass
class ExperimentLike(Augmentation):
    """A fixed chain approximating a real experiment, each stage with random parameters.

    Order: beam pointing (shift) → detector blur → uneven sensitivity → photon noise → limited
    dynamic range (log floor) → saturation → readout gaps → dead pixels → central hole → finite
    detector (crop) → final rescale over the valid pixels. Renormalises. Every stage is a field,
    so one can be swapped: ``ExperimentLike(blur=GaussianBlur((0.0, 1.0)))``.
    """

    shift: Augmentation = field(default_factory=lambda: Shift(max_shift_px=2.0))
    blur: Augmentation = field(default_factory=lambda: GaussianBlur(sigma_range_px=(0.0, 2.0)))
    sensitivity: Augmentation = field(
        default_factory=lambda: UnevenSensitivity(count_range=(0, 2), factor_range=(0.7, 1.0)))
    # At 10 photons in the brightest pixel little survives the hole and crop; real wide-angle
    # shots record hundreds to thousands.
    photon_noise: Augmentation = field(
        default_factory=lambda: PoissonNoise(max_count_range=(1e2, 1e4)))
    log_floor: Augmentation = field(
        default_factory=lambda: LogFloor(threshold_range=(0.0, 0.2)))
    saturation: Augmentation = field(default_factory=lambda: Saturation(level_range=(0.8, 1.0)))
    readout_gaps: Augmentation = field(
        default_factory=lambda: ReadoutGaps(count_range=(0, 2), width_range_px=(1, 4)))
    blind_spots: Augmentation = field(
        default_factory=lambda: BlindSpots(count_range=(0, 10), size_range_px=(1, 2)))
    central_hole: Augmentation = field(default_factory=CentralHole)
    center_crop: Augmentation = field(default_factory=CenterCrop)

    def stages(self) -> tuple[Augmentation, ...]:
        """The chain in the order it is applied (the final rescale included)."""
        return (self.shift, self.blur, self.sensitivity, self.photon_noise, self.log_floor,
                self.saturation, self.readout_gaps, self.blind_spots, self.central_hole,
                self.center_crop, Rescale())

    def apply_with_mask(self, images, generator, valid=None, parameters=None, log_range=None):
        return Compose(self.stages()).apply_with_mask(images, generator, valid,
                                                      log_range=log_range)


def experiment_or_clean(clean_fraction: float = 0.5) -> RandomChoice:
    """Per image, either leave it clean or run :class:`ExperimentLike` on it.

    A network trained only on the experiment chain never sees a whole, noise-free pattern and
    reads clean ones less well; this mixture trains for both.

    Parameters
    ----------
    clean_fraction : float
        Probability that an image stays clean (default 0.5), in [0, 1].
    """
    if not 0.0 <= clean_fraction <= 1.0:
        raise ValueError(f"clean_fraction must lie in [0, 1], got {clean_fraction}")
    return RandomChoice((Identity(), ExperimentLike()),
                        weights=(clean_fraction, 1.0 - clean_fraction))


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

#: Augmentations by name, each a callable (keyword arguments → filter) with default ranges.
#: The names are :data:`wideshot.choices.AUGMENTATION_NAMES` (the command line offers them
#: without torch; a test keeps the two equal).
AUGMENTATIONS: dict[str, Callable[..., Augmentation]] = {
    "identity": Identity,
    "noise": UniformNoise,
    "salt-and-pepper": SaltAndPepper,
    "blur": GaussianBlur,
    "jitter": JitterDistortion,
    "crop": CenterCrop,
    "hole": CentralHole,
    "shift": Shift,
    "sensitivity": UnevenSensitivity,
    "poisson": PoissonNoise,
    "saturation": Saturation,
    "blind-spots": BlindSpots,
    "gaps": ReadoutGaps,
    "log-floor": LogFloor,
    "choice": RandomChoice,
    "combination": RandomCombination,
    "experiment": ExperimentLike,
    "experiment-or-clean": experiment_or_clean,
}


def make_augmentation(name: str, **options) -> Augmentation:
    """Build an augmentation by its registry name (see :data:`AUGMENTATIONS`).

    Parameters
    ----------
    name : str
        Registry name, e.g. "blur" or "experiment"; case and "_" versus "-" do not matter.
    **options
        Constructor arguments of the filter, e.g. ``sigma_range_px=(0.0, 2.0)`` for "blur".

    Returns
    -------
    Augmentation

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; valid names: "
                         f"{', '.join(sorted(AUGMENTATIONS))}")
    return AUGMENTATIONS[key](**options)
