"""Tests of wideshot.models: network structure, label ↔ target mapping, losses."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from wideshot.geometry import (
    FUNDAMENTAL_DOMAIN,
    ICOSAHEDRAL_GROUP,
    canonical,
    quaternion_multiply,
    uniform_fundamental_domain,
)
from wideshot.models import (
    LOSSES,
    MODELS,
    BasicBlock,
    create_model,
    labels_to_targets,
    make_loss,
    mse_loss,
    symmetric_loss,
    targets_to_labels,
)

W_MIN = FUNDAMENTAL_DOMAIN.w_min


@pytest.fixture(scope="module")
def paper_model() -> nn.Module:
    torch.manual_seed(0)
    return create_model("paper-resnet34").eval()


def hand_targets(quaternion: torch.Tensor, radius_nm: torch.Tensor) -> torch.Tensor:
    """Targets computed by hand from the paper's recipe, *without* canonicalising."""
    w = (quaternion[:, 0] - W_MIN) / (1.0 - W_MIN)
    return torch.stack([w, *quaternion[:, 1:].unbind(1), (radius_nm - 30.0) / 130.0], 1)


# --- networks -------------------------------------------------------------------------------

def test_paper_resnet34_structure(paper_model):
    convs = [m for m in paper_model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 + 2 * 17 + 3  # stem, 17 basic blocks, 3 projection shortcuts
    stem = convs[0]
    assert (stem.in_channels, stem.out_channels) == (1, 64)
    assert stem.kernel_size == (7, 7) and stem.stride == (2, 2)
    pool = paper_model.maxpool
    assert isinstance(pool, nn.MaxPool2d) and pool.kernel_size == 2 and pool.stride == 2

    stages = list(paper_model.stages)
    assert [len(stage) for stage in stages] == [3, 4, 6, 4]
    assert all(isinstance(block, BasicBlock) for stage in stages for block in stage)
    for stage, width in zip(stages, (64, 128, 256, 512)):
        assert all(block.conv1.out_channels == block.conv2.out_channels == width for block in stage)
    assert stages[0][0].conv1.stride == (1, 1) and isinstance(stages[0][0].shortcut, nn.Identity)
    for stage in stages[1:]:
        first = stage[0]
        assert first.conv1.stride == (2, 2)
        projection = first.shortcut[0]
        assert projection.kernel_size == (1, 1) and projection.stride == (2, 2)
        assert all(block.conv1.stride == (1, 1) and isinstance(block.shortcut, nn.Identity)
                   for block in stage[1:])

    assert isinstance(paper_model.avgpool, nn.AdaptiveAvgPool2d)
    assert (paper_model.fc.in_features, paper_model.fc.out_features) == (512, 5)
    # The paper: tanh everywhere, no normalisation layers.
    assert any(isinstance(m, nn.Tanh) for m in paper_model.modules())
    assert not any(isinstance(m, (nn.ReLU, nn.SiLU, nn.BatchNorm2d, nn.GroupNorm))
                   for m in paper_model.modules())
    n_params = sum(p.numel() for p in paper_model.parameters())
    assert 25.9e6 < n_params < 26.1e6  # resnet34 convolutions with one more 512-filter block


def test_paper_resnet34_forward(paper_model):
    images = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        out = paper_model(images)
        out_channels_last = paper_model.to(memory_format=torch.channels_last)(
            images.to(memory_format=torch.channels_last))
        paper_model.to(memory_format=torch.contiguous_format)
    assert out.shape == (2, 5) and out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(out_channels_last, out, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("activation", ["relu", "silu"])
def test_compact_model_trains_a_step_on_cpu(activation):
    torch.manual_seed(0)
    model = create_model("compact-resnet", activation=activation)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    images, targets = torch.rand(4, 1, 128, 128), torch.rand(4, 5)
    loss = mse_loss(model(images), targets)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.eval()(images[:1]).shape == (1, 5)
    assert sum(p.numel() for p in model.parameters()) < 3e6


def test_options_change_the_architecture():
    model = create_model("paper-resnet34", width=8, depth=(1, 2), normalization="group",
                         activation="silu")
    assert [len(stage) for stage in model.stages] == [1, 2]
    assert model.stages[1][0].conv1.out_channels == 16
    assert any(isinstance(m, nn.GroupNorm) for m in model.modules())
    assert model(torch.rand(3, 1, 128, 128)).shape == (3, 5)


def test_unknown_names_are_rejected_with_the_valid_ones():
    with pytest.raises(ValueError, match="paper-resnet34"):
        create_model("resnet-9000")
    with pytest.raises(ValueError, match="tanh"):
        create_model("compact-resnet", activation="gelu")
    with pytest.raises(ValueError, match="batch"):
        create_model("compact-resnet", normalization="layer")
    with pytest.raises(ValueError, match="symmetric"):
        make_loss("l1")
    assert set(MODELS) == {"paper-resnet34", "compact-resnet", "expert-override"}
    assert set(LOSSES) == {"mse", "symmetric"}


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device available")
def test_models_and_losses_run_on_cuda():
    torch.manual_seed(0)
    model = create_model("compact-resnet").cuda().to(memory_format=torch.channels_last)
    images = torch.rand(4, 1, 128, 128, device="cuda").to(memory_format=torch.channels_last)
    quaternion = uniform_fundamental_domain(4, torch.Generator("cuda").manual_seed(0))
    targets = labels_to_targets(quaternion, torch.full((4,), 90.0, device="cuda"))
    loss = symmetric_loss(model(images), targets)
    loss.backward()
    assert loss.device.type == "cuda" and torch.isfinite(loss)


# --- targets --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_targets_round_trip_and_ranges(kind):
    rng = np.random.default_rng(1)
    quaternion = uniform_fundamental_domain(2000, rng)
    radius_nm = rng.uniform(30.0, 160.0, 2000)
    quaternion = np.concatenate([quaternion, [[1.0, 0, 0, 0]]])
    radius_nm = np.concatenate([radius_nm, [160.0]])
    if kind == "torch":
        quaternion, radius_nm = torch.from_numpy(quaternion), torch.from_numpy(radius_nm)
    targets = labels_to_targets(quaternion, radius_nm)
    assert type(targets) is type(quaternion) and targets.shape == (2001, 5)
    targets = np.asarray(targets)
    assert targets[:, [0, 4]].min() >= 0.0 and targets[:, [0, 4]].max() <= 1.0 + 1e-12
    np.testing.assert_allclose(targets[-1], [1.0, 0.0, 0.0, 0.0, 1.0], atol=1e-12)
    for column, (low, high) in zip((1, 2, 3), (FUNDAMENTAL_DOMAIN.x_range,
                                               FUNDAMENTAL_DOMAIN.y_range,
                                               FUNDAMENTAL_DOMAIN.z_range)):
        assert low - 1e-12 <= targets[:, column].min() and targets[:, column].max() <= high + 1e-12
    np.testing.assert_allclose(targets[:, 4], (np.asarray(radius_nm) - 30.0) / 130.0)

    decoded_q, decoded_r = targets_to_labels(labels_to_targets(quaternion, radius_nm))
    np.testing.assert_allclose(np.asarray(decoded_q), np.asarray(quaternion), atol=1e-12)
    np.testing.assert_allclose(np.asarray(decoded_r), np.asarray(radius_nm), atol=1e-9)


def test_targets_of_a_symmetric_twin_are_the_canonical_ones():
    quaternion = uniform_fundamental_domain(50, np.random.default_rng(2))
    twins = -quaternion_multiply(quaternion, ICOSAHEDRAL_GROUP[np.arange(50) % 60])
    radius_nm = np.full(50, 77.0)
    np.testing.assert_allclose(labels_to_targets(twins, radius_nm),
                               labels_to_targets(quaternion, radius_nm), atol=1e-12)


def test_decoding_is_robust_to_outputs_outside_the_domain():
    outputs = torch.tensor([[1.3, 0.5, -0.45, 0.1, 1.05],  # w and x beyond their ranges
                            [-0.2, 0.0, 0.0, 0.0, -0.1],
                            [0.0, 0.0, 0.0, 0.0, 0.0]])
    quaternion, radius_nm = targets_to_labels(outputs)
    torch.testing.assert_close(quaternion.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(canonical(quaternion), quaternion)
    assert (quaternion[:, 0] >= W_MIN - 1e-6).all()
    torch.testing.assert_close(radius_nm, torch.tensor([166.5, 17.0, 30.0]))


# --- losses ---------------------------------------------------------------------------------

def test_symmetric_loss_ignores_which_twin_is_predicted_or_labelled():
    generator = torch.Generator().manual_seed(3)
    true_q = uniform_fundamental_domain(16, generator).double()
    radius_nm = 30.0 + 130.0 * torch.rand(16, generator=generator, dtype=torch.float64)
    targets = labels_to_targets(true_q, radius_nm)
    outputs = targets + 0.02 * torch.randn(16, 5, generator=generator, dtype=torch.float64)
    group = torch.from_numpy(ICOSAHEDRAL_GROUP.copy())
    g = group[torch.arange(1, 17)]  # 16 non-identity elements

    for twin in (quaternion_multiply(true_q, g), -true_q, -quaternion_multiply(true_q, g)):
        twin_targets = hand_targets(twin, radius_nm)
        torch.testing.assert_close(symmetric_loss(outputs, twin_targets),
                                   symmetric_loss(outputs, targets))
    twin_targets = hand_targets(quaternion_multiply(true_q, g), radius_nm)
    assert mse_loss(outputs, twin_targets) > 10 * mse_loss(outputs, targets)

    # A prediction of the exact twin costs nothing under the symmetric loss, a lot under MSE.
    assert symmetric_loss(twin_targets, targets) < 1e-12
    assert mse_loss(twin_targets, targets) > 1e-2


def test_symmetric_loss_matches_mse_near_the_label():
    generator = torch.Generator().manual_seed(4)
    targets = labels_to_targets(uniform_fundamental_domain(256, generator).double(),
                                torch.full((256,), 100.0, dtype=torch.float64))
    # Perturb x, y, z and R only: the predicted quaternion then differs from the label by a
    # small rotation, and its chordal distance approaches the squared component difference.
    noise = 1e-3 * torch.randn(256, 5, generator=generator, dtype=torch.float64)
    noise[:, 0] = 0.0
    outputs = targets + noise
    ratio = symmetric_loss(outputs, targets) / mse_loss(outputs, targets)
    assert 0.7 < ratio < 1.01


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradients_are_finite(name):
    torch.manual_seed(5)
    targets = labels_to_targets(uniform_fundamental_domain(8, torch.Generator().manual_seed(5)),
                                torch.rand(8) * 130.0 + 30.0)
    outputs = torch.randn(8, 5, requires_grad=True)
    loss = make_loss(name)(outputs, targets)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert torch.isfinite(outputs.grad).all() and outputs.grad.abs().sum() > 0


def test_memory_format_avoids_channels_last_for_very_narrow_networks_on_the_cpu():
    from wideshot.models.inference import memory_format

    cpu = torch.device("cpu")
    assert memory_format(create_model("compact-resnet", width=16), cpu) == torch.channels_last
    narrow = create_model("compact-resnet", width=4, depth=(1, 1, 1, 1))
    assert memory_format(narrow, cpu) == torch.contiguous_format
    assert memory_format(narrow, torch.device("cuda")) == torch.channels_last


def test_folding_batch_norm_keeps_the_outputs_and_leaves_the_model_alone():
    from wideshot.models.inference import fold_batch_norm

    torch.manual_seed(0)
    model = create_model("compact-resnet", width=8, depth=(1, 1, 1, 1))
    # Non-trivial running statistics and affine parameters, as after training.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    images = torch.rand(4, 1, 128, 128)
    folded = fold_batch_norm(model)
    assert model.training  # the caller's network keeps its mode and its layers
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert not folded.training
    with torch.inference_mode():
        torch.testing.assert_close(folded(images), model.eval()(images), atol=1e-5, rtol=1e-5)
