"""The forward-fit objective: particle parameters in, misfit to one measured pattern out.

A point of the search space is x = (R in nm, rotation vector in degrees[, shape parameter]).
The rotation vector turns a per-simplex *anchor* orientation q₀ in the particle frame,
q = q₀ ⊗ exp(v): the simplex moves freely in R⁴ with no constraint, no wrap-around and no
singularity near the start, and degrees and nanometres are steps of similar effect on a pattern
(a 1° turn moves a wide-angle feature about as far as a 1.7 nm change of a 100 nm radius). For
a shape family with a parameter (decahedron, octahedral, twinned tetrahedron) the parameter is a
fifth coordinate; points outside its range, like radii outside :data:`SEARCH_RADIUS_NM`, score
+inf without being simulated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from wideshot.config import DEFAULT_CONFIG, SimulationConfig
from wideshot.fitting.misfit import (
    SMOOTHING_PX,
    pattern_misfit,
    smooth_on_mask,
    uncensored_pixels,
)
from wideshot.fitting.nuisance import ImageNuisance, aligned, simulation_smoothing_px
from wideshot.geometry import (
    DEFAULT_SHAPE,
    quaternion_multiply,
    rotation_vector_to_quaternion,
    shape_family,
)
from wideshot.geometry.shapes import shape_batch
from wideshot.physics import (
    Absorption,
    KGridDetector,
    RefractiveIndex,
    intensity_grid_units,
    log_intensity,
)
from wideshot.physics.forward import PreparedPixels
from wideshot.physics.particle import particle_amplitude
from wideshot.physics.material import resolve_material

#: Radii (nm) the fit may visit; a simplex vertex outside costs nothing and scores +inf.
SEARCH_RADIUS_NM = (5.0, 400.0)

#: Fewest valid pixels a pattern needs to be compared at all.
MIN_VALID_PIXELS = 16


def _log_intensity_at(radius_nm: np.ndarray, quaternion: np.ndarray, pixels: PreparedPixels,
                      config: SimulationConfig, shape=DEFAULT_SHAPE,
                      shape_parameter=None) -> np.ndarray:
    """log(F + floor) (M, P) of particles (M,), (M, 4) of a family (one, or one per particle;
    parameters None, a float or (M,)) at prepared pixels (P)."""
    device = pixels.q.device
    with torch.no_grad():
        amplitude = particle_amplitude(torch.as_tensor(radius_nm, device=device),
                                       torch.as_tensor(quaternion, device=device),
                                       pixels.q, pixels.attenuation, shape, shape_parameter,
                                       kernel="auto")
    return log_intensity(intensity_grid_units(amplitude.cpu().numpy(), config), config)


def parameters_to_particles(points: np.ndarray, anchors: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Radii (M,) in nm and quaternions (M, 4) of search points (M, 4 or 5; a fifth coordinate,
    the shape parameter, is not read here) and their anchors (M, 4)."""
    turn = rotation_vector_to_quaternion(np.deg2rad(points[:, 1:4]))
    return points[:, 0].copy(), quaternion_multiply(anchors, turn)


class SearchObjective:
    """What every forward-fit objective shares: the search space, the range check, the record.

    A subclass sets ``anchors`` (S, 4), ``family``, ``dimensions``, ``record``, ``history``,
    ``n_simulations`` and implements ``_score(radius_nm (M,), quaternion (M, 4),
    shape_parameter (M,) or None) -> (M,)``, lower is better. ``value_tolerance`` is the
    change of the objective below which a simplex counts as converged (None: the square of the
    search's coordinate tolerance, right for values in [0, 1]).
    """

    value_tolerance: float | None = None

    def inside(self, radius_nm: np.ndarray, shape_parameter: np.ndarray | None = None
               ) -> np.ndarray:
        """(M,) bool: radii within :data:`SEARCH_RADIUS_NM` and parameters (if given) within
        the family's range — the particles the objective simulates."""
        low, high = SEARCH_RADIUS_NM
        inside = (radius_nm >= low) & (radius_nm <= high)
        if shape_parameter is not None:
            lowest, highest = self.family.parameter_range
            inside &= (shape_parameter >= lowest) & (shape_parameter <= highest)
        return inside

    def misfit(self, radius_nm: np.ndarray, quaternion: np.ndarray,
               shape_parameter: np.ndarray | None = None) -> np.ndarray:
        """Objective (M,) of particles (M,), (M, 4) [, parameters (M,)]; +inf outside the
        search range of R or the family's range of the parameter (not simulated)."""
        if shape_parameter is not None:
            shape_parameter = np.asarray(shape_parameter, dtype=np.float64)
        inside = self.inside(radius_nm, shape_parameter)
        values = np.full(len(radius_nm), np.inf)
        if inside.any():
            values[inside] = self._score(radius_nm[inside], quaternion[inside],
                                         None if shape_parameter is None
                                         else shape_parameter[inside])
        return values

    def __call__(self, points: np.ndarray, simplex_index: np.ndarray) -> np.ndarray:
        """Objective of :func:`~wideshot.fitting.simplex.nelder_mead`: points (M, 4 or 5) →
        (M,)."""
        radius_nm, quaternion = parameters_to_particles(points, self.anchors[simplex_index])
        values = self.misfit(radius_nm, quaternion,
                             points[:, 4] if self.dimensions == 5 else None)
        if self.record:
            self.history.append((simplex_index.copy(), values, radius_nm, quaternion))
        return values

    def best_so_far(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best particle after each simulation, with the starts run one after another.

        The simplexes ran side by side, but they are independent: ordering the recorded
        evaluations start by start gives exactly the sequence of a serial Monte-Carlo simplex,
        as in the paper's Figure 4b.

        Returns
        -------
        misfit : ndarray (E,)
        radius_nm : ndarray (E,)
        quaternion : ndarray (E, 4) canonical
            Best so far after each of the E simulations.
        """
        if not self.history:
            raise ValueError("nothing recorded: create the objective with record=True")
        index, misfit, radius_nm, quaternion = (np.concatenate(parts) for parts in
                                                zip(*self.history))
        simulated = np.isfinite(misfit)
        order = np.argsort(index[simulated], kind="stable")
        misfit, radius_nm, quaternion = (values[simulated][order]
                                         for values in (misfit, radius_nm, quaternion))
        running = np.minimum.accumulate(misfit)
        improved = np.r_[True, running[1:] < running[:-1]]
        best = np.maximum.accumulate(np.where(improved, np.arange(len(misfit)), 0))
        return running, radius_nm[best], self.family.group.canonical(quaternion[best])



@dataclass
class PatternObjective(SearchObjective):
    """Misfit of candidate particles to one measured image, counting every simulation.

    Parameters
    ----------
    image : ndarray (H, W)
        The measured pattern as a log-intensity image (a SPEC image, or any affine scaling).
    valid : ndarray (H, W) bool
        Pixels that carry information; only these, less the clipped ones
        (:func:`~wideshot.fitting.misfit.uncensored_pixels`), are simulated and compared.
    anchors : ndarray (S, 4)
        Anchor quaternion of each simplex (see the module docstring).
    config : SimulationConfig
        Detector grid, wavelength and intensity floor of the simulation.
    material : Absorption or RefractiveIndex, optional
        Default: SPEC's absorption-only model (ℓ of ``config``).
    shape : str
        Shape family of the candidates (its parameter, if any, is the points' fifth coordinate).
    device : str or torch.device, optional
        Where to simulate (default CPU).
    precision : {"single", "double"}
        Precision on CUDA (the CPU kernel always runs in double).
    record : bool
        Keep every evaluation (``history``) for convergence plots.
    smoothing_px : float
        Gaussian σ applied to both patterns before comparing (see :mod:`.misfit`).
    nuisance : ImageNuisance, optional
        Beam offset and detector blur of the image (:mod:`.nuisance`): the image is moved back
        by the offset before it is compared, and simulations are blurred by the extra width.

    Attributes
    ----------
    n_simulations : int
        Patterns simulated so far (points outside :data:`SEARCH_RADIUS_NM` are not simulated).
    history : list of (simplex_index (M,), misfit (M,), radius_nm (M,), quaternion (M, 4))
        Every batch of evaluations in order, if ``record``.
    family : ShapeFamily
        The family of ``shape``.
    dimensions : int
        Coordinates of a search point: 4, or 5 for a family with a parameter.
    measured_valid : ndarray (H, W) bool
        The image's own pixels that are compared before any offset: ``valid`` less the clipped.
    valid : ndarray (H, W) bool
        The pixels compared (of the moved-back image, on the illuminated detector).
    grid : KGridDetector
        The detector of the simulations.
    """

    image: np.ndarray
    valid: np.ndarray
    anchors: np.ndarray
    config: SimulationConfig = DEFAULT_CONFIG
    material: Absorption | RefractiveIndex | None = None
    shape: str = DEFAULT_SHAPE
    device: object = None
    precision: str = "single"
    record: bool = False
    smoothing_px: float = SMOOTHING_PX
    nuisance: ImageNuisance | None = None
    n_simulations: int = 0
    history: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.family = shape_family(self.shape)
        self.dimensions = 5 if self.family.has_parameter else 4
        self.grid = KGridDetector(self.config)
        self.measured_valid = uncensored_pixels(self.image[None], self.valid)[0]
        image, valid = aligned(self.image, self.measured_valid, self.nuisance or ImageNuisance())
        self.valid = valid & self.grid.illuminated
        if self.valid.sum() < MIN_VALID_PIXELS:
            raise ValueError(f"only {int(self.valid.sum())} valid pixels: too few to fit")
        self._material = resolve_material(None, None, self.material, self.config)
        self._pixels = PreparedPixels.of(self.grid.q[self.valid], self._material, self.config,
                                         self.precision, self.device)
        self._observed = self._smoothed(image[self.valid][None], self.smoothing_px)[0]

    def _smoothed(self, values: np.ndarray, sigma_px: float) -> np.ndarray:
        """Values (M, P) at the valid pixels, smoothed over the valid pixels by σ (px)."""
        if sigma_px == 0:
            return values
        grid = np.zeros((len(values),) + self.valid.shape)
        grid[:, self.valid] = values
        return smooth_on_mask(grid, self.valid, sigma_px)[:, self.valid]

    def detector_image(self, radius_nm: float, quaternion: np.ndarray,
                       shape_parameter: float | None = None) -> np.ndarray:
        """log(F + floor) (H, W) of one particle at every illuminated pixel (0 elsewhere),
        unsmoothed — what a nuisance's offset may bring into view; counts one simulation."""
        self.n_simulations += 1
        pixels = PreparedPixels.of(self.grid.q[self.grid.illuminated], self._material,
                                   self.config, self.precision, self.device)
        parameter = None if shape_parameter is None else np.array([shape_parameter])
        values = _log_intensity_at(np.array([radius_nm]), np.asarray(quaternion)[None], pixels,
                                   self.config, self.shape, parameter)[0]
        image = np.zeros(self.valid.shape)
        image[self.grid.illuminated] = values
        return image

    def simulate_log_intensity(self, radius_nm: np.ndarray, quaternion: np.ndarray,
                               shape_parameter: np.ndarray | None = None) -> np.ndarray:
        """log(F + floor) (M, P) at the valid pixels, unsmoothed; counts M simulations."""
        self.n_simulations += len(radius_nm)
        return _log_intensity_at(radius_nm, quaternion, self._pixels, self.config, self.shape,
                                 shape_parameter)

    def _score(self, radius_nm: np.ndarray, quaternion: np.ndarray,
               shape_parameter: np.ndarray | None) -> np.ndarray:
        """:func:`pattern_misfit` (M,) of particles inside the search range."""
        simulated = self.simulate_log_intensity(radius_nm, quaternion, shape_parameter)
        sigma_px = simulation_smoothing_px(self.smoothing_px, self.nuisance)
        return pattern_misfit(self._observed, self._smoothed(simulated, sigma_px))


def answer_misfit(images: np.ndarray, valid: np.ndarray, radius_nm: np.ndarray,
                  quaternion: np.ndarray, *, shape=DEFAULT_SHAPE, shape_parameter=None,
                  config: SimulationConfig = DEFAULT_CONFIG,
                  material: Absorption | RefractiveIndex | None = None, device=None,
                  precision: str = "single", batch_size: int = 64,
                  smoothing_px: float = SMOOTHING_PX) -> np.ndarray:
    """Misfit of one answer per image: re-simulate it and compare on the image's valid pixels.

    Parameters
    ----------
    images : ndarray (B, H, W)
        Measured log-intensity images.
    valid : ndarray (B, H, W) bool
        Pixels that carry data.
    radius_nm : ndarray (B,)
    quaternion : ndarray (B, 4)
        The answers.
    shape, shape_parameter
        Their shape family (one, or one per answer) and parameters (None, a float or (B,)).
    config, material, device, precision, smoothing_px
        As in :class:`PatternObjective`.
    batch_size : int
        Answers simulated together (on the union of their valid pixels).

    Returns
    -------
    ndarray (B,)
        :func:`pattern_misfit` of each answer; 1 where fewer than :data:`MIN_VALID_PIXELS`
        pixels are valid.
    """
    names, parameters = shape_batch(shape, shape_parameter, len(images))
    material = resolve_material(None, None, material, config)
    grid = KGridDetector(config)
    valid = uncensored_pixels(images, valid) & grid.illuminated
    misfit = np.ones(len(images))
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        union = valid[chunk].any(axis=0)
        if union.sum() < MIN_VALID_PIXELS:
            continue
        pixels = PreparedPixels.of(grid.q[union], material, config, precision, device)
        simulated = _log_intensity_at(radius_nm[chunk], quaternion[chunk], pixels, config,
                                      names[chunk], parameters[chunk])
        for offset, (image, mask) in enumerate(zip(images[chunk], valid[chunk])):
            if mask.sum() >= MIN_VALID_PIXELS:
                pair = np.zeros((2,) + mask.shape)
                pair[0], pair[1, union] = image, simulated[offset]
                observed, answer = smooth_on_mask(pair, mask, smoothing_px)[:, mask]
                misfit[start + offset] = pattern_misfit(observed, answer[None])[0]
    return misfit
