"""Residual networks that regress (quaternion, radius) targets from one diffraction image.

The structure follows torchvision's ``models/resnet.py``: a :class:`BasicBlock`, one
``_make_layer`` that stacks blocks into a stage, and named builders. The paper's network
(Stielow et al. 2020) is :func:`paper_resnet34`: a 7×7 stride-2 convolution with 64 filters,
a 2×2 max-pool, residual stages of 3, 4, 6 and 4 basic blocks at 64, 128, 256 and 512 filters
(each later stage starts with a stride-2 block whose shortcut is a 1×1 projection), tanh
activations, no normalisation, global average pooling and a fully connected layer to the five
network targets of :mod:`wideshot.models.targets`.

Shapes: images ``(B, 1, 128, 128)`` float32 (log-intensity scaled to [0, 1], docs/conventions.md
"Image"), outputs ``(B, 5)``. Any image size of at least 32 pixels works (the pooling is global);
the models run unchanged on CUDA and in ``channels_last`` memory format.

Examples
--------
>>> import torch
>>> model = compact_resnet().eval()
>>> model(torch.rand(2, 1, 128, 128)).shape
torch.Size([2, 5])
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from wideshot.models.layout import TargetLayout, layout_for

#: Activation functions by name (``activation=`` of the builders).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": lambda: nn.ReLU(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
}

#: Normalisation layers by name (``normalization=`` of the builders); "none" is the paper's.
NORMALIZATIONS = ("none", "batch", "group")

#: Groups of a GroupNorm layer (fewer where a layer has fewer channels).
GROUP_NORM_GROUPS = 32


def _norm_layer(normalization: str, channels: int) -> nn.Module:
    """Normalisation layer after a convolution with ``channels`` output channels."""
    if normalization == "batch":
        return nn.BatchNorm2d(channels)
    if normalization == "group":
        return nn.GroupNorm(math.gcd(GROUP_NORM_GROUPS, channels), channels)
    return nn.Identity()


def _check_choice(name: str, value: str, choices) -> None:
    """Raise ValueError naming the valid choices unless ``value`` is one of them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {sorted(choices)}")


class BasicBlock(nn.Module):
    """Two 3×3 convolutions and an identity (or 1×1 projection) shortcut.

    ``out = act(norm(conv(act(norm(conv(x))))) + shortcut(x))``, as in He et al. 2016.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and output feature maps.
    stride : int
        Stride of the first convolution (2 halves the feature map).
    activation : str
        A key of :data:`ACTIVATIONS`.
    normalization : str
        One of :data:`NORMALIZATIONS`. Without normalisation the convolutions carry biases.

    Notes
    -----
    The shortcut is a 1×1 convolution (and normalisation) whenever the stride or the number of
    channels changes, the identity otherwise. Input ``(B, in_channels, H, W)``, output
    ``(B, out_channels, H / stride, W / stride)``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 activation: str = "tanh", normalization: str = "none"):
        super().__init__()
        bias = normalization == "none"
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=bias)
        self.norm1 = _norm_layer(normalization, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=bias)
        self.norm2 = _norm_layer(normalization, out_channels)
        self.activation = ACTIVATIONS[activation]()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=bias),
                _norm_layer(normalization, out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.activation(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem, residual stages of :class:`BasicBlock`, global average pool, linear head.

    Parameters
    ----------
    depth : sequence of int
        Blocks per stage; stage ``s`` has ``width · 2**s`` filters and (for s > 0) stride 2.
    width : int
        Filters of the stem and of the first stage.
    activation : str
        A key of :data:`ACTIVATIONS`.
    normalization : str
        One of :data:`NORMALIZATIONS`.
    shapes : sequence of str, optional
        Shape families the network knows (:class:`~wideshot.models.layout.TargetLayout`):
        class logits and a block of targets per family. Default: the icosahedron alone, five
        targets ``(w, x, y, z, R)`` scaled, as in the paper.
    in_channels : int
        Image channels (1).

    Attributes
    ----------
    target_layout : TargetLayout
        What the outputs hold.

    Notes
    -----
    Input ``(B, in_channels, H, W)`` float32, output ``(B, target_layout.num_outputs)``, no
    final activation.
    The stem reduces H and W by 4 (stride-2 convolution, 2×2 max-pool), each later stage by 2:
    a 128×128 image reaches the last stage of the paper's network as 4×4 feature maps.
    """

    def __init__(self, depth: Sequence[int] = (3, 4, 6, 4), width: int = 64,
                 activation: str = "tanh", normalization: str = "none",
                 shapes: Sequence[str] | None = None, in_channels: int = 1):
        super().__init__()
        _check_choice("activation", activation, ACTIVATIONS)
        _check_choice("normalization", normalization, NORMALIZATIONS)
        if not depth or min(depth) < 1:
            raise ValueError(f"depth needs at least one stage of at least one block, got {depth}")
        self.activation_name = activation
        self.normalization = normalization
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3,
                               bias=normalization == "none")
        self.norm1 = _norm_layer(normalization, width)
        self.activation = ACTIVATIONS[activation]()
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        self._channels = width
        self.stages = nn.Sequential(*(
            self._make_layer(width * 2**stage, blocks, stride=1 if stage == 0 else 2)
            for stage, blocks in enumerate(depth)
        ))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.target_layout: TargetLayout = layout_for(shapes)
        self.fc = nn.Linear(self._channels, self.target_layout.num_outputs)
        self._init_weights()

    def _make_layer(self, channels: int, blocks: int, stride: int) -> nn.Sequential:
        """One stage: a block with the given stride, then ``blocks − 1`` blocks of stride 1."""
        layers = []
        for index in range(blocks):
            layers.append(BasicBlock(self._channels, channels, stride if index == 0 else 1,
                                     self.activation_name, self.normalization))
            self._channels = channels
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        # He initialisation as in torchvision, with the gain of the activation actually used.
        gain_of = "tanh" if self.activation_name == "tanh" else "relu"
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity=gain_of)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Network outputs of a batch of images.

        Parameters
        ----------
        images : torch.Tensor, shape (B, 1, H, W)
            Log-intensity images scaled to [0, 1], float32.

        Returns
        -------
        torch.Tensor, shape (B, T)
            Logits and scaled targets; decode with ``self.target_layout.decode``.
        """
        x = self.maxpool(self.activation(self.norm1(self.conv1(images))))
        x = self.stages(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def paper_resnet34(**overrides) -> ResNet:
    """The network of Stielow et al. 2020: stages (3, 4, 6, 4) × (64, 128, 256, 512), tanh,
    no normalisation.

    Parameters
    ----------
    **overrides
        Any :class:`ResNet` argument (``width``, ``depth``, ``activation``, ``normalization``,
        ``shapes``).

    Returns
    -------
    ResNet
        About 26 M parameters: torchvision's resnet34 has 3 blocks in its last stage, the
        paper 4.
    """
    return ResNet(**{"depth": (3, 4, 6, 4), "width": 64, "activation": "tanh",
                     "normalization": "none", **overrides})


def compact_resnet(**overrides) -> ResNet:
    """A small network for CPU users: stages (2, 2, 2, 2) × (32, 64, 128, 256), batch norm, ReLU.

    Parameters
    ----------
    **overrides
        Any :class:`ResNet` argument (``width``, ``depth``, ``activation``, ``normalization``,
        ``shapes``).

    Returns
    -------
    ResNet
        About 2.8 M parameters and 0.14 G multiply-adds per 128×128 image (the paper network:
        26 M and 1.25 G).
    """
    return ResNet(**{"depth": (2, 2, 2, 2), "width": 32, "activation": "relu",
                     "normalization": "batch", **overrides})
