"""Tests of shipped models (wideshot.models.shipped, wideshot.training.export_run),
wideshot.reconstruct and `wideshot evaluate --model NAME`.

Every export goes into a temporary folder; nothing is written into the package.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

import wideshot
from wideshot.cli import main
from wideshot.data.generate import GenerationPlan, generate_dataset
from wideshot.geometry import canonical
from wideshot.models import create_model, shipped
from wideshot.models.inference import predict_targets
from wideshot.models.shipped import available_models, load_shipped_model, save_shipped_model
from wideshot.training import TrainingConfig, export_run, load_run, train

QUATERNION = [0.923, 0.103, 0.205, 0.308]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("shipped-data") / "tiny.h5"
    return generate_dataset(path, GenerationPlan(n_samples=4, seed=5, shard_size=4), workers=1,
                            progress=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_file) -> Path:
    """A tiny network trained for one epoch on four images (which also validate it)."""
    run = tmp_path_factory.mktemp("shipped-run") / "tiny-run"
    config = TrainingConfig(train=data_file, val=data_file, model_options={
        "width": 4, "depth": [1, 1, 1, 1]}, epochs=1, batch_size=4, augment="none")
    train(config, run, progress=False)
    return run


@pytest.fixture()
def weights_dir(tmp_path, run_dir) -> Path:
    """A weights folder holding the tiny run exported as "tiny"."""
    export_run(run_dir, name="tiny", weights_dir=tmp_path / "weights",
               extra_card={"test": {"tiny": {"n_images": 4}},
                           "training": {"hardware": {"accelerator": "test"}}})
    return tmp_path / "weights"


@pytest.fixture()
def images() -> np.ndarray:
    return wideshot.simulate([45.0, 120.0], [[1.0, 0.0, 0.0, 0.0], QUATERNION])


def test_exported_model_predicts_exactly_as_the_run(run_dir, weights_dir, images):
    assert available_models(weights_dir) == ["tiny"]
    assert {path.name for path in weights_dir.iterdir()} == {"tiny.safetensors", "tiny.json"}
    shipped_model, card = load_shipped_model("tiny", weights_dir=weights_dir)
    run_model, config = load_run(run_dir)
    np.testing.assert_array_equal(predict_targets(shipped_model, images),
                                  predict_targets(run_model, images))

    assert card["architecture"] == {"name": "compact-resnet",
                                    "options": {"width": 4, "depth": [1, 1, 1, 1]}}
    assert card["weights"]["bytes"] == (weights_dir / "tiny.safetensors").stat().st_size
    assert card["data"]["train"]["n_images"] == 4
    assert card["data"]["train"]["generation"]["seed"] == 5
    assert card["training"]["epochs_done"] == 1 and card["training"]["time_s"] > 0
    # extra_card is merged key by key: the hardware entry is corrected, the rest is kept.
    assert card["training"]["hardware"]["accelerator"] == "test"
    assert "processor" in card["training"]["hardware"]
    assert card["validation"]["epoch"] == 1
    assert card["validation"]["median_mean_error_percent"] > 0
    assert card["test"] == {"tiny": {"n_images": 4}}
    assert card["source"] == {"run": str(run_dir.resolve()), "checkpoint": "best"}


def test_recipe_command_gives_back_the_run_configuration(run_dir, weights_dir, monkeypatch):
    _, card = load_shipped_model("tiny", weights_dir=weights_dir)
    command = card["recipe"]["command"]
    assert command.startswith("wideshot train --train ")
    given = {}
    monkeypatch.setattr("wideshot.training.train",
                        lambda config, out, **options: given.update(config=config))
    assert main(shlex.split(command)[1:]) == 0
    assert given["config"] == load_run(run_dir)[1]


def test_missing_files_are_named(weights_dir):
    (weights_dir / "tiny.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"tiny\.json does not exist"):
        load_shipped_model("tiny", weights_dir=weights_dir)
    assert available_models(weights_dir) == []
    (weights_dir / "tiny.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"tiny\.safetensors does not exist"):
        load_shipped_model("tiny", weights_dir=weights_dir)
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        load_shipped_model("nothing", weights_dir=weights_dir / "absent")


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def drop_checksum(card_path: Path) -> None:
    card = json.loads(card_path.read_text())
    del card["weights"]["sha256"]
    card_path.write_text(json.dumps(card))


def widen(card_path: Path) -> None:
    card = json.loads(card_path.read_text())
    card["architecture"]["options"]["width"] = 8
    card_path.write_text(json.dumps(card))


@pytest.mark.parametrize("damage, message", [
    (lambda folder: truncate(folder / "tiny.safetensors"),
     r"tiny\.safetensors does not match its card"),
    (lambda folder: (truncate(folder / "tiny.safetensors"), drop_checksum(folder / "tiny.json")),
     r"tiny\.safetensors is not a readable safetensors file"),
    (lambda folder: (folder / "tiny.json").write_text('{"architecture": '),
     r"tiny\.json is not valid JSON"),
    (lambda folder: (folder / "tiny.json").write_text('{"weights": {}}'),
     r"tiny\.json has no valid 'architecture'"),
    (lambda folder: widen(folder / "tiny.json"),
     r"tiny\.safetensors: the weights do not fit the architecture"),
])
def test_corrupt_files_are_named(weights_dir, damage, message):
    damage(weights_dir)
    with pytest.raises(ValueError, match=message):
        load_shipped_model("tiny", weights_dir=weights_dir)


def test_loaded_models_are_cached_until_the_files_change(run_dir, weights_dir):
    first, card = load_shipped_model("tiny", weights_dir=weights_dir)
    second, _ = load_shipped_model("tiny", "cpu", weights_dir=weights_dir)
    assert first is second
    card["architecture"] = None  # the caller's copy; the cached card is untouched
    assert load_shipped_model("tiny", weights_dir=weights_dir)[1]["architecture"] is not None
    export_run(run_dir, name="tiny", weights_dir=weights_dir, extra_card={"note": "again"})
    third, card = load_shipped_model("tiny", weights_dir=weights_dir)
    assert third is not first and card["note"] == "again"


def test_save_refuses_bad_names_and_oversized_weights(tmp_path, monkeypatch):
    model = create_model("compact-resnet", width=4, depth=(1, 1, 1, 1))
    card = {"architecture": {"name": "compact-resnet",
                             "options": {"width": 4, "depth": [1, 1, 1, 1]}}}
    with pytest.raises(ValueError, match="shipped model name"):
        save_shipped_model(model, card, name="../escape", weights_dir=tmp_path)
    with pytest.raises(ValueError, match="do not fit the architecture"):
        save_shipped_model(model, {"architecture": {"name": "compact-resnet"}}, "tiny",
                           tmp_path)
    monkeypatch.setattr(shipped, "MAX_WEIGHTS_BYTES", 1000)
    with pytest.raises(ValueError, match=r"MiB, more than the"):
        save_shipped_model(model, card, name="tiny", weights_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_reconstruct_one_image_with_each_kind_of_model(run_dir, weights_dir, images,
                                                       monkeypatch):
    monkeypatch.setattr(shipped, "SHIPPED_DIR", weights_dir)
    network, _ = load_run(run_dir)
    results = [wideshot.reconstruct(images[1], model=model)
               for model in ("tiny", run_dir, str(run_dir), network)]
    for result in results:
        assert result["radius_nm"].shape == (1,) and result["quaternion"].shape == (1, 4)
        assert result["misfit"].shape == (1,) and 0 <= result["misfit"][0] <= 1
        np.testing.assert_allclose(canonical(result["quaternion"]), result["quaternion"],
                                   atol=1e-12)
        # A loaded network has its batch norms folded; a given one runs as it is (rounding).
        np.testing.assert_allclose(result["quaternion"], results[0]["quaternion"], atol=1e-5)
        np.testing.assert_allclose(result["radius_nm"], results[0]["radius_nm"], rtol=1e-5)
    for result in results[1:3]:
        np.testing.assert_array_equal(result["quaternion"], results[0]["quaternion"])
    assert [result["model"] for result in results] == [
        "tiny", str(run_dir.resolve()), str(run_dir.resolve()), "ResNet"]
    batch = wideshot.reconstruct(torch.from_numpy(images), model="tiny", batch_size=1)
    assert batch["radius_nm"].shape == (2,)
    np.testing.assert_allclose(batch["radius_nm"][1], results[0]["radius_nm"][0], rtol=1e-5)


def test_reconstruct_names_what_it_cannot_find(tmp_path, monkeypatch, images):
    monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="no model is shipped with wideshot yet"):
        wideshot.reconstruct(images)
    with pytest.raises(FileNotFoundError, match="neither a shipped model"):
        wideshot.reconstruct(images, model=str(tmp_path / "no-run"))


def bad(index: int, value: float) -> np.ndarray:
    images = np.random.default_rng(0).random((3, 128, 128), dtype=np.float32)
    images[index] = 0.0 if value == 0 else images[index]
    images[index, 5, 5] = value
    return images


@pytest.mark.parametrize("images, message", [
    (np.random.rand(64, 64), r"\(128, 128\) or \(B, 128, 128\), got \(64, 64\)"),
    (np.random.rand(2, 1, 128, 128), r"got \(2, 1, 128, 128\)"),
    (bad(2, np.nan), "image 2 holds NaN or infinite"),
    (bad(1, np.inf), "image 1 holds NaN or infinite"),
    (bad(0, 0.0), "image 0 is all zero"),
    (bad(1, 7.0), r"image 1 has values outside \[0, 1\]"),
])
def test_reconstruct_rejects_what_is_not_a_spec_image(images, message):
    # The images are checked before any model is looked up.
    with pytest.raises(ValueError, match=message):
        wideshot.reconstruct(images, model="no-such-model")


def test_evaluate_command_takes_a_shipped_name(weights_dir, data_file, tmp_path, monkeypatch,
                                               capsys):
    monkeypatch.setattr(shipped, "SHIPPED_DIR", weights_dir)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--model", "tiny", "--data", str(data_file), "--quiet",
                 "--device", "cpu"]) == 0
    summary = json.loads((tmp_path / "evaluation-tiny-tiny" / "summary.json").read_text())
    assert summary["model"]["shipped"] == "tiny" and summary["model"]["name"] == "compact-resnet"
    assert main(["evaluate", "--model", "tiny", "--checkpoint", "last", "--data",
                 str(data_file), "--quiet"]) == 2
    assert "run folders only" in capsys.readouterr().err


@pytest.mark.skipif("default" not in available_models(),
                    reason="no shipped default model in wideshot/models/weights/ yet "
                           "(export one with wideshot.training.export_run)")
def test_shipped_default_model_reads_simulated_particles(images):
    result = wideshot.reconstruct(images, device="cpu")
    assert result["model"] == "default"
    assert np.all(np.isfinite(result["radius_nm"])) and np.all(np.isfinite(result["quaternion"]))
    assert np.all((result["radius_nm"] > 20) & (result["radius_nm"] < 175))
    np.testing.assert_allclose(np.linalg.norm(result["quaternion"], axis=1), 1.0, rtol=1e-9)
    for quaternion, shape in zip(result["quaternion"], result["shape"], strict=True):
        np.testing.assert_allclose(canonical(quaternion, shape=shape), quaternion, atol=1e-12)
    _, card = load_shipped_model("default")
    assert card["architecture"]["name"] and card["recipe"]["command"].startswith("wideshot")


@pytest.mark.skipif("default" not in available_models(), reason="no shipped default model")
def test_the_default_names_every_family_and_the_paper_network_stays_available():
    from wideshot.geometry import SHAPE_NAMES
    from wideshot.models.inference import layout_of

    network, card = load_shipped_model("default")
    assert layout_of(network).shapes == SHAPE_NAMES
    assert card["targets"]["shapes"] == list(SHAPE_NAMES)  # machine-readable head layout
    assert [family["group"] for family in card["targets"]["families"]] == [
        "I", "D5", "O", "D3", "SO(3)"]
    assert card["weights"]["bytes"] <= shipped.MAX_WEIGHTS_BYTES
    paper, paper_card = load_shipped_model("icosahedron")
    assert layout_of(paper).shapes == ("icosahedron",)
    assert paper_card["architecture"] == {"name": "compact-resnet", "options": {"width": 16}}


def test_reconstruct_without_the_quality_check_gives_the_same_answers(run_dir, weights_dir,
                                                                     images, monkeypatch):
    monkeypatch.setattr(shipped, "SHIPPED_DIR", weights_dir)
    checked = wideshot.reconstruct(images, model="tiny")
    fast = wideshot.reconstruct(images, model="tiny", check=False)
    np.testing.assert_array_equal(fast["quaternion"], checked["quaternion"])
    np.testing.assert_array_equal(fast["radius_nm"], checked["radius_nm"])
    assert np.isnan(fast["misfit"]).all() and not fast["flagged"].any()
    assert fast["max_misfit"] is None and np.isfinite(checked["misfit"]).all()


def test_a_shipped_model_with_an_expert_lends_that_expert(run_dir, tmp_path):
    default, default_card = load_shipped_model("default")
    export_run(run_dir, name="lent", weights_dir=tmp_path, experts={"icosahedron": "default"})
    model, card = load_shipped_model("lent", weights_dir=tmp_path)
    lent, source = model.experts["icosahedron"].state_dict(), default.experts[
        "icosahedron"].state_dict()
    assert set(lent) == set(source)
    for name, tensor in source.items():
        torch.testing.assert_close(lent[name], tensor)
    assert card["experts"]["icosahedron"] == {
        "shipped": "default", "card": default_card["experts"]["icosahedron"]["card"]}
    assert card["architecture"]["options"]["experts"]["icosahedron"] == (
        default_card["experts"]["icosahedron"]["card"]["architecture"])
