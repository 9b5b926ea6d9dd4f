"""Tests of the detector-defect augmentations (wideshot.data.augment)."""
from __future__ import annotations

import math

import pytest
import torch

from wideshot.data.augment import (
    AUGMENTATIONS,
    CenterCrop,
    CentralHole,
    Compose,
    ExperimentLike,
    GaussianBlur,
    Identity,
    LogFloor,
    PoissonNoise,
    RandomChoice,
    RandomCombination,
    ReadoutGaps,
    SaltAndPepper,
    Saturation,
    Shift,
    UniformNoise,
    make_augmentation,
)

N = 128
CENTER = N / 2  # the zero-angle pixel (row N/2, column N/2), docs/conventions.md


def log_scaled(intensity: torch.Tensor) -> torch.Tensor:
    """SPEC image scaling: log(F + 100), then per image min–max to [0, 1]."""
    image = torch.log(intensity + 100.0)
    low = image.amin(dim=(-2, -1), keepdim=True)
    high = image.amax(dim=(-2, -1), keepdim=True)
    return ((image - low) / (high - low)).to(torch.float32)


def radial_sinc2_images(batch_size: int = 4) -> torch.Tensor:
    """(B, N, N) log-scaled sinc² patterns (a sphere-like far field), widths differing per image."""
    offsets = torch.arange(N, dtype=torch.float64) - CENTER
    radius_px = torch.sqrt(offsets[:, None] ** 2 + offsets[None, :] ** 2)
    widths_px = torch.linspace(3.0, 7.0, batch_size, dtype=torch.float64)[:, None, None]
    intensity = 1e7 * torch.sinc(radius_px / widths_px) ** 2 * torch.exp(-radius_px / 40.0)
    return log_scaled(intensity)


def seeded(seed: int, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def drawn(augmentation, batch_size: int, seed: int) -> dict[str, torch.Tensor]:
    """The parameters a call with a generator seeded ``seed`` draws first."""
    return augmentation.draw_parameters(batch_size, seeded(seed))


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """These images are tiny: on a busy machine, thread start-up and contention cost more than
    the work, so run this module on one thread and restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return radial_sinc2_images()


def pixel_offsets() -> tuple[torch.Tensor, torch.Tensor]:
    offsets = torch.arange(N, dtype=torch.float32) - CENTER
    return offsets[:, None], offsets[None, :]


# ---------------------------------------------------------------- properties of every filter


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_keeps_shape_dtype_range_and_leaves_input_alone(name, images):
    original = images.clone()
    augmented, valid = make_augmentation(name).apply_with_mask(images, seeded(0))
    assert augmented.shape == images.shape and augmented.dtype == torch.float32
    assert valid.shape == images.shape and valid.dtype == torch.bool
    assert torch.isfinite(augmented).all()
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0
    assert (augmented[~valid] == 0).all(), "pixels without signal must be exactly 0"
    assert torch.equal(images, original), "the input must not be modified in place"
    assert torch.equal(make_augmentation(name)(images, seeded(0)), augmented)


@pytest.mark.parametrize("name", sorted(set(AUGMENTATIONS) - {"identity"}))
def test_same_seed_same_output_different_seed_different(name, images):
    augmentation = make_augmentation(name)
    first = augmentation(images, seeded(7))
    assert torch.equal(first, augmentation(images, seeded(7)))
    assert not torch.equal(first, augmentation(images, seeded(8)))


def test_parameters_are_drawn_per_image(images):
    sigma = drawn(GaussianBlur(), len(images), seed=3)["sigma_px"]
    assert sigma.shape == (len(images),) and sigma.unique().numel() == len(images)
    assert ((sigma >= 0.0) & (sigma <= 5.0)).all()


def test_identity_returns_equal_copy(images):
    out = Identity()(images, seeded(0))
    assert torch.equal(out, images) and out.data_ptr() != images.data_ptr()


# ---------------------------------------------------------------- masking filters


def test_central_hole_zeroes_inside_radius_only(images):
    hole = CentralHole()
    radius_px = drawn(hole, len(images), seed=1)["radius_px"][:, None, None]
    out, valid = hole.apply_with_mask(images, seeded(1))
    rows, cols = pixel_offsets()
    inside = rows**2 + cols**2 <= radius_px**2
    assert inside.sum() > 0
    assert (out[inside] == 0).all()
    assert torch.equal(out[~inside], images.expand_as(out)[~inside])
    assert torch.equal(valid, ~inside)
    assert not valid[:, int(CENTER), int(CENTER)].any(), "the hole sits on the zero-angle pixel"


@pytest.mark.parametrize("shape", ["square", "disc"])
def test_center_crop_zeroes_outside_only(shape, images):
    crop = CenterCrop(half_width_range_px=(20.0, 50.0), shapes=(shape,))
    half_width = drawn(crop, len(images), seed=2)["half_width_px"][:, None, None]
    out, valid = crop.apply_with_mask(images, seeded(2))
    rows, cols = pixel_offsets()
    if shape == "square":
        kept = torch.maximum(rows.abs(), cols.abs()) <= half_width
    else:
        kept = rows**2 + cols**2 <= half_width**2
    assert (out[~kept] == 0).all() and (~kept).sum() > 0
    assert torch.equal(out[kept], images[kept])
    assert torch.equal(valid, kept)


def test_readout_gaps_make_zero_rows_or_columns(images):
    gaps = ReadoutGaps(count_range=(1, 1), width_range_px=(3, 3))
    out, valid = gaps.apply_with_mask(images, seeded(4))
    zero_rows = (out == 0).all(dim=2).sum(dim=1)
    zero_cols = (out == 0).all(dim=1).sum(dim=1)
    assert torch.equal(zero_rows + zero_cols, torch.full((len(images),), 3))
    assert (out[~valid] == 0).all() and torch.equal(out[valid], images[valid])


def test_two_gaps_may_cross(images):
    gaps = ReadoutGaps(count_range=(2, 2), width_range_px=(2, 2), max_offset_px=0.0)
    out = gaps(images, seeded(5))
    zero_lines = (out == 0).all(dim=2).sum(dim=1) + (out == 0).all(dim=1).sum(dim=1)
    assert ((zero_lines == 2) | (zero_lines == 4)).all()  # same line twice, or two lines


def test_blind_spots_are_zero_and_invalid(images):
    out, valid = make_augmentation("blind-spots").apply_with_mask(images, seeded(6))
    assert (~valid).any(dim=(1, 2)).all()
    assert (out[~valid] == 0).all() and torch.equal(out[valid], images[valid])


def test_chain_moves_the_mask_with_the_pattern(images):
    hole = CentralHole(radius_range_px=(5.0, 5.0))
    shift = Shift(max_shift_px=4.0, integer=True)
    generator = seeded(0)
    hole.draw_parameters(len(images), generator)  # the chain's first draws: the hole's radii
    shifts = shift.draw_parameters(len(images), generator)
    out, valid = Compose([hole, shift, GaussianBlur((1.0, 2.0))]).apply_with_mask(
        images, seeded(0))
    for index in range(len(images)):
        row = int(CENTER + shifts["row_shift_px"][index])
        col = int(CENTER + shifts["col_shift_px"][index])
        assert not valid[index, row, col] and out[index, row, col] == 0
    assert (out[~valid] == 0).all()


# ---------------------------------------------------------------- geometry


def test_shift_moves_centroid_by_drawn_amount(images):
    rows, cols = pixel_offsets()
    blob = torch.exp(-((rows - 3.0) ** 2 + (cols + 2.0) ** 2) / (2 * 4.0**2)).expand(3, N, N)
    shift = Shift(max_shift_px=4.0)
    parameters = drawn(shift, 3, seed=9)
    moved = shift(blob, seeded(9))

    def centroid(image):
        total = image.sum(dim=(1, 2))
        return ((image * rows).sum(dim=(1, 2)) / total, (image * cols).sum(dim=(1, 2)) / total)

    (row_before, col_before), (row_after, col_after) = centroid(blob), centroid(moved)
    torch.testing.assert_close(row_after - row_before, parameters["row_shift_px"],
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(col_after - col_before, parameters["col_shift_px"],
                               atol=1e-3, rtol=0)
    assert parameters["row_shift_px"].abs().max() > 0.5  # a real move, not a trivial pass


def test_integer_shift_moves_pixels(images):
    shift = Shift(max_shift_px=3.0, integer=True)
    parameters = drawn(shift, len(images), seed=11)
    out, valid = shift.apply_with_mask(images, seeded(11))
    for index in range(len(images)):
        dr, dc = int(parameters["row_shift_px"][index]), int(parameters["col_shift_px"][index])
        expected = torch.roll(images[index], shifts=(dr, dc), dims=(0, 1))
        inner = (slice(3, N - 3), slice(3, N - 3))
        torch.testing.assert_close(out[index][inner], expected[inner], atol=1e-5, rtol=0)
        assert valid[index].sum() == (N - abs(dr)) * (N - abs(dc))


def test_jitter_with_zero_amplitude_is_identity(images):
    out = make_augmentation("jitter", amplitude_range_px=(0.0, 0.0))(images, seeded(0))
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- intensity filters


def test_uniform_noise_stays_within_bound(images):
    noise = UniformNoise()
    amplitude = drawn(noise, len(images), seed=12)["amplitude"][:, None, None]
    added = noise(images, seeded(12)) - images
    assert (added >= -1e-7).all()
    assert (added <= amplitude * images.amax(dim=(1, 2), keepdim=True) + 1e-6).all()
    assert added.abs().max() > 0


def test_salt_and_pepper_fraction(images):
    out = SaltAndPepper(fraction_range=(0.1, 0.1))(images, seeded(13))
    changed = (out != images).float().mean()
    assert abs(changed.item() - 0.1) < 0.01
    salt = (out == 1) & (images != 1)
    pepper = (out == 0) & (images != 0)
    assert abs(salt.float().mean().item() - 0.05) < 0.01
    assert abs(pepper.float().mean().item() - 0.05) < 0.01


def high_frequency_power(images: torch.Tensor) -> torch.Tensor:
    """Fraction of the (mean-removed) power beyond a quarter of the Nyquist radius, per image."""
    spectrum = torch.fft.fftshift(torch.fft.fft2(images - images.mean(dim=(1, 2), keepdim=True)),
                                  dim=(-2, -1))
    power = spectrum.abs() ** 2
    rows, cols = pixel_offsets()
    high = rows**2 + cols**2 > (N / 8) ** 2
    return power[:, high].sum(dim=1) / power.sum(dim=(1, 2))


def test_larger_blur_lowers_high_frequency_power(images):
    slight = GaussianBlur(sigma_range_px=(1.0, 1.0))(images, seeded(0))
    strong = GaussianBlur(sigma_range_px=(4.0, 4.0))(images, seeded(0))
    assert (high_frequency_power(strong) < 0.2 * high_frequency_power(slight)).all()
    assert (high_frequency_power(slight) < high_frequency_power(images)).all()


def test_blur_with_zero_sigma_keeps_image(images):
    out = GaussianBlur(sigma_range_px=(0.0, 0.0))(images, seeded(0))
    torch.testing.assert_close(out, images, atol=1e-6, rtol=0)


def test_poisson_noise_is_stronger_at_low_flux(images):
    def seed_to_seed_correlation(max_count: float) -> torch.Tensor:
        # Two independent exposures of one pattern agree the better, the less noise they carry.
        poisson = PoissonNoise(decades_range=(4.0, 4.0), max_count_range=(max_count, max_count))
        first, second = poisson(images, seeded(1)), poisson(images, seeded(2))
        return torch.stack([torch.corrcoef(torch.stack((a.flatten(), b.flatten())))[0, 1]
                            for a, b in zip(first, second)])

    low_flux, high_flux = seed_to_seed_correlation(10.0), seed_to_seed_correlation(1e4)
    assert (low_flux < 0.6).all() and (high_flux > 0.8).all()


def test_poisson_noise_at_high_flux_follows_the_image(images):
    out = PoissonNoise(decades_range=(2.0, 2.0), max_count_range=(1e6, 1e6))(images, seeded(0))
    # 2 decades: re-logged counts are the image itself for the pixels above a few photons.
    bright = images > 0.5
    correlation = torch.corrcoef(torch.stack((out[bright], images[bright])))[0, 1]
    assert correlation > 0.99


def _true_image(intensity: torch.Tensor, floor: float = 100.0):
    """A SPEC image (B, H, W) and its log range (B, 2) of grid-unit intensities F."""
    logs = torch.log(intensity.double() + floor)
    low, high = logs.amin(dim=(-2, -1)), logs.amax(dim=(-2, -1))
    images = ((logs - low[:, None, None]) / (high - low)[:, None, None]).float()
    return images, torch.stack((low, high), dim=-1)


def test_poisson_noise_from_the_true_intensity_leaves_dark_fringes_dark():
    # F: a bright ring on a dark (F = 0) ground, seven decades above it at the peak.
    rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    radius = torch.hypot(rows - 32, cols - 32)
    intensity = (1e9 * torch.exp(-radius**2 / 8) + 1e5 * (radius - 20).abs().lt(2).double()
                 ).expand(4, 64, 64)
    images, log_range = _true_image(intensity)
    poisson = PoissonNoise(true_max_count_range=(1e6, 1e6), background_range=(0.0, 0.0))
    out = poisson(images, seeded(0), log_range)
    # 1e5 / 1e9 × 1e6 = 100 photons on the ring, none anywhere else outside the peak.
    ring, ground = (radius - 20).abs().lt(1.5), (radius > 14) & (radius - 20).abs().gt(3)
    assert (out[:, ground] == 0).all()
    expected = math.log1p(100) / math.log1p(1e6)
    assert abs(out[:, ring].mean().item() - expected) < 0.02
    # Read as a log image over 2-6 decades instead, the dark ground gets photons.
    guessed = PoissonNoise(max_count_range=(1e6, 1e6))(images, seeded(0))
    assert (guessed[:, ground] > 0).float().mean() > 0.5


def test_log_range_reaches_the_photon_noise_through_composite_filters(images):
    log_range = torch.tensor([[4.6, 20.0]]).expand(len(images), 2)
    for chain in (ExperimentLike(), make_augmentation("experiment-or-clean", clean_fraction=0.0),
                  RandomCombination(probability=1.0)):
        with_range = chain(images, seeded(3), log_range)
        without = chain(images, seeded(3))
        assert not torch.equal(with_range, without), type(chain).__name__
    with pytest.raises(ValueError, match="log_range"):
        PoissonNoise()(images, seeded(0), torch.zeros(len(images), 3))


def test_saturation_clips_top(images):
    out = Saturation(level_range=(0.7, 0.7))(images, seeded(0))
    assert (out[images >= 0.7] == 1).all()
    torch.testing.assert_close(out[images < 0.7], images[images < 0.7] / 0.7)


def test_log_floor_raises_floor(images):
    out = LogFloor(threshold_range=(0.3, 0.3))(images, seeded(0))
    assert (out[images <= 0.3] == 0).all()
    torch.testing.assert_close(out[images > 0.3], (images[images > 0.3] - 0.3) / 0.7)


# ---------------------------------------------------------------- combinations


def test_combination_with_zero_probability_changes_nothing(images):
    out = RandomCombination(probability=0.0)(images, seeded(0))
    assert torch.equal(out, images)


def test_combination_with_probability_one_applies_every_filter(images):
    combination = RandomCombination([CentralHole((4.0, 4.0)), ReadoutGaps((1, 1), (2, 2))],
                                    probability=1.0)
    out, valid = combination.apply_with_mask(images, seeded(0))
    assert not valid[:, int(CENTER), int(CENTER)].any()
    zero_lines = (out == 0).all(dim=2).sum(dim=1) + (out == 0).all(dim=1).sum(dim=1)
    assert (zero_lines == 2).all()


def test_combination_draws_subsets_per_image():
    images = radial_sinc2_images(32)
    out = RandomCombination([CentralHole((4.0, 4.0))], probability=0.5)(images, seeded(0))
    holed = out[:, int(CENTER), int(CENTER)] == 0
    assert 0 < holed.sum() < len(images)


def test_random_choice_of_one_filter_applies_it_to_all(images):
    out = RandomChoice([CentralHole((6.0, 6.0))])(images, seeded(0))
    torch.testing.assert_close(out, CentralHole((6.0, 6.0))(images, seeded(0)))


def test_experiment_like_masks_hole_and_crop(images):
    out, valid = ExperimentLike().apply_with_mask(images, seeded(0))
    assert not valid[:, int(CENTER), int(CENTER)].any()
    assert (out[~valid] == 0).all()
    assert torch.allclose(out.amax(dim=(1, 2)), torch.ones(len(images)))  # final rescale


def test_experiment_or_clean_mixes_whole_and_degraded_images(images):
    many = images.repeat(16, 1, 1)
    out, valid = make_augmentation("experiment-or-clean").apply_with_mask(many, seeded(0))
    untouched = (out == many).flatten(1).all(dim=1)
    holed = ~valid[:, int(CENTER), int(CENTER)]
    assert (untouched ^ holed).all()  # each image is either clean or ran the whole chain
    assert 0.3 < untouched.float().mean() < 0.7
    assert make_augmentation("experiment-or-clean", clean_fraction=1.0)(many, seeded(0)).equal(many)
    with pytest.raises(ValueError, match="clean_fraction"):
        make_augmentation("experiment-or-clean", clean_fraction=1.5)


# ---------------------------------------------------------------- registry and validation


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="experiment"):
        make_augmentation("nope")


def test_names_are_forgiving_and_options_reach_the_filter():
    floor = make_augmentation("Log_Floor", threshold_range=(0.1, 0.2))
    assert isinstance(floor, LogFloor) and floor.threshold_range == (0.1, 0.2)


def test_bad_ranges_and_inputs_are_refused(images):
    with pytest.raises(ValueError):
        GaussianBlur(sigma_range_px=(5.0, 1.0))
    with pytest.raises(ValueError):
        SaltAndPepper(fraction_range=(0.0, 2.0))
    with pytest.raises(ValueError):
        Identity()(images[0], seeded(0))
    with pytest.raises(TypeError):
        Identity()(images, 0)


# ---------------------------------------------------------------- CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device available")
@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_runs_on_cuda_like_on_cpu(name, images):
    cuda_images = images.cuda()
    augmentation = make_augmentation(name)
    out = augmentation(cuda_images, seeded(0, device="cuda"))
    assert out.device.type == "cuda" and out.dtype == torch.float32 and out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1
    # A CPU generator draws the same numbers for CUDA images as for CPU images.
    on_cuda = augmentation(cuda_images, seeded(0)).cpu()
    on_cpu = augmentation(images, seeded(0))
    if name in {"choice", "combination", "experiment", "experiment-or-clean"}:
        # Photon counts drawn from rates that differ in the last bit may differ by one.
        assert (on_cuda - on_cpu).abs().mean() < 1e-2
    else:
        # cuDNN may convolve in TF32 (blur), hence a tolerance well above float32 rounding.
        torch.testing.assert_close(on_cuda, on_cpu, atol=5e-3, rtol=0)
