"""Data: data sets on disk (HDF5), generation at scale, augmentations."""
from wideshot.data.augment import AUGMENTATIONS, Augmentation, make_augmentation
from wideshot.data.dataset import DiffractionDataset
from wideshot.data.generate import (
    PRESETS,
    GenerationPlan,
    augment_file,
    generate_dataset,
    generate_samples,
    sample_parameters,
    split_labels,
)

__all__ = [
    "AUGMENTATIONS", "PRESETS", "Augmentation", "DiffractionDataset", "GenerationPlan",
    "augment_file", "generate_dataset", "generate_samples", "make_augmentation",
    "sample_parameters", "split_labels",
]
