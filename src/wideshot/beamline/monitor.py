"""A live monitor page of a stream, served on localhost while it runs.

:class:`LiveMonitor` is the ``on_flush`` of :func:`~wideshot.beamline.stream.stream_frames`: it
keeps what the page shows — frames per second over the last seconds, hit rate, answers per
shape family, a histogram of radii, the orientation coverage (the beam direction in each
particle's frame, equal-area projected: :func:`beam_directions`; uniform coverage fills the
family's fundamental zone evenly) and the latest hits next to their re-simulations — and
serves it from a thread:

* ``/``: the page (plain HTML, SVG drawn by a few lines of JavaScript; nothing fetched from
  elsewhere), which polls
* ``/state.json``: everything above as JSON, and
* ``/hit/N.png``: frame | re-simulation of the N-th latest hit.
"""
from __future__ import annotations

import io
import json
import threading
import time
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from wideshot.geometry import shape_family

#: Radius histogram: bin edges (nm).
RADIUS_BINS_NM = np.arange(0.0, 260.0, 10.0)
#: Latest hits shown with their re-simulations (of each batch at most the last few, each
#: re-simulated once); beam directions kept for the coverage plot.
LATEST_HITS = 6
PANELS_PER_BATCH = 3
ORIENTATION_POINTS = 2000
#: Seconds over which the page's frames per second are averaged.
RATE_WINDOW_S = 5.0

_PAGE = Path(__file__).with_name("monitor.html")


def beam_directions(quaternion: np.ndarray) -> np.ndarray:
    """The beam (+z, laboratory) seen from each particle, in an equal-area projection about
    the particle's z axis: (B, 2), 2·sin(θ/2)·(cos φ, sin φ) for polar angle θ and azimuth φ
    (a disk of radius 2 holds every direction; equal areas of directions, equal areas here).

    Parameters
    ----------
    quaternion : ndarray (B, 4)
        Active orientations (w, x, y, z): the particle's frame is turned by them. For canonical
        quaternions the directions fill the family's fundamental zone about the pole.
    """
    w, x, y, z = np.asarray(quaternion, dtype=np.float64).T
    # Third row of the rotation matrix: R⁻¹ ẑ = Rᵀ ẑ.
    direction = np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1)
    polar = np.arccos(np.clip(direction[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(direction[:, 1], direction[:, 0])
    radius = 2 * np.sin(polar / 2)
    return np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth)], axis=1)


def _panel_png(image: np.ndarray, resimulated: np.ndarray) -> bytes:
    """PNG of two SPEC images side by side (viridis)."""
    from matplotlib import colormaps
    from PIL import Image

    both = np.concatenate([image, np.full((image.shape[0], 4), np.nan), resimulated], axis=1)
    rgba = colormaps["viridis"](np.nan_to_num(both, nan=0.0), bytes=True)
    rgba[np.isnan(both)] = (255, 255, 255, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba).resize((both.shape[1] * 2, both.shape[0] * 2),
                                 Image.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


class LiveMonitor:
    """What the monitor page shows, updated by the stream and served on 127.0.0.1:``port``.

    Parameters
    ----------
    port : int
        Local port of the page (0: any free one; :attr:`port` says which).
    simulation : dict, optional
        ``material`` and ``config`` of the re-simulations (the model's conditions).

    Raises
    ------
    ValueError
        When the port is taken.
    """

    def __init__(self, port: int, simulation: dict | None = None):
        self._lock = threading.Lock()
        self._simulation = simulation or {}
        self._summary: dict = {}
        self._shapes: dict[str, int] = {}
        self._radius_counts = np.zeros(len(RADIUS_BINS_NM) - 1, dtype=int)
        self._directions: deque = deque(maxlen=ORIENTATION_POINTS)
        self._hits: deque = deque(maxlen=LATEST_HITS)
        self._rate_samples: deque = deque()
        self._hit_number = 0
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        except OSError as error:
            raise ValueError(f"cannot serve the monitor on port {port} ({error.strerror}): "
                             "choose another --monitor port") from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LiveMonitor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __call__(self, frames: list, result: dict | None, summary: dict) -> None:
        """The stream's ``on_flush``: a batch of frames and their result (or none), and the
        summary so far."""
        now = time.monotonic()
        panels = [] if result is None else [
            self._panel_of(frames, result, index)
            for index in range(max(0, len(frames) - PANELS_PER_BATCH), len(frames))]
        with self._lock:
            self._summary = summary
            self._rate_samples.append((now, summary["frames"]))
            while now - self._rate_samples[0][0] > RATE_WINDOW_S:
                self._rate_samples.popleft()
            if result is not None:
                for shape in result["shape"]:
                    self._shapes[shape] = self._shapes.get(shape, 0) + 1
                self._radius_counts += np.histogram(result["radius_nm"], RADIUS_BINS_NM)[0]
                oriented = [index for index, shape in enumerate(result["shape"])
                            if shape_family(shape).has_orientation]
                self._directions.extend(np.round(beam_directions(
                    result["quaternion"][oriented]), 4).tolist())
            for panel in panels:
                self._hit_number += 1
                self._hits.appendleft((self._hit_number, *panel))

    def _panel_of(self, frames: list, result: dict, index: int) -> tuple[dict, bytes]:
        """What hit ``index`` of a batch is, and its frame | re-simulation as PNG."""
        from wideshot.physics import simulate

        parameter = result["shape_parameter"][index]
        resimulated = simulate(result["radius_nm"][index], result["quaternion"][index],
                               shape=result["shape"][index],
                               shape_parameter=None if np.isnan(parameter) else parameter,
                               **self._simulation)[0]
        frame = frames[index]
        about = {"source": str(frame.source), "frame": int(frame.index),
                 "shape": result["shape"][index],
                 "radius_nm": round(float(result["radius_nm"][index]), 2),
                 "flagged": bool(result["flagged"][index])}
        return about, _panel_png(np.where(frame.valid, frame.image, np.nan),
                                 np.where(frame.valid, resimulated, np.nan))

    def state(self) -> dict:
        """Everything the page shows, as JSON-ready values."""
        with self._lock:
            samples = self._rate_samples
            span = samples[-1][0] - samples[0][0] if len(samples) > 1 else 0.0
            rate = (samples[-1][1] - samples[0][1]) / span if span > 0 else None
            return {"summary": self._summary,
                    "frames_per_s_now": None if rate is None else round(rate, 1),
                    "shapes": dict(self._shapes),
                    "radius_histogram": {"edges_nm": RADIUS_BINS_NM.tolist(),
                                         "counts": self._radius_counts.tolist()},
                    "beam_directions": list(self._directions),
                    "latest_hits": [{"number": number, **about}
                                    for number, about, _ in self._hits]}

    def _panel(self, number: int) -> bytes | None:
        with self._lock:
            return next((png for n, _, png in self._hits if n == number), None)

    def _handler(self):
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                path = self.path.split("?")[0]
                if path == "/":
                    self._send(_PAGE.read_bytes(), "text/html; charset=utf-8")
                elif path == "/state.json":
                    self._send(json.dumps(monitor.state()).encode(), "application/json")
                elif path.startswith("/hit/") and path.endswith(".png"):
                    number = path[len("/hit/"):-len(".png")]
                    png = monitor._panel(int(number)) if number.isdigit() else None
                    if png is None:
                        self.send_error(HTTPStatus.NOT_FOUND, "no such hit (any more)")
                    else:
                        self._send(png, "image/png")
                else:
                    self.send_error(HTTPStatus.NOT_FOUND)

            def _send(self, body: bytes, kind: str) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # quiet: the stream owns stderr
                pass

        return Handler
