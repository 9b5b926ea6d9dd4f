"""Tests of wideshot.training and `wideshot train`: run folder, learning, resume, DDP, errors."""
from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wideshot.cli import main
from wideshot.data.generate import GenerationPlan, generate_dataset
from wideshot.models import labels_to_targets
from wideshot.training import (
    METRIC_COLUMNS,
    TrainingConfig,
    load_run,
    make_scheduler,
    open_datasets,
    read_config,
    train,
)

#: A network small enough to train in a fraction of a second per epoch on a CPU.
TINY = {"width": 8, "depth": [1, 1, 1, 1]}

#: Columns that measure time, not the result.
TIMING_COLUMNS = ("train_images_per_s", "epoch_time_s")


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    """40 images, 8 of them marked validation."""
    path = tmp_path_factory.mktemp("training-data") / "train.h5"
    plan = GenerationPlan(n_samples=40, seed=3, shard_size=40, validation_fraction=0.2)
    return generate_dataset(path, plan, workers=1, progress=False)


def tiny_config(data_file: Path, **options) -> TrainingConfig:
    values = {"train": data_file, "model_options": TINY, "epochs": 2, "batch_size": 8,
              "limit": 16, "augment": "experiment", **options}
    return TrainingConfig(**values)


def weights(state: dict) -> dict:
    return {name: tensor.clone() for name, tensor in state.items()}


def without_timing(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if key not in TIMING_COLUMNS}
            for row in history]


def test_run_folder_holds_config_checkpoints_and_metrics(data_file, tmp_path):
    config = tiny_config(data_file)
    history = train(config, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert {"config.json", "best.pt", "last.pt", "metrics.csv", "metrics.json"} <= {
        path.name for path in run.iterdir()}
    assert read_config(run) == config

    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == METRIC_COLUMNS
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert json.loads((run / "metrics.json").read_text()) == history
    for row in history:
        assert all(math.isfinite(row[column]) for column in METRIC_COLUMNS)
        assert 0 < row["val_median_mean_error_percent"] < 100
        assert 0 <= row["val_median_misorientation_deg"] <= 180

    last = torch.load(run / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and last["world_size"] == 1
    assert {"model", "optimizer", "scheduler", "rng", "history"} <= set(last)
    best = torch.load(run / "best.pt", weights_only=True)
    best_row = min(history, key=lambda row: row["val_median_mean_error_percent"])
    assert best["epoch"] == best_row["epoch"] and best["metrics"] == best_row

    model, loaded_config = load_run(run, which="last")
    assert loaded_config == config and not model.training
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, last["model"][name], rtol=0, atol=0)


def test_training_loss_falls_well_below_that_of_the_best_constant(data_file, tmp_path):
    # Overfit 16 clean images: the loss must fall far below the variance of the targets, the
    # loss of the best prediction that ignores the image.
    config = tiny_config(data_file, epochs=10, augment="none", lr=3e-3)
    history = train(config, tmp_path / "run", progress=False)
    train_set, _ = open_datasets(config)
    labels = [train_set[index][1] for index in range(len(train_set))]
    targets = labels_to_targets(torch.stack([label["quaternion"] for label in labels]),
                                torch.stack([label["radius_nm"] for label in labels]))
    constant_loss = float(targets.var(0, unbiased=False).mean())
    losses = [row["train_loss"] for row in history]
    assert losses[-1] < 0.3 * constant_loss < losses[0]


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(data_file, tmp_path, schedule):
    config = tiny_config(data_file, schedule=schedule)
    straight = train(config, tmp_path / "straight", progress=False)
    first = train(config, tmp_path / "resumed", stop_after=1, progress=False)
    assert len(first) == 1
    resumed = train(config, tmp_path / "resumed", resume=True, progress=False)
    assert without_timing(resumed) == without_timing(straight)
    one = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    two = torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)
    for name, tensor in one["model"].items():
        assert torch.equal(tensor, two["model"][name]), name
    assert one["scheduler"] == two["scheduler"]
    for state_one, state_two in zip(one["optimizer"]["state"].values(),
                                    two["optimizer"]["state"].values()):
        assert all(torch.equal(state_one[key], state_two[key]) for key in state_one)


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_schedules_rise_then_fall(schedule):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=1e-3)
    scheduler = make_scheduler(optimizer, schedule, total_steps=100)
    rates = []
    for _ in range(100):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    peak = rates.index(max(rates))
    assert 0 < peak < 50 and max(rates) <= 1e-3 * (1 + 1e-9)
    assert rates[-1] < 1e-5


def test_validation_set_defaults_to_the_split_of_the_training_file(data_file, tmp_path):
    train_set, val_set = open_datasets(TrainingConfig(train=data_file))
    assert (len(train_set), len(val_set)) == (32, 8)
    train_set, val_set = open_datasets(TrainingConfig(train=data_file, val=data_file, limit=20))
    assert (len(train_set), len(val_set)) == (20, 20)
    no_split = generate_dataset(tmp_path / "plain.h5", GenerationPlan(n_samples=2, seed=1),
                                workers=1, progress=False)
    with pytest.raises(ValueError, match="no validation part"):
        open_datasets(TrainingConfig(train=no_split))


@pytest.mark.parametrize("options, message", [
    ({"model": "resnet9000"}, "unknown model"),
    ({"model_options": {"wdth": 8}}, "invalid model options"),
    ({"augment": "fog"}, "unknown augmentation"),
    ({"loss": "l1"}, "unknown loss"),
    ({"schedule": "step"}, "unknown schedule"),
    ({"epochs": 0}, "epochs"),
    ({"lr": float("nan")}, "lr"),
])
def test_invalid_configurations_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(train="train.h5", **options)


def test_run_folder_is_neither_overwritten_nor_resumed_with_other_options(data_file, tmp_path):
    config = tiny_config(data_file, epochs=1)
    train(config, tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="already holds a training run"):
        train(config, tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="lr: 0.01 given"):
        train(tiny_config(data_file, epochs=1, lr=0.01), tmp_path / "run", resume=True,
              progress=False)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(config, tmp_path / "elsewhere", resume=True, progress=False)


@pytest.mark.parametrize("arguments, message", [
    (["--train", "missing.h5"], "no such data set file"),
    (["--train", "{data}", "--model", "resnet9000"], "unknown model"),
    (["--train", "{data}", "--model-option", "width=eight"], "invalid model options"),
    (["--resume"], "not a training run folder"),
    ([], "give the training set with --train"),
])
def test_command_line_errors_are_one_line_messages(data_file, tmp_path, capsys, arguments,
                                                   message):
    arguments = [argument.format(data=data_file) for argument in arguments]
    assert main(["train", "--out", str(tmp_path / "run"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_command_line_trains_and_resumes(data_file, tmp_path, capsys):
    run = tmp_path / "run"
    common = ["train", "--out", str(run), "--quiet"]
    assert main([*common, "--train", str(data_file), "--epochs", "2", "--batch-size", "8",
                 "--limit", "8", "--model-option", "width=8", "--model-option",
                 "depth=[1,1,1,1]", "--augment", "none", "--stop-after", "1"]) == 0
    assert len(json.loads((run / "metrics.json").read_text())) == 1
    assert main([*common, "--resume", "--epochs", "2"]) == 0
    assert len(json.loads((run / "metrics.json").read_text())) == 2
    assert read_config(run).model_options == TINY


def test_torchrun_trains_with_two_processes(data_file, tmp_path):
    script = Path(sys.executable).with_name("wideshot")
    if not script.exists():
        pytest.skip(f"no wideshot console script beside {sys.executable}")
    run = tmp_path / "ddp"
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(script), "train", "--train", str(data_file), "--out", str(run), "--epochs", "2",
         "--batch-size", "4", "--limit", "16", "--model-option", "width=8",
         "--model-option", "depth=[1,1,1,1]", "--device", "cpu", "--quiet"],
        capture_output=True, text=True, timeout=120, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    history = json.loads((run / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["world_size"] == 2 and last["epoch"] == 2
    # Both processes took 16 / 2 images per epoch: 2 steps of 4 each, 4 steps in all.
    assert last["scheduler"]["last_epoch"] == 4


def test_a_warm_start_from_the_shipped_default_takes_its_base_network_uncalibrated(data_file):
    from wideshot.models import load_shipped_model
    from wideshot.training.loop import _initial_weights, build_model

    shipped, card = load_shipped_model("default")
    base = shipped.base.state_dict()
    config = tiny_config(data_file, model_options={"width": 16, "shapes": list(
        shipped.target_layout.shapes)}, init_from="default")
    started = _initial_weights(config, build_model(config))
    assert set(started) == set(base)
    logits = shipped.target_layout.num_logits
    temperature = card["calibration"]["temperature"]
    for name, tensor in base.items():  # the same layout: every row is copied
        expected = tensor.clone()
        if name in ("fc.weight", "fc.bias"):  # the logit rows without the folded temperature
            expected[:logits] *= temperature
        torch.testing.assert_close(started[name], expected)
