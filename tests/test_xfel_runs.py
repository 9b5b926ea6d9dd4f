"""European XFEL run directories through extra-data, on that library's own mock run files."""
import csv

import h5py
import numpy as np
import pytest
from extra_data.tests.mockdata import write_file
from extra_data.tests.mockdata.basler_camera import BaslerCamera

from wideshot.cli import main
from wideshot.physics import KGridDetector, expected_counts, record_counts
from wideshot.reconstruction.sources import RunSelection, frames_per_file, iter_raw_frames


CAMERA = "SQS_NQS_CAM/CAM/PNCCD"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A mock run of six trains whose camera recorded photon counts of icosahedra."""
    folder = tmp_path_factory.mktemp("r0042")
    path = folder / "RAW-R0042-DA01-S00000.h5"
    write_file(str(path), [BaslerCamera(CAMERA, sensor_size=(128, 128))], ntrains=6)
    quaternion = np.array([[0.9, 0.2, 0.3, 0.25]] * 6)
    quaternion /= np.linalg.norm(quaternion, axis=1, keepdims=True)
    radii = np.array([50.0, 60.0, 70.0, 80.0, 90.0, 100.0])
    counts = record_counts(expected_counts(radii, quaternion, KGridDetector(),
                                           photons_max=3e3, background=0.01),
                           np.random.default_rng(4))
    with h5py.File(path, "r+") as file:
        file[f"INSTRUMENT/{CAMERA}:daqOutput/data/image/pixels"][:6] = counts.astype(np.uint16)
    return folder, radii, counts


def test_run_frames_are_read_in_train_order(run):
    folder, _, counts = run
    selection = RunSelection(f"{CAMERA}:daqOutput")
    assert frames_per_file([folder], dataset=selection) == [6]
    frames = list(iter_raw_frames([folder], dataset=selection))
    assert [frame.index for frame in frames] == list(range(6))
    np.testing.assert_array_equal(frames[2].values, counts[2])
    assert frames[0].dataset == f"{CAMERA}:daqOutput data.image.pixels train 10000"


def test_reconstruct_a_run_directory(run, tmp_path):
    folder, radii, _ = run
    assert main(["reconstruct", str(folder), "--source", f"{CAMERA}:daqOutput", "--out",
                 str(tmp_path / "out"), "--panels", "0", "--quiet"]) == 0
    with open(tmp_path / "out" / "reconstruction.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["status"] for row in rows] == ["ok"] * 6
    found = np.array([float(row["radius_nm"]) for row in rows])
    assert np.all(np.abs(found - radii) < 10)


@pytest.mark.parametrize("options, message", [
    (["--source", "NO/SUCH/SOURCE"], "the run has no source 'NO/SUCH/SOURCE'"),
    (["--source", f"{CAMERA}:daqOutput", "--key", "data.image.dims"], "not frames"),
    (["--key", "data.image"], "--key selects the image of a --source"),
])
def test_run_selection_problems_are_clear(run, tmp_path, capsys, options, message):
    folder, _, _ = run
    status = main(["reconstruct", str(folder), "--out", str(tmp_path / "out"), "--panels",
                   "0", "--quiet", *options])
    if status == 1:  # a problem of the run: one failed row with the reason
        with open(tmp_path / "out" / "reconstruction.csv", newline="") as file:
            assert message in next(csv.DictReader(file))["reason"]
    else:
        assert status == 2 and message in capsys.readouterr().err
