"""Tests of wideshot.data.experimental: the Barke et al. 2015 images shipped as package data."""
from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest
from PIL import Image

from wideshot.data.experimental import (
    BARKE2015_ICOSAHEDRA,
    load_barke2015,
    undo_barke2015_colour_map,
)

FOLDER = resources.files("wideshot.data") / "barke2015"
NAMES = [f"barke{index}" for index in range(1, 9)]


@pytest.fixture(scope="module")
def barke():
    return load_barke2015()


def raw_pixels(name: str) -> np.ndarray:
    with (FOLDER / f"{name}.png").open("rb") as handle:
        return np.asarray(Image.open(handle), dtype=np.float64)


def test_all_eight_images_load_as_spec_images(barke):
    assert barke["names"] == NAMES
    assert barke["images"].shape == (8, 128, 128) and barke["images"].dtype == np.float32
    assert barke["valid"].shape == (8, 128, 128) and barke["valid"].dtype == bool
    for image, valid in zip(barke["images"], barke["valid"]):
        # Measured when the mask rule was chosen: 23.2 % (barke1) to 25.5 % (barke4, barke6).
        assert 0.20 < valid.mean() < 0.28
        assert np.all(image[~valid] == 0.0)
        assert image[valid].min() == 0.0 and image[valid].max() == 1.0
    assert "Barke" in barke["citation"] and "6187" in barke["citation"]


def test_shapes_follow_labels_csv(barke):
    with (FOLDER / "labels.csv").open("r", newline="") as handle:
        expected = {row["scatter"].removeprefix("./").removesuffix(".png"): row["polyhedron"]
                    for row in csv.DictReader(handle)}
    assert barke["shape"] == [expected[name] for name in NAMES]
    icosahedra = load_barke2015(BARKE2015_ICOSAHEDRA)
    assert icosahedra["names"] == ["barke5", "barke6"]
    assert icosahedra["shape"] == ["Icosahedron", "Icosahedron"]


def test_a_subset_in_any_order_matches_the_full_set(barke):
    subset = load_barke2015(["barke6", "barke2"])
    assert subset["names"] == ["barke6", "barke2"]
    np.testing.assert_array_equal(subset["images"], barke["images"][[5, 1]])
    np.testing.assert_array_equal(subset["valid"], barke["valid"][[5, 1]])


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="barke1.*barke8"):
        load_barke2015(["barke5", "barke9"])


def test_colour_map_inversion_follows_the_readme_table():
    # Breakpoints and the README's formulas, segment by segment.
    assert undo_barke2015_colour_map(0.0) == 0.0
    assert undo_barke2015_colour_map(0.30) == pytest.approx(0.38, abs=1e-15)
    assert undo_barke2015_colour_map(0.88) == pytest.approx(0.7425, abs=1e-15)
    assert undo_barke2015_colour_map(1.0) == 1.0
    assert undo_barke2015_colour_map(-0.2) == 0.0 and undo_barke2015_colour_map(1.3) == 1.0
    v = np.array([0.1, 0.5, 0.95])
    readme = np.array([(0.38 / 0.30) * 0.1, 0.38 + (0.25 / 0.40) * (0.5 - 0.30),
                       0.7425 + ((1 - 0.7425) / 0.12) * (0.95 - 0.88)])
    np.testing.assert_allclose(undo_barke2015_colour_map(v), readme, rtol=1e-12)
    fine = undo_barke2015_colour_map(np.linspace(0.0, 1.0, 2001))
    assert np.all(np.diff(fine) > 0.0)


def test_images_are_the_pngs_flipped_along_both_axes(barke):
    """On valid pixels, each image is an increasing function of the PNG turned by 180°; the
    unflipped PNG (or one flipped along a single axis) is not."""
    for name, image, valid in zip(NAMES, barke["images"], barke["valid"]):
        for flipped, expected in ((np.flip(raw_pixels(name), (0, 1)), True),
                                  (raw_pixels(name), False),
                                  (np.flip(raw_pixels(name), 0), False)):
            order = np.argsort(flipped[valid], kind="stable")
            increasing = bool(np.all(np.diff(image[valid][order]) >= 0.0))
            assert increasing is expected, name


def test_mask_keeps_dark_signal_and_drops_outside_and_central_hole(barke):
    valid = barke["valid"]
    assert not valid[:, :20].any() and not valid[:, :, :20].any()  # far outside the detector
    assert not valid[:, 63:66, 63:65].any()  # the central hole, around the zero-angle pixel
    assert valid[:, 64, 56].all() and valid[:, 64, 72].all()  # just beside it
    # barke1's troughs between the streaks are dark: zeros on the detector, kept as signal.
    assert np.mean(barke["images"][0][valid[0]] == 0.0) > 0.05
