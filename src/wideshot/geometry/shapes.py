"""Shape families (docs/conventions.md "Shape families"): one small entry per family, looked up by
name.

Each family is a homogeneous solid centred on the origin, sized by its circumradius R (centre to
farthest point), with at most one shape parameter p, a reference orientation and its rotation
group G. :meth:`ShapeFamily.solid` gives the reference solid for a parameter, scaled to
circumradius 1; every other layer (physics, data, evaluation) asks the registry and never
branches on a family's name. A new family is one new entry in :data:`SHAPE_FAMILIES`.

=======================  ==================================  ================  ==========
family                   reference solid                     p and range       G (order)
=======================  ==================================  ================  ==========
``icosahedron``          vertices: cyclic perms (0, ±1, ±φ)  —                 I (60)
``decahedron``           pentagonal bipyramid, apices ±p     aspect [0.4, 1.6] D5 (10)
``octahedral``           octahedron ∩ cube 1 − 2p/3          truncation [0, 1] O (24)
``twinned-tetrahedron``  two tetrahedra, vertices cut at p   truncation [0, ½] D3 (6)
``sphere``               the unit ball                       —                 all rotations
=======================  ==================================  ================  ==========

Examples
--------
>>> family = shape_family("octahedral")
>>> family.group.order, family.parameter_range
(24, (0.0, 1.0))
>>> len(family.solid(0.5).vertices)  # the truncated octahedron
24
"""
from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wideshot.geometry.groups import (
    ALL_ROTATIONS,
    DIHEDRAL_3,
    DIHEDRAL_5,
    ICOSAHEDRAL,
    OCTAHEDRAL,
    RotationGroup,
)
from wideshot.geometry.icosahedron import icosahedron_faces, icosahedron_vertices
from wideshot.geometry.solids import Ball, ConvexPolyhedron, Solid

#: The family of every call that names none (the paper's particle).
DEFAULT_SHAPE = "icosahedron"


@dataclass(frozen=True, eq=False)
class ShapeFamily:
    """One family of particle shapes.

    Attributes
    ----------
    name : str
        The family's name (docs/conventions.md), e.g. "decahedron".
    group : RotationGroup
        Rotations that map every solid of the family onto itself.
    build : callable
        ``build(p)`` → the reference solid for parameter p (None for families without one),
        any size; :meth:`solid` scales it to circumradius 1.
    parameter_name : str or None
        What p is ("aspect", "truncation"); None for a family without a parameter.
    parameter_range : (float, float) or None
        Allowed p, inclusive.
    mirror_axis : (float, float, float)
        Normal of a mirror plane of every reference solid of the family (x for the icosahedron,
        y for the decahedron): the detector's mirror maps need one (:mod:`physics.symmetry`).
    """

    name: str
    group: RotationGroup
    build: Callable[[float | None], Solid]
    parameter_name: str | None = None
    parameter_range: tuple[float, float] | None = None
    mirror_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)

    @property
    def has_parameter(self) -> bool:
        """Whether the family has a shape parameter."""
        return self.parameter_range is not None

    @property
    def has_orientation(self) -> bool:
        """Whether orientation is defined (False for the sphere)."""
        return self.group.is_finite

    def validate_parameter(self, parameter, name: str = "shape_parameter") -> float | None:
        """p as a float (None, or NaN, for a family without one), checked against the range.

        Raises
        ------
        ValueError
            For a parameter given to a family without one, a missing or non-finite one, or one
            outside the range; the message names the argument and the allowed values.
        """
        missing = parameter is None or (np.ndim(parameter) == 0 and np.isnan(parameter))
        shown = _shown(parameter)
        if not self.has_parameter:
            if not missing:
                raise ValueError(f"{name}: the {self.name} family has no shape parameter, got "
                                 f"{shown} (give None or NaN)")
            return None
        low, high = self.parameter_range
        if missing:
            raise ValueError(f"{name}: the {self.name} family needs its {self.parameter_name} "
                             f"in [{low:g}, {high:g}], got {shown}")
        value = float(parameter)
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(f"{name}: the {self.parameter_name} of the {self.name} family must "
                             f"lie in [{low:g}, {high:g}], got {shown}")
        return value

    def solid(self, parameter=None) -> Solid:
        """The reference solid for parameter p, with circumradius 1 (see :attr:`build`)."""
        return _unit_solid(self, self.validate_parameter(parameter))

    def default_parameter(self) -> float | None:
        """The middle of the parameter range (None without a parameter)."""
        return None if not self.has_parameter else float(np.mean(self.parameter_range))


def _shown(value) -> str:
    """A parameter as a user typed it: 0.8, nan, None."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return repr(value)


@functools.lru_cache(maxsize=1024)
def _unit_solid(family: ShapeFamily, parameter: float | None) -> Solid:
    solid = family.build(parameter)
    return solid.scaled(1.0 / solid.circumradius) if isinstance(solid, ConvexPolyhedron) else solid


def _icosahedron(_: None) -> ConvexPolyhedron:
    # SPEC's vertices with their stored faces: the icosahedron's images stay bit for bit.
    return ConvexPolyhedron(icosahedron_vertices(1.0), icosahedron_faces())


def _ring(n: int) -> np.ndarray:
    """n vertices (cos 2πk/n, sin 2πk/n, 0), shape (n, 3)."""
    angles = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles), np.zeros(n)], axis=1)


def _decahedron(aspect: float) -> ConvexPolyhedron:
    """Pentagonal bipyramid: the unit ring of five and apices (0, 0, ±aspect)."""
    return ConvexPolyhedron.from_vertices(
        np.concatenate([_ring(5), [[0, 0, aspect], [0, 0, -aspect]]]))


def _octahedral(truncation: float) -> ConvexPolyhedron:
    """{|x|+|y|+|z| ≤ 1} ∩ {|x|,|y|,|z| ≤ 1 − 2p/3}: octahedron (0) … cube (1)."""
    diagonals = np.array(list(itertools.product((-1.0, 1.0), repeat=3))) / math.sqrt(3.0)
    axes = np.concatenate([np.eye(3), -np.eye(3)])
    normals = np.concatenate([diagonals, axes])
    offsets = np.concatenate([np.full(8, 1 / math.sqrt(3.0)), np.full(6, 1 - 2 * truncation / 3)])
    return ConvexPolyhedron.from_halfspaces(normals, offsets)


def _twinned_tetrahedron(truncation: float) -> ConvexPolyhedron:
    """Two regular tetrahedra sharing a face (ring of three, apices (0, 0, ±√2)), every vertex
    v cut by the plane v̂·x = (1 − p)|v|."""
    tips = np.concatenate([_ring(3), [[0, 0, math.sqrt(2.0)], [0, 0, -math.sqrt(2.0)]]])
    bipyramid = ConvexPolyhedron.from_vertices(tips)
    face_normals, face_offsets = bipyramid.halfspaces()
    lengths = np.linalg.norm(tips, axis=1)
    return ConvexPolyhedron.from_halfspaces(
        np.concatenate([face_normals, tips / lengths[:, None]]),
        np.concatenate([face_offsets, (1 - truncation) * lengths]))


def _sphere(_: None) -> Ball:
    return Ball()


#: Every family by name, in the order of docs/conventions.md (the integer codes of data sets).
SHAPE_FAMILIES: dict[str, ShapeFamily] = {family.name: family for family in (
    ShapeFamily("icosahedron", ICOSAHEDRAL, _icosahedron),
    ShapeFamily("decahedron", DIHEDRAL_5, _decahedron, "aspect", (0.4, 1.6), (0.0, 1.0, 0.0)),
    ShapeFamily("octahedral", OCTAHEDRAL, _octahedral, "truncation", (0.0, 1.0)),
    ShapeFamily("twinned-tetrahedron", DIHEDRAL_3, _twinned_tetrahedron, "truncation",
                (0.0, 0.5), (0.0, 1.0, 0.0)),
    ShapeFamily("sphere", ALL_ROTATIONS, _sphere),
)}

#: Family names in registry order.
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPE_FAMILIES)


def shape_family(name, argument: str = "shape") -> ShapeFamily:
    """The family of a name (or a family, returned as it is).

    Raises
    ------
    ValueError
        For an unknown name, naming the argument and the known families.
    """
    if isinstance(name, ShapeFamily):
        return name
    if name not in SHAPE_FAMILIES:
        raise ValueError(f"{argument}: unknown shape family {name!r}; choose one of "
                         f"{', '.join(SHAPE_NAMES)}")
    return SHAPE_FAMILIES[name]


def shape_batch(shape, shape_parameter, n: int) -> tuple[list[str], np.ndarray]:
    """Per-item family names and parameters of a batch of n particles, validated.

    Parameters
    ----------
    shape : str or sequence of str
        One family for all, or one per particle (length n).
    shape_parameter : None, float or array-like (n,)
        One parameter for all, or one per particle; None or NaN for families without one.
    n : int
        Batch size.

    Returns
    -------
    names : list of str, length n
    parameters : numpy.ndarray (n,) float64
        NaN where a family has no parameter.

    Raises
    ------
    ValueError
        Naming the argument: an unknown family, a length that is not n, a parameter out of
        range, missing, or given to a family without one.
    """
    names = [shape] * n if isinstance(shape, (str, ShapeFamily)) else list(shape)
    if len(names) != n:
        raise ValueError(f"shape has {len(names)} entries for {n} particles")
    raw = np.full(n, np.nan) if shape_parameter is None else np.asarray(shape_parameter,
                                                                         dtype=np.float64)
    if raw.ndim == 0:
        raw = np.full(n, float(raw))
    if raw.shape != (n,):
        raise ValueError(f"shape_parameter has shape {raw.shape} for {n} particles")
    parameters = np.full(n, np.nan)
    for index, (name, value) in enumerate(zip(names, raw)):
        family = shape_family(name, "shape" if n == 1 else f"shape[{index}]")
        names[index] = family.name
        checked = family.validate_parameter(
            value, "shape_parameter" if n == 1 else f"shape_parameter[{index}]")
        if checked is not None:
            parameters[index] = checked
    return names, parameters
