"""Live reconstruction: a real Karabo-bridge server on localhost, a folder being written, the
hit finder in the stream, stalls, garbage, Ctrl-C and resuming."""
import csv
import json
import threading
import time

import numpy as np
import pytest

from wideshot.beamline.arrivals import Arrival, Silence, bridge_arrivals, folder_arrivals
from wideshot.beamline.hits import HitFinder
from wideshot.beamline.stream import NetworkAnswers, resume_point, stream_frames
from wideshot.cli import main
from wideshot.physics import KGridDetector, expected_counts, record_counts
from wideshot.reconstruction.sources import RawFrame

SOURCE = "SQS_DET/CAM/PNCCD:output"
KEY = "image.data"


@pytest.fixture(scope="module")
def particle_counts():
    """Two photon-count frames of icosahedra on SPEC's grid."""
    quaternion = np.array([[0.9, 0.2, 0.3, 0.25], [0.7, -0.1, 0.5, 0.4]])
    quaternion /= np.linalg.norm(quaternion, axis=1, keepdims=True)
    rates = expected_counts(np.array([60.0, 110.0]), quaternion, KGridDetector(),
                            photons_max=2e3, background=0.01)
    return record_counts(rates, np.random.default_rng(3))


@pytest.fixture(scope="module")
def answer():
    return NetworkAnswers(views=1)


def _empty(rng) -> np.ndarray:
    return rng.poisson(0.01, (128, 128)).astype(np.float32)


def _rows(folder) -> list[dict]:
    with open(folder / "reconstruction.csv", newline="") as file:
        return list(csv.DictReader(file))


def _serve(trains: list, pause_after: int | None = None, pause_s: float = 0.0):
    """A Karabo-bridge server on a free localhost port fed with ``trains`` (data dicts) from a
    thread; returns (server, endpoint)."""
    from karabo_bridge import ServerInThread

    server = ServerInThread("tcp://127.0.0.1:*", maxlen=4)
    server.start()

    def feed():
        for number, data in enumerate(trains):
            if number == pause_after:
                time.sleep(pause_s)
            server.feed(data, {name: {"timestamp.tid": 5000 + number,
                                      "timestamp": time.time()} for name in data})
    threading.Thread(target=feed, daemon=True).start()
    return server, server.endpoint


def test_bridge_stream_reconstructs_hits_counts_misses_and_reports_garbage(
        tmp_path, particle_counts, answer):
    rng = np.random.default_rng(0)
    trains = [{SOURCE: {KEY: _empty(rng)}} for _ in range(12)]
    trains[2] = {SOURCE: {KEY: particle_counts[0].astype(np.float32)}}
    trains[5] = {SOURCE: {"other.key": _empty(rng)}}                 # no image.data
    trains[7] = {SOURCE: {KEY: np.arange(10.0)}}                     # not a frame
    trains[9] = {SOURCE: {KEY: np.stack([_empty(rng), particle_counts[1]])}}  # two pulses
    server, endpoint = _serve(trains, pause_after=11, pause_s=3.0)
    try:
        summary = stream_frames(bridge_arrivals(endpoint), tmp_path / "out", answer=answer,
                                hit_finder=HitFinder(), intensity="counts", max_frames=13,
                                stall_s=0.5, progress=False)
    finally:
        server.stop()
    assert summary["frames"] == 13 and summary["hits"] == 2 and summary["failed"] == 2
    assert summary["misses"] == 9 and summary["stalls"] == 1
    rows = _rows(tmp_path / "out")
    answered = [row for row in rows if row["status"] != "failed"]
    assert [int(row["train_id"]) for row in answered] == [5002, 5009]
    assert [row["shape"] for row in answered] == ["icosahedron", "icosahedron"]
    assert abs(float(answered[0]["radius_nm"]) - 60.0) < 10
    assert abs(float(answered[1]["radius_nm"]) - 110.0) < 15
    reasons = [row["reason"] for row in rows if row["status"] == "failed"]
    assert reasons[0] == (f"no source with key 'image.data' ({SOURCE}: other.key); choose "
                          "with --source and --key")
    assert "neither one frame" in reasons[1]
    report = json.loads((tmp_path / "out" / "reconstruction.json").read_text())
    assert report["summary"]["hit_rate"] == pytest.approx(2 / 13, abs=1e-3)


def test_bridge_that_never_answers_is_a_clear_error():
    arrivals = bridge_arrivals("tcp://127.0.0.1:9", connect_timeout_s=0.3)
    with pytest.raises(ValueError, match="no train from tcp://127.0.0.1:9 in 0.3 s"):
        for item in arrivals:
            assert isinstance(item, Silence)
    with pytest.raises(ValueError, match="tcp://host:port"):
        bridge_arrivals("localhost:1234")


def test_folder_stream_picks_up_new_files_and_resumes(tmp_path, particle_counts, answer):
    rng = np.random.default_rng(1)
    watched = tmp_path / "run"
    watched.mkdir()
    np.save(watched / "a.npy", np.stack([_empty(rng), particle_counts[0], _empty(rng)]))

    def write_later():
        time.sleep(0.6)
        np.save(watched / "b.tmp.npy", np.stack([particle_counts[1], _empty(rng)]))

    threading.Thread(target=write_later, daemon=True).start()
    out = tmp_path / "out"
    first = stream_frames(folder_arrivals(watched, poll_s=0.1), out, answer=answer,
                          hit_finder=HitFinder(), intensity="counts", max_frames=5,
                          progress=False)
    assert first["frames"] == 5 and first["hits"] == 2 and first["misses"] == 3
    # b's frames are all answered, but the stream stopped before it saw b end.
    assert [name.rsplit("/", 1)[1] for name in resume_point(out)["done"]] == ["a.npy"]
    with pytest.raises(ValueError, match="--resume"):
        stream_frames(iter(()), out, answer=answer, progress=False)
    np.save(watched / "c.npy", particle_counts[0][None])
    again = stream_frames(folder_arrivals(watched, **resume_point(out), poll_s=0.1), out,
                          answer=answer, hit_finder=HitFinder(), intensity="counts",
                          max_frames=6, resume=True, progress=False)
    assert again["frames"] == 6 and again["hits"] == 3
    assert [row["source"].rsplit("/", 1)[1] for row in _rows(out)] == ["a.npy", "b.tmp.npy",
                                                                       "c.npy"]


def test_ctrl_c_answers_the_batch_in_hand(tmp_path, particle_counts, answer):
    def arrivals():
        for index in range(3):
            yield Arrival(RawFrame("live", index, particle_counts[index % 2], None), 7 + index,
                          time.time())
        yield Silence(0.01)
        raise KeyboardInterrupt

    summary = stream_frames(arrivals(), tmp_path / "out", answer=answer, intensity="counts",
                            batch_size=64, max_latency_s=10.0, progress=False)
    assert summary["interrupted"] and summary["ok"] + summary["flagged"] == 3
    report = json.loads((tmp_path / "out" / "reconstruction.json").read_text())
    assert [row["train_id"] for row in report["frames"]] == [7, 8, 9]


def test_stream_command_usage_errors(tmp_path, capsys):
    assert main(["stream", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "neither tcp://host:port nor a folder" in capsys.readouterr().err
    assert main(["stream", "tcp://127.0.0.1:9", "--connect-timeout", "0.2", "--out",
                 str(tmp_path / "o2"), "--quiet"]) == 2
    assert "no train from" in capsys.readouterr().err
    assert main(["stream", str(tmp_path), "--min-lit-pixels", "0"]) == 2
    assert "min_lit_pixels" in capsys.readouterr().err
