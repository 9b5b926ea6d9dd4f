"""Photon counts: pixel solid angles, expected and recorded counts, count-frame test sets."""
from __future__ import annotations

import dataclasses
import math

import h5py
import numpy as np
import pytest
from scipy import integrate

from wideshot.config import DEFAULT_CONFIG
from wideshot.data.detector_frames import (
    DEFAULT_FLAT_GEOMETRY,
    load_counts_frames,
    make_counts_frames,
    save_counts_frames,
)
from wideshot.geometry import shape_family
from wideshot.physics import (
    FlatDetector,
    KGridDetector,
    expected_counts,
    far_field,
    record_counts,
)
from wideshot.reconstruction.preparation import DetectorGeometry

ALL_FAMILIES = ("icosahedron", "decahedron", "octahedral", "twinned-tetrahedron", "sphere")


# --- pixel solid angles -------------------------------------------------------------------------

def test_flat_detector_square_sums_to_closed_form():
    """A centred square of half-side a at distance D subtends 4·asin(a²/(a² + D²))."""
    detector = FlatDetector(distance_mm=12.0, pixel_size_um=160.0, shape=(256, 256))
    half_side_mm = 128 * 0.160
    closed_form = 4 * math.asin(half_side_mm**2 / (half_side_mm**2 + 12.0**2))
    assert detector.solid_angle_sr.sum() == pytest.approx(closed_form, rel=1e-10)


def test_flat_detector_off_centre_rectangle_sums_to_whole():
    """An off-centre rectangle: the pixels add up to the rectangle's solid angle, here by
    numerical integration of D/r³ over the whole rectangle."""
    distance_mm, pitch_mm = 5.0, 0.5
    detector = FlatDetector(distance_mm=distance_mm, pixel_size_um=pitch_mm * 1e3, shape=(30, 50),
                            beam_center_px=(3.0, 40.0))
    x_low, x_high = (-0.5 - 40.0) * pitch_mm, (49.5 - 40.0) * pitch_mm
    y_low, y_high = (-0.5 - 3.0) * pitch_mm, (29.5 - 3.0) * pitch_mm
    whole, _ = integrate.dblquad(lambda y, x: distance_mm / (x**2 + y**2 + distance_mm**2)**1.5,
                                 x_low, x_high, y_low, y_high, epsabs=1e-12, epsrel=1e-12)
    assert detector.solid_angle_sr.sum() == pytest.approx(whole, rel=1e-9)


def test_flat_detector_pixels_match_small_pixel_limit_and_quadrature():
    detector = FlatDetector(distance_mm=12.0, pixel_size_um=160.0, shape=(256, 256))
    solid_angle = detector.solid_angle_sr
    assert solid_angle.shape == (256, 256) and solid_angle.dtype == np.float64
    # A far (corner) pixel: Ω ≈ pitch²·D/r³, to O((pitch/r)²) ~ 1e-5.
    x_mm = y_mm = 127.5 * 0.160
    r_mm = math.sqrt(x_mm**2 + y_mm**2 + 12.0**2)
    assert solid_angle[-1, -1] == pytest.approx(0.160**2 * 12.0 / r_mm**3, rel=1e-4)
    # Pixels as large as the distance, where pitch²·D/r³ is far off (1 sr instead of 0.805 sr
    # on the axis): the exact values agree with quadrature.
    big = FlatDetector(distance_mm=1.0, pixel_size_um=1000.0, shape=(3, 3))
    for (row, column), (x_low, y_low) in {(1, 1): (-0.5, -0.5), (1, 2): (0.5, -0.5),
                                          (0, 2): (0.5, -1.5)}.items():
        exact, _ = integrate.dblquad(lambda y, x: 1.0 / (x**2 + y**2 + 1.0)**1.5,
                                     x_low, x_low + 1, y_low, y_low + 1,
                                     epsabs=1e-13, epsrel=1e-13)
        assert big.solid_angle_sr[row, column] == pytest.approx(exact, rel=1e-10)
    assert big.solid_angle_sr[1, 1] == pytest.approx(4 * math.asin(0.25 / 1.25), rel=1e-12)


def test_k_grid_solid_angles_cover_the_hemisphere():
    # A 4× finer grid (Δk/4, 512 px) still spans |k_perp| < k; the rim's 1/k_z needs it.
    config = dataclasses.replace(DEFAULT_CONFIG, grid_size=512, fft_size=2048)
    detector = KGridDetector(config)
    assert config.grid_size * config.pixel_dk / 2 > config.wavenumber
    solid_angle = detector.solid_angle_sr
    assert solid_angle.shape == (512, 512)
    assert np.all(solid_angle[~detector.illuminated] == 0)
    assert solid_angle.sum() == pytest.approx(2 * math.pi, rel=0.01)
    centre = solid_angle[256, 256]  # k_perp = 0: Δk²/k²
    assert centre == pytest.approx((config.pixel_dk / config.wavenumber)**2, rel=1e-12)


# --- expected counts ----------------------------------------------------------------------------

def test_expected_counts_brightest_pixel_and_shape():
    detector = KGridDetector()
    radius_nm, quaternion = [40.0, 90.0], [[1, 0, 0, 0], [0.8, 0.6, 0, 0]]
    counts = expected_counts(radius_nm, quaternion, detector, photons_max=[1e3, 5e4])
    assert counts.shape == (2, 128, 128) and counts.dtype == np.float64
    np.testing.assert_allclose(counts.max(axis=(1, 2)), [1e3, 5e4], rtol=1e-12)
    # Proportional to |A|²·Ω, pixel by pixel; 0 where no wave arrives.
    intensity = np.abs(far_field(radius_nm, quaternion, precision="double")) ** 2
    reference = intensity * detector.solid_angle_sr
    reference *= np.array([1e3, 5e4])[:, None, None] / reference.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(counts, reference, rtol=1e-9, atol=1e-12)
    assert np.all(counts[:, ~detector.illuminated] == 0)


def test_expected_counts_background_and_mask():
    detector = FlatDetector(distance_mm=12.0, pixel_size_um=640.0, shape=(32, 32))
    plain = expected_counts(50.0, [1, 0, 0, 0], detector, photons_max=200.0, background=0.01)
    assert plain.min() >= 0.01
    assert (plain - 0.01).max() == pytest.approx(200.0, rel=1e-12)
    mask = np.ones((32, 32), dtype=bool)
    mask[12:20, 12:20] = False  # a beam stop over the forward peak
    masked = expected_counts(50.0, [1, 0, 0, 0], detector, photons_max=200.0, mask=mask)
    assert masked[0][mask].max() == pytest.approx(200.0, rel=1e-12)
    assert masked[0][~mask].max() > 200.0


@pytest.mark.parametrize("options, message", [
    ({"photons_max": 0.0}, "photons_max must be positive"),
    ({"photons_max": [1.0, 2.0]}, "one value per frame"),
    ({"photons_max": 10.0, "background": -1.0}, "background must be non-negative"),
    ({"photons_max": 10.0, "mask": np.ones((4, 4), bool)}, "mask must be"),
    ({"photons_max": 10.0, "mask": np.zeros((128, 128), bool)}, "scatters no intensity"),
    ({"photons_max": 10.0, "config": dataclasses.replace(DEFAULT_CONFIG, wavelength_nm=10.0)},
     "wavelength"),
])
def test_expected_counts_rejects_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        expected_counts(50.0, [1, 0, 0, 0], KGridDetector(), **options)


# --- recorded counts ----------------------------------------------------------------------------

def test_record_counts_is_poisson():
    means = np.array([0.05, 1.0, 7.5, 120.0, 4000.0])
    draws = 4000
    counts = record_counts(np.broadcast_to(means, (draws, 1, len(means))),
                           np.random.default_rng(3))
    assert counts.dtype == np.float64 and np.all(counts == np.round(counts))
    mean = counts.mean(axis=0)[0]
    np.testing.assert_array_less(np.abs(mean - means), 5 * np.sqrt(means / draws))
    # Poisson: variance = mean (relative standard error of a variance ≈ √(2/draws)).
    np.testing.assert_allclose(counts.var(axis=0)[0], means, rtol=6 * math.sqrt(2 / draws))


def test_record_counts_saturation_threshold_gain():
    expected = np.array([[[0.5, 3.0, 40.0, 1e4]], [[0.5, 3.0, 40.0, 1e4]]])
    plain = record_counts(expected, np.random.default_rng(1))
    clipped = record_counts(expected, np.random.default_rng(1), saturation=[100.0, 20.0])
    np.testing.assert_array_equal(clipped, np.minimum(plain, [[[100.0]], [[20.0]]]))
    assert clipped[0, 0, 3] == 100.0 and clipped[1, 0, 3] == 20.0 and clipped[1, 0, 2] == 20.0
    zero_suppressed = record_counts(expected, np.random.default_rng(1), threshold=5.0)
    np.testing.assert_array_equal(zero_suppressed, np.where(plain <= 5.0, 0.0, plain))
    np.testing.assert_array_equal(record_counts(expected, np.random.default_rng(1), threshold=0),
                                  plain)
    np.testing.assert_array_equal(record_counts(expected, np.random.default_rng(1), gain=2.5),
                                  2.5 * plain)
    never = record_counts(expected, np.random.default_rng(1), saturation=math.inf)
    np.testing.assert_array_equal(never, plain)


@pytest.mark.parametrize("expected, options, message", [
    (-np.ones((1, 2, 2)), {}, "non-negative mean photon counts"),
    (np.full((1, 2, 2), np.nan), {}, "finite"),
    (np.ones((2, 2)), {}, r"\(B, H, W\)"),
    (np.ones((1, 2, 2)), {"saturation": 0.0}, "saturation must be positive"),
    (np.ones((1, 2, 2)), {"saturation": np.nan}, "saturation must be positive and finite"),
    (np.ones((1, 2, 2)), {"saturation": [5.0, 6.0]}, "one value per frame"),
    (np.ones((1, 2, 2)), {"threshold": -1.0}, "threshold must be non-negative"),
    (np.ones((1, 2, 2)), {"threshold": 5.0, "saturation": 5.0}, "below saturation"),
    (np.ones((1, 2, 2)), {"gain": 0.0}, "gain"),
    (np.ones((1, 2, 2)), {"gain": math.inf}, "gain"),
    (np.ones((1, 2, 2)), {"gain": [1.0, 2.0]}, "gain"),
])
def test_record_counts_rejects_bad_arguments(expected, options, message):
    with pytest.raises(ValueError, match=message):
        record_counts(expected, np.random.default_rng(0), **options)


# --- count-frame test sets ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def frames():
    return make_counts_frames(8, seed=0, shapes=ALL_FAMILIES)


def test_default_flat_geometry_reaches_wide_angles():
    detector = DEFAULT_FLAT_GEOMETRY.detector((256, 256))
    k_perp = np.linalg.norm(detector.k_perp[127, 0])  # an edge midpoint
    angle_deg = math.degrees(math.asin(k_perp / detector.config.wavenumber))
    assert angle_deg == pytest.approx(59.5, abs=0.5)


def test_frames_are_reproducible_per_frame(frames):
    small = dict(geometry=DetectorGeometry(12.0, 640.0), frame_shape=(48, 40), seed=5,
                 shapes=ALL_FAMILIES)
    two, three = make_counts_frames(2, **small), make_counts_frames(3, **small)
    for key in ("counts", "mask", "saturation", "photons_max", "background", "radius_nm",
                "quaternion", "shape_parameter"):
        np.testing.assert_array_equal(two[key], three[key][:2], err_msg=key)
    assert two["shape"] == three["shape"][:2]
    assert three["counts"].shape == three["mask"].shape == (3, 48, 40)
    assert not np.array_equal(three["counts"][0], three["counts"][2])
    np.testing.assert_array_equal(frames["counts"][0],
                                  make_counts_frames(1, shapes=ALL_FAMILIES)["counts"][0])


def test_frames_truth_masks_and_saturation(frames):
    n = 8
    counts, mask, saturation = frames["counts"], frames["mask"], frames["saturation"]
    assert counts.shape == mask.shape == (n, 256, 256) and mask.dtype == bool
    for key in ("saturation", "photons_max", "background", "radius_nm", "shape_parameter"):
        assert frames[key].shape == (n,), key
    assert frames["quaternion"].shape == (n, 4) and len(frames["shape"]) == n
    assert frames["geometry"] == DEFAULT_FLAT_GEOMETRY
    assert np.all(~mask[:, 127:129, 127:129])  # beam stop at the beam centre
    assert np.all(counts[~mask] == 0) and np.all(counts == np.round(counts))
    assert np.all((frames["photons_max"] >= 10**2.5) & (frames["photons_max"] <= 10**4.5))
    assert np.all((saturation >= 0.3 * frames["photons_max"] - 1)
                  & (saturation <= 2 * frames["photons_max"] + 1))
    assert np.all(counts <= saturation[:, None, None])
    for index, name in enumerate(frames["shape"]):
        family = shape_family(name)
        quaternion = frames["quaternion"][index]
        np.testing.assert_allclose(family.group.canonical(quaternion), quaternion, atol=1e-12)
        assert math.isnan(frames["shape_parameter"][index]) != family.has_parameter
    # λ from the truth: the brightest good pixel holds photons_max; good pixels far above the
    # saturation level read exactly the level, and some do.
    expected = expected_counts(frames["radius_nm"], frames["quaternion"],
                               DEFAULT_FLAT_GEOMETRY.detector((256, 256)),
                               photons_max=frames["photons_max"], shape=frames["shape"],
                               shape_parameter=frames["shape_parameter"],
                               background=frames["background"], mask=mask)
    signal = np.where(mask, expected - frames["background"][:, None, None], 0.0)
    np.testing.assert_allclose(signal.max(axis=(1, 2)), frames["photons_max"], rtol=1e-9)
    level = saturation[:, None, None]
    surely_saturated = mask & (expected > level + 8 * np.sqrt(level))
    assert surely_saturated.any()
    np.testing.assert_array_equal(counts[surely_saturated],
                                  np.broadcast_to(level, counts.shape)[surely_saturated])
    assert np.isfinite(saturation).all()
    assert (mask.mean(axis=(1, 2)) > 0.9).all()


def test_frames_without_defects():
    plain = make_counts_frames(2, geometry=DetectorGeometry(12.0, 640.0), frame_shape=(32, 32),
                               defects=False)
    assert plain["mask"].all() and np.isinf(plain["saturation"]).all()
    assert plain["counts"].max() > 0.5 * plain["photons_max"].min()


@pytest.mark.parametrize("options, message", [
    ({"n": 0}, "n must be"),
    ({"n": 1, "shapes": ()}, "shapes"),
    ({"n": 1, "shapes": ("cube",)}, "unknown shape family"),
    ({"n": 1, "photons_range": (0, 10)}, "photons_range"),
    ({"n": 1, "radius_range_nm": (50, 10)}, "radius_range_nm"),
    ({"n": 1, "frame_shape": (0, 4)}, "frame_shape"),
    ({"n": 1, "threshold": -1.0}, "threshold"),
])
def test_make_counts_frames_rejects_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        make_counts_frames(**options)


def test_save_and_load_round_trip(tmp_path):
    frames = make_counts_frames(2, shapes=("decahedron", "sphere"),
                                geometry=DetectorGeometry(12.0, 640.0, (15.5, 16.0)),
                                frame_shape=(32, 33))
    path = save_counts_frames(frames, tmp_path / "sub" / "frames.h5")
    with h5py.File(path, "r") as file:
        assert file["counts"].dtype == np.uint32 and file["mask"].dtype == np.uint8
        assert file["truth/shape"].dtype.kind == "S"
    loaded = load_counts_frames(path)
    assert set(loaded) == set(frames)
    for key, value in frames.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(loaded[key], value, err_msg=key)
            assert loaded[key].dtype == value.dtype, key
        else:
            assert loaded[key] == value, key
    # Counts that are not whole photons (a gain) are kept as float32.
    frames["counts"] = frames["counts"] * 1.5
    loaded = load_counts_frames(save_counts_frames(frames, tmp_path / "gain.h5"))
    np.testing.assert_allclose(loaded["counts"], frames["counts"], rtol=1e-7)
    with pytest.raises(ValueError, match=r"\.h5"):
        save_counts_frames(frames, tmp_path / "frames.npz")
