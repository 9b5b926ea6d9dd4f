"""Tests of the data commands: ``wideshot generate``, ``wideshot augment``, ``wideshot gallery``."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from PIL import Image

from wideshot.cli import main
from wideshot.data.generate import sample_parameters


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "train.h5"
    assert main(["generate", "--n", "6", "--seed", "4", "--validation-fraction", "0.5",
                 "--shard-size", "3", "--workers", "1", "--quiet", "--out", str(path)]) == 0
    return path



def test_generate_writes_the_data_set(generated, capsys):
    with h5py.File(generated) as file:
        assert file["images"].shape == (6, 128, 128)
        assert int(file["split"][:].sum()) == 3
        assert file.attrs["seed"] == 4 and file.attrs["complete"]
        np.testing.assert_array_equal(file["radius_nm"][:], sample_parameters(4, np.arange(6))["radius_nm"])
    # The same command again finds the file complete and keeps it.
    before = generated.stat().st_mtime_ns
    assert main(["generate", "--n", "6", "--seed", "4", "--validation-fraction", "0.5",
                 "--shard-size", "3", "--workers", "1", "--quiet", "--out", str(generated)]) == 0
    assert "complete" in capsys.readouterr().out
    assert generated.stat().st_mtime_ns == before


def test_generate_refuses_bad_input(generated, tmp_path, run_failing):
    out = str(tmp_path / "data.h5")
    assert "positive" in run_failing(["generate", "--n", "0", "--out", out])
    assert "--n" in run_failing(["generate", "--out", out])
    assert "fixes --n" in run_failing(["generate", "--preset", "paper-test", "--n", "5",
                                       "--out", out])
    assert "cannot write" in run_failing(["generate", "--n", "2", "--workers", "1",
                                          "--out", "/proc/wideshot-test.h5"])
    before = generated.read_bytes()
    message = run_failing(["generate", "--n", "6", "--seed", "5", "--validation-fraction", "0.5",
                           "--shard-size", "3", "--workers", "1", "--out", str(generated)])
    assert "another configuration" in message and "seed" in message and "--overwrite" in message
    assert generated.read_bytes() == before


def test_augment_writes_augmented_copies(generated, tmp_path, run_failing):
    out = tmp_path / "blurred.h5"
    assert main(["augment", str(generated), "--out", str(out), "--filter", "blur",
                 "--copies", "2", "--seed", "1", "--quiet"]) == 0
    with h5py.File(out) as file, h5py.File(generated) as source:
        assert file["images"].shape == (12, 128, 128)
        np.testing.assert_array_equal(file["source_index"][:], np.repeat(np.arange(6), 2))
        np.testing.assert_array_equal(file["radius_nm"][:], np.repeat(source["radius_nm"][:], 2))
        assert file.attrs["augmentation"] == "blur" and file.attrs["augmentation_seed"] == 1
    assert "valid names" in run_failing(["augment", str(generated), "--out", str(out),
                                         "--filter", "sharpen"])
    assert "no such data set" in run_failing(["augment", str(tmp_path / "missing.h5"),
                                              "--out", str(out), "--filter", "blur"])


def test_gallery_draws_every_filter(tmp_path, run_failing):
    out = tmp_path / "fig2.png"
    assert main(["gallery", "--out", str(out), "--radius-nm", "90",
                 "--quaternion", "0.9,0.1,0.3,0.2", "--seed", "2"]) == 0
    with Image.open(out) as figure:
        width, height = figure.size
    assert width > 1000 and height > 500
    assert ".png" in run_failing(["gallery", "--out", str(tmp_path / "fig2.txt")])
