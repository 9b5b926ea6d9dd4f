"""Temperature scaling of the family probabilities (Guo et al., ICML 2017).

A network trained with cross-entropy is often over- or under-confident; dividing its class
logits by one temperature T > 0 fitted on held-out frames (the validation split, never the test
set) makes the probabilities calibrated without changing which family is most probable. As
``wideshot.reconstruct`` averages the probabilities of several views, T is fitted to the
averaged probabilities, ``p = mean over views of softmax(z_view / T)``, by minimising their
negative log-likelihood. :func:`scale_logits` folds T into the weights of the logit rows of the
output layer, so the shipped network needs nothing else at run time.

Examples
--------
>>> import numpy as np
>>> logits = np.array([[[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [4.0, 0.0]]])  # 1 view, 4 frames
>>> temperature = fit_temperature(logits, np.array([0, 1, 1, 0]))  # right in 3 of 4 frames
>>> round(temperature, 2), round(float(averaged_probabilities(logits, temperature).max()), 3)
(3.64, 0.75)
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from torch import nn

from wideshot.models.inference import layout_of, predict_targets
from wideshot.physics.symmetry import VIEW_SETS, transform_images

#: Range of log T searched.
_LOG_TEMPERATURE_BOUNDS = (-3.0, 3.0)


def view_logits(model: nn.Module, images, views: int, batch_size: int = 256) -> np.ndarray:
    """Class logits of every view of images (B, N, N): array (views, B, F)."""
    layout = layout_of(model)
    if not layout.classifies:
        raise ValueError("the network knows one family: it has no class logits to calibrate")
    images = torch.as_tensor(images)
    return np.stack([predict_targets(model, transform_images(images, name),
                                     batch_size=batch_size)[:, :layout.num_logits]
                     for name in VIEW_SETS[views]]).astype(np.float64)


def averaged_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Mean over views of softmax(logits / T): (B, F) from logits (views, B, F)."""
    scaled = logits / temperature
    scaled -= scaled.max(-1, keepdims=True)
    weights = np.exp(scaled)
    return (weights / weights.sum(-1, keepdims=True)).mean(0)


def fit_temperature(logits: np.ndarray, true_index: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the true families.

    Parameters
    ----------
    logits : ndarray (views, B, F)
        Class logits of every view of B held-out frames.
    true_index : ndarray (B,) int
        Index of each frame's true family in the network's layout.

    Returns
    -------
    float
        T (> 1 softens over-confident probabilities, < 1 sharpens).
    """
    rows = np.arange(logits.shape[1])
    true_index = np.asarray(true_index)

    def negative_log_likelihood(log_temperature: float) -> float:
        probability = averaged_probabilities(logits, float(np.exp(log_temperature)))
        return float(-np.mean(np.log(np.clip(probability[rows, true_index], 1e-12, None))))

    found = minimize_scalar(negative_log_likelihood, bounds=_LOG_TEMPERATURE_BOUNDS,
                            method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def scale_logits(model: nn.Module, temperature: float) -> None:
    """Divide the class logits of ``model`` by ``temperature``, in place, by scaling the logit
    rows of its output layer (``fc``, or ``base.fc`` of an expert override)."""
    if not temperature > 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    head = model.base.fc if hasattr(model, "base") else model.fc
    logits = layout_of(model).num_logits
    with torch.no_grad():
        head.weight[:logits] /= temperature
        head.bias[:logits] /= temperature
