"""Particle geometry: quaternions, the icosahedral group, its fundamental domain, the icosahedron.

Conventions (SPEC.md): quaternions ``(w, x, y, z)`` scalar first, active rotations
(``p_lab = R(q) @ p_ref``), lengths in nm, angles in rad unless a name ends in ``_deg``.
"""
from wideshot.geometry.icosahedral_group import (
    FUNDAMENTAL_DOMAIN,
    GROUP_ORDER,
    ICOSAHEDRAL_GROUP,
    FundamentalDomain,
    canonical,
    closest_equivalent,
    mean_orientation,
    misorientation_deg,
    misorientation_rad,
    uniform_fundamental_domain,
)
from wideshot.geometry.icosahedron import (
    icosahedron_faces,
    icosahedron_halfspaces,
    icosahedron_vertices,
    voxel_centres_nm,
    voxelize,
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

__all__ = [
    "FUNDAMENTAL_DOMAIN",
    "GROUP_ORDER",
    "ICOSAHEDRAL_GROUP",
    "FundamentalDomain",
    "canonical",
    "closest_equivalent",
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
    "uniform_fundamental_domain",
    "validate_quaternions",
    "voxel_centres_nm",
    "voxelize",
]
