"""Particle geometry: quaternions, shape families with their rotation groups and fundamental
domains, solids.

Conventions (docs/conventions.md): quaternions ``(w, x, y, z)`` scalar first, active rotations
(``p_lab = R(q) @ p_ref``), lengths in nm, angles in rad unless a name ends in ``_deg``.
"""
from wideshot.geometry.groups import (
    ALL_ROTATIONS,
    DIHEDRAL_3,
    DIHEDRAL_5,
    ICOSAHEDRAL,
    OCTAHEDRAL,
    ROBUST_SCALE_DEG,
    FundamentalDomain,
    RotationGroup,
)
from wideshot.geometry.icosahedron import (
    icosahedron_faces,
    icosahedron_halfspaces,
    icosahedron_vertices,
)
from wideshot.geometry.orientation import (
    canonical,
    closest_equivalent,
    fundamental_domain,
    mean_orientation,
    misorientation_deg,
    misorientation_rad,
    uniform_fundamental_domain,
)
from wideshot.geometry.quaternion import (
    matrix_to_quaternion,
    normalize_quaternion,
    quaternion_conjugate,
    quaternion_multiply,
    quaternion_to_matrix,
    random_quaternions,
    rotate_points,
    rotation_angle_rad,
    rotation_vector_to_quaternion,
    validate_quaternions,
)
from wideshot.geometry.shapes import (
    DEFAULT_SHAPE,
    SHAPE_FAMILIES,
    SHAPE_NAMES,
    ShapeFamily,
    shape_family,
)
from wideshot.geometry.solids import Ball, ConvexPolyhedron
from wideshot.geometry.voxels import voxel_centres_nm, voxelize

#: The icosahedral group's rotations (60, 4), its order and fundamental domain (the paper's).
ICOSAHEDRAL_GROUP = ICOSAHEDRAL.elements
GROUP_ORDER = ICOSAHEDRAL.order
FUNDAMENTAL_DOMAIN = ICOSAHEDRAL.domain

__all__ = [
    "ALL_ROTATIONS",
    "DEFAULT_SHAPE",
    "DIHEDRAL_3",
    "DIHEDRAL_5",
    "FUNDAMENTAL_DOMAIN",
    "GROUP_ORDER",
    "ICOSAHEDRAL",
    "ICOSAHEDRAL_GROUP",
    "OCTAHEDRAL",
    "ROBUST_SCALE_DEG",
    "SHAPE_FAMILIES",
    "SHAPE_NAMES",
    "Ball",
    "canonical",
    "closest_equivalent",
    "ConvexPolyhedron",
    "fundamental_domain",
    "FundamentalDomain",
    "icosahedron_faces",
    "icosahedron_halfspaces",
    "icosahedron_vertices",
    "matrix_to_quaternion",
    "mean_orientation",
    "misorientation_deg",
    "misorientation_rad",
    "normalize_quaternion",
    "quaternion_conjugate",
    "quaternion_multiply",
    "quaternion_to_matrix",
    "random_quaternions",
    "rotate_points",
    "rotation_angle_rad",
    "rotation_vector_to_quaternion",
    "RotationGroup",
    "shape_family",
    "ShapeFamily",
    "uniform_fundamental_domain",
    "validate_quaternions",
    "voxel_centres_nm",
    "voxelize",
]
