"""PyTorch access to wideshot data set files, safe with DataLoader worker processes.

HDF5 handles must not cross process boundaries, so :class:`DiffractionDataset` reads only the
small label arrays when it is built and opens the file lazily, once per process, on the first
image it reads; a handle inherited from another process (fork) is never used. Random
augmentations draw from a per-process generator seeded from ``(seed, torch.initial_seed())``:
inside a DataLoader worker ``torch.initial_seed()`` is the worker's own seed (the loader's base
seed + worker id, new every epoch), so workers never repeat each other's draws and a loader
with a seeded ``generator`` reproduces them.

Example
-------
>>> from torch.utils.data import DataLoader
>>> from wideshot.data.augment import make_augmentation
>>> from wideshot.data.dataset import DiffractionDataset
>>> train = DiffractionDataset("paper-train.h5", split="train",
...                            augmentation=make_augmentation("experiment"))  # doctest: +SKIP
>>> loader = DataLoader(train, batch_size=64, shuffle=True, num_workers=4)  # doctest: +SKIP
>>> images, labels = next(iter(loader))  # doctest: +SKIP
>>> images.shape, labels["quaternion"].shape, labels["radius_nm"].shape  # doctest: +SKIP
(torch.Size([64, 1, 128, 128]), torch.Size([64, 4]), torch.Size([64]))
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from wideshot.data.augment import Augmentation
from wideshot.data.hdf5 import (
    IMAGES,
    LOG_INTENSITY_RANGE,
    SHAPE,
    SPLIT,
    SPLIT_CODES,
    read_attributes,
    read_labels,
)
from wideshot.geometry import SHAPE_NAMES


class DiffractionDataset(Dataset):
    """Images and labels (by name) of a wideshot data set file.

    Parameters
    ----------
    path : str or Path
        A complete data set (``wideshot generate`` or ``wideshot augment``).
    split : {None, "train", "validation"}
        All samples (None) or one part of the file's ``split`` data set.
    augmentation : Augmentation, optional
        Applied to each image as it is read (see :mod:`wideshot.data.augment`).
    seed : int
        Combined with ``torch.initial_seed()`` of each process to seed the augmentation.

    Attributes
    ----------
    rows : ndarray (M,) int64
        Rows of the file that make up this data set, in order.
    labels : dict of ndarray
        The labels of :attr:`rows` by name (:func:`wideshot.data.hdf5.read_labels`):
        ``quaternion`` (M, 4) canonical, ``radius_nm`` (M,) in nm, ``shape`` (M,) family codes,
        ``shape_parameter`` (M,) (NaN where the family has none), ``log_intensity_range``
        (M, 2) where the file has it (the augmentation's photon noise then draws from the true
        intensity); float64 / int64.
    attributes : dict
        The file's attributes (seed, configuration, ...).

    Items are ``(image, labels)``: image a float32 tensor (1, H, W) in [0, 1], labels a dict of
    tensors, one row of :attr:`labels` (a DataLoader stacks them into (B, ...) tensors).
    """

    def __init__(self, path: str | os.PathLike, split: str | None = None,
                 augmentation: Augmentation | None = None, seed: int = 0):
        if split is not None and split not in SPLIT_CODES:
            raise ValueError(f"split must be None or one of {', '.join(SPLIT_CODES)}, "
                             f"got {split!r}")
        self.path = Path(path)
        self.attributes = read_attributes(self.path)
        with h5py.File(self.path, "r") as file:
            if split is None:
                self.rows = np.arange(len(file[IMAGES]))
            elif SPLIT not in file:
                raise ValueError(f"{self.path} has no train/validation split (generate it with "
                                 "--validation-fraction or --preset paper-train)")
            else:
                self.rows = np.flatnonzero(file[SPLIT][:] == SPLIT_CODES[split])
            labels = read_labels(file)
        self.labels = {name: values[self.rows] for name, values in labels.items()}
        self.augmentation = augmentation
        self.seed = seed
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        """Forget the file handle and generator (they belong to one process)."""
        self._file: h5py.File | None = None
        self._generator: torch.Generator | None = None
        self._process_id: int | None = None

    def _images(self) -> h5py.Dataset:
        """The ``images`` data set through this process's own handle (opened on first use)."""
        if self._process_id != os.getpid():
            self._reset_process_state()
            self._process_id = os.getpid()
            self._file = h5py.File(self.path, "r")
            stream = np.random.SeedSequence([self.seed, torch.initial_seed()])
            seed = int(stream.generate_state(1, np.uint64)[0])
            self._generator = torch.Generator().manual_seed(seed)
        return self._file[IMAGES]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, dict]:
        image = torch.from_numpy(self._images()[self.rows[item]])[None]
        if self.augmentation is not None:
            log_range = self.labels.get(LOG_INTENSITY_RANGE)
            image = self.augmentation(image, self._generator,
                                      None if log_range is None else log_range[item][None])
        return image, {name: torch.as_tensor(values[item]) for name, values in self.labels.items()}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_file=None, _generator=None, _process_id=None)
        return state

    def require_shapes(self, shapes) -> None:
        """ValueError unless every sample's family is one of ``shapes`` (what a network
        knows)."""
        families = {SHAPE_NAMES[code] for code in np.unique(self.labels[SHAPE])}
        unknown = families - set(shapes)
        if unknown:
            raise ValueError(f"{self.path} holds {', '.join(sorted(unknown))}, which the network "
                             f"does not know (it knows {', '.join(shapes)}); train a network "
                             "with those families (wideshot train --shapes ...)")

    def close(self) -> None:
        """Close this process's file handle (it is reopened if the data set is read again)."""
        if self._file is not None and self._process_id == os.getpid():
            self._file.close()
        self._reset_process_state()
