"""Reconstruction on Dask workers: the same rows as in one process, in order; failures
reported, not fatal; a scheduler that is not there or goes away, one clear error."""
import numpy as np
import pytest

import wideshot
from wideshot.cli import main
from wideshot.reconstruction import cluster
from wideshot.reconstruction.chunks import AnswerSettings, plan_chunks
from wideshot.reconstruction.pipeline import reconstruct_files
from wideshot.physics.conditions import Conditions


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two stacks, three single frames and a corrupt file."""
    folder = tmp_path_factory.mktemp("in")
    quaternion = np.array([[1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], [0.7, 0.5, 0.1, 0.2],
                           [0.6, 0.2, 0.6, 0.3], [0.5, 0.5, 0.5, 0.5]], dtype=float)
    quaternion /= np.linalg.norm(quaternion, axis=1, keepdims=True)
    images = wideshot.simulate([40.0, 80.0, 120.0, 60.0, 100.0], quaternion)
    np.save(folder / "a.npy", images[:3])
    np.save(folder / "b.npy", images[3:])
    (folder / "c.npy").write_bytes(b"not an array")
    for index in range(3):
        np.save(folder / f"s{index}.npy", images[index])
    return folder


def test_plan_chunks_spans_files_in_order():
    chunks = plan_chunks(["a", "b", "c"], [3, 1, 6], 4)
    assert chunks == [[("a", 0, 3), ("b", 0, 1)], [("c", 0, 4)], [("c", 4, 6)]]


def test_local_cluster_writes_the_same_csv_as_one_process(folder, tmp_path):
    one = reconstruct_files([folder], tmp_path / "one", batch_size=3, panels=2,
                            progress=False)
    assert main(["reconstruct", str(folder), "--out", str(tmp_path / "two"), "--workers", "2",
                 "--batch-size", "3", "--panels", "2", "--quiet"]) == 1  # c.npy failed
    first = (tmp_path / "one" / "reconstruction.csv").read_bytes()
    assert first == (tmp_path / "two" / "reconstruction.csv").read_bytes()
    assert one["failed"] == 1 and one["ok"] + one["flagged"] == 8
    assert len(list((tmp_path / "two" / "panels").glob("*.png"))) == 2


def test_a_chunk_whose_worker_fails_is_reported_not_fatal(folder):
    settings = AnswerSettings(model=str(folder / "no-such-run"), device="cpu",
                              method="network", conditions=Conditions(), threshold=None)
    work = [(chunk, frozenset(), 0) for chunk in plan_chunks([folder / "a.npy"], [3], 2)]
    answers = list(cluster.dask_answers(work, settings, workers=1))
    rows = [row for answer in answers for row in answer.rows]
    assert [row["frame"] for row in rows] == [0, 1, 2]
    assert all(row["status"] == "failed" and "worker failed on this chunk" in row["reason"]
               and "FileNotFoundError" in row["reason"] for row in rows)


def test_a_scheduler_that_is_not_there_is_one_clear_error(folder, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    assert main(["reconstruct", str(folder), "--out", str(tmp_path / "out"), "--scheduler",
                 "tcp://127.0.0.1:9", "--quiet"]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_a_scheduler_that_goes_away_ends_the_run_clearly(folder):
    from distributed import LocalCluster

    local = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                         dashboard_address=None)
    settings = AnswerSettings(model="default", device="cpu", method="network",
                              conditions=Conditions(), threshold=None, check=False, views=1)
    work = [(chunk, frozenset(), 0) for chunk in plan_chunks([folder / "a.npy"] * 8, [3] * 8, 1)]
    answers = cluster.dask_answers(work, settings, scheduler=local.scheduler_address)
    assert next(answers).rows[0]["status"] == "ok"
    local.close()
    with pytest.raises(ValueError, match="went away after 1 chunks.*--resume"):
        list(answers)


def test_a_run_on_workers_resumes_where_it_stopped(folder, tmp_path):
    whole = tmp_path / "whole"
    reconstruct_files([folder], whole, batch_size=3, panels=0, progress=False)
    lines = (whole / "reconstruction.csv").read_text().splitlines()
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    (resumed / "reconstruction.csv").write_text("\n".join(lines[:5]) + "\n")  # "killed"
    summary = reconstruct_files([folder], resumed, batch_size=3, panels=0, workers=2,
                                resume=True, progress=False)
    assert summary["frames"] == len(lines) - 1
    assert (resumed / "reconstruction.csv").read_text().splitlines() == lines
