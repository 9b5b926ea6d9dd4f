"""Tests of the PyTorch data set over wideshot HDF5 files (wideshot.data.dataset)."""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from wideshot.geometry import SHAPE_NAMES
from wideshot.data.augment import make_augmentation
from wideshot.data.dataset import DiffractionDataset
from wideshot.data.generate import GenerationPlan, generate_dataset


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dataset") / "data.h5"
    plan = GenerationPlan(n_samples=10, seed=8, shard_size=5, validation_fraction=0.2)
    return generate_dataset(path, plan, workers=1, progress=False)


def open_files_named(path) -> int:
    """HDF5 files of this name open in this process."""
    return sum(os.path.samefile(file_id.name.decode(), path)
               for file_id in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE))


def test_items_are_images_and_labels_by_name(data_file):
    dataset = DiffractionDataset(data_file)
    assert len(dataset) == 10
    image, label = dataset[3]
    assert image.shape == (1, 128, 128) and image.dtype == torch.float32
    assert set(label) == {"radius_nm", "quaternion", "shape", "shape_parameter",
                          "log_intensity_range"}
    assert label["log_intensity_range"].shape == (2,)
    assert label["quaternion"].shape == (4,) and label["radius_nm"].shape == ()
    with h5py.File(data_file) as file:
        np.testing.assert_array_equal(image[0].numpy(), file["images"][3])
        np.testing.assert_array_equal(label["quaternion"].numpy(), file["quaternion"][3])
        assert float(label["radius_nm"]) == file["radius_nm"][3]
    assert SHAPE_NAMES[int(label["shape"])] == "icosahedron"
    assert torch.isnan(label["shape_parameter"])


def test_splits_partition_the_file(data_file):
    train = DiffractionDataset(data_file, split="train")
    validation = DiffractionDataset(data_file, split="validation")
    assert (len(train), len(validation)) == (8, 2)
    assert sorted(np.concatenate([train.rows, validation.rows])) == list(range(10))
    with h5py.File(data_file) as file:
        assert np.all(file["split"][:][validation.rows] == 1)


def test_file_is_opened_lazily_and_only_once_per_process(data_file):
    before = open_files_named(data_file)
    dataset = DiffractionDataset(data_file)
    assert open_files_named(data_file) == before
    dataset[0], dataset[1]
    assert open_files_named(data_file) == before + 1
    dataset.close()
    assert open_files_named(data_file) == before


class HandleOwner(DiffractionDataset):
    """Reports, with each item, the reading process and the process that opened its handle."""

    def __getitem__(self, item):
        image, label = super().__getitem__(item)
        return image, label, os.getpid(), self._process_id


def test_dataloader_workers_open_their_own_handles(data_file):
    dataset = HandleOwner(data_file, split="train")
    dataset[0]  # the parent's handle, inherited by forked workers, must not be used there
    loader = DataLoader(dataset, batch_size=2, num_workers=2)
    batches = list(loader)
    images = torch.cat([batch[0] for batch in batches])
    for name in dataset.labels:
        stacked = torch.cat([batch[1][name] for batch in batches])
        assert stacked.shape[0] == 8
        np.testing.assert_array_equal(stacked.numpy(), dataset.labels[name])
    assert images.shape == (8, 1, 128, 128)
    readers = torch.cat([batch[2] for batch in batches])
    owners = torch.cat([batch[3] for batch in batches])
    assert torch.equal(readers, owners)
    assert len(set(readers.tolist())) == 2 and os.getpid() not in readers.tolist()
    dataset.close()


def test_workers_draw_different_reproducible_augmentations(data_file):
    dataset = DiffractionDataset(data_file, augmentation=make_augmentation("noise"), seed=1)
    same_image = Subset(dataset, [0, 0, 0, 0])  # items alternate between the two workers

    def epoch():
        loader = DataLoader(same_image, batch_size=1, num_workers=2,
                            generator=torch.Generator().manual_seed(4))
        return torch.cat([images for images, _ in loader])

    first = epoch()
    assert not torch.equal(first[0], first[1])  # worker 0 and worker 1, first draw each
    assert not torch.equal(first[0], first[2])  # worker 0, first and second draw
    assert torch.equal(first, epoch())


def test_refusals(data_file, tmp_path):
    with pytest.raises(ValueError, match="split"):
        DiffractionDataset(data_file, split="test")
    unsplit = generate_dataset(tmp_path / "unsplit.h5", GenerationPlan(n_samples=1, seed=0),
                               workers=1, progress=False)
    with pytest.raises(ValueError, match="no train/validation split"):
        DiffractionDataset(unsplit, split="train")
    with h5py.File(tmp_path / "unfinished.h5", "w") as file:
        file["images"] = np.zeros((1, 128, 128), np.float32)
    with pytest.raises(ValueError, match="not a complete"):
        DiffractionDataset(tmp_path / "unfinished.h5")
    with pytest.raises(FileNotFoundError):
        DiffractionDataset(tmp_path / "missing.h5")
