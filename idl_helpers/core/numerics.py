"""What a CPU run's numbers depend on, pinned and recorded.

Measured on this book's 2-core runners: two runs with the same thread count gave identical numbers;
1 and 2 threads gave different ones; the same commit on another machine of the same kind differed by
~1e-4. So every kernel the runner starts gets

* a **fixed thread count** (:data:`THREADS`, ``$IDL_THREADS`` overrides) for torch, OpenMP, MKL and
  OpenBLAS — never derived from ``--jobs`` or from the cores of the machine. It is one: measured on
  the 2-core runner (a GRU-64 training step, batch 128 × 100 tokens), 2 threads are only 15–25%
  faster than 1 on a quiet machine (1.6–1.9 s against 2.1 s for 20 steps) but 8–45× slower as soon
  as one other process is busy (16–91 s: each of the many small parallel regions waits for the
  descheduled thread), while 1 thread keeps its 2.1 s. The cores go to ``--jobs`` notebooks and
  to the workers of :mod:`idl_helpers.core.parallel` instead;
* **pinned CPU code paths**: torch's vectorised kernels at AVX2 (``ATEN_CPU_CAPABILITY``), oneDNN
  capped at AVX2 (``ONEDNN_MAX_CPU_ISA``), and MKL in conditional numerical reproducibility mode
  (``MKL_CBWR``: fixed cache sizes, deterministic reductions, static scheduling; on Intel CPUs
  also the AVX2 branch). A machine with AVX-512 then computes what an AVX2 machine computes.

What cannot be pinned from here (the CPU model, its caches on a non-Intel CPU, the kernel) is
recorded: :func:`describe` goes into the run log and each results file says threads and code path
in its ``device``. Verdicts must be robust to the rest (:mod:`idl_helpers.analysis.stats`).

Independent jobs inside a notebook (:mod:`idl_helpers.core.parallel`) run on single-threaded workers;
how many workers a kernel may start (``$IDL_WORKERS``, the cores shared out among the notebooks
running at once) changes only the speed, never a number.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache

#: threads per notebook kernel: what every recorded number was computed with
THREADS = 1
THREADS_ENV = "IDL_THREADS"
#: worker processes a kernel may start for independent single-threaded jobs (speed only)
WORKERS_ENV = "IDL_WORKERS"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: code paths pinned before a process imports torch or NumPy (they read these at start-up)
CODE_PATHS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


class NumericsError(ValueError):
    """An invalid thread setting."""


def threads() -> int:
    """Threads per kernel: ``$IDL_THREADS`` if set (a positive whole number), else :data:`THREADS`."""
    given = os.environ.get(THREADS_ENV, "").strip()
    if not given:
        return THREADS
    if not given.isdigit() or int(given) < 1:
        raise NumericsError(f"${THREADS_ENV}={given!r}: give a positive whole number of threads per kernel")
    return int(given)


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def code_paths() -> dict[str, str]:
    """The code-path pins this CPU can take (AVX2 only where the CPU has it; else nothing is pinned
    and :func:`describe` says so)."""
    return dict(CODE_PATHS) if "avx2" in cpu_flags() else {}


def pinned_env(n_threads: int | None = None, workers: int | None = None) -> dict[str, str]:
    """The environment a kernel starts with: thread counts, code paths and its share of cores."""
    n = threads() if n_threads is None else n_threads
    env = {var: str(n) for var in THREAD_VARS}
    env[THREADS_ENV] = str(n)
    env.update(code_paths())
    if workers is not None:
        env[WORKERS_ENV] = str(max(1, workers))
    return env


def apply(n_threads: int | None = None) -> int:
    """In a running process: use exactly ``n_threads`` threads in torch and in NumPy's BLAS (a
    notebook opened by hand then computes with the runner's thread count). Returns the count."""
    n = threads() if n_threads is None else n_threads
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def describe(env: dict[str, str] | None = None) -> dict:
    """What a kernel's numbers depend on, for the run log: ``env`` is what it was started with
    (:func:`pinned_env`; default: this process's environment)."""
    env = dict(os.environ) if env is None else env
    given = env.get(THREADS_ENV, "")
    out = {"threads": int(given) if given.isdigit() else threads(), "cpu": cpu_model(),
           "machine": platform.machine(), "avx512": any(f.startswith("avx512") for f in cpu_flags()),
           "kernel": platform.release()}
    out.update({var: env.get(var, "") for var in CODE_PATHS})
    return out


def pins(entry_numerics: dict | None = None) -> dict:
    """The settings a page's numbers must share with the runner's current ones for the runner to
    reproduce them (``idl-book status`` compares them): threads and code paths. Of a run-log
    entry's ``numerics`` if given, else of what the runner would use now."""
    if entry_numerics is None:
        return {"threads": threads(), **{var: code_paths().get(var, "") for var in CODE_PATHS}}
    return {k: entry_numerics.get(k) for k in ("threads", *CODE_PATHS)}
