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
from wideshot.models.metrics import error_table
from wideshot.evaluation.report import FIGURE_FILES, REPORTED_MEASURES, evaluate
from wideshot.geometry import canonical
from wideshot.models import create_model
from wideshot.models.inference import predict
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
    for name in FIGURE_FILES:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE, name
    with open(out / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["row"]) for row in rows] == list(range(24))

    # The summary agrees with the paper's measures computed here from predict().
    model, _ = load_run(run_dir)
    images, true_quaternion, true_radius_nm = read_file(test_file)
    quaternion, radius_nm = predict(model, images)
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
    quaternion, radius_nm = predict(tiny_model, images, batch_size=2)
    assert quaternion.shape == (5, 4) and radius_nm.shape == (5,)
    np.testing.assert_allclose(np.linalg.norm(quaternion, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(canonical(quaternion), quaternion, atol=1e-12)
    whole_quaternion, whole_radius_nm = predict(tiny_model, images.numpy(), "cpu", 256)
    np.testing.assert_allclose(whole_quaternion, quaternion, atol=1e-5)
    np.testing.assert_allclose(whole_radius_nm, radius_nm, atol=1e-4)
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
