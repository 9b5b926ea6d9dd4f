"""Data: data sets on disk (HDF5), generation at scale, augmentations."""
from wideshot.data.augment import AUGMENTATIONS, Augmentation, make_augmentation

__all__ = ["AUGMENTATIONS", "Augmentation", "make_augmentation"]
