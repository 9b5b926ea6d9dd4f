"""Forward model of docs/conventions.md: materials, detectors, the MSFT, and images.

Objects of the experiment (after Condor): a :class:`~wideshot.physics.material.Absorption` or
:class:`~wideshot.physics.material.RefractiveIndex` material, a detector
(:class:`KGridDetector`, :class:`FlatDetector`), and the propagation (exact analytic MSFT for
every shape family, slice-wise MSFT for arbitrary densities), and what a detector records of it
(photon counts, :mod:`~wideshot.physics.counts`).
"""
from wideshot.physics.counts import expected_counts, record_counts
from wideshot.physics.detector import (
    FlatDetector,
    KGridDetector,
    default_detector,
    momentum_transfer,
)
from wideshot.physics.forward import (
    density_far_field,
    far_field,
    simulate,
    simulate_density,
    validate_radius,
)
from wideshot.physics.image import (
    intensity_grid_units,
    log_intensity,
    scale_per_image,
    spec_image,
)
from wideshot.physics.particle import (
    icosahedron_amplitude,
    particle_amplitude,
    polyhedron_amplitude,
)
from wideshot.physics.sphere_msft import sphere_amplitude
from wideshot.physics.material import (
    SILVER_91EV,
    Absorption,
    RefractiveIndex,
    resolve_material,
)

__all__ = [
    "SILVER_91EV", "Absorption", "FlatDetector", "KGridDetector", "RefractiveIndex",
    "default_detector", "density_far_field", "expected_counts", "far_field",
    "icosahedron_amplitude",
    "intensity_grid_units", "log_intensity", "momentum_transfer", "particle_amplitude",
    "polyhedron_amplitude", "record_counts", "resolve_material", "sphere_amplitude",
    "scale_per_image", "simulate", "simulate_density", "spec_image", "validate_radius",
]
