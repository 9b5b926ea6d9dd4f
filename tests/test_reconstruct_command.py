"""Tests of the reconstruction front ends: ``wideshot reconstruct``, ``wideshot fit``,
``wideshot demo``, :func:`wideshot.reconstruct` and
:func:`wideshot.reconstruction.pipeline.reconstruct_files`.

Every file is written into a temporary folder; the shipped "default" model answers. Truth comes
from :func:`wideshot.simulate` (SPEC images) and :func:`wideshot.physics.far_field` (a flat
detector).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numba
import numpy as np
import pytest
import torch
from PIL import Image

import wideshot
from wideshot.cli import main
from wideshot.fitting.api import IMAGE_NUISANCE_COLUMNS
from wideshot.geometry import canonical, misorientation_deg
from wideshot.physics import FlatDetector, KGridDetector, far_field, intensity_grid_units
from wideshot.reconstruction import chunks, pipeline
from wideshot.reconstruction.api import reconstruct
from wideshot.reconstruction.demo import format_table, run_demo
from wideshot.reconstruction.pipeline import COLUMNS, reconstruct_files

RADII = np.array([45.0, 80.0, 120.0, 60.0])
QUATERNIONS = np.array([[0.923, 0.103, 0.205, 0.308], [1.0, 0.0, 0.0, 0.0],
                        [0.6, 0.0, 0.8, 0.0], [0.8, 0.36, 0.0, 0.48]])
CXI_DATA = "/entry_1/data_1/data"
CXI_BAD_PIXELS = ((10, 10), (10, 11), (100, 20), (50, 120), (120, 120))
# A flat detector 20 mm behind the particle, 256 x 150 µm pixels: scattering angles up to ~44°,
# the central part of SPEC's k-grid.
FLAT_GEOMETRY = "distance_mm=20,pixel_size_um=150"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread for torch and numba: on a busy two-core machine two OpenMP threads make every
    forward pass of the network ~50 times slower (1.7 s instead of 0.03 s for three images).
    numba's OpenMP layer resets the thread count that torch shares, so both are set."""
    threads = torch.get_num_threads(), numba.get_num_threads()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    yield
    numba.set_num_threads(threads[1])
    torch.set_num_threads(threads[0])


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """SPEC images (4, 128, 128) of RADII and QUATERNIONS."""
    return wideshot.simulate(RADII, QUATERNIONS)


def read_rows(out: Path, extra: tuple[str, ...] = ()) -> list[dict]:
    with open(out / "reconstruction.csv", newline="") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames) == COLUMNS + extra
        return list(reader)


def read_json(out: Path) -> dict:
    with open(out / "reconstruction.json") as file:
        return json.load(file)


def check_answer(row: dict) -> None:
    """A row with an answer: radius in range, unit canonical quaternion, misfit in [0, 1]."""
    assert row["status"] in ("ok", "flagged"), row
    radius = float(row["radius_nm"])
    assert np.isfinite(radius) and 20 < radius < 200, row
    quaternion = np.array([float(row[key]) for key in "wxyz"])
    assert abs(np.linalg.norm(quaternion) - 1) < 1e-9, row
    np.testing.assert_allclose(canonical(quaternion), quaternion, atol=1e-9)
    assert 0 <= float(row["misfit"]) <= 1, row



# --- wideshot reconstruct on a folder of good and broken files --------------------------------

@pytest.fixture(scope="module")
def mixed(tmp_path_factory, images):
    """A folder of good and broken inputs, reconstructed once; (exit code, out, folder)."""
    folder = tmp_path_factory.mktemp("mixed-inputs")
    np.save(folder / "a_good0.npy", images[0])
    np.save(folder / "a_good1.npy", images[1])
    np.save(folder / "b_stack.npy", images[:3])
    Image.fromarray(np.round(images[2] * 255).astype(np.uint8)).save(folder / "c_good.png")
    # CXI: linear counts whose log is the SPEC image, as a detector records them (times each
    # pixel's solid angle), hot pixels that only the mask hides.
    solid_angle = KGridDetector().solid_angle_sr
    counts = np.expm1(images[:2].astype(np.float64) * 10) * solid_angle / solid_angle[64, 64]
    mask = np.zeros((128, 128), np.uint32)
    for row, column in CXI_BAD_PIXELS:
        counts[:, row, column] = 1e12
        mask[row, column] = 1  # CXI: nonzero = bad
    with h5py.File(folder / "d_cxi.h5", "w") as file:
        file[CXI_DATA] = counts
        file["/entry_1/instrument_1/detector_1/mask"] = mask
    (folder / "e_corrupt.h5").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "f_text.png").write_text("this is not an image\n")
    np.save(folder / "g_nan.npy", np.full((128, 128), np.nan, np.float32))
    np.save(folder / "h_zero.npy", np.zeros((128, 128), np.float32))
    np.save(folder / "i_small.npy", np.random.default_rng(1).random((64, 64)))
    (folder / "notes.txt").write_text("not an input: unknown suffix, skipped\n")
    out = tmp_path_factory.mktemp("mixed-out") / "result"
    code = main(["reconstruct", str(folder), "--out", str(out), "--quiet", "--panels", "2"])
    return code, out, folder


# (file, frame, expected status or a text the failure reason must contain)
MIXED_EXPECTED = [
    ("a_good0.npy", 0, None), ("a_good1.npy", 0, None),
    ("b_stack.npy", 0, None), ("b_stack.npy", 1, None), ("b_stack.npy", 2, None),
    ("c_good.png", 0, None), ("d_cxi.h5", 0, None), ("d_cxi.h5", 1, None),
    ("e_corrupt.h5", 0, "HDF5"), ("f_text.png", 0, "PNG"), ("g_nan.npy", 0, "NaN"),
    ("h_zero.npy", 0, "zero"), ("i_small.npy", 0, "64×64"),
]


def test_mixed_folder_gives_one_row_per_frame_in_order(mixed):
    code, out, folder = mixed
    assert code == 1  # some frames failed
    rows = read_rows(out)
    assert [(Path(row["source"]).name, int(row["frame"])) for row in rows] == \
        [(name, frame) for name, frame, _ in MIXED_EXPECTED]
    assert all(Path(row["source"]).parent == folder for row in rows)
    for row, (name, _, problem) in zip(rows, MIXED_EXPECTED):
        if problem is None:
            check_answer(row)
            assert row["reason"] == ""
            assert row["dataset"] == (CXI_DATA if name.endswith(".h5") else "")
        else:
            assert row["status"] == "failed", row
            assert problem in row["reason"], row
            assert row["radius_nm"] == row["w"] == row["misfit"] == ""
    reasons = {Path(row["source"]).name: row["reason"] for row in rows}
    assert "geometry" in reasons["i_small.npy"]
    assert "read" in reasons["f_text.png"] and "read" in reasons["e_corrupt.h5"]


def test_mixed_folder_answers_match_the_images(mixed):
    _, out, _ = mixed
    radius = {(Path(row["source"]).name, int(row["frame"])): float(row["radius_nm"])
              for row in read_rows(out) if row["status"] != "failed"}
    # The same image answers the same in any file and batch position.
    assert radius["a_good0.npy", 0] == pytest.approx(radius["b_stack.npy", 0], abs=0.01)
    assert radius["a_good1.npy", 0] == pytest.approx(radius["b_stack.npy", 1], abs=0.01)
    assert radius["c_good.png", 0] == pytest.approx(radius["b_stack.npy", 2], abs=3)
    # CXI counts are read as log(counts / relative solid angle + 1) and the hot pixels are
    # masked away: the same answers as the SPEC images (which the unmasked 1e12 hot pixels would
    # squash to [0, 0.5]).
    assert radius["d_cxi.h5", 0] == pytest.approx(radius["a_good0.npy", 0], abs=1.5)
    assert radius["d_cxi.h5", 1] == pytest.approx(radius["a_good1.npy", 0], abs=1.5)


def test_mixed_folder_json_and_panels(mixed):
    _, out, _ = mixed
    rows = read_rows(out)
    result = read_json(out)
    assert set(result) == {"frames", "summary"}
    assert len(result["frames"]) == len(rows) == 13
    for frame, row in zip(result["frames"], rows):
        assert (frame["source"], frame["frame"], frame["status"]) == \
            (row["source"], int(row["frame"]), row["status"])
        if row["status"] != "failed":
            assert frame["radius_nm"] == pytest.approx(float(row["radius_nm"]))
    summary = result["summary"]
    statuses = [row["status"] for row in rows]
    assert summary["frames"] == 13 and summary["failed"] == 5
    assert summary["ok"] + summary["flagged"] == 8
    assert (summary["ok"], summary["flagged"]) == (statuses.count("ok"), statuses.count("flagged"))
    assert summary["method"] == "network" and summary["model"] == "default"
    assert summary["views"] == 8
    assert summary["panels"] == 2
    panels = sorted(path.name for path in (out / "panels").iterdir())
    assert panels == ["00000_a_good0_0.png", "00001_a_good1_0.png"]
    for name in panels:
        with Image.open(out / "panels" / name) as panel:
            assert panel.format == "PNG" and min(panel.size) > 100


# --- exit status, misfit threshold, usage errors ------------------------------------------------

@pytest.fixture(scope="module")
def good_folder(tmp_path_factory, images) -> Path:
    folder = tmp_path_factory.mktemp("good-inputs")
    np.save(folder / "one.npy", images[0])
    np.save(folder / "two.npy", images[1:3])
    return folder


def test_all_good_folder_exits_0_and_prints_a_summary(good_folder, tmp_path, capsys):
    # --max-misfit 1 flags nothing: the misfit is at most 1.
    out = tmp_path / "out"
    assert main(["reconstruct", str(good_folder), "--out", str(out), "--panels", "0",
                 "--max-misfit", "1"]) == 0
    printed = capsys.readouterr().out
    assert "3 frames: 3 ok, 0 flagged (misfit > 1.0), 0 failed" in printed
    assert str(out / "reconstruction.csv") in printed
    rows = read_rows(out)
    assert [(row["status"], row["reason"]) for row in rows] == [("ok", "")] * 3
    for row in rows:
        check_answer(row)
    assert [(Path(row["source"]).name, row["frame"]) for row in rows] == \
        [("one.npy", "0"), ("two.npy", "0"), ("two.npy", "1")]
    assert read_json(out)["summary"]["max_misfit"] == 1.0
    assert not any((out / "panels").iterdir())


def test_max_misfit_sets_what_is_flagged(good_folder, tmp_path, run_failing):
    out = tmp_path / "strict"
    assert main(["reconstruct", str(good_folder), "--out", str(out), "--quiet",
                 "--panels", "0", "--max-misfit", "0"]) == 0  # flagged frames are answered
    rows = read_rows(out)
    assert [row["status"] for row in rows] == ["flagged"] * 3
    for row in rows:
        check_answer(row)
        assert "misfit" in row["reason"] and float(row["misfit"]) > 0
    summary = read_json(out)["summary"]
    assert (summary["ok"], summary["flagged"], summary["max_misfit"]) == (0, 3, 0.0)

    message = run_failing(["reconstruct", str(good_folder), "--out", str(tmp_path / "bad"),
                           "--quiet", "--max-misfit", "2"])
    assert "max_misfit must be in [0, 1]" in message


def test_no_check_answers_alike_without_misfits(good_folder, tmp_path, capsys):
    checked, fast = tmp_path / "checked", tmp_path / "fast"
    for out, extra in ((checked, []), (fast, ["--no-check"])):
        assert main(["reconstruct", str(good_folder), "--out", str(out), "--quiet",
                     "--panels", "0", "--max-misfit", "0", *extra]) == 0
    checked_rows, fast_rows = read_rows(checked), read_rows(fast)
    assert [row["status"] for row in checked_rows] == ["flagged"] * 3
    assert [(row["status"], row["misfit"], row["reason"]) for row in fast_rows] == \
        [("ok", "", "")] * 3  # nothing re-simulated, so nothing to flag
    for one, other in zip(checked_rows, fast_rows):
        assert [one[key] for key in ("radius_nm", "w", "x", "y", "z")] == \
            [other[key] for key in ("radius_nm", "w", "x", "y", "z")]
    assert "NaN" not in (fast / "reconstruction.json").read_text()  # strict JSON
    summary = read_json(fast)["summary"]
    assert (summary["check"], summary["max_misfit"], summary["ok"]) == (False, None, 3)
    assert read_json(checked)["summary"]["check"] is True


def test_usage_errors_exit_2(good_folder, tmp_path, capsys, run_failing):
    message = run_failing(["reconstruct", str(good_folder), "--out", str(tmp_path / "a"),
                           "--quiet", "--model", "no-such-model"])
    assert "no-such-model" in message and "neither a shipped model" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    message = run_failing(["reconstruct", str(empty), "--out", str(tmp_path / "b"), "--quiet"])
    assert "no input files found" in message and str(empty) in message
    message = run_failing(["reconstruct", str(good_folder), "--out", str(tmp_path / "c"),
                           "--quiet", "--geometry", "distance_mm=20"])
    assert "pixel_size_um" in message
    with pytest.raises(SystemExit) as exit_info:
        main(["reconstruct", str(good_folder), "--out", str(tmp_path / "d"),
              "--intensity", "linear"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["reconstruct", str(good_folder), "--out", str(tmp_path / "e"), "--views", "3"])
    assert exit_info.value.code == 2
    assert "--views: invalid choice" in capsys.readouterr().err


# --- a flat-detector frame ------------------------------------------------------------------

def test_flat_detector_frame_needs_its_geometry(tmp_path):
    detector = FlatDetector(distance_mm=20.0, pixel_size_um=150.0, shape=(256, 256))
    counts = intensity_grid_units(far_field(RADII[1], QUATERNIONS[3], detector=detector))[0]
    assert counts.shape == (256, 256) and counts.max() > 1
    np.save(tmp_path / "flat.npy", counts.astype(np.float64))

    out = tmp_path / "with-geometry"
    assert main(["reconstruct", str(tmp_path / "flat.npy"), "--out", str(out), "--quiet",
                 "--panels", "1", "--geometry", FLAT_GEOMETRY]) == 0
    [row] = read_rows(out)
    check_answer(row)
    assert len(list((out / "panels").glob("*.png"))) == 1

    out = tmp_path / "without-geometry"
    assert main(["reconstruct", str(tmp_path / "flat.npy"), "--out", str(out), "--quiet",
                 "--panels", "1"]) == 1
    [row] = read_rows(out)
    assert row["status"] == "failed"
    assert "256×256" in row["reason"] and "geometry" in row["reason"]
    assert not any((out / "panels").iterdir())


# --- wideshot fit -------------------------------------------------------------------------------

def test_fit_command_mcs(images, tmp_path):
    np.save(tmp_path / "image.npy", images[1])
    out = tmp_path / "fit"
    assert main(["fit", str(tmp_path / "image.npy"), "--out", str(out), "--method", "mcs",
                 "--starts", "2", "--iterations", "3", "--panels", "0", "--quiet"]) == 0
    [row] = read_rows(out)
    check_answer(row)
    summary = read_json(out)["summary"]
    # Answered: 2 starts of 3 iterations may leave a misfit above the card's threshold.
    assert summary["method"] == "mcs" and summary["model"] is None
    assert summary["ok"] + summary["flagged"] == 1 and summary["views"] is None


@pytest.fixture(scope="module")
def hybrid_run(images, tmp_path_factory):
    """``wideshot fit --method hybrid`` on the clean 45 nm image (a few hundred simulations).

    The command answers through :func:`wideshot.reconstruct` with ``refine=True``; a spy keeps
    that call's arguments and result, so that one refinement serves the tests of the command
    and of the API. Returns (exit code, out, API keyword arguments, API result).
    """
    folder = tmp_path_factory.mktemp("hybrid")
    np.save(folder / "clean.npy", images[0])
    calls = []

    def spy(*args, **options):
        result = reconstruct(*args, **options)
        calls.append((options, result))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chunks, "reconstruct", spy)
        code = main(["fit", str(folder / "clean.npy"), "--out", str(folder / "fit"),
                     "--method", "hybrid", "--panels", "0", "--quiet"])
    [(options, result)] = calls
    return code, folder / "fit", options, result


def test_fit_command_hybrid(hybrid_run):
    code, out, options, result = hybrid_run
    assert code == 0 and options["refine"] is True
    [row] = read_rows(out, extra=IMAGE_NUISANCE_COLUMNS)
    check_answer(row)
    assert row["status"] == "ok"
    summary = read_json(out)["summary"]
    assert summary["method"] == "hybrid" and summary["model"] == "default"
    # The row is the API's answer.
    assert float(row["radius_nm"]) == pytest.approx(result["radius_nm"][0], abs=1e-4)
    np.testing.assert_allclose([float(row[key]) for key in "wxyz"], result["quaternion"][0],
                               atol=1e-12)
    assert float(row["misfit"]) == pytest.approx(result["misfit"][0], abs=1e-6)
    for column in IMAGE_NUISANCE_COLUMNS:  # what the refinement allowed for
        assert float(row[column]) == pytest.approx(result[column][0], abs=1e-6)


class _FakeFit:
    """Stands in for wideshot.fit: records its keyword arguments, answers at once."""

    def __init__(self):
        self.calls = []

    def __call__(self, images, **options):
        self.calls.append(options)
        count = len(images)
        result = {"radius_nm": np.full(count, 50.0),
                  "quaternion": np.tile([1.0, 0.0, 0.0, 0.0], (count, 1)),
                  "misfit": np.full(count, 0.1), "n_simulations": np.ones(count, int),
                  "method": options["method"], "shape": options.get("shape", "icosahedron"),
                  "shape_parameter": np.full(count, np.nan),
                  "converged": np.ones(count, bool)}
        if options["method"] == "hybrid":
            result.update(network_radius_nm=result["radius_nm"],
                          network_quaternion=result["quaternion"])
        return result


@pytest.mark.parametrize("method", ["mcs", "hybrid"])
def test_fit_command_passes_the_budget(method, images, tmp_path, monkeypatch):
    fake = _FakeFit()
    monkeypatch.setattr("wideshot.reconstruction.chunks.fit", fake)
    monkeypatch.setattr("wideshot.reconstruction.api.fit", fake)
    np.save(tmp_path / "image.npy", images[1])
    assert main(["fit", str(tmp_path / "image.npy"), "--out", str(tmp_path / "fit"),
                 "--method", method, "--starts", "3", "--iterations", "7", "--seed", "5",
                 "--panels", "0", "--quiet"]) == 0
    assert fake.calls  # the hybrid: one fit per candidate family
    for call in fake.calls:
        assert call["method"] == method and call["seed"] == 5
        assert (call.get("starts"), call.get("iterations")) == (3, 7)


def test_fit_command_mcs_needs_no_network(images, tmp_path):
    np.save(tmp_path / "image.npy", images[1])
    assert main(["fit", str(tmp_path / "image.npy"), "--out", str(tmp_path / "fit"),
                 "--method", "mcs", "--model", "no-such-model", "--starts", "1",
                 "--iterations", "1", "--panels", "0", "--quiet"]) == 0


# --- the Python API -----------------------------------------------------------------------------

def test_reconstruct_uses_the_mask(images):
    valid = np.ones((2, 128, 128), bool)
    valid[:, :40, :] = False  # a third of the detector broken, holding junk (not 0, which
    masked = np.where(valid, images[:2], 0.5).astype(np.float32)  # the misfit would skip)
    with_mask = wideshot.reconstruct(masked, valid=valid)
    for key in ("radius_nm", "misfit", "flagged"):
        assert with_mask[key].shape == (2,)
    assert with_mask["quaternion"].shape == (2, 4) and with_mask["flagged"].dtype == bool
    assert np.all((with_mask["misfit"] >= 0) & (with_mask["misfit"] <= 1))
    assert with_mask["refined"] is False and with_mask["model"] == "default"
    # The same answers, but the junk counts against them without the mask.
    without = wideshot.reconstruct(masked)
    np.testing.assert_array_equal(with_mask["radius_nm"], without["radius_nm"])
    assert np.all(with_mask["misfit"] < without["misfit"])
    flagged = wideshot.reconstruct(masked, valid=valid, max_misfit=0.0)
    assert flagged["flagged"].all() and flagged["max_misfit"] == 0.0
    with pytest.raises(ValueError, match="valid must be shaped"):
        wideshot.reconstruct(masked, valid=np.ones((64, 64), bool))
    with pytest.raises(ValueError, match="boolean"):
        wideshot.reconstruct(masked, valid=valid.astype(np.uint8))


def test_refined_answer_is_accurate_on_a_clean_image(hybrid_run):
    *_, refined = hybrid_run  # wideshot.reconstruct(image, refine=True), called by the command
    assert refined["refined"] is True and refined["n_simulations"].shape == (1,)
    assert refined["n_simulations"][0] > 0
    for key in ("radius_nm", "misfit", "flagged", "network_radius_nm"):
        assert refined[key].shape == (1,)
    assert abs(refined["radius_nm"][0] - RADII[0]) < 0.5
    assert misorientation_deg(refined["quaternion"][0], QUATERNIONS[0]) < 0.5
    np.testing.assert_allclose(canonical(refined["quaternion"]), refined["quaternion"],
                               atol=1e-9)
    # The refinement improves on the network's answer.
    assert misorientation_deg(refined["quaternion"][0], QUATERNIONS[0]) < \
        misorientation_deg(refined["network_quaternion"][0], QUATERNIONS[0])


# --- the demo ---------------------------------------------------------------------------------

def test_demo_command_and_its_rows(tmp_path, capsys, monkeypatch):
    # One demo run serves both: the command calls run_demo, a spy keeps what it returned.
    runs = []

    def spy(*args, **options):
        rows = run_demo(*args, **options)
        runs.append((args, options, rows))
        return rows

    monkeypatch.setattr("wideshot.reconstruction.demo.run_demo", spy)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--simulated", "1", "--no-refine"]) == 0
    [(args, options, rows)] = runs
    assert args == (out,) and options["n_simulated"] == 1 and options["refine"] is False

    barke = [f"barke{number}" for number in range(1, 9)]
    assert [row["image"] for row in rows] == barke + ["simulated-0"]
    for name in ("demo_experimental.png", "demo_simulated.png", "demo.json"):
        assert (out / name).stat().st_size > 0
    labelled = ["decahedron"] * 2 + ["octahedral"] * 2 + ["icosahedron"] * 2 + [
        "twinned-tetrahedron"] * 2
    assert [row["expected_shape"] for row in rows[:8]] == labelled
    for row in rows[:8]:
        assert row["truth_radius_nm"] is None and row["error_deg"] is None
    simulated = rows[8]
    assert 20 < simulated["truth_radius_nm"] < 200
    assert simulated["error_deg"] == simulated["network_error_deg"]  # nothing refined
    if simulated["match"] and simulated["shape"] != "sphere":
        assert 0 <= simulated["error_deg"] <= 90
    for row in rows:
        assert 20 < row["radius_nm"] < 200 and 0 <= row["misfit"] <= 1
        assert row["status"] in ("ok", "flagged")
        assert row["match"] == (row["shape"] == row["expected_shape"])
        assert 0 <= row["shape_probability"] <= 1
    saved = json.loads((out / "demo.json").read_text())
    assert saved["refined"] is False and saved["rows"] == rows
    assert saved["barke_family_matches"] == sum(row["match"] for row in rows[:8])
    table = format_table(rows)
    assert "barke1" in table and "barke8" in table and "simulated-0" in table
    assert f"as labelled in {saved['barke_family_matches']} of 8" in table
    assert len(table.splitlines()) == 3 + len(rows)  # two header lines, the match count
    printed = capsys.readouterr().out
    assert table in printed and f"figures and demo.json in {out}/" in printed
    # Then the photon-count frames, read by the network alone (--no-refine): the error bars
    # of its views.
    counts = json.loads((out / "demo_counts.json").read_text())["rows"]
    assert [row["image"] for row in counts] == ["counts-0", "counts-1"]
    for row in counts:
        assert row["photons"] > 0 and 0 <= row["gof_p_value"] <= 1
        assert row["radius_nm_sigma"] > 0 and row["status"] in ("ok", "flagged")
    assert "Photon counts of a flat detector" in printed and "counts-1" in printed


# --- streaming a long stack -------------------------------------------------------------------

def test_long_stack_streams_in_batches(images, tmp_path, monkeypatch):
    n_frames = 200
    path = tmp_path / "stack.npy"
    stack = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                      shape=(n_frames, 128, 128))
    rng = np.random.default_rng(3)
    for index in range(n_frames):
        noisy = images[index % len(images)] + rng.normal(0, 0.003, (128, 128))
        stack[index] = np.clip(noisy, 0, 1)
    stack.flush()
    del stack
    batches = []

    def spy(frames, **options):
        batches.append(len(frames))
        return reconstruct(frames, **options)

    monkeypatch.setattr(chunks, "reconstruct", spy)
    summary = reconstruct_files([path], tmp_path / "out", panels=0, batch_size=64,
                                progress=False)
    assert batches == [64, 64, 64, 8]
    assert summary["frames"] == n_frames and summary["failed"] == 0
    assert summary["ok"] + summary["flagged"] == n_frames and summary["panels"] == 0
    rows = read_rows(tmp_path / "out")
    assert [int(row["frame"]) for row in rows] == list(range(n_frames))
    assert {row["source"] for row in rows} == {str(path)}
    assert len(read_json(tmp_path / "out")["frames"]) == n_frames
    # Each row answers its own frame across batch boundaries: frame i shows image i % 4.
    reference = wideshot.reconstruct(images)["radius_nm"]
    assert np.min(np.diff(np.sort(reference))) > 5  # the four answers tell the frames apart
    radius = np.array([float(row["radius_nm"]) for row in rows])
    np.testing.assert_allclose(radius, reference[np.arange(n_frames) % len(images)], atol=2.5)


def test_reconstruct_files_takes_a_single_path(images, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("a.npy", images[1])
    summary = reconstruct_files("a.npy", "out", panels=0, progress=False)
    assert (summary["frames"], summary["ok"]) == (1, 1)


def test_interrupted_run_resumes_without_redoing_frames(images, tmp_path, monkeypatch,
                                                        capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    np.save(folder / "stack.npy", np.stack([images[1], images[1], images[1]]))
    out = tmp_path / "out"
    assert main(["reconstruct", str(folder), "--out", str(out), "--panels", "0",
                 "--quiet"]) == 0
    lines = (out / "reconstruction.csv").read_text().splitlines()
    assert len(lines) == 4
    (out / "reconstruction.csv").write_text("\n".join(lines[:2]) + "\n")  # "killed" after 1 row

    assert main(["reconstruct", str(folder), "--out", str(out), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err

    answered = []
    original = chunks.reconstruct

    def counting(images, **options):
        answered.append(len(images))
        return original(images, **options)

    monkeypatch.setattr(chunks, "reconstruct", counting)
    assert main(["reconstruct", str(folder), "--out", str(out), "--panels", "0", "--quiet",
                 "--resume"]) == 0
    assert answered == [2]
    resumed = (out / "reconstruction.csv").read_text().splitlines()
    assert resumed[:2] == lines[:2] and len(resumed) == 4
    with open(out / "reconstruction.json") as file:
        assert [row["frame"] for row in json.load(file)["frames"]] == [0, 1, 2]
