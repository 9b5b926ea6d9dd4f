"""The octahedral family's cube (p = 1) against the analytic Born amplitude of a box."""
from __future__ import annotations

import math

import numpy as np
import torch

from wideshot.geometry import quaternion_to_matrix, random_quaternions, rotate_points, shape_family
from wideshot.physics import KGridDetector
from wideshot.physics.particle import polyhedron_amplitude


def test_rotated_cube_born_amplitude_matches_the_sinc_product():
    """Born limit: A(q) = Π_i 2 sin(q_i a)/q_i in the cube's own frame (half edge a)."""
    radius_nm = 70.0
    half_edge = radius_nm / math.sqrt(3)
    quaternion = random_quaternions(1, 3)
    cube = shape_family("octahedral").solid(1.0)
    assert len(cube.vertices) == 8
    rotated = radius_nm * rotate_points(quaternion, cube.vertices)
    grid = KGridDetector()
    q = grid.q[grid.illuminated][::5]
    amplitude = polyhedron_amplitude(torch.as_tensor(rotated), torch.as_tensor(cube.faces),
                                     torch.as_tensor(q), 0.0).numpy()[0]
    q_body = q @ quaternion_to_matrix(quaternion)[0]  # R^T q, row vectors
    expected = np.prod(2 * half_edge * np.sinc(q_body * half_edge / np.pi), axis=1)
    floor = 10 * (grid.config.reference_voxel_volume_nm3)  # amplitude of F = 100
    above = np.abs(expected) > floor
    relative = np.abs(amplitude - expected)[above] / np.abs(expected)[above]
    assert relative.max() < 1e-6
