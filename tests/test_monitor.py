"""The live monitor page: its state, its server, and (opt-in) the page in headless chromium."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import numpy as np
import pytest

from wideshot.beamline.arrivals import folder_arrivals
from wideshot.beamline.hits import HitFinder
from wideshot.beamline.monitor import LiveMonitor, beam_directions
from wideshot.beamline.stream import NetworkAnswers, stream_frames
from wideshot.geometry import quaternion_to_matrix
from wideshot.physics import KGridDetector, expected_counts, record_counts


def test_beam_directions_are_the_beam_seen_from_the_particle():
    rng = np.random.default_rng(0)
    quaternion = rng.normal(size=(5, 4))
    quaternion /= np.linalg.norm(quaternion, axis=1, keepdims=True)
    import torch

    matrix = quaternion_to_matrix(torch.as_tensor(quaternion)).numpy()
    beam = np.einsum("bji,j->bi", matrix, [0.0, 0.0, 1.0])  # Rᵀ ẑ
    projected = beam_directions(quaternion)
    # Equal-area (Lambert) projection about +z: radius 2 sin(θ/2) = √(2(1 − cos θ)).
    np.testing.assert_allclose(np.hypot(*projected.T), np.sqrt(2 * (1 - beam[:, 2])),
                               atol=1e-12)
    np.testing.assert_allclose(np.arctan2(projected[:, 1], projected[:, 0]),
                               np.arctan2(beam[:, 1], beam[:, 0]), atol=1e-12)
    np.testing.assert_allclose(beam_directions(np.array([[1.0, 0, 0, 0]])), [[0.0, 0.0]])


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """A monitor fed by a folder stream of three particle frames among empty ones."""
    folder = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(2)
    quaternion = rng.normal(size=(3, 4))
    quaternion /= np.linalg.norm(quaternion, axis=1, keepdims=True)
    rates = expected_counts(np.array([50.0, 90.0, 130.0]), quaternion, KGridDetector(),
                            photons_max=3e3, background=0.01, shape=["icosahedron",
                                                                     "decahedron", "sphere"],
                            shape_parameter=[np.nan, 0.5, np.nan])
    hits = record_counts(rates, rng)
    empty = rng.poisson(0.01, (9, 128, 128))
    np.save(folder / "run.npy", np.concatenate([hits, empty])[rng.permutation(12)])
    answer = NetworkAnswers(views=1)
    monitor = LiveMonitor(0, {"material": answer.conditions.material,
                              "config": answer.conditions.config})
    summary = stream_frames(folder_arrivals(folder, poll_s=0.05), tmp_path_factory.mktemp("out"),
                            answer=answer, hit_finder=HitFinder(), intensity="counts",
                            max_frames=12, max_latency_s=0.01, progress=False,
                            on_flush=monitor)
    yield monitor, summary
    monitor.close()


def test_monitor_serves_state_page_and_hits(streamed):
    monitor, summary = streamed
    state = json.loads(urllib.request.urlopen(monitor.url + "state.json").read())
    assert state["summary"]["frames"] == 12 and state["summary"]["hits"] == 3
    assert sum(state["shapes"].values()) == 3
    assert sum(state["radius_histogram"]["counts"]) == 3
    assert len(state["beam_directions"]) == 2  # a sphere has no orientation to cover
    latest = state["latest_hits"]
    assert latest and latest[0]["number"] >= 1
    png = urllib.request.urlopen(f"{monitor.url}hit/{latest[0]['number']}.png").read()
    assert png.startswith(b"\x89PNG")
    page = urllib.request.urlopen(monitor.url).read().decode()
    assert "state.json" in page and "<svg" in page
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(monitor.url + "hit/99999.png")


def test_monitor_port_in_use_is_a_clear_error(streamed):
    monitor, _ = streamed
    with pytest.raises(ValueError, match=f"port {monitor.port}.*choose another --monitor"):
        LiveMonitor(monitor.port)


def _chromium(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--virtual-time-budget=4000", *arguments],
        capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def simulated_run_monitor():
    """A monitor fed by a stream of a simulated flat-detector run: 24 particle frames of every
    family among 456 empty ones (the README's screenshot)."""
    from wideshot.beamline.arrivals import Arrival
    from wideshot.data.detector_frames import (
        DEFAULT_FLAT_GEOMETRY,
        make_counts_frames,
        make_empty_frames,
    )
    from wideshot.geometry import SHAPE_NAMES
    from wideshot.reconstruction.sources import RawFrame

    hits = make_counts_frames(24, seed=9400, shapes=SHAPE_NAMES)
    empty, _ = make_empty_frames(range(456), hits["mask"], seed=9400)

    def arrivals():
        for index in range(480):
            values = (hits["counts"][index // 20] if index % 20 == 7
                      else empty[index - index // 20 - (index % 20 > 7)])
            yield Arrival(RawFrame("tcp://beamline:4545", index, values, None), 20_000 + index,
                          time.time())

    answer = NetworkAnswers()  # the default views, as the README screenshot shows
    monitor = LiveMonitor(0, {"material": answer.conditions.material,
                              "config": answer.conditions.config})
    stream_frames(arrivals(), tempfile.mkdtemp(), answer=answer, hit_finder=HitFinder(),
                  geometry=DEFAULT_FLAT_GEOMETRY, intensity="counts", batch_size=4,
                  progress=False, on_flush=monitor)
    yield monitor
    monitor.close()


@pytest.mark.browser
def test_monitor_page_renders_in_headless_chromium(simulated_run_monitor, tmp_path):
    if shutil.which("chromium") is None:
        pytest.fail("chromium is not installed (apt-get install chromium): the browser test "
                    "was asked for")
    monitor = simulated_run_monitor
    dom = _chromium(f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", monitor.url).stdout
    assert "<b>480</b>frames" in dom                 # the numbers were fetched and drawn
    assert dom.count("<rect") >= 10 and dom.count("<circle") >= 10  # bars, coverage plot
    assert len(re.findall(r'src="/hit/\d+\.png"', dom)) == 6  # the latest hits
    screenshot = tmp_path / "monitor.png"
    _chromium(f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={screenshot}",
              "--window-size=1100,900", monitor.url)
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=float)
    assert pixels.shape == (900, 1100) and pixels.std() > 10
    if os.environ.get("WIDESHOT_MONITOR_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["WIDESHOT_MONITOR_SCREENSHOT"])
