"""wideshot — size and orientation of nanoparticles from single-shot wide-angle diffraction.

Public API
----------
simulate(radius_nm, quaternion, **options) -> (B, 128, 128) float32 SPEC images
simulate_density(density, voxel_nm, **options) -> (B, 128, 128) float32 SPEC images
canonical(q) -> q projected into the fundamental domain of the icosahedral group
misorientation_deg(q1, q2) -> symmetry-aware misorientation in degrees
reconstruct(images, model="default") -> {"radius_nm": (B,), "quaternion": (B, 4) canonical,
                                          "misfit": (B,), "flagged": (B,), ...}
fit(images, method="mcs"|"hybrid") -> forward fit: {"radius_nm", "quaternion", "misfit", "n_simulations"}
"""
# Set before the imports: modules below read it while this package is still being imported.
__version__ = "0.1.0"

from wideshot.fitting import fit  # noqa: E402
from wideshot.geometry import canonical, misorientation_deg  # noqa: E402
from wideshot.physics import simulate, simulate_density  # noqa: E402
from wideshot.reconstruction import reconstruct  # noqa: E402

__all__ = ["__version__", "canonical", "fit", "misorientation_deg", "reconstruct", "simulate",
           "simulate_density"]
