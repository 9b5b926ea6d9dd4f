"""The lit-pixel hit finder: particles are hits, background is not, bad pixels do not count."""
from __future__ import annotations

import numpy as np
import pytest

from wideshot.beamline.hits import HitFinder
from wideshot.data.detector_frames import make_counts_frames


@pytest.fixture(scope="module")
def particle_frames() -> dict:
    """Two flat-detector frames of particles with defects, 10^3 photons in the brightest pixel."""
    return make_counts_frames(2, seed=5, shapes=("icosahedron", "sphere"),
                              photons_range=(1e3, 1e3))


def test_particle_frames_are_hits(particle_frames):
    finder = HitFinder()
    assert finder.is_hit(particle_frames["counts"], particle_frames["mask"]).tolist() == [True,
                                                                                         True]
    assert np.all(finder.lit_pixels(particle_frames["counts"]) > 10 * finder.min_lit_pixels)


def test_low_background_is_not_a_hit():
    rng = np.random.default_rng(0)
    frames = rng.poisson(0.01, size=(20, 256, 256))
    assert not HitFinder().is_hit(frames).any()


def test_counts_pixels_at_the_threshold_and_above():
    frame = np.array([[0.0, 1.9, 2.0], [2.5, 7.0, 1.0]])
    assert HitFinder(lit_photons=2.0, lit_neighbours=0).lit_pixels(frame).tolist() == [3]


def test_nan_and_inf_pixels_are_not_counted():
    frame = np.full((8, 8), 5.0)
    frame[0, :3] = np.nan
    frame[1, :2] = np.inf
    frame[2, 0] = -np.inf
    assert HitFinder(lit_photons=2.0, lit_neighbours=0).lit_pixels(frame).tolist() == [64 - 6]


def test_masked_pixels_are_not_counted():
    frames = np.full((2, 4, 5), 9.0)
    shared = np.ones((4, 5), dtype=bool)
    shared[0] = False
    per_frame = np.ones((2, 4, 5), dtype=bool)
    per_frame[1, :, :2] = False
    finder = HitFinder(lit_photons=2.0, lit_neighbours=0)
    assert finder.lit_pixels(frames, shared).tolist() == [15, 15]
    assert finder.lit_pixels(frames, per_frame).tolist() == [20, 12]


def test_gain_divides():
    rng = np.random.default_rng(1)
    photons = rng.poisson(2.0, size=(3, 32, 32)).astype(np.float64)
    in_photons = HitFinder(lit_photons=3.0, lit_neighbours=0).lit_pixels(photons)
    assert HitFinder(lit_photons=3.0, gain=7.5, lit_neighbours=0).lit_pixels(photons * 7.5).tolist() == \
        in_photons.tolist()
    # 2.9 photons at 10 ADU/photon is 29 ADU: lit at gain 1, not at gain 10.
    assert HitFinder(lit_photons=3.0, gain=10.0, lit_neighbours=0).lit_pixels(np.full((2, 2), 29.0)).tolist() == [0]
    assert HitFinder(lit_photons=3.0, lit_neighbours=0).lit_pixels(np.full((2, 2), 29.0)).tolist() == [4]


def test_batched_equals_one_frame_at_a_time(particle_frames):
    rng = np.random.default_rng(2)
    frames = np.concatenate([particle_frames["counts"],
                             rng.poisson(0.05, size=(3, 256, 256))])
    mask = np.concatenate([particle_frames["mask"], particle_frames["mask"][:1].repeat(3, 0)])
    finder = HitFinder()
    batched = finder.lit_pixels(frames, mask)
    one_by_one = [finder.lit_pixels(frame, valid)[0] for frame, valid in zip(frames, mask)]
    assert batched.shape == (5,) and batched.tolist() == one_by_one
    assert finder.is_hit(frames, mask).tolist() == [count >= finder.min_lit_pixels
                                                    for count in one_by_one]


def test_integer_frames_count_as_float_frames(particle_frames):
    counts = particle_frames["counts"]
    finder = HitFinder(lit_photons=2.5, lit_neighbours=0)
    assert finder.lit_pixels(counts.astype(np.uint16)).tolist() == \
        finder.lit_pixels(counts).tolist()


@pytest.mark.parametrize("frames, match", [
    (np.zeros(5), "2-D .* or 3-D"),
    (np.zeros((1, 1, 4, 4)), "2-D .* or 3-D"),
    (np.zeros((4, 4), dtype=complex), "real numbers"),
    (np.array([["a", "b"]]), "real numbers"),
])
def test_rejects_frames_that_are_not_images(frames, match):
    with pytest.raises(ValueError, match=match):
        HitFinder().lit_pixels(frames)


@pytest.mark.parametrize("valid", [np.ones((4, 5), bool), np.ones((3, 5, 5), bool),
                                   np.ones(25, bool)])
def test_rejects_a_mask_of_the_wrong_shape(valid):
    with pytest.raises(ValueError, match=r"valid must be a mask of shape \(5, 5\)"):
        HitFinder().is_hit(np.zeros((2, 5, 5)), valid)


@pytest.mark.parametrize("fields, match", [
    ({"lit_photons": 0.0}, "lit_photons must be a positive"),
    ({"lit_photons": -1.0}, "lit_photons must be a positive"),
    ({"lit_photons": float("nan")}, "lit_photons must be a positive"),
    ({"gain": 0.0}, "gain must be a positive"),
    ({"gain": float("inf")}, "gain must be a positive"),
    ({"min_lit_pixels": 0}, "min_lit_pixels must be a whole number"),
    ({"min_lit_pixels": 2.5}, "min_lit_pixels must be a whole number"),
    ({"min_lit_pixels": True}, "min_lit_pixels must be a whole number"),
])
def test_rejects_thresholds_that_are_not_positive(fields, match):
    with pytest.raises(ValueError, match=match):
        HitFinder(**fields)


def test_isolated_lit_pixels_do_not_count_with_a_neighbour_rule():
    frame = np.zeros((32, 32))
    frame[::4, ::4] = 50.0            # 64 scattered hot pixels
    frame[9:12, 17:20] = 3.0          # one blob of 9, touching none of them
    assert HitFinder(lit_neighbours=0).lit_pixels(frame).tolist() == [64 + 9]
    assert HitFinder(lit_neighbours=1).lit_pixels(frame).tolist() == [9]
    # Corners of the blob have two lit neighbours, edges three, the centre four.
    assert HitFinder(lit_neighbours=3).lit_pixels(frame).tolist() == [5]
    with pytest.raises(ValueError, match="lit_neighbours must be 0, 1, 2, 3 or 4"):
        HitFinder(lit_neighbours=5)
