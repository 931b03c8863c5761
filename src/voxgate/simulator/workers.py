"""Where the simulator's speech work runs: never on the event loop.

Synthesis (espeak-ng through ctypes, numpy, soxr) releases the GIL, so it runs in a small thread
pool. A job whose engine holds the GIL for its whole run (pocketsphinx decodes in C without
releasing it) says so with ``process_bound`` and runs in a process pool instead: a thread would
stall every other session's relay for as long as it decodes. Both pools are shared by every
simulator app in the process and made on first use; the process pool starts its workers with
``spawn`` (no fork of a process that runs an event loop and threads), and a worker keeps what it
loaded (the recogniser's model) for the next job. A worker whose parent is gone (killed without a
chance to shut the pool down) exits by itself within a second.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import threading
import time
from typing import Final

from voxgate.simulator.work import Job, JobResult

SPEECH_THREADS: Final = 4
HEARING_PROCESSES: Final = max(1, min(2, (os.cpu_count() or 1) - 1))
PARENT_CHECK_SECONDS: Final = 1.0

_lock = threading.Lock()
_threads: concurrent.futures.ThreadPoolExecutor | None = None
_processes: concurrent.futures.ProcessPoolExecutor | None = None


def _thread_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _threads
    with _lock:
        if _threads is None:
            _threads = concurrent.futures.ThreadPoolExecutor(SPEECH_THREADS, thread_name_prefix="sim-speech")
        return _threads


def _process_pool() -> concurrent.futures.ProcessPoolExecutor:
    global _processes
    with _lock:
        if _processes is None:
            _processes = concurrent.futures.ProcessPoolExecutor(
                HEARING_PROCESSES,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
            atexit.register(shutdown)
        return _processes


def submit(job: Job) -> concurrent.futures.Future[JobResult]:
    """Start ``job`` in the pool that suits it."""
    if job.process_bound:
        return _process_pool().submit(_run, job)
    return _thread_pool().submit(_run, job)


def _watch_parent(parent: int) -> None:
    """In a worker process: exit as soon as ``parent`` is no longer this process's parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="sim-parent-watch", daemon=True).start()


_warmed: set[str] = set()


def warm_up(job: Job) -> None:
    """Run ``job`` once per kind of worker, result unused, so that the first real one finds the
    worker process started and its model loaded."""
    kind = type(job).__name__ + (":process" if job.process_bound else ":thread")
    with _lock:
        if kind in _warmed:
            return
        _warmed.add(kind)
    submit(job)


def _run(job: Job) -> JobResult:
    return job.run()


def shutdown() -> None:
    """Stop both pools (they are made again on the next job); queued jobs are dropped."""
    global _threads, _processes
    with _lock:
        threads, processes = _threads, _processes
        _threads = _processes = None
        _warmed.clear()
    if threads is not None:
        threads.shutdown(wait=False, cancel_futures=True)
    if processes is not None:
        processes.shutdown(wait=False, cancel_futures=True)
