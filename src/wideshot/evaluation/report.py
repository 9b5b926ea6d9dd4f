"""Evaluate a trained network on a test set: predictions, the paper's error measures, figures.

The regression is judged, for every image, on the network's answer *for the image's true shape
family* (its block of outputs, :class:`~wideshot.models.layout.TargetLayout`); naming the family
is judged apart, by the confusion matrix and the calibration of the family probabilities
(:mod:`wideshot.evaluation.classification`). For a network of the icosahedron alone on
icosahedra this is exactly the paper's evaluation.

:func:`evaluate` writes into one folder

======================================  ===========================================================
``summary.json``                        n images, model, data, augmentation, the network's
                                        families; ``measures``: median / p90 / p99 / mean of every
                                        measure of :data:`REPORTED_MEASURES` over all images;
                                        ``families``: per true family its images, accuracy and
                                        measures (with :data:`PARAMETER_MEASURE` where it has a
                                        parameter); ``classification``: accuracy, confusion
                                        matrix, expected calibration error and reliability bins
                                        (null for a network of one family). Undefined values
                                        (a sphere's orientation) are null.
``predictions.csv``                     one row per image: row of the data set, true and predicted
                                        (w, x, y, z, R), mean and max relative error (%),
                                        misorientation (deg), radius error (nm); true and
                                        predicted family, probability of the predicted family,
                                        true and predicted shape parameter, its error (% of the
                                        family's range). "predicted" (w, x, y, z, R, parameter)
                                        is the answer for the true family, the one the errors
                                        judge; ``predicted_shape`` is the most probable family.
``relative_errors.png``                 histograms of the mean and max relative error (Figure 4a)
``misorientation.png``                  histogram of the misorientation (deg)
``radius_error.png``                    histogram of the radius error (nm)
``errors_vs_radius.png``                mean relative error, misorientation and radius error
                                        against the true radius
``confusion_matrix.png``                network of several families only: rows normalised to
                                        the true family, counts annotated
``reliability.png``                     network of several families only: reliability diagram
                                        of the family probabilities, ECE in the title
``family_errors.png``                   network of several families only: misorientation,
                                        radius error and parameter error per true family
======================================  ===========================================================
"""
from __future__ import annotations

import csv
import json
import math
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
from wideshot.data.generate import augmentation_generator
from wideshot.data.hdf5 import QUATERNION, RADIUS, SHAPE, SHAPE_PARAMETER
from wideshot.evaluation.classification import (
    CALIBRATION_BINS,
    confusion_matrix,
    expected_calibration_error,
    reliability_bins,
)
from wideshot.evaluation.figures import (
    save_confusion_matrix,
    save_error_histogram,
    save_errors_versus_radius,
    save_family_error_boxes,
    save_relative_error_histograms,
    save_reliability_diagram,
)
from wideshot.geometry import shape_family
from wideshot.models.inference import DEFAULT_VIEWS, check_images, layout_of, predict
from wideshot.models.layout import FamilyLabels
from wideshot.models.metrics import family_error_tables, summarize

#: Measures of the summary, in their reported unit: name → (key of ``error_table``, factor).
REPORTED_MEASURES: dict[str, tuple[str, float]] = {
    "mean_error_percent": ("mean", 100.0),
    "max_error_percent": ("max", 100.0),
    "misorientation_deg": ("misorientation_deg", 1.0),
    "radius_error_nm": ("radius_error_nm", 1.0),
    **{f"{name}_error_percent": (name, 100.0) for name in ("w", "x", "y", "z", "radius")},
}

#: The shape-parameter error in % of the family's range (Appendix C per family), reported per
#: family beside :data:`REPORTED_MEASURES` for families with a parameter.
PARAMETER_MEASURE = "shape_parameter_error_percent"

SUMMARY_FILE = "summary.json"
PREDICTIONS_FILE = "predictions.csv"
FIGURE_FILES = ("relative_errors.png", "misorientation.png", "radius_error.png",
                "errors_vs_radius.png")
#: Figures written only for a network that names the family (more than one).
CLASSIFICATION_FIGURE_FILES = ("confusion_matrix.png", "reliability.png", "family_errors.png")


def reported_errors(errors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The measures of :data:`REPORTED_MEASURES` from an :func:`error_table`, each (B,)."""
    return {name: factor * errors[key] for name, (key, factor) in REPORTED_MEASURES.items()}


def per_image_errors(tables: dict[str, dict[str, np.ndarray]], n_images: int
                     ) -> dict[str, np.ndarray]:
    """The reported measures of every image, in data-set order, from per-family tables.

    Parameters
    ----------
    tables : dict of family name to dict of str to numpy.ndarray
        As returned by :func:`wideshot.models.metrics.family_error_tables` (each table holds
        the ``rows`` of its images).
    n_images : int
        B, the images of the data set.

    Returns
    -------
    dict of str to numpy.ndarray, each shape (B,)
        Every name of :data:`REPORTED_MEASURES` and :data:`PARAMETER_MEASURE`, in its reported
        unit; NaN where undefined (orientation errors of a sphere, the parameter error of a
        family without one).
    """
    errors = {name: np.full(n_images, np.nan) for name in (*REPORTED_MEASURES, PARAMETER_MEASURE)}
    for table in tables.values():
        rows = table["rows"]
        for name, values in reported_errors(table).items():
            errors[name][rows] = values
        if "shape_parameter" in table:
            errors[PARAMETER_MEASURE][rows] = 100.0 * table["shape_parameter"]
    return errors


def statistics(values: np.ndarray) -> dict[str, float] | None:
    """Median, p90, p99 and mean (:func:`~wideshot.models.metrics.summarize`) of the finite
    values of a measure (B,); None when it has none (a sphere's misorientation)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return summarize({"values": values})["values"] if len(values) else None


def _number(value: float) -> float | None:
    """A float for JSON: None for NaN and infinities (JSON has no NaN)."""
    return float(value) if math.isfinite(value) else None


def family_summaries(tables: dict[str, dict[str, np.ndarray]], classifies: bool) -> dict:
    """Per true family of a test set: ``n`` images, ``accuracy`` (share named right; None for
    a network of one family) and ``measures`` (:func:`statistics` of every reported measure,
    plus :data:`PARAMETER_MEASURE` for a family with a parameter)."""
    summaries = {}
    for name, table in tables.items():
        measures = {measure: statistics(values)
                    for measure, values in reported_errors(table).items()}
        if shape_family(name).has_parameter:
            measures[PARAMETER_MEASURE] = statistics(100.0 * table["shape_parameter"])
        summaries[name] = {"n": len(table["rows"]),
                           "accuracy": float(table["correct"].mean()) if classifies else None,
                           "measures": measures}
    return summaries


def classification_summary(labels: FamilyLabels, true_index: np.ndarray,
                           n_bins: int = CALIBRATION_BINS) -> dict:
    """How well the network names the family.

    Parameters
    ----------
    labels : FamilyLabels
        The network's answers (B frames, F families).
    true_index : numpy.ndarray, shape (B,) int
        Layout index of each frame's true family.
    n_bins : int
        Confidence bins of the calibration.

    Returns
    -------
    dict
        ``accuracy``; ``confusion_matrix``: ``shapes`` (F names) and ``counts`` (F × F, rows
        true, columns predicted); ``expected_calibration_error`` on the top-class confidence;
        ``reliability``: ``edges`` (M + 1), ``count``, ``confidence`` and ``accuracy`` (M
        each, None for an empty bin).
    """
    predicted = labels.best()
    confidence = labels.probability.max(axis=1)
    correct = predicted == true_index
    bins = reliability_bins(confidence, correct, n_bins)
    return {
        "accuracy": float(correct.mean()),
        "confusion_matrix": {
            "shapes": list(labels.shapes),
            "counts": confusion_matrix(true_index, predicted, len(labels.shapes)).tolist()},
        "expected_calibration_error": expected_calibration_error(confidence, correct, n_bins),
        "reliability": {"edges": bins["edges"].tolist(), "count": bins["count"].tolist(),
                        "confidence": [_number(value) for value in bins["confidence"]],
                        "accuracy": [_number(value) for value in bins["accuracy"]]},
    }


def _augmented(images: torch.Tensor, rows: np.ndarray, name: str, seed: int) -> torch.Tensor:
    """Images (B, H, W) through filter ``name``, image ``rows[i]`` with its own generator.

    The generator of a row is that of ``wideshot augment --filter NAME --seed SEED`` (copy 0),
    so the images equal those of an offline augmented copy of the data set.
    """
    augmentation = make_augmentation(name)
    return torch.cat([augmentation(image[None], augmentation_generator(seed, int(row), 0))
                      for image, row in zip(images, rows)])


def _write_predictions(path: Path, columns: dict[str, np.ndarray | list]) -> None:
    """CSV of named columns (B,): integers and names as they are, floats to 6 digits."""
    def text(value) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, np.integer)):
            return str(int(value))
        return f"{value:.6g}"

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for values in zip(*columns.values()):
            writer.writerow([text(value) for value in values])


def evaluate(model: nn.Module, data: str | os.PathLike, out_dir: str | os.PathLike, *,
             augmentation: str | None = None, seed: int = 0,
             device: str | torch.device | None = None, batch_size: int = 256,
             views: int = DEFAULT_VIEWS, model_description: dict | None = None,
             progress: bool = True) -> dict:
    """Predict every image of a data set and write the error report (see the module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        A trained network (e.g. from :func:`wideshot.training.load_run`); its
        ``target_layout`` says which shape families it knows.
    data : str or Path
        Test set (HDF5 from ``wideshot generate``); all of its images. Every family in it must
        be one the network knows.
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
        ``augmentation``, ``augmentation_seed``, ``views``, ``shapes`` (the network's
        families); ``measures`` — for each name of :data:`REPORTED_MEASURES` its ``median``,
        ``p90``, ``p99`` and ``mean`` over all images, each judged in its true family (None
        where no image defines it); ``families`` (:func:`family_summaries`) and
        ``classification`` (:func:`classification_summary`; None for a network of one family).

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing or invalid data set, a family in it that the network does not know, an
        unknown augmentation, or images that are not SPEC images (the message names the row).
    """
    if augmentation is not None:
        make_augmentation(augmentation)  # ValueError for an unknown name, before any work
    if seed < 0:
        raise ValueError(f"the seed must be a non-negative integer, got {seed}")
    dataset = DiffractionDataset(data)
    if len(dataset) == 0:
        raise ValueError(f"{data} holds no images")
    layout = layout_of(model)
    dataset.require_shapes(layout.shapes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    parts, kept = [], []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    with tqdm(total=len(dataset), unit="img", desc=Path(data).name, file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        for start, (images, _) in zip(range(0, len(dataset), batch_size), loader):
            images = images[:, 0]
            if augmentation is not None:
                images = _augmented(images, dataset.rows[start:start + len(images)],
                                    augmentation, seed)
                # The chain's floor and noise can leave a small particle's frame empty: such a
                # frame has no answer (reconstruct reports it failed) and is left out here.
                signal = images.flatten(1).amax(1) > 0
                kept.append(start + np.flatnonzero(signal.numpy()))
                images = images[signal]
            else:
                kept.append(start + np.arange(len(images)))
            check_images(images, first_index=start)
            if len(images):
                parts.append(predict(model, images, device, batch_size, views=views))
            bar.update(len(images))
    kept = np.concatenate(kept)
    labels = FamilyLabels.concatenate(layout.shapes, parts)
    codes = dataset.labels[SHAPE][kept]
    true_quaternion = dataset.labels[QUATERNION][kept]
    true_radius_nm = dataset.labels[RADIUS][kept]
    true_parameter = dataset.labels[SHAPE_PARAMETER][kept]
    true_index = layout.index_of_codes(codes)
    tables = family_error_tables(labels, codes, true_quaternion, true_radius_nm,
                                 true_parameter, layout.radius_range_nm)
    errors = per_image_errors(tables, len(kept))

    summary = {
        "n_images": len(kept),
        "n_without_signal": len(dataset) - len(kept),
        "model": model_description or {"name": type(model).__name__},
        "data": str(Path(data).resolve()),
        "augmentation": augmentation or "none",
        "augmentation_seed": seed if augmentation is not None else None,
        "views": views,
        "shapes": list(layout.shapes),
        "measures": {name: statistics(errors[name]) for name in REPORTED_MEASURES},
        "families": family_summaries(tables, layout.classifies),
        "classification": (classification_summary(labels, true_index) if layout.classifies
                           else None),
    }
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")

    answer = labels.pick(true_index)  # the true family's block, the one the errors judge
    named = labels.pick(labels.best())
    components = ("w", "x", "y", "z")
    _write_predictions(out_dir / PREDICTIONS_FILE, {
        "row": dataset.rows[kept],
        **{f"true_{name}": true_quaternion[:, index] for index, name in enumerate(components)},
        "true_radius_nm": true_radius_nm,
        **{f"predicted_{name}": answer["quaternion"][:, index]
           for index, name in enumerate(components)},
        "predicted_radius_nm": answer["radius_nm"],
        **{name: errors[name] for name in ("mean_error_percent", "max_error_percent",
                                           "misorientation_deg", "radius_error_nm")},
        "true_shape": [layout.shapes[index] for index in true_index],
        "predicted_shape": named["shape"],
        "shape_probability": named["shape_probability"],
        "true_shape_parameter": true_parameter,
        "predicted_shape_parameter": answer["shape_parameter"],
        PARAMETER_MEASURE: errors[PARAMETER_MEASURE],
    })

    title = (f"{Path(data).name}, {len(kept)} images"
             + (f", augmentation {augmentation}" if augmentation else "")
             + (f", {views} views averaged" if views > 1 else ", network alone (1 view)"))
    relative, misorientation, radius_error, versus_radius = (out_dir / name
                                                             for name in FIGURE_FILES)
    save_relative_error_histograms(errors["mean_error_percent"],
                                   errors["max_error_percent"], relative, title)
    save_error_histogram(errors["misorientation_deg"], misorientation, "misorientation",
                         "deg", title)
    save_error_histogram(errors["radius_error_nm"], radius_error, "radius error", "nm", title)
    save_errors_versus_radius(true_radius_nm, {
        "mean relative error (%)": errors["mean_error_percent"],
        "misorientation (deg)": errors["misorientation_deg"],
        "radius error (nm)": errors["radius_error_nm"],
    }, versus_radius, title)
    if layout.classifies:
        _save_classification_figures(labels, true_index, tables, out_dir, title)
    return summary


def _save_classification_figures(labels: FamilyLabels, true_index: np.ndarray, tables: dict,
                                 out_dir: Path, title: str) -> None:
    """confusion_matrix.png, reliability.png and family_errors.png of a classifying network."""
    confusion, reliability, family_errors = (out_dir / name
                                             for name in CLASSIFICATION_FIGURE_FILES)
    predicted, confidence = labels.best(), labels.probability.max(axis=1)
    save_confusion_matrix(confusion_matrix(true_index, predicted, len(labels.shapes)),
                          list(labels.shapes), confusion, title)
    correct = predicted == true_index
    save_reliability_diagram(reliability_bins(confidence, correct),
                             expected_calibration_error(confidence, correct), reliability,
                             title)
    save_family_error_boxes({
        "misorientation (deg)": {name: table["misorientation_deg"]
                                 for name, table in tables.items()},
        "radius error (nm)": {name: table["radius_error_nm"] for name, table in tables.items()},
        "shape parameter error (% of range)": {name: 100.0 * table["shape_parameter"]
                                               for name, table in tables.items()
                                               if "shape_parameter" in table},
    }, family_errors, title)
