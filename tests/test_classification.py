"""Networks that name the shape family: target layout, loss, warm starts, experts, prediction,
reconstruction of candidate families."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import wideshot
from wideshot.geometry import SHAPE_NAMES, shape_family
from wideshot.models import create_model
from wideshot.models.inference import fold_batch_norm, layout_of, predict
from wideshot.models.layout import TargetLayout
from wideshot.reconstruction.api import candidate_families

TINY = {"width": 4, "depth": [1, 1, 1, 1]}


def _labels(n: int, seed: int = 0):
    """Random labels of every family, canonical under each family's group."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % len(SHAPE_NAMES)
    quaternion, parameter = np.zeros((n, 4)), np.full(n, np.nan)
    for row, code in enumerate(codes):
        family = shape_family(SHAPE_NAMES[code])
        quaternion[row] = family.group.uniform(1, rng)[0]
        if family.has_parameter:
            parameter[row] = rng.uniform(*family.parameter_range)
    radius_nm = rng.uniform(30, 160, n)
    return (torch.as_tensor(codes), torch.as_tensor(quaternion), torch.as_tensor(radius_nm),
            torch.as_tensor(parameter))


def test_the_icosahedron_layout_is_the_papers_five_targets():
    layout = TargetLayout()
    assert not layout.classifies and layout.num_outputs == 5
    codes, quaternion, radius_nm, parameter = _labels(10)
    ico = codes == SHAPE_NAMES.index("icosahedron")
    family, targets, mask = layout.encode(codes[ico], quaternion[ico], radius_nm[ico],
                                          parameter[ico])
    np.testing.assert_allclose(targets, wideshot.models.labels_to_targets(quaternion[ico],
                                                                          radius_nm[ico]))
    assert mask.all() and (family == 0).all()
    outputs = torch.rand(6, 5)
    assert torch.allclose(layout.loss(outputs, family[:1].repeat(6), targets[:1].repeat(6, 1),
                                      mask[:1].repeat(6, 1), 0.1),
                          torch.nn.functional.mse_loss(outputs, targets[:1].repeat(6, 1)))


def test_every_family_round_trips_through_its_block():
    layout = TargetLayout(SHAPE_NAMES)
    assert layout.num_outputs == 5 + 5 + 6 + 6 + 6 + 1
    codes, quaternion, radius_nm, parameter = _labels(25)
    family, targets, mask = layout.encode(codes, quaternion, radius_nm, parameter)
    assert (family.numpy() == codes.numpy()).all()  # the layout lists the families in order
    # Only the true family's block is regressed.
    for row, code in enumerate(codes.numpy()):
        block = layout.block(SHAPE_NAMES[code])
        assert mask[row].nonzero()[:, 0].tolist() == list(range(block.start, block.stop))
    # Logits that name the true family, then the targets: the labels come back.
    outputs = targets.clone().numpy()
    outputs[np.arange(25), codes.numpy()] = 10.0
    decoded = layout.decode(outputs)
    assert (decoded.best() == codes.numpy()).all()
    picked = decoded.pick(decoded.best())
    np.testing.assert_allclose(picked["radius_nm"], radius_nm, atol=1e-9)
    np.testing.assert_allclose(picked["shape_parameter"], parameter, atol=1e-9)
    for row, code in enumerate(codes.numpy()):
        name = SHAPE_NAMES[code]
        if shape_family(name).has_orientation:
            angle = wideshot.geometry.misorientation_deg(picked["quaternion"][row],
                                                         quaternion[row].numpy(), shape=name)
            assert angle < 1e-5
    np.testing.assert_allclose(decoded.probability.sum(1), 1.0)


def test_decoded_parameters_stay_in_range_and_unknown_families_are_named():
    layout = TargetLayout(("decahedron", "sphere"))
    outputs = np.zeros((2, layout.num_outputs))
    outputs[:, layout.block("decahedron").stop - 1] = [-3.0, 5.0]
    np.testing.assert_allclose(layout.decode(outputs).shape_parameter[:, 0], [0.4, 1.6])
    with pytest.raises(ValueError, match="not icosahedron"):
        layout.index_of_codes([SHAPE_NAMES.index("icosahedron")])
    with pytest.raises(ValueError, match="distinct"):
        TargetLayout(("sphere", "sphere"))
    with pytest.raises(ValueError, match="unknown shape family"):
        TargetLayout(("cube",))


def test_the_loss_adds_the_weighted_cross_entropy():
    layout = TargetLayout(("icosahedron", "sphere"))
    codes = torch.tensor([SHAPE_NAMES.index("sphere")] * 3)
    family, targets, mask = layout.encode(codes, torch.zeros(3, 4), torch.full((3,), 95.0),
                                          torch.full((3,), float("nan")))
    outputs = torch.zeros(3, layout.num_outputs)
    radius_column = layout.block("sphere").start
    outputs[:, radius_column] = targets[:, radius_column] + 0.1
    expected = 0.01 + 0.5 * float(np.log(2.0))  # squared error + weight · CE of equal logits
    assert float(layout.loss(outputs, family, targets, mask, 0.5)) == pytest.approx(expected)


def test_the_symmetric_loss_forgives_each_familys_own_twins_only():
    layout = TargetLayout(SHAPE_NAMES)
    codes, quaternion, radius_nm, parameter = _labels(25, seed=3)
    family, targets, mask = layout.encode(codes, quaternion, radius_nm, parameter)
    # Labels turned by a non-identity element of their own family's group: the same particles.
    twins, others = quaternion.clone(), quaternion.clone()
    rng = np.random.default_rng(4)
    for row, code in enumerate(codes.numpy()):
        group = shape_family(SHAPE_NAMES[code]).group
        if group.is_finite:
            element = group.elements[rng.integers(1, group.order)]
            twins[row] = torch.as_tensor(wideshot.geometry.quaternion_multiply(
                quaternion[row].numpy(), element))
            others[row] = torch.as_tensor(wideshot.geometry.quaternion_multiply(
                quaternion[row].numpy(), [np.cos(0.1), np.sin(0.1), 0.0, 0.0]))
    hand = targets.clone()  # the twins' targets, written without making them canonical
    for row, code in enumerate(codes.numpy()):
        name = SHAPE_NAMES[code]
        if shape_family(name).has_orientation:
            low = shape_family(name).group.domain.w_min
            start = layout.block(name).start
            hand[row, start:start + 4] = twins[row].clone()
            hand[row, start] = (twins[row, 0] - low) / (1 - low)
    assert float(layout.loss(hand, family, targets, mask, 0.0, symmetric=True)) < 1e-12
    assert float(layout.loss(hand, family, targets, mask, 0.0)) > 1e-2
    # A real rotation by 0.2 rad is not forgiven: 2 − 2 cos(0.1) over each oriented block.
    _, turned, _ = layout.encode(codes, others, radius_nm, parameter)
    loss = float(layout.loss(turned, family, targets, mask, 0.0, symmetric=True))
    blocks = [len(layout.block_targets(SHAPE_NAMES[code])) for code in codes.numpy()
              if shape_family(SHAPE_NAMES[code]).has_orientation]
    expected = sum((2 - 2 * np.cos(0.1)) / size for size in blocks) / len(codes)
    assert loss == pytest.approx(expected, rel=1e-6)


def test_a_warm_start_copies_the_rows_that_mean_the_same():
    source, target = TargetLayout(), TargetLayout(("sphere", "icosahedron"))
    pairs = dict(target.rows_from(source))
    ico = target.block("icosahedron")
    assert [pairs[row] for row in range(ico.start, ico.stop)] == [0, 1, 2, 3, 4]
    assert pairs[target.block("sphere").start] == 4  # a radius from the icosahedron's
    assert 0 not in pairs and 1 not in pairs  # the logits start fresh


def test_an_expert_replaces_its_familys_block():
    base = {"name": "compact-resnet", "options": {**TINY, "shapes": ["sphere", "icosahedron"]}}
    expert = {"name": "compact-resnet", "options": TINY}
    torch.manual_seed(0)
    model = create_model("expert-override", base=base, experts={"icosahedron": expert}).eval()
    images = torch.rand(3, 1, 128, 128)
    with torch.no_grad():
        outputs, alone = model(images), model.base(images)
        from_expert = model.experts["icosahedron"](images)
    block = model.target_layout.block("icosahedron")
    torch.testing.assert_close(outputs[:, block], from_expert)
    torch.testing.assert_close(outputs[:, :block.start], alone[:, :block.start])
    folded = fold_batch_norm(model)
    assert layout_of(folded) == model.target_layout
    torch.testing.assert_close(folded(images), outputs, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="base network knows"):
        create_model("expert-override", base=base, experts={"decahedron": expert})
    # Where the base rules the family out (< 1 %), the expert is not run: its block stays.
    with torch.no_grad():
        model.base.fc.bias[0] += 30.0  # the sphere's logit
        outputs, alone = model(images), model.base(images)
    torch.testing.assert_close(outputs, alone)


def test_views_average_the_family_probabilities():
    torch.manual_seed(1)
    model = create_model("compact-resnet", **TINY, shapes=list(SHAPE_NAMES)).eval()
    images = torch.rand(2, 128, 128)
    one = predict(model, images, views=1)
    eight = predict(model, images, views=8)
    assert eight.probability.shape == (2, 5) and eight.quaternion.shape == (2, 5, 4)
    np.testing.assert_allclose(eight.probability.sum(1), 1.0)
    assert not np.allclose(one.probability, eight.probability)  # the views were looked at
    # An image that the network sees turned by 90° gets the same averaged probabilities.
    turned = predict(model, torch.rot90(images, 1, (-2, -1)), views=4)
    four = predict(model, images, views=4)
    np.testing.assert_allclose(np.sort(turned.probability, 1), np.sort(four.probability, 1),
                               atol=0.02)


def test_candidates_are_the_top_families_above_the_floor():
    probability = np.array([[0.7, 0.25, 0.05, 0.0, 0.0],
                            [0.995, 0.004, 0.001, 0.0, 0.0],
                            [0.1, 0.2, 0.3, 0.4, 0.0]])
    assert candidate_families(probability, 2) == [[0, 1], [0], [3, 2]]
    assert candidate_families(probability, 3) == [[0, 1, 2], [0], [3, 2, 1]]
    assert candidate_families(probability, 1) == [[0], [0], [3]]


def test_refinement_keeps_the_family_that_fits_best():
    """A decahedron pattern, and a network that prefers the icosahedron: the refinement of
    both candidates finds the decahedron explains it better."""
    true_q = shape_family("decahedron").group.uniform(1, np.random.default_rng(3))[0]
    image = wideshot.simulate(70.0, true_q, shape="decahedron", shape_parameter=1.0)

    class Guess(torch.nn.Module):
        target_layout = TargetLayout(("icosahedron", "decahedron"))

        def forward(self, images):
            layout = self.target_layout
            row = torch.zeros(layout.num_outputs)
            row[:2] = torch.tensor([1.0, 0.0])  # icosahedron 73 %, decahedron 27 %
            ico, deca = layout.block("icosahedron"), layout.block("decahedron")
            row[ico] = torch.as_tensor(wideshot.models.labels_to_targets(
                np.array([[1.0, 0, 0, 0]]), np.array([70.0]))[0], dtype=torch.float32)
            row[deca] = torch.as_tensor(np.r_[wideshot.models.labels_to_targets(
                true_q[None], np.array([71.0]), shape="decahedron")[0], 0.5],
                dtype=torch.float32)
            return row.repeat(len(images), 1) + 0 * images.sum()

    result = wideshot.reconstruct(image, model=Guess(), refine=True, views=1, iterations=40,
                                  starts=1)
    assert result["network_shape"] == ["icosahedron"]
    assert set(result["candidate_misfits"][0]) == {"icosahedron", "decahedron"}
    assert result["shape"] == ["decahedron"]
    assert result["shape_probability"][0] == pytest.approx(1 / (1 + np.e))
    assert result["misfit"][0] == min(result["candidate_misfits"][0].values())
    assert abs(result["radius_nm"][0] - 70.0) < 1.0


def test_temperature_scaling_is_folded_into_the_logit_rows():
    from wideshot.training.temperature import (
        averaged_probabilities,
        fit_temperature,
        scale_logits,
        view_logits,
    )

    torch.manual_seed(2)
    model = create_model("compact-resnet", **TINY, shapes=list(SHAPE_NAMES)).eval()
    images = torch.rand(3, 128, 128)
    logits = view_logits(model, images, views=2)
    assert logits.shape == (2, 3, 5)
    scale_logits(model, 2.5)
    np.testing.assert_allclose(predict(model, images, views=2).probability,
                               averaged_probabilities(logits, 2.5), atol=1e-5)
    # Over-confident logits, right in three frames of four: the fit softens them to 75 %.
    confident = np.tile([[6.0, 0.0]], (1, 8, 1))
    temperature = fit_temperature(confident, np.array([0, 1, 0, 0] * 2))
    assert averaged_probabilities(confident, temperature)[0, 0] == pytest.approx(0.75, abs=1e-3)
    with pytest.raises(ValueError, match="positive"):
        scale_logits(model, 0.0)


def test_reconstruction_files_name_the_family_after_the_old_columns(tmp_path):
    """CSV and JSON rows gain shape, shape_probability and shape_parameter after the columns
    of the icosahedron-only version, which keep their names and order."""
    import csv
    import json

    from wideshot.reconstruction.pipeline import COLUMNS, reconstruct_files

    old = ["source", "frame", "dataset", "status", "radius_nm", "w", "x", "y", "z", "misfit",
           "reason"]
    assert list(COLUMNS[:len(old)]) == old
    decahedron_q = shape_family("decahedron").group.uniform(1, np.random.default_rng(5))[0]
    images = wideshot.simulate([80.0, 100.0], np.stack([decahedron_q, [1.0, 0, 0, 0]]),
                               shape=["decahedron", "icosahedron"],
                               shape_parameter=[0.9, float("nan")])
    np.save(tmp_path / "frames.npy", images)
    reconstruct_files([tmp_path / "frames.npy"], tmp_path / "out", panels=1, progress=False)
    with open(tmp_path / "out" / "reconstruction.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS)
    assert [row["shape"] for row in rows] == ["decahedron", "icosahedron"]
    assert 0.4 <= float(rows[0]["shape_parameter"]) <= 1.6 and rows[1]["shape_parameter"] == ""
    assert all(0.5 < float(row["shape_probability"]) <= 1.0 for row in rows)
    frames = json.loads((tmp_path / "out" / "reconstruction.json").read_text())["frames"]
    assert [frame["shape"] for frame in frames] == ["decahedron", "icosahedron"]
    assert frames[1]["shape_parameter"] is None
