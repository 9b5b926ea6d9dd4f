"""Forward model: input checks, symmetries, detectors, and the two kernels against each other.

Agreement with independent references (analytic form factors, the literal MSFT, Mie theory)
is in test_physics_validation.py.
"""
import math

import numpy as np
import pytest
import torch

import wideshot
from wideshot.geometry import (
    ICOSAHEDRAL_GROUP,
    quaternion_multiply,
    random_quaternions,
    voxelize,
)
from wideshot.physics import (
    FlatDetector,
    KGridDetector,
    density_far_field,
    far_field,
    icosahedron_amplitude,
    simulate,
    simulate_density,
)

RNG = np.random.default_rng(7)
QUATERNIONS = random_quaternions(3, RNG)
ILLUMINATED = KGridDetector().illuminated


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("radius", [0.0, -5.0, math.nan, math.inf])
def test_bad_radius_names_the_argument(radius):
    with pytest.raises(ValueError, match="radius_nm"):
        simulate(radius, [1, 0, 0, 0])


@pytest.mark.parametrize("quaternion", [[0, 0, 0, 0], [1, 0, math.nan, 0], [1, 0, 0], np.ones((2, 3))])
def test_bad_quaternion_names_the_argument(quaternion):
    with pytest.raises(ValueError, match="quaternion"):
        simulate(50.0, quaternion)


def test_mismatched_batch_sizes():
    with pytest.raises(ValueError, match="radius_nm 2, quaternion 3"):
        simulate([40.0, 50.0], QUATERNIONS)


@pytest.mark.parametrize("density", [np.ones((4, 4)), np.ones((1, 2, 3, 4, 5)), np.full((4, 4, 4), np.nan)])
def test_bad_density(density):
    with pytest.raises(ValueError, match="density"):
        simulate_density(density, 1.0)


def test_bad_options():
    with pytest.raises(ValueError, match="precision"):
        far_field(50.0, [1, 0, 0, 0], precision="half")
    with pytest.raises(ValueError, match="at most one"):
        far_field(50.0, [1, 0, 0, 0], attenuation_length_nm=10.0, refractive_index=0.9 + 0.1j)
    with pytest.raises(ValueError, match="attenuation_length_nm"):
        far_field(50.0, [1, 0, 0, 0], attenuation_length_nm=-1.0)


def test_slightly_non_unit_quaternion_is_normalised():
    q = QUATERNIONS[0]
    np.testing.assert_allclose(simulate(60.0, q * 1.001), simulate(60.0, q), atol=1e-6)


# --- images --------------------------------------------------------------------------------------

def test_images_follow_spec_scaling():
    images = simulate([30.0, 160.0], QUATERNIONS[:2])
    assert images.shape == (2, 128, 128) and images.dtype == np.float32
    assert np.allclose(images.min(axis=(1, 2)), 0) and np.allclose(images.max(axis=(1, 2)), 1)
    # brightest pixel: the forward direction; dark outside k_perp < k
    assert np.all(images[:, 64, 64] == 1)
    assert np.all(images[:, ~ILLUMINATED] == images.min(axis=(1, 2))[:, None])


def test_scalar_and_batch_calls_agree():
    batch = simulate([45.0, 45.0, 45.0], QUATERNIONS)
    for item, q in zip(batch, QUATERNIONS):
        np.testing.assert_allclose(simulate(45.0, q)[0], item, atol=1e-6)


def test_born_forward_amplitude_is_the_volume():
    radius = 50.0
    edge = radius / math.sin(2 * math.pi / 5)
    volume = 5 / 12 * (3 + math.sqrt(5)) * edge**3
    amplitude = far_field(radius, QUATERNIONS[0], attenuation_length_nm=math.inf)[0]
    assert amplitude[64, 64] == pytest.approx(volume, rel=1e-10)


def test_absorption_dims_the_forward_beam_by_the_column_integral():
    # A(0) = ∫ ℓ(1 − e^{−d/ℓ}) d²r over the projection; for a thin slab-like column average this
    # lies between ℓ·(projected area)·(1 − e^{−d_max/ℓ}) and the Born volume.
    radius = 80.0
    born = far_field(radius, QUATERNIONS[1], attenuation_length_nm=math.inf)[0, 64, 64].real
    absorbed = far_field(radius, QUATERNIONS[1])[0, 64, 64]
    assert abs(absorbed.imag) < 1e-6 * abs(absorbed.real)
    assert 0 < absorbed.real < born


# --- symmetry ------------------------------------------------------------------------------------

def test_icosahedral_symmetry_leaves_the_image_unchanged():
    q = QUATERNIONS[2]
    equivalent = quaternion_multiply(q[None], ICOSAHEDRAL_GROUP[[5, 17, 33, 59]])
    images = simulate(70.0, np.concatenate([q[None], equivalent]))
    for image in images[1:]:
        np.testing.assert_allclose(image, images[0], atol=2e-5)


def test_rotation_about_the_beam_rotates_the_image():
    q = QUATERNIONS[0]
    quarter_turn_z = np.array([math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)])
    original, rotated = simulate(90.0, np.stack([q, quaternion_multiply(quarter_turn_z, q)]))
    # Active +90° about z: the pattern at k = (k_x, k_y) equals the original at (k_y, −k_x);
    # pixel (i, j) ↔ (k_y, k_x) = (i − 64, j − 64)Δk, so rotated[i, j] = original[128 − j, i].
    i, j = np.meshgrid(np.arange(1, 128), np.arange(1, 128), indexing="ij")
    np.testing.assert_allclose(rotated[i, j], original[128 - j, i], atol=2e-5)


def test_inversion_through_the_origin_is_not_a_symmetry_of_the_image():
    # Absorption breaks Friedel symmetry: the pattern of q and of its 180° turn about x differ.
    q = QUATERNIONS[1]
    half_turn_x = np.array([0.0, 1.0, 0.0, 0.0])
    a, b = simulate(100.0, np.stack([q, quaternion_multiply(half_turn_x, q)]))
    assert np.abs(a - b).max() > 0.05


# --- kernels and precision -----------------------------------------------------------------------

@pytest.mark.parametrize("attenuation", [1 / 12.5, -1j * 2 * math.pi / 13.5 * (-0.110 + 0.079j)])
def test_torch_kernel_matches_cpu_kernel(attenuation):
    q_pixels = torch.as_tensor(KGridDetector().q[ILLUMINATED][::7])
    radius = torch.tensor([35.0, 150.0], dtype=torch.float64)
    quats = torch.as_tensor(QUATERNIONS[:2])
    fused = icosahedron_amplitude(radius, quats, q_pixels, attenuation, kernel="fused")
    for dtype, tolerance in [(torch.float64, 1e-10), (torch.float32, 2e-4)]:
        plain = icosahedron_amplitude(radius, quats, q_pixels.to(dtype), attenuation)
        scale = fused.abs().amax(dim=1, keepdim=True)
        assert ((plain.to(torch.complex128) - fused).abs() / scale).max() < tolerance


def test_both_kernels_agree_on_a_large_batch_of_mixed_topologies():
    """Regression: the CPU kernel merged corners with a tolerance taken over the whole batch,
    including unused overlay cells whose corners can lie ~1e14 nm away; every corner of every
    item then merged into one and whole batches of the mixed-shape data sets came out wrong.
    This batch (octahedral solids of random truncation) was one of them."""
    from wideshot.physics.particle import particle_amplitude

    rng = np.random.default_rng(0)
    for n in (8, 32):  # the draws that preceded the failing batch
        rng.uniform(0, 1, n), rng.uniform(30, 160, n), random_quaternions(n, rng)
    truncation, radius, quats = (rng.uniform(0, 1, 64), rng.uniform(30, 160, 64),
                                 random_quaternions(64, rng))
    q_pixels = torch.as_tensor(KGridDetector().q[ILLUMINATED][::50])
    amplitudes = {kernel: particle_amplitude(torch.as_tensor(radius), torch.as_tensor(quats),
                                             q_pixels, 1 / 12.5, ["octahedral"] * 64,
                                             truncation, kernel=kernel)
                  for kernel in ("fused", "torch")}
    scale = amplitudes["torch"].abs().amax(dim=1, keepdim=True)
    assert ((amplitudes["fused"] - amplitudes["torch"]).abs() / scale).max() < 1e-9
    # ... and a particle's pattern does not depend on its batch.
    alone = particle_amplitude(torch.as_tensor(radius[:1]), torch.as_tensor(quats[:1]), q_pixels,
                               1 / 12.5, ["octahedral"], truncation[:1], kernel="fused")
    assert ((alone[0] - amplitudes["fused"][0]).abs() / scale[0]).max() < 1e-9


def test_torch_kernel_is_differentiable():
    q_pixels = torch.as_tensor(KGridDetector().q[ILLUMINATED][::97])
    radius = torch.tensor([60.0], dtype=torch.float64, requires_grad=True)
    quats = torch.as_tensor(QUATERNIONS[:1]).requires_grad_(True)
    intensity = icosahedron_amplitude(radius, quats, q_pixels, 1 / 12.5).abs().square().sum()
    intensity.backward()
    assert torch.isfinite(radius.grad).all() and radius.grad.abs() > 0
    assert torch.isfinite(quats.grad).all()


def test_single_precision_output():
    double = far_field(120.0, QUATERNIONS[0], precision="double")
    single = far_field(120.0, QUATERNIONS[0], precision="single")
    assert single.dtype == np.complex64 and double.dtype == np.complex128
    np.testing.assert_allclose(single, double, atol=1e-6 * np.abs(double).max())


# --- densities -----------------------------------------------------------------------------------

def test_density_msft_converges_to_the_exact_icosahedron():
    radius, q = 40.0, QUATERNIONS[1]
    exact = far_field(radius, q, precision="double")[0]
    signal = np.abs(exact) ** 2 / (318.75 / 192) ** 6 > 100
    errors = []
    for voxel_nm in (2.0, 1.0, 0.5):
        n = int(2 * radius / voxel_nm) + 8
        density = voxelize(radius, q, (n, n, n), voxel_nm, supersample=3)
        approx = density_far_field(density, voxel_nm, precision="double")[0]
        errors.append(np.median(np.abs(approx - exact)[signal] / np.abs(exact)[signal]))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01


def test_empty_density_gives_zero_field():
    assert np.all(density_far_field(np.zeros((8, 8, 8)), 1.0) == 0)


# --- detectors -----------------------------------------------------------------------------------

def test_default_grid_matches_spec():
    detector = KGridDetector()
    assert detector.config.pixel_dk == pytest.approx(0.0073920, abs=5e-8)
    k_perp = detector.k_perp
    assert k_perp[64, 64].tolist() == [0.0, 0.0]
    assert k_perp[10, 70, 0] == pytest.approx(6 * detector.config.pixel_dk)     # column → k_x
    assert k_perp[10, 70, 1] == pytest.approx(-54 * detector.config.pixel_dk)   # row → k_y
    # the grid reaches just beyond k: the outermost column of the central row is dark
    assert detector.illuminated[64, 2] and not detector.illuminated[64, 0] and not detector.illuminated[0, 0]


def test_flat_detector_geometry_round_trip():
    detector = FlatDetector(distance_mm=50.0, pixel_size_um=200.0, shape=(100, 120),
                            beam_center_px=(48.5, 61.0))
    rows, cols = np.meshgrid(np.arange(100), np.arange(120), indexing="ij")
    np.testing.assert_allclose(detector.pixel_of_k_perp(detector.k_perp),
                               np.stack([rows, cols], axis=-1), atol=1e-9)
    # scattering angle of a pixel: tan θ = r/D
    k = detector.config.wavenumber
    r_mm = math.hypot(0 - 48.5, 0 - 61.0) * 0.2
    assert np.linalg.norm(detector.k_perp[0, 0]) == pytest.approx(k * math.sin(math.atan2(r_mm, 50.0)))


def test_flat_detector_pattern_resamples_onto_the_default_grid():
    flat = FlatDetector(distance_mm=40.0, pixel_size_um=150.0, shape=(301, 301))
    q = QUATERNIONS[2]
    on_flat = np.log(np.abs(far_field(80.0, q, detector=flat)[0]) ** 2 + 1)
    resampled, covered = flat.resample_to(on_flat)
    direct = np.log(np.abs(far_field(80.0, q)[0]) ** 2 + 1)
    inner = covered & (KGridDetector().illuminated)
    assert inner.sum() > 2000
    assert np.corrcoef(resampled[0][inner], direct[inner])[0, 1] > 0.98


def test_flat_detector_rejects_bad_geometry():
    with pytest.raises(ValueError, match="distance_mm"):
        FlatDetector(distance_mm=0.0, pixel_size_um=75.0, shape=(10, 10))
    with pytest.raises(ValueError, match="shape"):
        FlatDetector(distance_mm=1.0, pixel_size_um=75.0, shape=(10, 10)).resample_to(np.zeros((5, 5)))


def test_public_api_names():
    assert callable(wideshot.simulate) and callable(wideshot.simulate_density)
    assert wideshot.misorientation_deg(QUATERNIONS[0], QUATERNIONS[0]) == pytest.approx(0, abs=1e-6)
    np.testing.assert_allclose(wideshot.canonical(-QUATERNIONS[0]), wideshot.canonical(QUATERNIONS[0]))


@pytest.mark.cuda
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    cpu = far_field([40.0, 150.0], QUATERNIONS[:2])
    gpu = far_field([40.0, 150.0], QUATERNIONS[:2], device="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=2e-4 * np.abs(cpu).max())


@pytest.mark.cuda
def test_cuda_matches_cpu_for_every_family_in_one_batch():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    options = {"shape": ["icosahedron", "decahedron", "octahedral", "twinned-tetrahedron",
                         "sphere"], "shape_parameter": [np.nan, 0.8, 0.5, 0.25, np.nan]}
    quaternions = random_quaternions(5, 7)
    cpu = far_field([40.0, 150.0, 90.0, 70.0, 120.0], quaternions, **options)
    gpu = far_field([40.0, 150.0, 90.0, 70.0, 120.0], quaternions, device="cuda", **options)
    for item in range(5):
        np.testing.assert_allclose(gpu[item], cpu[item], atol=2e-4 * np.abs(cpu[item]).max())


@pytest.mark.parametrize("device", ["gpu0", "cuda:0" if not torch.cuda.is_available() else "nonsense"])
def test_unusable_device_is_a_clear_error(device):
    with pytest.raises(ValueError, match="device"):
        simulate(50.0, [1, 0, 0, 0], device=device)
