"""Nelder–Mead, batched: many independent simplexes advance together, one objective call per step.

SciPy's ``minimize(method="Nelder-Mead")`` moves one simplex and asks for one point at a time;
a forward fit wants the opposite — every start of every image evaluated in one batched
simulation. This is the textbook algorithm (Nelder & Mead 1965, with the standard coefficients
and the inside/outside contraction of Lagarias et al. 1998, as in SciPy), vectorised over
simplexes: each iteration asks the objective for at most three batches (reflections; expansions
and contractions; shrinks).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

REFLECTION, EXPANSION, CONTRACTION, SHRINK = 1.0, 2.0, 0.5, 0.5

#: objective(points (M, n), simplex_index (M,)) -> values (M,); +inf marks an invalid point.
Objective = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SimplexResult:
    """Outcome of :func:`nelder_mead` for S simplexes in n dimensions.

    Attributes
    ----------
    points : ndarray (S, n)
        Best vertex of each simplex.
    values : ndarray (S,)
        Objective at ``points``.
    iterations : ndarray (S,) int
        Iterations each simplex took (fewer than asked where it converged).
    """

    points: np.ndarray
    values: np.ndarray
    iterations: np.ndarray


def axis_simplex(start: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Initial simplexes: the start and one step along each axis.

    Parameters
    ----------
    start : ndarray (S, n)
    steps : ndarray (n,) or (S, n)

    Returns
    -------
    ndarray (S, n + 1, n)
    """
    start = np.asarray(start, dtype=np.float64)
    steps = np.broadcast_to(np.asarray(steps, dtype=np.float64), start.shape)
    offsets = np.zeros(start.shape[:1] + (start.shape[1] + 1,) + start.shape[1:])
    dims = np.arange(start.shape[1])
    offsets[:, dims + 1, dims] = steps
    return start[:, None, :] + offsets


def nelder_mead(objective: Objective, simplex: np.ndarray, iterations: int, *,
                x_tolerance: float = 0.0, f_tolerance: float = 0.0) -> SimplexResult:
    """Minimise with S independent Nelder–Mead simplexes evaluated in batches.

    Parameters
    ----------
    objective : callable
        ``objective(points (M, n), simplex_index (M,)) -> values (M,)``; ``simplex_index`` says
        which simplex asks, so one call can serve simplexes of different problems.
    simplex : ndarray (S, n + 1, n)
        Initial vertices (see :func:`axis_simplex`).
    iterations : int
        Most iterations per simplex.
    x_tolerance, f_tolerance : float
        A simplex stops once every vertex is within ``x_tolerance`` (max-norm) of its best vertex
        and every value within ``f_tolerance`` of the best value. The defaults (0) never stop
        early: each simplex runs all ``iterations``.

    Returns
    -------
    SimplexResult
    """
    vertices = np.array(simplex, dtype=np.float64)
    n_simplexes, n_vertices, n_dims = vertices.shape
    if n_vertices != n_dims + 1:
        raise ValueError(f"a simplex in {n_dims} dimensions has {n_dims + 1} vertices, "
                         f"got {n_vertices}")
    everyone = np.arange(n_simplexes)
    values = objective(vertices.reshape(-1, n_dims),
                       np.repeat(everyone, n_vertices)).reshape(n_simplexes, n_vertices)
    done_iterations = np.zeros(n_simplexes, dtype=np.int64)
    for _ in range(iterations):
        order = np.argsort(values, axis=1, kind="stable")
        vertices = np.take_along_axis(vertices, order[..., None], axis=1)
        values = np.take_along_axis(values, order, axis=1)
        spread_x = np.abs(vertices[:, 1:] - vertices[:, :1]).max(axis=(1, 2))
        spread_f = np.abs(values[:, 1:] - values[:, :1]).max(axis=1)
        active = everyone[~((spread_x <= x_tolerance) & (spread_f <= f_tolerance))]
        if len(active) == 0:
            break
        done_iterations[active] += 1
        _iterate(objective, vertices, values, active)
    best = np.argmin(values, axis=1)
    return SimplexResult(points=vertices[everyone, best], values=values[everyone, best],
                         iterations=done_iterations)


def _iterate(objective: Objective, vertices: np.ndarray, values: np.ndarray,
             active: np.ndarray) -> None:
    """One Nelder–Mead step of the sorted simplexes ``active``, in place."""
    best_value, second_worst, worst_value = values[active, 0], values[active, -2], values[active, -1]
    worst = vertices[active, -1]
    centroid = vertices[active, :-1].mean(axis=1)
    reflected = centroid + REFLECTION * (centroid - worst)
    reflected_value = objective(reflected, active)

    expand = reflected_value < best_value
    outside = (reflected_value >= second_worst) & (reflected_value < worst_value)
    inside = reflected_value >= worst_value
    second = np.where(expand[:, None], centroid + EXPANSION * (reflected - centroid),
                      np.where(outside[:, None], centroid + CONTRACTION * (reflected - centroid),
                               centroid + CONTRACTION * (worst - centroid)))
    asks = expand | outside | inside
    second_value = np.full(len(active), np.inf)
    if asks.any():
        second_value[asks] = objective(second[asks], active[asks])

    new_vertex, new_value = reflected.copy(), reflected_value.copy()
    use_expansion = expand & (second_value < reflected_value)
    contraction_ok = (outside & (second_value <= reflected_value)) | (inside & (second_value < worst_value))
    take_second = use_expansion | contraction_ok
    new_vertex[take_second], new_value[take_second] = second[take_second], second_value[take_second]
    shrink = (outside | inside) & ~contraction_ok
    keep = ~shrink
    vertices[active[keep], -1] = new_vertex[keep]
    values[active[keep], -1] = new_value[keep]
    if shrink.any():
        shrinking = active[shrink]
        best_vertex = vertices[shrinking, :1]
        shrunk = best_vertex + SHRINK * (vertices[shrinking, 1:] - best_vertex)
        n_dims = vertices.shape[2]
        shrunk_values = objective(shrunk.reshape(-1, n_dims), np.repeat(shrinking, n_dims))
        vertices[shrinking, 1:] = shrunk
        values[shrinking, 1:] = shrunk_values.reshape(len(shrinking), n_dims)
