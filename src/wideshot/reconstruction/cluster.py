"""Chunks of a reconstruction run answered by Dask workers, handed back in input order.

The workers of a Dask distributed scheduler (``tcp://host:8786``, the engine ``wideshot
generate`` uses too), or of a local cluster started here, run
:func:`~wideshot.reconstruction.chunks.answer_chunk` — the function a single-process run
calls — on chunks of frames; at most a few chunks per worker are in flight, and answers come
back in the order of the chunks, so the caller writes the same rows in the same order as a run
in one process. A chunk whose worker fails (a file that kills it, a worker lost) comes back as
failed rows with the reason; a scheduler that goes away ends the run with a clear error (the
rows written so far stay, and ``--resume`` continues).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from wideshot.reconstruction.chunks import (
    AnswerSettings,
    ChunkAnswer,
    answer_chunk,
    frame_keys,
)
from wideshot.reconstruction.rows import failed_row
from wideshot.reconstruction.sources import Frame

#: Seconds to wait for a scheduler to answer at the start.
CONNECT_TIMEOUT_S = 10.0
#: Chunks in flight per worker thread.
CHUNKS_IN_FLIGHT = 2


def _answer_on_worker(segments, settings: AnswerSettings, skip, panels) -> ChunkAnswer:
    """:func:`answer_chunk` with one thread per task: the parallelism is across tasks."""
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    return answer_chunk(segments, settings, skip=skip, panels=panels)


def _failed_chunk(segments, skip, reason: str) -> ChunkAnswer:
    rows = [None if key in skip else failed_row(Frame(*key, None, None, reason))
            for key in frame_keys(segments)]
    return ChunkAnswer(rows, [])


def dask_answers(work: list, settings: AnswerSettings, *, scheduler: str | None = None,
                 workers: int | None = None) -> Iterator[ChunkAnswer]:
    """The answers of ``work`` — (segments, skip, panels) per chunk — from Dask workers, in
    order.

    Parameters
    ----------
    work : list of (segments, skip, panels)
        As :func:`~wideshot.reconstruction.chunks.answer_chunk` takes them.
    settings : AnswerSettings
        Sent to every worker once; its ``model`` should be a name or run folder that the
        workers can load.
    scheduler : str, optional
        Address of a running scheduler.
    workers : int, optional
        Without ``scheduler``: start a local cluster of this many processes, one thread each.

    Raises
    ------
    ValueError
        A scheduler that cannot be reached, or that goes away during the run.
    """
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    try:
        try:
            client = Client(cluster or scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} ({error})"
                             ) from None
        with client:
            yield from _in_order(client, work, settings, scheduler or "the local cluster")
    finally:
        if cluster is not None:
            cluster.close()


def _in_order(client, work: list, settings: AnswerSettings, where: str
              ) -> Iterator[ChunkAnswer]:
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    threads = max(1, sum(client.nthreads().values()))
    shared = client.scatter(settings, broadcast=True)
    pending: deque = deque()
    queue = iter(enumerate(work))
    done = 0
    while True:
        while len(pending) < CHUNKS_IN_FLIGHT * threads:
            item = next(queue, None)
            if item is None:
                break
            index, (segments, skip, panels) = item
            pending.append((segments, skip, client.submit(
                _answer_on_worker, segments, shared, skip, panels, pure=False,
                key=f"wideshot-chunk-{index}")))
        if not pending:
            return
        segments, skip, future = pending.popleft()
        try:
            answer = future.result()
        except Exception as error:  # noqa: BLE001 - the scheduler is gone, or this chunk failed
            what = f"{type(error).__name__}: {' '.join(str(error).split())}"
            if client.status != "running" or isinstance(error, (CommClosedError,
                                                                CancelledError)):
                raise ValueError(f"the Dask scheduler at {where} went away after {done} "
                                 f"chunks ({what}); the rows written so far stay, and "
                                 "--resume continues the run") from None
            answer = _failed_chunk(segments, skip, f"worker failed on this chunk ({what})")
        future.release()
        done += 1
        yield answer
