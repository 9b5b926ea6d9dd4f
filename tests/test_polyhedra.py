"""Other convex solids: outward faces, and their far field against an analytic form factor."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wideshot.geometry import random_quaternions, rotate_points
from wideshot.geometry.polyhedra import POLYHEDRA, convex_polyhedron
from wideshot.physics import KGridDetector
from wideshot.physics.forward import polyhedron_amplitude

VOLUMES = {  # unit circumradius
    "cube": (2 / math.sqrt(3)) ** 3,
    "octahedron": 4 / 3,
}


@pytest.mark.parametrize("name", POLYHEDRA)
def test_faces_point_outwards_and_enclose_the_solid(name):
    vertices, faces = convex_polyhedron(name)
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    assert np.all(np.einsum("fi,fi->f", normals, corners.mean(axis=1)) > 0)
    volume = np.einsum("fi,fi->", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])) / 6
    assert np.isclose(np.linalg.norm(vertices, axis=1).max(), 1.0)
    if name in VOLUMES:
        assert volume == pytest.approx(VOLUMES[name], rel=1e-12)


def test_unknown_polyhedron_is_named():
    with pytest.raises(ValueError, match="unknown polyhedron 'sphere'"):
        convex_polyhedron("sphere")


def test_rotated_cube_born_amplitude_matches_the_sinc_product():
    """Born limit: A(q) = Π_i 2 sin(q_i a)/q_i in the cube's own frame (half edge a)."""
    radius_nm = 70.0
    half_edge = radius_nm / math.sqrt(3)
    quaternion = random_quaternions(1, 3)
    vertices, faces = convex_polyhedron("cube")
    rotated = radius_nm * rotate_points(quaternion, vertices)
    grid = KGridDetector()
    q = grid.q[grid.illuminated][::5]
    amplitude = polyhedron_amplitude(torch.as_tensor(rotated), torch.as_tensor(faces),
                                     torch.as_tensor(q), 0.0).numpy()[0]
    from wideshot.geometry import quaternion_to_matrix

    q_body = q @ quaternion_to_matrix(quaternion)[0]  # R^T q, row vectors
    expected = np.prod(2 * half_edge * np.sinc(q_body * half_edge / np.pi), axis=1)
    floor = 10 * (grid.config.reference_voxel_volume_nm3)  # amplitude of F = 100
    above = np.abs(expected) > floor
    relative = np.abs(amplitude - expected)[above] / np.abs(expected)[above]
    assert relative.max() < 1e-6
