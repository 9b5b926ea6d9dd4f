"""Tests of data set generation (wideshot.data.generate): reproducible samples, file layout,
resuming, local and Dask workers, offline augmentation, and refusals that overwrite nothing."""
from __future__ import annotations

import hashlib
import json
import math

import h5py
import numpy as np
import pytest
import torch
from scipy.stats import kstest

import wideshot
from wideshot.config import DEFAULT_CONFIG, RADIUS_RANGE_NM
from wideshot.data import generate
from wideshot.data.augment import make_augmentation
from wideshot.data.generate import (
    PRESETS,
    GenerationPlan,
    augment_file,
    augmentation_generator,
    generate_dataset,
    generate_samples,
    sample_parameters,
    shard_directory,
    split_labels,
)
from wideshot.data.hdf5 import read_labels
from wideshot.geometry import SHAPE_NAMES, canonical, shape_family
from wideshot.physics import Absorption

PLAN = GenerationPlan(n_samples=10, seed=5, shard_size=4, validation_fraction=0.2)


def read_all(path) -> dict:
    with h5py.File(path, "r") as file:
        return {name: file[name][:] for name in file}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory):
    """PLAN generated in this process (workers=1): the file the other runs must reproduce."""
    path = tmp_path_factory.mktemp("reference") / "data.h5"
    return generate_dataset(path, PLAN, workers=1, progress=False)


class Interrupt(Exception):
    pass


def count_shards(monkeypatch, interrupt_at: int | None = None) -> list[int]:
    """Record the shards computed in this process (workers=1) from now on; optionally raise
    :class:`Interrupt` instead of computing the ``interrupt_at``-th one (1-based)."""
    computed = []
    original = generate.compute_shard

    def counting(plan, shard):
        computed.append(shard)
        if len(computed) == interrupt_at:
            raise Interrupt
        return original(plan, shard)

    monkeypatch.setattr(generate, "compute_shard", counting)
    return computed


# ------------------------------------------------------------------------------ parameters


def test_samples_depend_only_on_seed_and_index():
    for shapes in (("icosahedron",), SHAPE_NAMES):
        labels = sample_parameters(3, np.arange(20), shapes=shapes)
        again = sample_parameters(3, np.arange(20), shapes=shapes)
        subset = sample_parameters(3, [17, 2, 9], shapes=shapes)
        for name in labels:
            np.testing.assert_array_equal(labels[name], again[name])
            np.testing.assert_array_equal(subset[name], labels[name][[17, 2, 9]])
        other = sample_parameters(4, np.arange(20), shapes=shapes)
        assert not np.any(other["radius_nm"] == labels["radius_nm"])


def test_sample_distribution_radius_uniform_and_rotations_uniform():
    labels = sample_parameters(11, np.arange(4000))
    radius, quaternion = labels["radius_nm"], labels["quaternion"]
    low, high = RADIUS_RANGE_NM
    assert np.all((radius >= low) & (radius <= high))
    assert kstest(radius, "uniform", args=(low, high - low)).pvalue > 1e-3
    np.testing.assert_allclose(np.linalg.norm(quaternion, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(canonical(quaternion), quaternion, atol=1e-12)
    # Haar measure: P(rotation angle < θ) = (θ − sin θ)/π. Balls of 30° about the 60 symmetry
    # elements are disjoint (they are ≥ 72° apart), so a canonical q lies within 30° of the
    # identity with probability 60·(θ − sin θ)/π ≈ 0.4507.
    theta = math.radians(30)
    expected = 60 * (theta - math.sin(theta)) / math.pi
    within = np.mean(2 * np.arccos(np.clip(quaternion[:, 0], -1, 1)) < theta)
    assert abs(within - expected) < 0.03


def test_split_has_exactly_one_fifth_validation_and_is_fixed_by_seed():
    split = split_labels(2020, 25_058, 0.2)
    assert split.dtype == np.uint8 and split.shape == (25_058,)
    assert int(split.sum()) == round(25_058 / 5) == 5012
    np.testing.assert_array_equal(split, split_labels(2020, 25_058, 0.2))
    assert not np.array_equal(split, split_labels(2021, 25_058, 0.2))


def test_presets_are_the_papers_data_sets():
    train = GenerationPlan.from_preset("paper-train")
    test = GenerationPlan.from_preset("paper-test", device="cpu")
    assert (train.n_samples, train.validation_fraction) == (25_058, 0.2)
    assert (test.n_samples, test.validation_fraction) == (5_000, 0.0)
    assert train.seed != test.seed
    assert train.shapes == test.shapes == ("icosahedron",)
    assert set(PRESETS) == {"paper-train", "paper-test", "shapes-train", "shapes-test"}
    with pytest.raises(ValueError, match="paper-train"):
        GenerationPlan.from_preset("paper")


def test_shape_presets_mix_every_family_equally():
    train = GenerationPlan.from_preset("shapes-train")
    test = GenerationPlan.from_preset("shapes-test")
    assert train.n_samples >= 50_000 and test.n_samples == 10_000
    assert train.seed != test.seed and train.validation_fraction == 0.2
    assert train.shapes == test.shapes == SHAPE_NAMES
    assert train.shape_weights == pytest.approx([0.2] * 5)
    labels = sample_parameters(test.seed, np.arange(5000), shapes=test.shapes)
    counts = np.bincount(labels["shape"], minlength=5)
    assert np.all(np.abs(counts - 1000) < 4 * np.sqrt(1000 * 0.8))


def test_mixed_samples_are_canonical_in_their_own_family_with_parameters_in_range():
    labels = sample_parameters(5, np.arange(3000), shapes=SHAPE_NAMES[1:],
                               shape_weights=[1, 2, 0, 1], radius_range_nm=(20, 250))
    assert set(np.unique(labels["shape"])) == {1, 2, 4}  # weight 0: no twinned tetrahedra
    assert labels["radius_nm"].min() >= 20 and labels["radius_nm"].max() <= 250
    for code in (1, 2, 4):
        family = shape_family(SHAPE_NAMES[code])
        rows = labels["shape"] == code
        quaternion = labels["quaternion"][rows]
        np.testing.assert_allclose(family.group.canonical(quaternion), quaternion, atol=1e-12)
        parameters = labels["shape_parameter"][rows]
        if family.has_parameter:
            low, high = family.parameter_range
            assert np.all((parameters >= low) & (parameters <= high))
            assert kstest(parameters, "uniform", args=(low, high - low)).pvalue > 1e-3
        else:
            assert np.all(np.isnan(parameters))
    sphere = labels["quaternion"][labels["shape"] == 4]
    np.testing.assert_allclose(sphere, np.tile([1.0, 0, 0, 0], (len(sphere), 1)), atol=1e-15)


@pytest.mark.parametrize("options, message", [
    ({"shapes": ("cylinder",)}, "unknown shape family 'cylinder'"),
    ({"shapes": ("sphere", "sphere")}, "each family once"),
    ({"shapes": ("sphere", "decahedron"), "shape_weights": (1.0,)}, "2 non-negative"),
    ({"shapes": ("sphere", "decahedron"), "shape_weights": (-1.0, 2.0)}, "non-negative"),
    ({"radius_range_nm": (50, 40)}, "0 < low < high"),
])
def test_invalid_shape_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        GenerationPlan(n_samples=4, seed=0, **options)


def test_mixed_data_set_stores_names_and_reads_back_by_name(tmp_path):
    plan = GenerationPlan(n_samples=6, seed=2, shapes=SHAPE_NAMES, shard_size=3)
    path = generate_dataset(tmp_path / "mixed.h5", plan, workers=1, progress=False)
    with h5py.File(path, "r") as file:
        assert list(file["shape"].attrs["shape_names"]) == list(SHAPE_NAMES)
        labels = read_labels(file)
    expected = sample_parameters(2, np.arange(6), shapes=SHAPE_NAMES)
    for name in expected:
        np.testing.assert_array_equal(labels[name], expected[name])
    images = wideshot.simulate(labels["radius_nm"], labels["quaternion"],
                               shape=[SHAPE_NAMES[code] for code in labels["shape"]],
                               shape_parameter=labels["shape_parameter"])
    np.testing.assert_allclose(read_all(path)["images"], images, atol=1e-6)


def test_files_without_shapes_read_as_icosahedra(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as file:  # the layout before shape families
        file["images"] = np.zeros((2, 128, 128), np.float32)
        file["radius_nm"] = [40.0, 50.0]
        file["quaternion"] = np.tile([1.0, 0, 0, 0], (2, 1))
        file.attrs["complete"] = True
    with h5py.File(path, "r") as file:
        labels = read_labels(file)
    assert [SHAPE_NAMES[code] for code in labels["shape"]] == ["icosahedron"] * 2
    assert np.all(np.isnan(labels["shape_parameter"]))


@pytest.mark.parametrize("options, message", [
    ({"n_samples": 0}, "positive"), ({"n_samples": -3}, "positive"),
    ({"seed": -1}, "non-negative"), ({"shard_size": 0}, "shard size"),
    ({"validation_fraction": 1.0}, "validation fraction"), ({"n_samples": 2.5}, "integer"),
])
def test_invalid_plans_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        GenerationPlan(**{"n_samples": 4, "seed": 0, **options})


# ------------------------------------------------------------------------------ the file


def test_file_layout_and_attributes(reference_file):
    with h5py.File(reference_file, "r") as file:
        images = file["images"]
        assert images.shape == (10, 128, 128) and images.dtype == np.float32
        assert images.chunks[0] <= 4 and images.chunks[1:] == (128, 128)
        assert images.compression in ("gzip", "lzf")
        assert file["radius_nm"].shape == (10,) and file["quaternion"].shape == (10, 4)
        assert file["split"].dtype == np.uint8 and int(file["split"][:].sum()) == 2
        attributes = dict(file.attrs)
    assert attributes["complete"] == True  # noqa: E712 (numpy bool)
    assert attributes["seed"] == 5 and attributes["n_samples"] == 10
    assert attributes["wideshot_version"] == wideshot.__version__
    assert json.loads(attributes["config"]) == DEFAULT_CONFIG.as_dict()
    assert json.loads(attributes["material"]) == {
        "kind": "absorption", "attenuation_length_nm": 12.5}
    assert not shard_directory(reference_file).exists()


def test_stored_samples_are_simulations_of_their_canonical_labels(reference_file):
    stored = read_all(reference_file)
    labels = sample_parameters(PLAN.seed, np.arange(PLAN.n_samples))
    np.testing.assert_array_equal(stored["radius_nm"], labels["radius_nm"])
    np.testing.assert_array_equal(stored["quaternion"], labels["quaternion"])
    np.testing.assert_allclose(canonical(stored["quaternion"]), stored["quaternion"], atol=1e-12)
    np.testing.assert_allclose(stored["images"][[0, 7]],
                               wideshot.simulate(stored["radius_nm"][[0, 7]],
                                                 stored["quaternion"][[0, 7]]), atol=1e-6)
    np.testing.assert_array_equal(stored["split"], split_labels(PLAN.seed, 10, 0.2))


def test_stored_log_range_gives_back_the_true_intensity(reference_file):
    # F = |A|²/v₀² of every pixel, from the image and its stored range, against the physics.
    stored = read_all(reference_file)
    log_range = stored["log_intensity_range"]
    assert log_range.shape == (10, 2) and (log_range[:, 1] > log_range[:, 0]).all()
    amplitude = wideshot.physics.far_field(stored["radius_nm"][[3]], stored["quaternion"][[3]])
    true_intensity = wideshot.physics.intensity_grid_units(amplitude)[0]
    low, high = log_range[3]
    recovered = np.exp(low + stored["images"][3].astype(np.float64) * (high - low))
    recovered -= DEFAULT_CONFIG.intensity_floor
    bright = true_intensity > 1e-3 * true_intensity.max()
    np.testing.assert_allclose(recovered[bright], true_intensity[bright], rtol=2e-5)
    assert read_labels(h5py.File(reference_file, "r"))["log_intensity_range"].shape == (10, 2)


def test_any_subset_regenerates_alone(reference_file):
    stored = read_all(reference_file)
    images, labels = generate_samples(PLAN, [9, 2])
    np.testing.assert_array_equal(images, stored["images"][[9, 2]])
    for name in labels:
        np.testing.assert_array_equal(labels[name], stored[name][[9, 2]])


def test_same_plan_twice_gives_identical_files(reference_file, tmp_path):
    again = generate_dataset(tmp_path / "again.h5", PLAN, workers=1, progress=False)
    first, second = read_all(reference_file), read_all(again)
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_local_worker_processes_give_the_same_file(reference_file, tmp_path):
    parallel = generate_dataset(tmp_path / "parallel.h5", PLAN, workers=2, progress=False)
    first, second = read_all(reference_file), read_all(parallel)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_dask_cluster_gives_the_same_file(reference_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        on_dask = generate_dataset(tmp_path / "dask.h5", PLAN, scheduler=cluster.scheduler_address,
                                   progress=False)
    first, second = read_all(reference_file), read_all(on_dask)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    with h5py.File(reference_file) as a, h5py.File(on_dask) as b:
        assert dict(a.attrs) == dict(b.attrs)


def test_mixed_shapes_on_a_dask_cluster_and_in_worker_processes_agree(tmp_path):
    distributed = pytest.importorskip("distributed")
    plan = GenerationPlan(n_samples=6, seed=4, shard_size=2, shapes=SHAPE_NAMES)
    local = generate_dataset(tmp_path / "local.h5", plan, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        on_dask = generate_dataset(tmp_path / "dask.h5", plan, scheduler=cluster.scheduler_address,
                                   progress=False)
    first, second = read_all(local), read_all(on_dask)
    assert len(set(first["shape"])) > 1
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


# ------------------------------------------------------------------------------ resuming


def test_interrupted_run_resumes_without_recomputing_finished_shards(reference_file, tmp_path,
                                                                    monkeypatch):
    plan = GenerationPlan(n_samples=10, seed=5, shard_size=2, validation_fraction=0.2)
    path = tmp_path / "resumed.h5"
    count_shards(monkeypatch, interrupt_at=3)
    with pytest.raises(Interrupt):
        generate_dataset(path, plan, workers=1, progress=False)
    assert not path.exists()
    assert sorted(p.name for p in shard_directory(path).iterdir()) == [
        "manifest.json", "shard-000000.npz", "shard-000001.npz"]

    computed = count_shards(monkeypatch)
    generate_dataset(path, plan, workers=1, progress=False)
    assert computed == [2, 3, 4]
    # Same content as the reference: samples do not depend on the shard size.
    resumed, reference = read_all(path), read_all(reference_file)
    for name in reference:
        np.testing.assert_array_equal(resumed[name], reference[name])
    assert not shard_directory(path).exists()


def test_complete_file_is_not_recomputed(reference_file, monkeypatch):
    computed = count_shards(monkeypatch)
    before = reference_file.stat().st_mtime_ns
    generate_dataset(reference_file, PLAN, workers=1, progress=False)
    assert computed == [] and reference_file.stat().st_mtime_ns == before


# ------------------------------------------------------------------------------ refusals


def test_file_of_another_configuration_is_not_overwritten(reference_file, monkeypatch):
    computed = count_shards(monkeypatch)
    before = digest(reference_file)
    for other, named in [(GenerationPlan(10, seed=6, shard_size=4, validation_fraction=0.2), "seed"),
                         (GenerationPlan(12, seed=5, shard_size=4, validation_fraction=0.2),
                          "n_samples"),
                         (GenerationPlan(10, seed=5, shard_size=4, validation_fraction=0.2,
                                         material=Absorption(20.0)), "material")]:
        with pytest.raises(ValueError, match=f"another configuration.*{named}"):
            generate_dataset(reference_file, other, workers=1, progress=False)
    assert computed == [] and digest(reference_file) == before


def test_shards_of_another_configuration_are_not_overwritten(tmp_path, monkeypatch):
    path = tmp_path / "data.h5"
    count_shards(monkeypatch, interrupt_at=2)
    with pytest.raises(Interrupt):
        generate_dataset(path, GenerationPlan(n_samples=6, seed=1, shard_size=2), workers=1,
                         progress=False)
    shards = {p.name: digest(p) for p in shard_directory(path).iterdir()}
    with pytest.raises(ValueError, match="another configuration.*seed"):
        generate_dataset(path, GenerationPlan(n_samples=6, seed=2, shard_size=2), workers=1,
                         progress=False)
    assert {p.name: digest(p) for p in shard_directory(path).iterdir()} == shards
    assert not path.exists()


def test_overwrite_starts_afresh(tmp_path):
    path = tmp_path / "data.h5"
    generate_dataset(path, GenerationPlan(n_samples=2, seed=1), workers=1, progress=False)
    generate_dataset(path, GenerationPlan(n_samples=3, seed=2), workers=1, overwrite=True,
                     progress=False)
    with h5py.File(path) as file:
        assert file.attrs["seed"] == 2 and len(file["images"]) == 3


def test_foreign_file_at_the_output_path_is_left_alone(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not a data set")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        generate_dataset(path, GenerationPlan(n_samples=2, seed=1), workers=1, progress=False)
    assert path.read_text() == "not a data set"


@pytest.mark.parametrize("make_path, error, message", [
    (lambda tmp: "/proc/wideshot-test.h5", OSError, "cannot write"),
    (lambda tmp: tmp / "a-file" / "data.h5", OSError, "a-file is a file"),
    (lambda tmp: tmp / "data.txt", ValueError, r"\.h5"),
])
def test_unwritable_or_wrong_output_paths(tmp_path, make_path, error, message):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(error, match=message):
        generate_dataset(make_path(tmp_path), GenerationPlan(n_samples=2, seed=1), workers=1,
                         progress=False)


def test_workers_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="workers"):
        generate_dataset(tmp_path / "data.h5", PLAN, workers=0, progress=False)


# ------------------------------------------------------------------------------ augmentation


def test_augmented_file_is_reproducible_image_by_image(reference_file, tmp_path):
    path = augment_file(reference_file, tmp_path / "noisy.h5", "noise", copies=2, seed=3,
                        block_size=3, progress=False)
    source, augmented = read_all(reference_file), read_all(path)
    assert augmented["images"].shape == (20, 128, 128)
    np.testing.assert_array_equal(augmented["source_index"], np.repeat(np.arange(10), 2))
    np.testing.assert_array_equal(augmented["copy_index"], np.tile([0, 1], 10))
    np.testing.assert_array_equal(augmented["radius_nm"], np.repeat(source["radius_nm"], 2))
    np.testing.assert_array_equal(augmented["quaternion"], np.repeat(source["quaternion"], 2, 0))
    np.testing.assert_array_equal(augmented["split"], np.repeat(source["split"], 2))
    noise = make_augmentation("noise")
    for row, (index, copy) in enumerate([(0, 0), (0, 1), (7, 1)]):
        expected = noise(torch.from_numpy(source["images"][index])[None],
                         augmentation_generator(3, index, copy))[0].numpy()
        np.testing.assert_array_equal(augmented["images"][2 * index + copy], expected)
    assert not np.array_equal(augmented["images"][0], augmented["images"][1])
    with h5py.File(path) as file:
        assert file.attrs["augmentation"] == "noise" and file.attrs["augmentation_seed"] == 3
        assert file.attrs["seed"] == PLAN.seed and file.attrs["complete"]


def test_augment_refuses_bad_input(reference_file, tmp_path):
    with pytest.raises(ValueError, match="valid names"):
        augment_file(reference_file, tmp_path / "out.h5", "no-such-filter", progress=False)
    with pytest.raises(ValueError, match="copies"):
        augment_file(reference_file, tmp_path / "out.h5", "blur", copies=0, progress=False)
    with pytest.raises(ValueError, match="differ"):
        augment_file(reference_file, reference_file, "blur", progress=False)
    with pytest.raises(FileNotFoundError):
        augment_file(tmp_path / "missing.h5", tmp_path / "out.h5", "blur", progress=False)
    assert not (tmp_path / "out.h5").exists()
