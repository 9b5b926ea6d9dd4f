"""Tests of the detector symmetries (wideshot.physics.symmetry), the symmetry-aware average of
orientations, and the multi-view prediction built on them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from wideshot.geometry import (
    ICOSAHEDRAL_GROUP,
    canonical,
    misorientation_deg,
    quaternion_multiply,
    random_quaternions,
    rotation_vector_to_quaternion,
)
from wideshot.geometry import closest_equivalent, mean_orientation
from wideshot.models import create_model
from wideshot.models.inference import predict
from wideshot.physics import simulate
from wideshot.physics.symmetry import (
    DETECTOR_SYMMETRIES,
    VIEW_SETS,
    transform_images,
    transform_quaternions,
    untransform_quaternions,
)

NAMES = list(DETECTOR_SYMMETRIES)


@pytest.fixture(scope="module")
def particles():
    """Three particles and their simulated SPEC images (B, 128, 128)."""
    quaternion = random_quaternions(3, np.random.default_rng(5))
    radius_nm = np.array([40.0, 95.0, 150.0])
    return radius_nm, quaternion, torch.as_tensor(simulate(radius_nm, quaternion))


@pytest.mark.parametrize("name", NAMES)
def test_moved_pixels_are_the_simulation_of_the_moved_particle(particles, name):
    # The physics check: simulating the transformed orientation gives the transformed image.
    radius_nm, quaternion, images = particles
    moved = torch.as_tensor(simulate(radius_nm, transform_quaternions(quaternion, name)))
    assert torch.allclose(transform_images(images, name), moved, atol=1e-5)


def test_each_symmetry_is_told_apart(particles):
    # Each transformed image matches only its own simulation (the check above can fail).
    radius_nm, quaternion, images = particles
    for name in NAMES[1:]:
        moved = torch.as_tensor(simulate(radius_nm, transform_quaternions(quaternion, name)))
        errors = {other: float((transform_images(images, other) - moved).abs().max())
                  for other in NAMES}
        assert min(errors, key=errors.get) == name
        assert sorted(errors.values())[1] > 0.1


def test_pixel_maps_by_hand():
    size = 8
    image = torch.arange(size * size, dtype=torch.float32).reshape(size, size)
    half = size // 2
    # k_x = j - N/2 → -k_x: column j goes to column (N - j) mod N.
    mirrored = transform_images(image, "mirror-x")
    assert torch.equal(mirrored[:, (size - np.arange(size)) % size], image)
    # A quarter turn counter-clockwise: (k_x, k_y) → (-k_y, k_x).
    turned = transform_images(image, "turn-90")
    for i in range(size):
        for j in range(size):
            k_x, k_y = j - half, i - half
            new_x, new_y = -k_y, k_x
            assert turned[(new_y + half) % size, (new_x + half) % size] == image[i, j]


def test_group_laws():
    images = torch.rand(2, 16, 16)
    quaternion = random_quaternions(4, np.random.default_rng(0))
    for name in NAMES:
        moved = transform_images(images, name)
        assert torch.equal(moved.flatten(1).sort().values, images.flatten(1).sort().values)
        back = untransform_quaternions(transform_quaternions(quaternion, name), name)
        assert np.allclose(back, quaternion)
    assert torch.equal(transform_images(transform_images(images, "mirror-x"), "mirror-x"), images)
    four_quarters = images
    for _ in range(4):
        four_quarters = transform_images(four_quarters, "turn-90")
    assert torch.equal(four_quarters, images)


def test_quaternion_maps_match_scipy():
    rng = np.random.default_rng(1)
    quaternion = random_quaternions(5, rng)
    matrices = Rotation.from_quat(quaternion[:, [1, 2, 3, 0]]).as_matrix()
    mirror = np.diag([-1.0, 1.0, 1.0])
    turn = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    expected = turn @ mirror @ matrices @ mirror
    got = transform_quaternions(quaternion, "mirror-x-turn-90")
    got_matrices = Rotation.from_quat(got[:, [1, 2, 3, 0]]).as_matrix()
    assert np.allclose(got_matrices, expected)
    torch_got = transform_quaternions(torch.as_tensor(quaternion), "mirror-x-turn-90")
    assert np.allclose(torch_got.numpy(), got)


def test_bad_names_and_grids():
    with pytest.raises(ValueError, match="unknown detector symmetry"):
        transform_images(torch.zeros(4, 4), "turn-45")
    with pytest.raises(ValueError, match="even grid size"):
        transform_images(torch.zeros(5, 5), "turn-90")
    with pytest.raises(ValueError, match="square"):
        transform_images(torch.zeros(4, 6), "turn-90")


def test_closest_equivalent_is_in_the_orbit_and_closest():
    rng = np.random.default_rng(2)
    q, reference = random_quaternions(50, rng), random_quaternions(50, rng)
    closest = closest_equivalent(q, reference)
    assert np.allclose(canonical(closest), canonical(q))
    angle = 2 * np.degrees(np.arccos(np.clip((closest * reference).sum(-1), -1, 1)))
    assert np.allclose(angle, misorientation_deg(q, reference), atol=1e-6)


def test_mean_orientation_undoes_symmetry_and_sign_and_averages_noise():
    rng = np.random.default_rng(3)
    truth = canonical(random_quaternions(200, rng))
    noise = rotation_vector_to_quaternion(rng.normal(size=(200, 8, 3)) * np.radians(2.0))
    estimates = quaternion_multiply(noise, truth[:, None])
    estimates = quaternion_multiply(estimates, ICOSAHEDRAL_GROUP[rng.integers(0, 60, (200, 8))])
    estimates = estimates * rng.choice([-1.0, 1.0], size=(200, 8, 1))
    mean = mean_orientation(estimates)
    single = misorientation_deg(estimates[:, 0], truth)
    averaged = misorientation_deg(mean, truth)
    # Eight independent estimates: the error shrinks by about √8.
    assert np.median(averaged) < 0.5 * np.median(single)
    assert np.allclose(mean_orientation(torch.as_tensor(estimates)).numpy(), mean)
    assert np.allclose(mean[:, 0], canonical(mean)[:, 0])


class _FixedAnswer(torch.nn.Module):
    """A stand-in network that reads the orientation off a lookup of the image it is shown."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))
        self.images, self.targets = images.flatten(1), targets

    def forward(self, images):
        distance = torch.cdist(images.flatten(1).contiguous(), self.images)
        return self.targets[distance.argmin(1)] + 0 * self.anchor


def test_predict_views_average_back_in_the_original_frame(particles):
    # A network that is right on every view must give the right answer after averaging;
    # one whose answers were not mapped back would be off by the symmetries.
    from wideshot.models.targets import labels_to_targets

    radius_nm, quaternion, images = particles
    views, targets = [], []
    for name in NAMES:
        views.append(transform_images(images, name))
        moved = torch.as_tensor(transform_quaternions(quaternion, name))
        targets.append(labels_to_targets(moved, torch.as_tensor(radius_nm)))
    network = _FixedAnswer(torch.cat(views), torch.cat(targets).float())
    for count in VIEW_SETS:
        labels = predict(network, images, views=count)
        assert np.all(misorientation_deg(labels.quaternion[:, 0], quaternion) < 0.01)
        assert np.allclose(labels.radius_nm[:, 0], radius_nm, atol=1e-3)


def test_predict_views_reject_unknown_counts():
    model = create_model("compact-resnet", width=8, depth=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="views must be one of"):
        predict(model, torch.rand(1, 128, 128), views=3)


def test_robust_mean_orientation_discounts_an_outlier():
    rng = np.random.default_rng(4)
    truth = canonical(random_quaternions(100, rng))
    noise = rotation_vector_to_quaternion(rng.normal(size=(100, 8, 3)) * np.radians(1.0))
    estimates = quaternion_multiply(noise, truth[:, None])
    # One view in eight is 40° off.
    kick = rotation_vector_to_quaternion(np.array([0.0, 0.0, np.radians(40.0)]))
    estimates[:, 0] = quaternion_multiply(kick, estimates[:, 0])
    robust = misorientation_deg(mean_orientation(estimates), truth)
    plain = misorientation_deg(mean_orientation(estimates, robust_scale_deg=None), truth)
    assert np.median(plain) > 3.0  # the outlier pulls the plain mean by ~5°
    assert np.median(robust) < 1.0
