"""Input layer of reconstruction: files and folders → frames → SPEC images with validity masks.

The reference is wideshot.simulate: an image written in any supported format, or simulated on a
flat detector and resampled, must come back as the simulated SPEC image.
"""
import json
import types

import h5py
import numpy as np
import pytest
from PIL import Image

import wideshot
from wideshot.physics import FlatDetector, KGridDetector, far_field, spec_image
from wideshot.reconstruction.preparation import DetectorGeometry, prepare_frame
from wideshot.reconstruction.sources import (
    count_frames,
    find_inputs,
    iter_frames,
    load_mask,
)

QUATERNIONS = np.array([[1.0, 0.0, 0.0, 0.0], [0.923, 0.103, 0.205, 0.308], [0.6, 0.0, 0.8, 0.0]])
IMAGES = wideshot.simulate([60.0, 95.0, 140.0], QUATERNIONS)  # (3, 128, 128) float32 in [0, 1]


def frames_of(paths, **options):
    frames = list(iter_frames(paths, **options))
    assert len(frames) == count_frames(paths, dataset=options.get("dataset"))
    return frames


def rescaled(image, valid):
    """Reference: min–max of the valid pixels to [0, 1], 0 elsewhere."""
    low, high = image[valid].min(), image[valid].max()
    return np.where(valid, (image - low) / (high - low), 0.0)


def correlation(a, b):
    return np.corrcoef(a.ravel(), b.ravel())[0, 1]


# --- round trips through every file type ----------------------------------------------------

def test_npy_frame_and_stack_round_trip(tmp_path):
    np.save(tmp_path / "one.npy", IMAGES[1])
    np.save(tmp_path / "stack.npy", IMAGES)
    one, *stack = frames_of([tmp_path / "one.npy", tmp_path / "stack.npy"])
    assert one.error is None and one.index == 0 and one.valid.all()
    np.testing.assert_allclose(one.image, IMAGES[1], atol=1e-6)
    assert [frame.index for frame in stack] == [0, 1, 2]
    for frame, expected in zip(stack, IMAGES):
        assert frame.source == str(tmp_path / "stack.npy") and frame.image.dtype == np.float32
        np.testing.assert_allclose(frame.image, expected, atol=1e-6)


def test_png_uint8_grey_and_colour_round_trip(tmp_path):
    grey = np.round(IMAGES[0] * 255).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "colour.png")
    frames = frames_of([tmp_path / "grey.png", tmp_path / "colour.png"])
    for frame in frames:
        assert frame.error is None and frame.valid.all()
        np.testing.assert_allclose(frame.image, IMAGES[0], atol=0.5 / 255 + 1e-6)


def test_tiff_float_and_uint16_counts(tmp_path):
    Image.fromarray(IMAGES[2]).save(tmp_path / "float.tif")
    # Counts as a detector records them: times each pixel's solid angle (relative to the
    # forward pixel's), up to e^10 ≈ 22,000 in the forward pixel.
    solid_angle = KGridDetector().solid_angle_sr
    relative = solid_angle / solid_angle[64, 64]
    counts = np.round(np.expm1(IMAGES[2] * 10) * relative).astype(np.uint16)
    Image.fromarray(counts).save(tmp_path / "counts.tiff")
    as_float, as_counts = frames_of([tmp_path / "float.tif", tmp_path / "counts.tiff"])
    np.testing.assert_allclose(as_float.image, IMAGES[2], atol=1e-6)
    # uint16 is read as counts: log(counts / relative solid angle + 1) undoes it up to rounding
    assert as_counts.error is None
    bright = counts > 50
    np.testing.assert_allclose(as_counts.image[bright], IMAGES[2][bright], atol=2e-3)


def test_wideshot_data_set_and_cxi_with_mask(tmp_path):
    with h5py.File(tmp_path / "set.h5", "w") as file:
        file["images"] = IMAGES[:2]
        file["radius_nm"] = [60.0, 95.0]
    bad = np.zeros((128, 128), np.uint32)
    bad[60:68, :] = 1   # a gap between detector halves
    bad[5, 7] = 8       # a dead pixel (CXI bit values, nonzero = bad)
    with_nan = IMAGES[0].copy()
    with_nan[100, 100] = np.nan
    with h5py.File(tmp_path / "run.cxi", "w") as file:
        file["entry_2/data_1/data"] = IMAGES[2:]
        file["entry_1/instrument_1/detector_1/data"] = np.stack([with_nan, IMAGES[1]])
        file["entry_1/instrument_1/detector_1/mask"] = bad
    frames = frames_of([tmp_path / "set.h5", tmp_path / "run.cxi"])
    assert [(frame.index, frame.dataset) for frame in frames] == [
        (0, "/images"), (1, "/images"), (0, "/entry_1/instrument_1/detector_1/data"),
        (1, "/entry_1/instrument_1/detector_1/data"), (2, "/entry_2/data_1/data")]
    np.testing.assert_allclose(frames[1].image, IMAGES[1], atol=1e-6)
    expected_valid = bad == 0
    np.testing.assert_array_equal(frames[3].valid, expected_valid)
    np.testing.assert_allclose(frames[3].image, rescaled(IMAGES[1], expected_valid), atol=1e-6)
    expected_valid[100, 100] = False
    np.testing.assert_array_equal(frames[2].valid, expected_valid)
    assert frames[2].image[100, 100] == 0 and frames[2].image[64, 10] == 0
    assert frames[4].valid.all()  # entry_2 has no mask


def test_hdf5_dataset_override_and_missing_dataset(tmp_path):
    with h5py.File(tmp_path / "raw.h5", "w") as file:
        file["scan/frames"] = IMAGES
        file["scan/energy"] = np.arange(3.0)
    frames = frames_of([tmp_path / "raw.h5"], dataset="/scan/frames")
    assert [frame.error for frame in frames] == [None] * 3 and frames[2].dataset == "/scan/frames"
    missing, = frames_of([tmp_path / "raw.h5"], dataset="/entry_1/data_1/data")
    assert "no dataset '/entry_1/data_1/data' in raw.h5" in missing.error
    assert "/scan/frames (3, 128, 128)" in missing.error
    default, = frames_of([tmp_path / "raw.h5"])
    assert "no image data set found" in default.error and "/scan/frames" in default.error


# --- a folder with good and bad files ---------------------------------------------------------

def test_folder_with_good_and_bad_files(tmp_path):
    folder = tmp_path / "run"
    (folder / "sub").mkdir(parents=True)
    np.save(folder / "a_good.npy", IMAGES[0])
    (folder / "b_corrupt.h5").write_bytes(b"\x89HDF\r\n" + bytes(range(256)) * 4)
    (folder / "c_text.png").write_text("this is not an image\n")
    np.save(folder / "d_nan.npy", np.full((128, 128), np.nan))
    np.save(folder / "e_zero.npy", np.zeros((128, 128)))
    np.save(folder / "f_small.npy", np.ones((64, 64)))
    np.save(folder / "g_constant.npy", np.full((128, 128), 7.0))
    np.save(folder / "sub" / "h_good.npy", IMAGES[1])
    np.save(folder / ".hidden.npy", IMAGES[2])
    (folder / "notes.txt").write_text("beam time log")
    stray = tmp_path / "notes.txt"
    stray.write_text("given by name")
    paths = find_inputs([folder, tmp_path / "missing.npy", stray, folder / "a_good.npy"])
    assert [path.name for path in paths] == [
        "a_good.npy", "b_corrupt.h5", "c_text.png", "d_nan.npy", "e_zero.npy", "f_small.npy",
        "g_constant.npy", "h_good.npy", "missing.npy", "notes.txt"]
    frames = frames_of(paths)
    assert isinstance(iter_frames(paths), types.GeneratorType)
    errors = {frame.source.split("/")[-1]: frame.error for frame in frames}
    good = [frame for frame in frames if frame.error is None]
    assert [frame.source for frame in good] == [str(folder / "a_good.npy"), str(folder / "sub" / "h_good.npy")]
    np.testing.assert_allclose(good[1].image, IMAGES[1], atol=1e-6)
    assert "not a readable HDF5 file" in errors["b_corrupt.h5"]
    assert "not a PNG image" in errors["c_text.png"]
    assert "NaN" in errors["d_nan.npy"]
    assert "all zero" in errors["e_zero.npy"]
    assert "64×64 but no --geometry" in errors["f_small.npy"]
    assert "constant" in errors["g_constant.npy"]
    assert errors["missing.npy"] == "no such file"
    assert "unknown file type '.txt'" in errors["notes.txt"]
    assert all(frame.image is None and frame.valid is None for frame in frames if frame.error)


def test_global_mask_and_load_mask(tmp_path):
    good = np.ones((128, 128), bool)
    good[:, :10] = False
    np.save(tmp_path / "mask.npy", good)
    Image.fromarray(good.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    with h5py.File(tmp_path / "mask.cxi", "w") as file:
        file["entry_1/instrument_1/detector_1/mask"] = (~good).astype(np.uint16)  # nonzero = bad
    with h5py.File(tmp_path / "mask.h5", "w") as file:
        file["mask"] = good.astype(np.uint8)
    for name in ("mask.npy", "mask.png", "mask.cxi", "mask.h5"):
        np.testing.assert_array_equal(load_mask(tmp_path / name), good, err_msg=name)
    with pytest.raises(ValueError, match="marks every pixel bad"):
        np.save(tmp_path / "empty.npy", np.zeros((4, 4)))
        load_mask(tmp_path / "empty.npy")

    np.save(tmp_path / "frame.npy", IMAGES[0])
    np.save(tmp_path / "big.npy", np.ones((100, 100)))
    masked, wrong = frames_of([tmp_path / "frame.npy", tmp_path / "big.npy"], mask=good)
    np.testing.assert_array_equal(masked.valid, good)
    np.testing.assert_allclose(masked.image, rescaled(IMAGES[0], good), atol=1e-6)
    assert "the mask file is 128×128 but the frame is 100×100" in wrong.error


# --- preparation: geometry, intensity scales, errors -------------------------------------------

def test_flat_detector_frame_resamples_onto_the_spec_grid():
    geometry = DetectorGeometry.parse("distance_mm=20,pixel_size_um=200,beam_center_px=95:112.5")
    flat = geometry.detector((201, 221))
    assert isinstance(flat, FlatDetector)
    on_flat = spec_image(far_field(95.0, QUATERNIONS[1], detector=flat))[0].astype(np.float64)
    on_flat[:, 100:104] = np.nan  # a gap between detector modules
    image, valid = prepare_frame(on_flat, geometry=geometry)
    assert 4000 < valid.sum() < 128 * 128
    # SPEC pixels that fall between flat columns 99 and 104 (gap ± one bilinear neighbour)
    column_on_flat = flat.pixel_of_k_perp(KGridDetector().k_perp)[..., 1]
    assert not valid[(column_on_flat > 99.5) & (column_on_flat < 103.5)].any()
    assert valid[64, (column_on_flat[64] > 104.5) & (column_on_flat[64] < 120)].all()
    assert correlation(image[valid], IMAGES[1][valid]) > 0.99
    assert image.min() == 0 and image.max() == 1 and np.all(image[~valid] == 0)


def test_counts_mode_recovers_the_log_image():
    solid_angle = KGridDetector().solid_angle_sr  # a detector records |A|² × solid angle
    counts = np.exp(IMAGES[1].astype(np.float64) * 10) * solid_angle / solid_angle[64, 64]
    for intensity in ("counts", "auto"):
        image, valid = prepare_frame(counts, intensity=intensity)
        assert valid.all() and correlation(image, IMAGES[1]) > 0.99
    negative = counts - 2.0
    image, _ = prepare_frame(negative, intensity="counts")  # clipped to 0 counts, no NaN
    assert np.isfinite(image).all()
    spec_as_spec, _ = prepare_frame(IMAGES[1] * 0.5 + 0.2, intensity="spec")
    np.testing.assert_allclose(spec_as_spec, IMAGES[1], atol=1e-6)


@pytest.mark.parametrize("frame, options, message", [
    (np.zeros((2, 128, 128)), {}, "2-D"),
    (np.ones((64, 64)), {}, "frame is 64×64 but no --geometry was given"),
    (np.full((128, 128), np.inf), {}, "all pixels are NaN or infinite"),
    (np.full((128, 128), 3.0), {}, "frame is constant (all pixels equal): no diffraction signal"),
    (np.zeros((128, 128), np.uint16), {}, "frame is all zero"),
    (-np.ones((128, 128)), {"intensity": "counts"}, "no positive counts"),
    (IMAGES[0], {"mask": np.zeros((128, 128), bool)}, "masked"),
    (IMAGES[0], {"mask": np.ones((10, 10))}, "mask is 10×10"),
    (IMAGES[0], {"intensity": "linear"}, "intensity must be one of"),
])
def test_prepare_frame_errors(frame, options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare_frame(frame, **options)


def test_geometry_parse(tmp_path):
    geometry = DetectorGeometry.parse("distance_mm=370, pixel_size_um=75,beam_center_px=511.5:500")
    assert geometry == DetectorGeometry(370.0, 75.0, (511.5, 500.0), 13.5)
    assert DetectorGeometry.parse("pixel_size_um=75,distance_mm=370,wavelength_nm=4.5").beam_center_px is None
    (tmp_path / "geometry.json").write_text(json.dumps(
        {"distance_mm": 370, "pixel_size_um": 75, "beam_center_px": [511.5, 500], "wavelength_nm": 13.5}))
    assert DetectorGeometry.parse(str(tmp_path / "geometry.json")) == geometry
    assert geometry.detector((1024, 1024)).config.wavelength_nm == 13.5
    for text, message in [
        ("distance_mm=370", "missing pixel_size_um"),
        ("distance_mm=370,pixel_size_um=75,distance=3", "unknown key 'distance'"),
        ("distance_mm=abc,pixel_size_um=75", "distance_mm must be a number, got 'abc'"),
        ("distance_mm=-1,pixel_size_um=75", "distance_mm must be a positive number"),
        ("distance_mm=370,pixel_size_um=75,beam_center_px=511.5", "beam_center_px"),
        ("distance_mm=370,pixel_size_um", "expected key=value"),
        (str(tmp_path / "nowhere.json"), "cannot read"),
    ]:
        with pytest.raises(ValueError, match=message):
            DetectorGeometry.parse(text)
