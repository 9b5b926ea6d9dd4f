"""Tests of `wideshot evaluate`, wideshot.evaluation.report and models.inference.predict."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from wideshot.cli import main
from wideshot.data.generate import GenerationPlan, augment_file, generate_dataset
from wideshot.evaluation.classification import expected_calibration_error
from wideshot.evaluation.report import (
    CLASSIFICATION_FIGURE_FILES,
    FIGURE_FILES,
    PARAMETER_MEASURE,
    REPORTED_MEASURES,
    evaluate,
)
from wideshot.geometry import SHAPE_NAMES, canonical
from wideshot.models import create_model
from wideshot.models.inference import predict
from wideshot.models.metrics import error_table
from wideshot.training import TrainingConfig, load_run, train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def test_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("evaluate-data") / "test.h5"
    plan = GenerationPlan(n_samples=24, seed=11, shard_size=24)
    return generate_dataset(path, plan, workers=1, progress=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, test_file) -> Path:
    """A tiny network trained for one epoch (the test set doubles as training data)."""
    run = tmp_path_factory.mktemp("evaluate-run") / "run"
    config = TrainingConfig(train=test_file, val=test_file, model_options={
        "width": 8, "depth": [1, 1, 1, 1]}, epochs=1, batch_size=8, limit=8)
    train(config, run, progress=False)
    return run


def read_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with h5py.File(path) as file:
        return file["images"][:], file["quaternion"][:], file["radius_nm"][:]


def test_evaluate_writes_summary_predictions_and_figures(run_dir, test_file, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["evaluate", "--model", str(run_dir), "--data", str(test_file), "--out",
                 str(out), "--quiet"]) == 0
    assert "median mean error" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_images"] == 24 and summary["augmentation"] == "none"
    assert summary["model"]["name"] == "compact-resnet"
    assert summary["data"] == str(test_file.resolve())
    assert set(summary["measures"]) == set(REPORTED_MEASURES)
    for statistics in summary["measures"].values():
        assert statistics["median"] <= statistics["p90"] <= statistics["p99"]
    # A network of the icosahedron alone: one family, judged as before, nothing to classify.
    assert summary["shapes"] == ["icosahedron"] and summary["classification"] is None
    assert summary["families"] == {"icosahedron": {"n": 24, "accuracy": None,
                                                   "measures": summary["measures"]}}
    for name in FIGURE_FILES:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE, name
    assert not any((out / name).exists() for name in CLASSIFICATION_FIGURE_FILES)
    with open(out / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["row"]) for row in rows] == list(range(24))
    assert {row["true_shape"] for row in rows} == {row["predicted_shape"] for row in rows} == {
        "icosahedron"}
    assert {row["shape_probability"] for row in rows} == {"1"}

    # The summary agrees with the paper's measures computed here from predict().
    model, _ = load_run(run_dir)
    images, true_quaternion, true_radius_nm = read_file(test_file)
    labels = predict(model, images)
    quaternion, radius_nm = labels.quaternion[:, 0], labels.radius_nm[:, 0]
    errors = error_table(quaternion, radius_nm, true_quaternion, true_radius_nm)
    assert summary["measures"]["mean_error_percent"]["median"] == pytest.approx(
        100 * np.median(errors["mean"]), rel=1e-5)
    assert summary["measures"]["misorientation_deg"]["p90"] == pytest.approx(
        np.percentile(errors["misorientation_deg"], 90), rel=1e-5)
    np.testing.assert_allclose([float(row["predicted_radius_nm"]) for row in rows], radius_nm,
                               rtol=1e-5)


def predicted_radius_nm(report: Path) -> np.ndarray:
    with open(report / "predictions.csv") as handle:
        return np.array([float(row["predicted_radius_nm"]) for row in csv.DictReader(handle)])


def test_augmented_evaluation_sees_the_images_of_wideshot_augment(run_dir, test_file, tmp_path):
    model, _ = load_run(run_dir)
    online = evaluate(model, test_file, tmp_path / "online", augmentation="blur", seed=5,
                      progress=False)
    assert online["augmentation"] == "blur" and online["augmentation_seed"] == 5
    augmented_file = augment_file(test_file, tmp_path / "blurred.h5", "blur", seed=5,
                                  progress=False)
    evaluate(model, augmented_file, tmp_path / "offline", progress=False)
    evaluate(model, test_file, tmp_path / "clean", progress=False)
    online, offline, clean = (predicted_radius_nm(tmp_path / name)
                              for name in ("online", "offline", "clean"))
    np.testing.assert_allclose(online, offline, rtol=1e-5)
    assert not np.allclose(online, clean, rtol=1e-5)


@pytest.fixture(scope="module")
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("compact-resnet", width=8, depth=(1, 1, 1, 1))


def test_predict_returns_canonical_labels_independent_of_batch_size(tiny_model):
    images = torch.rand(5, 128, 128, generator=torch.Generator().manual_seed(1))
    labels = predict(tiny_model, images, batch_size=2)
    assert labels.shapes == ("icosahedron",)
    np.testing.assert_array_equal(labels.probability, np.ones((5, 1)))
    quaternion, radius_nm = labels.quaternion[:, 0], labels.radius_nm[:, 0]
    assert quaternion.shape == (5, 4) and radius_nm.shape == (5,)
    np.testing.assert_allclose(np.linalg.norm(quaternion, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(canonical(quaternion), quaternion, atol=1e-12)
    whole = predict(tiny_model, images.numpy(), "cpu", 256)
    np.testing.assert_allclose(whole.quaternion[:, 0], quaternion, atol=1e-5)
    np.testing.assert_allclose(whole.radius_nm[:, 0], radius_nm, atol=1e-4)
    assert tiny_model.training  # the caller's mode is left as it was


def bad_images(index: int, value: float) -> np.ndarray:
    """Four random images; image ``index`` all zero (value 0) or with one pixel = value."""
    images = np.random.default_rng(0).random((4, 128, 128), dtype=np.float32)
    if value == 0:
        images[index] = 0.0
    else:
        images[index, 7, 9] = value
    return images


@pytest.mark.parametrize("images, message", [
    (np.random.rand(128, 128), r"\(B, 128, 128\), got \(128, 128\).*images\[None\]"),
    (np.random.rand(2, 64, 64), r"got \(2, 64, 64\)"),
    (np.random.rand(2, 1, 128, 128), r"got \(2, 1, 128, 128\)"),
    (bad_images(3, np.nan), "image 3 holds NaN or infinite"),
    (bad_images(2, np.inf), "image 2 holds NaN or infinite"),
    (bad_images(1, 0.0), "image 1 is all zero"),
    (bad_images(0, 250.0), r"image 0 has values outside \[0, 1\]"),
])
def test_predict_rejects_what_is_not_a_spec_image(tiny_model, images, message):
    with pytest.raises(ValueError, match=message):
        predict(tiny_model, images)


def test_load_run_errors(run_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training run folder"):
        load_run(tmp_path / "nothing")
    with pytest.raises(ValueError, match="which must be one of"):
        load_run(run_dir, which="middle")


@pytest.mark.parametrize("arguments, message", [
    (["--model", "{run}", "--data", "missing.h5"], "no such data set file"),
    (["--model", "no-such-model", "--data", "{data}"], "neither a shipped model"),
    (["--model", "{run}", "--data", "{data}", "--augment", "fog"], "unknown augmentation"),
])
def test_command_line_errors_are_one_line_messages(run_dir, test_file, tmp_path, capsys,
                                                   arguments, message):
    arguments = [argument.format(run=run_dir, data=test_file) for argument in arguments]
    assert main(["evaluate", "--out", str(tmp_path / "out"), "--quiet", *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


# --------------------------------------------------------------------------------------------
# Mixed-shape test sets: a network that names the family
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory) -> Path:
    """Ten images; seed 8 draws every family (2 icosahedra, 2 decahedra, 2 octahedral, 1
    twinned tetrahedron, 3 spheres)."""
    path = tmp_path_factory.mktemp("evaluate-mixed") / "mixed.h5"
    plan = GenerationPlan(n_samples=10, seed=8, shard_size=10, shapes=SHAPE_NAMES)
    return generate_dataset(path, plan, workers=1, progress=False)


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("compact-resnet", width=8, depth=(1, 1, 1, 1),
                        shapes=list(SHAPE_NAMES))


def reject_nan(constant: str):
    raise ValueError(f"summary.json holds {constant}, which is not JSON")


def test_mixed_set_evaluation_reports_families_and_classification(classifier, mixed_file,
                                                                  tmp_path):
    out = tmp_path / "report"
    summary = evaluate(classifier, mixed_file, out, views=2, progress=False)
    assert json.loads((out / "summary.json").read_text(), parse_constant=reject_nan) == summary
    for name in FIGURE_FILES + CLASSIFICATION_FIGURE_FILES:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE, name

    with h5py.File(mixed_file) as file:
        images, codes = file["images"][:], file["shape"][:]
        true_parameter = file["shape_parameter"][:]
    true_shapes = [SHAPE_NAMES[code] for code in codes]
    assert summary["shapes"] == list(SHAPE_NAMES) and set(REPORTED_MEASURES) == set(
        summary["measures"])
    assert list(summary["families"]) == list(SHAPE_NAMES)  # seed 8 draws every family
    for name, family in summary["families"].items():
        assert family["n"] == true_shapes.count(name)
        assert 0.0 <= family["accuracy"] <= 1.0
        measures = family["measures"]
        assert (PARAMETER_MEASURE in measures) == (name in ("decahedron", "octahedral",
                                                            "twinned-tetrahedron"))
        orientation = ("misorientation_deg", "w_error_percent", "x_error_percent")
        if name == "sphere":  # no orientation: null, not NaN
            assert all(measures[measure] is None for measure in orientation)
        else:
            assert all(measures[measure]["median"] >= 0 for measure in orientation)
        assert measures["radius_error_nm"]["median"] <= measures["radius_error_nm"]["p99"]
    # Over all images, the misorientation leaves the spheres out.
    assert summary["measures"]["misorientation_deg"]["median"] >= 0

    # Classification: the same numbers as computed here from predict().
    labels = predict(classifier, images, views=2)
    true_index = np.array([SHAPE_NAMES.index(name) for name in true_shapes])
    predicted = labels.best()
    classification = summary["classification"]
    assert classification["accuracy"] == pytest.approx(np.mean(predicted == true_index))
    matrix = classification["confusion_matrix"]
    assert matrix["shapes"] == list(SHAPE_NAMES)
    counts = np.array(matrix["counts"])
    np.testing.assert_array_equal(counts.sum(1), [true_shapes.count(n) for n in SHAPE_NAMES])
    np.testing.assert_array_equal(counts.sum(0), np.bincount(predicted, minlength=5))
    assert classification["expected_calibration_error"] == pytest.approx(
        expected_calibration_error(labels.probability.max(1), predicted == true_index))
    reliability = classification["reliability"]
    assert len(reliability["edges"]) == 16 and sum(reliability["count"]) == 10
    assert None in reliability["accuracy"]  # empty bins are null

    with open(out / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["true_shape"] for row in rows] == true_shapes
    assert [row["predicted_shape"] for row in rows] == [SHAPE_NAMES[i] for i in predicted]
    np.testing.assert_allclose([float(row["shape_probability"]) for row in rows],
                               labels.probability.max(1), rtol=1e-5)
    np.testing.assert_allclose([float(row["true_shape_parameter"]) for row in rows],
                               true_parameter, rtol=1e-5)  # NaN where the family has none
    answer = labels.pick(true_index)  # the true family's block
    np.testing.assert_allclose([float(row["predicted_shape_parameter"]) for row in rows],
                               answer["shape_parameter"], rtol=1e-5)
    np.testing.assert_allclose([float(row["predicted_radius_nm"]) for row in rows],
                               answer["radius_nm"], rtol=1e-5)


def test_evaluate_refuses_families_the_network_does_not_know(tiny_model, mixed_file,
                                                             tmp_path):
    with pytest.raises(ValueError, match="which the network does not know"):
        evaluate(tiny_model, mixed_file, tmp_path / "report", progress=False)


def test_command_prints_family_accuracy_calibration_and_a_line_per_family(mixed_file,
                                                                          tmp_path, capsys):
    run = tmp_path / "run"
    config = TrainingConfig(train=mixed_file, val=mixed_file, model_options={
        "width": 8, "depth": [1, 1, 1, 1], "shapes": list(SHAPE_NAMES)}, epochs=1,
        batch_size=8, limit=8)
    train(config, run, progress=False)
    capsys.readouterr()
    assert main(["evaluate", "--model", str(run), "--data", str(mixed_file), "--views", "1",
                 "--out", str(tmp_path / "report"), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("10 images: median mean error")
    assert lines[1].startswith("family accuracy ") and "expected calibration error" in lines[1]
    table = {line.split()[0]: line for line in lines[3:8]}
    assert list(table) == list(SHAPE_NAMES)
    # sphere, images, accuracy, %, misorientation, radius error, nm, parameter error
    sphere = table["sphere"].split()
    assert sphere[:2] == ["sphere", "3"] and sphere[4] == "-" and sphere[-1] == "-"
    assert table["decahedron"].split()[-1] == "%"  # it has a parameter error
