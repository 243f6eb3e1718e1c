"""Independent jobs on separate CPU cores: one single-threaded process per core.

Most models in this book are too small for a second thread to help: a 50-unit NumPy network,
a DAN fed 8 reviews a step, a character GRU fed one chunk. On a 2-core CPU, two such
trainings in two processes take the time of one. :func:`run` calls ``fn(*args)`` for every job,
each in a ``spawn``-ed worker process limited to ``threads`` threads, and returns the results in
the order the jobs were given. Each job is computed exactly as it would be in this process, so
the numbers do not depend on ``workers`` (``tests/test_parallel.py``).

``workers=1`` runs the jobs here, one after another (smoke runs, tests, a GPU).
:func:`start` runs one job in the background while a notebook goes on.
:func:`split` cuts a list of work into ``n`` parts of about equal cost.

``fn`` and its arguments travel to the workers by pickling: ``fn`` must be a module-level
function (not one defined in a notebook), and large arrays are best sent once per worker (split
the work into one job per worker) rather than once per small job.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Hashable, Sequence

from idl_helpers.core.environment import THREAD_VARS, WORKERS_ENV


class JobFailed(RuntimeError):
    """A job raised; the message names the job, the original exception is its cause."""


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers(device: str = "cpu") -> int:
    """One process per core on a CPU; the runner shares the cores out among the notebooks it runs at
    once through ``$IDL_WORKERS``, and that share is respected. One on a GPU. (Speed only: a job
    computes the same numbers on any number of workers.)"""
    if str(device).startswith("cuda"):
        return 1
    given = os.environ.get(WORKERS_ENV, "")
    return max(1, min(cores(), int(given))) if given.isdigit() else max(1, cores())


def _die_with_parent() -> None:
    """Linux: ask the kernel to SIGKILL this worker when the process that started it dies, so a
    notebook's workers never outlive a killed kernel or ``idl-book run`` (they would block forever
    on their pipe). Elsewhere nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        parent = mp.parent_process()
        if parent is not None and os.getppid() != parent.pid:  # it died before the prctl call
            os._exit(1)
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        pass


def _limit_threads(threads: int) -> None:
    """In a fresh worker: at most ``threads`` threads for NumPy's BLAS and for torch (and the worker
    dies with its parent, :func:`_die_with_parent`)."""
    _die_with_parent()
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass


@contextmanager
def _threads_here(threads: int):
    """Jobs run in this process (one worker) use the workers' thread count, so their numbers do not
    depend on how many workers there were; the caller's count is restored afterwards."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


def _timed(fn, args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_limit_threads,
                               initargs=(threads,))


def run(fn: Callable, jobs: Sequence[tuple], *, workers: int | None = None, threads: int = 1,
        cost: Sequence[float] | None = None, label: str = "job", times: list | None = None) -> list:
    """``[fn(*job) for job in jobs]``, computed on ``workers`` processes (default: one per core).

    ``cost`` (one number per job) starts the costliest jobs first, so the workers finish together.
    ``times``, if given a list, receives each job's seconds (in the jobs' order). A job that raises
    stops the run with :class:`JobFailed` naming it."""
    jobs = [tuple(j) for j in jobs]
    workers = default_workers() if workers is None else workers
    workers = max(1, min(workers, len(jobs)))
    order = sorted(range(len(jobs)), key=lambda i: -(cost[i] if cost is not None else 0.0))
    done: dict[int, tuple[Any, float]] = {}
    if workers == 1:
        with _threads_here(threads):
            for i in order:
                try:
                    done[i] = _timed(fn, jobs[i])
                except Exception as exc:
                    raise JobFailed(f"{label} {i + 1} of {len(jobs)} raised {type(exc).__name__}: {exc}") from exc
    else:
        with _pool(workers, threads) as pool:
            futures = {i: pool.submit(_timed, fn, jobs[i]) for i in order}
            for i in order:
                try:
                    done[i] = futures[i].result()
                except Exception as exc:
                    for f in futures.values():
                        f.cancel()
                    raise JobFailed(f"{label} {i + 1} of {len(jobs)} raised {type(exc).__name__}: {exc}") from exc
    if times is not None:
        times[:] = [done[i][1] for i in range(len(jobs))]
    return [done[i][0] for i in range(len(jobs))]


class Background:
    """One job running in its own process (see :func:`start`); :meth:`result` waits for it."""

    def __init__(self, fn: Callable, args: tuple, threads: int, here: bool):
        self._pool = None
        if here:                                  # no second core: run it now, in this process
            self._future: Future = Future()
            try:
                with _threads_here(threads):
                    self._future.set_result(_timed(fn, args))
            except Exception as exc:
                self._future.set_exception(exc)
        else:
            self._pool = _pool(1, threads)
            self._future = self._pool.submit(_timed, fn, args)

    def result(self):
        """The job's return value (its exception, raised as :class:`JobFailed`, if it failed)."""
        try:
            out, _ = self._future.result()
        except Exception as exc:
            raise JobFailed(f"background job raised {type(exc).__name__}: {exc}") from exc
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        return out


def start(fn: Callable, *args, threads: int = 1, workers: int | None = None) -> Background:
    """Start ``fn(*args)`` in a background process and return at once; ``.result()`` waits for it.

    With a single worker (``workers=1``, or one core) the job runs here, before :func:`start`
    returns, so a page reads the same either way."""
    workers = default_workers() if workers is None else workers
    return Background(fn, args, threads, here=workers < 2)


def split(items: Sequence, n: int, *, cost: Callable[[list], float] | None = None,
          key: Callable[[Any], Hashable] | None = None) -> list[list]:
    """``items`` cut into at most ``n`` non-empty parts of about equal total cost.

    Items with the same ``key`` form a group that stays in one part (e.g. runs that share one
    training); ``cost(group)`` is the cost of a group, a list of items (default: its length).
    Each part keeps the items' order; the costliest groups are placed first, each on the lightest
    part."""
    groups: dict[Hashable, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item) if key else i, []).append(i)
    weight = {g: float(cost([items[i] for i in idx])) if cost else float(len(idx)) for g, idx in groups.items()}
    parts: list[list[int]] = [[] for _ in range(max(1, min(n, len(groups))))]
    load = [0.0] * len(parts)
    for g in sorted(groups, key=lambda g: -weight[g]):
        j = load.index(min(load))
        parts[j] += groups[g]
        load[j] += weight[g]
    return [[items[i] for i in sorted(p)] for p in parts if p]
