"""idl_helpers.core.parallel: jobs on separate processes give the numbers they give here, in order."""

import os

import numpy as np
import pytest

from idl_helpers.core import parallel


def _draws(seed, n):
    """A seeded computation with BLAS in it: the same numbers in any process."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    return float(np.linalg.norm(a @ a.T)), os.getpid()


def _threads():
    import torch
    from threadpoolctl import threadpool_info
    return torch.get_num_threads(), max((p["num_threads"] for p in threadpool_info()), default=1)


def _boom(x):
    raise ValueError(f"planted failure {x}")


def test_results_are_the_same_and_in_order_on_two_processes():
    jobs = [(s, 60 + 10 * s) for s in range(5)]
    here = parallel.run(_draws, jobs, workers=1)
    times = []
    there = parallel.run(_draws, jobs, workers=2, cost=[n for _, n in jobs], times=times)
    assert [v for v, _ in there] == [v for v, _ in here]          # exactly, not approximately
    assert {pid for _, pid in here} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in there}            # they did run elsewhere
    assert len(times) == len(jobs) and all(t >= 0 for t in times)


def _meet(folder, seconds=60.0):
    """Write this process's id into ``folder`` and wait until another process has written its own:
    two such jobs can only both return if they run at the same time on two processes."""
    import pathlib
    import time
    here = pathlib.Path(folder)
    (here / str(os.getpid())).touch()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if len(list(here.iterdir())) >= 2:
            return os.getpid()
        time.sleep(0.01)
    raise TimeoutError("no second worker process ran beside this one")


def test_two_workers_are_two_processes_running_at_once(tmp_path):
    # Which worker takes which job is up to the pool (a worker that starts first may take
    # several short jobs), so the test makes two jobs wait for each other instead.
    pids = parallel.run(_meet, [(str(tmp_path),), (str(tmp_path),)], workers=2)
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_workers_are_limited_to_the_threads_asked_for():
    for torch_threads, blas_threads in parallel.run(_threads, [(), ()], workers=2):
        assert torch_threads == 1 and blas_threads == 1
    (torch_threads, _), _ = parallel.run(_threads, [(), ()], workers=2, threads=2)
    assert torch_threads == 2


def test_jobs_run_here_use_the_workers_thread_count_and_restore_ours():
    """One worker computes in this process, with the workers' thread count, so a kernel that may
    start one worker and one that may start two compute the same numbers."""
    import torch

    before = torch.get_num_threads()
    [(torch_threads, blas_threads)] = parallel.run(_threads, [()], workers=1)
    assert (torch_threads, blas_threads) == (1, 1)
    assert parallel.start(_threads, workers=1).result() == (1, 1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_job_is_named(workers):
    with pytest.raises(parallel.JobFailed, match=r"job 2 of 3 raised ValueError: planted failure b") as e:
        parallel.run(_fail_second, [(0,), (1,), (2,)], workers=workers)
    assert isinstance(e.value.__cause__, ValueError)


def _fail_second(i):
    if i == 1:
        _boom("b")
    return i


@pytest.mark.parametrize("workers", [1, 2])
def test_background_job(workers):
    job = parallel.start(_draws, 3, 50, workers=workers)
    value, pid = job.result()
    assert value == _draws(3, 50)[0]
    assert (pid == os.getpid()) == (workers == 1)
    failing = parallel.start(_boom, "c", workers=workers)
    with pytest.raises(parallel.JobFailed, match="planted failure c"):
        failing.result()


def test_default_workers_respects_the_runners_share(monkeypatch):
    monkeypatch.setenv("IDL_WORKERS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")    # the kernel's own threads say nothing about workers
    assert parallel.default_workers() == 1
    monkeypatch.delenv("IDL_WORKERS")
    assert parallel.default_workers() == parallel.cores()
    assert parallel.default_workers("cuda") == 1


def test_split_balances_cost_and_keeps_groups_together():
    items = [("a", 4), ("b", 1), ("a", 8), ("c", 5), ("d", 2), ("b", 3)]
    parts = parallel.split(items, 2, key=lambda it: it[0], cost=lambda g: max(n for _, n in g))
    assert sorted(x for p in parts for x in p) == sorted(items)            # nothing lost or repeated
    for p in parts:                                                        # the items' order is kept
        assert p == [it for it in items if it in p]
    owner = {name: i for i, p in enumerate(parts) for name, _ in p}
    assert all(owner[name] == i for i, p in enumerate(parts) for name, _ in p)   # a group is never cut
    load = [sum(max(n for k, n in p if k == g) for g in {k for k, _ in p}) for p in parts]
    assert sorted(load) == [8, 10]       # a: 8 | c 5 + b 3 + d 2: the best split of 8, 5, 3, 2
    assert parallel.split([1, 2], 5) == [[1], [2]]                         # never an empty part
    assert parallel.split([], 2) == []
