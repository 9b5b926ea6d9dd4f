"""Evaluate a trained network on a test set: predictions, the paper's error measures, figures.

:func:`evaluate` writes into one folder

======================================  ===========================================================
``summary.json``                        n images, model, data, augmentation, and median / p90 /
                                        p99 / mean of every measure of :data:`REPORTED_MEASURES`
``predictions.csv``                     one row per image: row of the data set, true and predicted
                                        (w, x, y, z, R), mean and max relative error (%),
                                        misorientation (deg), radius error (nm)
``relative_errors.png``                 histograms of the mean and max relative error (Figure 4a)
``misorientation.png``                  histogram of the misorientation (deg)
``radius_error.png``                    histogram of the radius error (nm)
``errors_vs_radius.png``                mean relative error, misorientation and radius error
                                        against the true radius
======================================  ===========================================================
"""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from wideshot.data.augment import make_augmentation
from wideshot.data.dataset import DiffractionDataset
from wideshot.data.hdf5 import QUATERNION, RADIUS
from wideshot.data.generate import augmentation_generator
from wideshot.evaluation.figures import (
    save_error_histogram,
    save_errors_versus_radius,
    save_relative_error_histograms,
)
from wideshot.models.metrics import error_table, summarize
from wideshot.models.inference import DEFAULT_VIEWS, check_images, predict

#: Measures of the summary, in their reported unit: name → (key of ``error_table``, factor).
REPORTED_MEASURES: dict[str, tuple[str, float]] = {
    "mean_error_percent": ("mean", 100.0),
    "max_error_percent": ("max", 100.0),
    "misorientation_deg": ("misorientation_deg", 1.0),
    "radius_error_nm": ("radius_error_nm", 1.0),
    **{f"{name}_error_percent": (name, 100.0) for name in ("w", "x", "y", "z", "radius")},
}

SUMMARY_FILE = "summary.json"
PREDICTIONS_FILE = "predictions.csv"
FIGURE_FILES = ("relative_errors.png", "misorientation.png", "radius_error.png",
                "errors_vs_radius.png")


def reported_errors(errors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The measures of :data:`REPORTED_MEASURES` from an :func:`error_table`, each (B,)."""
    return {name: factor * errors[key] for name, (key, factor) in REPORTED_MEASURES.items()}


def _augmented(images: torch.Tensor, rows: np.ndarray, name: str, seed: int) -> torch.Tensor:
    """Images (B, H, W) through filter ``name``, image ``rows[i]`` with its own generator.

    The generator of a row is that of ``wideshot augment --filter NAME --seed SEED`` (copy 0),
    so the images equal those of an offline augmented copy of the data set.
    """
    augmentation = make_augmentation(name)
    return torch.cat([augmentation(image[None], augmentation_generator(seed, int(row), 0))
                      for image, row in zip(images, rows)])


def _write_predictions(path: Path, rows: np.ndarray, true_quaternion: np.ndarray,
                       true_radius_nm: np.ndarray, quaternion: np.ndarray, radius_nm: np.ndarray,
                       reported: dict[str, np.ndarray]) -> None:
    columns = (["row"] + [f"true_{name}" for name in ("w", "x", "y", "z", "radius_nm")]
               + [f"predicted_{name}" for name in ("w", "x", "y", "z", "radius_nm")]
               + ["mean_error_percent", "max_error_percent", "misorientation_deg",
                  "radius_error_nm"])
    table = np.column_stack([true_quaternion, true_radius_nm, quaternion, radius_nm,
                             *(reported[name] for name in columns[-4:])])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row, values in zip(rows, table):
            writer.writerow([int(row), *(f"{value:.6g}" for value in values)])


def evaluate(model: nn.Module, data: str | os.PathLike, out_dir: str | os.PathLike, *,
             augmentation: str | None = None, seed: int = 0,
             device: str | torch.device | None = None, batch_size: int = 256,
             views: int = DEFAULT_VIEWS, model_description: dict | None = None,
             progress: bool = True) -> dict:
    """Predict every image of a data set and write the error report (see the module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        A trained network (e.g. from :func:`wideshot.training.load_run`).
    data : str or Path
        Test set (HDF5 from ``wideshot generate``); all of its images.
    out_dir : str or Path
        Output folder (created).
    augmentation : str, optional
        Name of a filter of :data:`wideshot.data.augment.AUGMENTATIONS` to degrade the test
        images with first (each image with a generator seeded from (seed, row), exactly as
        ``wideshot augment``); None for the clean images.
    seed : int
        Seed of the augmentation.
    device : str or torch.device, optional
        Where to run the network (default: where the model is).
    batch_size : int
        Images per forward pass.
    views : int
        Views of each image whose answers are averaged (:func:`~wideshot.models.predict`);
        1 is the network alone.
    model_description : dict, optional
        What the model is (run folder, checkpoint, name ...), copied into the summary.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    dict
        The summary written to ``summary.json``: ``n_images``, ``model``, ``data``,
        ``augmentation``, ``augmentation_seed`` and ``measures`` — for each name of
        :data:`REPORTED_MEASURES` its ``median``, ``p90``, ``p99`` and ``mean``.

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing or invalid data set, an unknown augmentation, or images that are not
        SPEC images (the message names the row).
    """
    if augmentation is not None:
        make_augmentation(augmentation)  # ValueError for an unknown name, before any work
    if seed < 0:
        raise ValueError(f"the seed must be a non-negative integer, got {seed}")
    dataset = DiffractionDataset(data)
    if len(dataset) == 0:
        raise ValueError(f"{data} holds no images")
    dataset.require_icosahedra()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    quaternion, radius_nm = [], []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    with tqdm(total=len(dataset), unit="img", desc=Path(data).name, file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        for start, (images, _) in zip(range(0, len(dataset), batch_size), loader):
            images = images[:, 0]
            if augmentation is not None:
                images = _augmented(images, dataset.rows[start:start + len(images)],
                                    augmentation, seed)
            check_images(images, first_index=start)
            batch_quaternion, batch_radius_nm = predict(model, images, device, batch_size,
                                                        views=views)
            quaternion.append(batch_quaternion)
            radius_nm.append(batch_radius_nm)
            bar.update(len(images))
    quaternion, radius_nm = np.concatenate(quaternion), np.concatenate(radius_nm)
    true_quaternion, true_radius_nm = dataset.labels[QUATERNION], dataset.labels[RADIUS]
    errors = error_table(quaternion, radius_nm, true_quaternion, true_radius_nm)
    reported = reported_errors(errors)

    summary = {
        "n_images": len(dataset),
        "model": model_description or {"name": type(model).__name__},
        "data": str(Path(data).resolve()),
        "augmentation": augmentation or "none",
        "augmentation_seed": seed if augmentation is not None else None,
        "views": views,
        "measures": summarize(reported),
    }
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    _write_predictions(out_dir / PREDICTIONS_FILE, dataset.rows, true_quaternion,
                       true_radius_nm, quaternion, radius_nm, reported)
    title = (f"{Path(data).name}, {len(dataset)} images"
             + (f", augmentation {augmentation}" if augmentation else "")
             + (f", {views} views averaged" if views > 1 else ", network alone (1 view)"))
    relative, misorientation, radius_error, versus_radius = (out_dir / name
                                                             for name in FIGURE_FILES)
    save_relative_error_histograms(reported["mean_error_percent"],
                                   reported["max_error_percent"], relative, title)
    save_error_histogram(reported["misorientation_deg"], misorientation, "misorientation",
                         "deg", title)
    save_error_histogram(reported["radius_error_nm"], radius_error, "radius error", "nm", title)
    save_errors_versus_radius(true_radius_nm, {
        "mean relative error (%)": reported["mean_error_percent"],
        "misorientation (deg)": reported["misorientation_deg"],
        "radius error (nm)": reported["radius_error_nm"],
    }, versus_radius, title)
    return summary
