"""wideshot — size and orientation of nanoparticles from single-shot wide-angle diffraction.

Public API (imported on first use, so that ``import wideshot`` and the command line start fast)
----------
simulate(radius_nm, quaternion, shape="icosahedron", shape_parameter=None, **options)
    -> (B, 128, 128) float32 SPEC images of any shape family
simulate_density(density, voxel_nm, **options) -> (B, 128, 128) float32 SPEC images
canonical(q, shape="icosahedron") -> q projected into the family's fundamental domain
misorientation_deg(q1, q2, shape="icosahedron") -> symmetry-aware misorientation in degrees
reconstruct(images, model="default") -> {"radius_nm": (B,), "quaternion": (B, 4) canonical,
                                          "misfit": (B,), "flagged": (B,), ...}
fit(images, method="mcs"|"hybrid") -> forward fit: {"radius_nm", "quaternion", "misfit", "n_simulations"}
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name → module that defines it.
_PUBLIC = {
    "canonical": "wideshot.geometry",
    "fit": "wideshot.fitting",
    "misorientation_deg": "wideshot.geometry",
    "reconstruct": "wideshot.reconstruction",
    "simulate": "wideshot.physics",
    "simulate_density": "wideshot.physics",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wideshot' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
