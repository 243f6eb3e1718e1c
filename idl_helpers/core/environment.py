"""Where a run happens and with what: the folders, the device, the pinned numerics, the profile's settings.

Sections, in order:

* **errors** — the data layer's error classes, here so that the folders below and the data layer
  (:mod:`idl_helpers.data`, which re-exports them) share them without importing each other;
* **paths** — the repository, the local data directory (``$IDL_DATA_DIR``, read first, never written),
  caches, results, and :func:`atomic_path` for files written whole or not at all;
* **device** — :func:`resolve_device` (``auto`` → ``cuda`` when available) and :func:`describe_device`;
* **numerics** — what a CPU run's numbers depend on, pinned and recorded. Measured on this book's
  2-core runners: two runs with the same thread count gave identical numbers; 1 and 2 threads gave
  different ones; the same commit on another machine of the same kind differed by ~1e-4. So every
  kernel the runner starts gets a **fixed thread count** (:data:`THREADS`, ``$IDL_THREADS`` overrides)
  for torch, OpenMP, MKL and OpenBLAS — never derived from ``--jobs`` or from the cores of the
  machine. It is one: measured on the 2-core runner (a GRU-64 training step, batch 128 × 100
  tokens), 2 threads are only 15–25% faster than 1 on a quiet machine (1.6–1.9 s against 2.1 s for
  20 steps) but 8–45× slower as soon as one other process is busy (16–91 s: each of the many small
  parallel regions waits for the descheduled thread), while 1 thread keeps its 2.1 s. The cores go
  to ``--jobs`` notebooks and to the workers of :mod:`idl_helpers.core.parallel` instead. And
  **pinned CPU code paths**: torch's vectorised kernels at AVX2 (``ATEN_CPU_CAPABILITY``), oneDNN
  capped at AVX2 (``ONEDNN_MAX_CPU_ISA``), and MKL in conditional numerical reproducibility mode
  (``MKL_CBWR``: fixed cache sizes, deterministic reductions, static scheduling; on Intel CPUs also
  the AVX2 branch). A machine with AVX-512 then computes what an AVX2 machine computes. What cannot
  be pinned from here (the CPU model, its caches on a non-Intel CPU, the kernel) is recorded:
  :func:`describe_numerics` goes into the run log and each results file says threads and code path in
  its ``device``. Verdicts must be robust to the rest (:mod:`idl_helpers.analysis.stats`). Independent
  jobs inside a notebook (:mod:`idl_helpers.core.parallel`) run on single-threaded workers; how many
  workers a kernel may start (``$IDL_WORKERS``) changes only the speed, never a number;
* **profiles** — ``smoke`` (CI: seconds per notebook, tiny subsets; proves the code runs end to end),
  ``quick`` (a 2-core CPU: minutes per notebook, numbers that mean something) and ``full`` (the
  reports' own settings; meant for a CUDA GPU). A page states its settings for all three in one call::

      cfg = settings(profile,
                     smoke=dict(epochs=1, n_train=512),
                     quick=dict(epochs=5, n_train=25_000),
                     full=dict(epochs=15, n_train=25_000))

One module, because every page needs all of it: a page's recorded inputs (:mod:`idl_book.page_status`)
stay few, and the data layer reads its folders from here.
"""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any


# -------------------- errors ----------------------------------------------------------------

class DataError(RuntimeError):
    """Base class of the data layer's errors."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A file is in none of the places looked at and cannot be downloaded."""


class ChecksumError(DataError):
    """A file's checksum does not match the registry's."""


class DataCorruptError(DataError):
    """A file has the right name but cannot be read completely (e.g. a truncated archive)."""


class DataUnreadableError(DataError):
    """A file exists but cannot be read (permissions, I/O error)."""


class DataConfigError(DataError, NotADirectoryError):
    """``$IDL_DATA_DIR`` or ``$IDL_CACHE_DIR`` names something unusable (raised by the paths below)."""



# -------------------- paths -----------------------------------------------------------------

#: The repository root (the folder holding ``_config.yml``).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Environment variable naming a local directory with the raw data files
#: (read first, never written to).
DATA_DIR_ENV = "IDL_DATA_DIR"
#: Environment variable naming a writable cache directory (downloads, processed data).
CACHE_DIR_ENV = "IDL_CACHE_DIR"
#: Environment variable that forbids downloads (set it on offline machines and in tests).
OFFLINE_ENV = "IDL_OFFLINE"
#: Environment variable overriding where notebooks write their results.
RESULTS_DIR_ENV = "IDL_RESULTS_DIR"


def _setting_error(message: str) -> Exception:
    return DataConfigError(message)


def data_dir() -> Path | None:
    """The local data directory named by ``$IDL_DATA_DIR``, or ``None``.

    When the variable is unset and a ``shared/data`` folder sits beside the
    repository (the layout of the offline machines this book is built on), that
    folder is used. A variable naming a file raises ``DataConfigError`` (a ``DataError``);
    one naming nothing is returned as is (every look-up then reports the file as not found
    and says that the directory does not exist).
    """
    value = os.environ.get(DATA_DIR_ENV)
    if value:
        path = Path(value).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise _setting_error(f"{DATA_DIR_ENV}={value} is not a directory; set it to the folder "
                                 f"that holds the data files, or unset it")
        return path
    sibling = REPO_ROOT.parent / "shared" / "data"
    return sibling if sibling.is_dir() else None


def cache_dir() -> Path:
    """A writable cache directory (``$IDL_CACHE_DIR``, else ``~/.cache/idl-book``), created if needed.

    One that is a file or cannot be created raises ``DataConfigError`` (a ``DataError``).
    """
    value = os.environ.get(CACHE_DIR_ENV)
    path = Path(value).expanduser() if value else Path.home() / ".cache" / "idl-book"
    name = f"{CACHE_DIR_ENV}={value}" if value else f"the cache directory {path}"
    if path.exists() and not path.is_dir():
        raise _setting_error(f"{name} is not a directory; set {CACHE_DIR_ENV} to a writable directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _setting_error(f"{name} cannot be created ({exc.strerror or exc}); "
                             f"set {CACHE_DIR_ENV} to a writable directory") from exc
    return path


def offline() -> bool:
    """True when downloads are forbidden (``$IDL_OFFLINE`` set to anything but 0/false)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


#: Set by the runner for the kernels it starts: the book and source folders of this run (a test
#: or a CI replay may run into a folder other than the repository's ``book/``).
BOOK_DIR_ENV = "IDL_BOOK_DIR"
NOTEBOOKS_DIR_ENV = "IDL_NOTEBOOKS_DIR"


def book_dir() -> Path:
    return REPO_ROOT / "book"


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def results_dir(profile: str | None = None) -> Path:
    """Results root (``book/results`` unless ``$IDL_RESULTS_DIR``), or one profile's folder."""
    value = os.environ.get(RESULTS_DIR_ENV)
    root = Path(value).expanduser() if value else book_dir() / "results"
    return root / profile if profile else root


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path of its own beside ``final``, moved onto ``final`` when the block succeeds.

    Notebooks executed in parallel build the same caches at the same time; each writer gets a
    unique temporary file (never a shared ``.tmp`` name), so readers see either no file or a
    complete one, and a failed write leaves nothing behind. The temporary name keeps
    ``final``'s suffix, so ``np.save``/``np.savez`` do not append another.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.stem}.", suffix=final.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)



# -------------------- device ----------------------------------------------------------------

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device not in DEVICES and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}; use one of {', '.join(DEVICES)} or cuda:N")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but torch sees no CUDA GPU")
    return device


def describe_device(device: str, threads: int | None = None) -> str:
    """A human-readable device name for results, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or
    ``cpu (AMD EPYC, 1 thread)`` (``threads``: default, this process's torch threads)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    n = threads or torch.get_num_threads()
    return f"cpu ({cpu_model()}, {n} thread{'s' if n != 1 else ''})"



# -------------------- numerics --------------------------------------------------------------

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
    and :func:`describe_numerics` says so)."""
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


def describe_numerics(env: dict[str, str] | None = None) -> dict:
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



# -------------------- profiles --------------------------------------------------------------

PROFILES: tuple[str, ...] = ("smoke", "quick", "full")


class ProfileError(ValueError):
    """An unknown profile name."""


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ProfileError(
            f"unknown profile {profile!r}; valid profiles are: {', '.join(PROFILES)}"
        )
    return profile


def default_profile() -> str:
    """``full`` when a CUDA GPU is present, ``quick`` otherwise."""
    try:
        import torch

        if torch.cuda.is_available():
            return "full"
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return "quick"


def settings(profile: str, **per_profile: dict[str, Any]) -> SimpleNamespace:
    """Pick this profile's settings; every profile must be given, with the same keys."""
    check_profile(profile)
    missing = [p for p in PROFILES if p not in per_profile]
    extra = [p for p in per_profile if p not in PROFILES]
    if missing or extra:
        raise ProfileError(f"settings() needs exactly {PROFILES}; missing {missing}, unknown {extra}")
    keys = {p: set(v) for p, v in per_profile.items()}
    if len({frozenset(k) for k in keys.values()}) != 1:
        raise ProfileError(f"profiles set different keys: {keys}")
    _say_settings(profile, per_profile)
    return SimpleNamespace(profile=profile, **per_profile[profile])


#: how many departures from ``full`` the sentence names; the folded table has them all
SAID = 4
#: a setting whose name starts or ends so counts things: ``None`` means "all" of them (else "off")
COUNT_PREFIX, COUNT_SUFFIXES = "n_", ("_sentences", "_chars", "_reviews")


def show_value(key: str, v: Any) -> str:
    """A setting's value as a reader wants it: ``None`` as "all" (a count) or "off", thousands
    separated, a long grid shortened, a per-case dict as ``tanh 3, relu 3``."""
    if v is None:
        return "all" if key.startswith(COUNT_PREFIX) or key.endswith(COUNT_SUFFIXES) else "off"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {show_value(key, x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        if not v:
            return "none"
        if len(v) > 6:
            return f"{len(v)} values, {show_value(key, v[0])} … {show_value(key, v[-1])}"
        return ", ".join(show_value(key, x) for x in v)
    return str(v)


def _varying(per_profile: dict[str, dict[str, Any]]) -> list[str]:
    first = per_profile[PROFILES[0]]
    return [k for k in first if len({repr(per_profile[p][k]) for p in PROFILES}) > 1]


def settings_sentence(profile: str, per_profile: dict[str, dict[str, Any]]) -> str:
    """One short sentence: which run this page shows and, for a smaller profile, where it departs
    from the reports' own settings (``full``)."""
    from idl_helpers.core import tables    # here, not at the top: the data layer imports this module
    varying = _varying(per_profile)
    if not varying:
        return f"This page shows the `{profile}` run; its settings are the same under every profile."
    if profile == "full":
        return "This page shows the `full` run (the reports' settings)."
    diff = [k for k in varying if repr(per_profile[profile][k]) != repr(per_profile["full"][k])]
    said = "; ".join(f"{tables.readable_header(k)} {show_value(k, per_profile[profile][k])} "
                     f"(full: {show_value(k, per_profile['full'][k])})"
                     for k in diff[:SAID])
    more = f"; and {len(diff) - SAID} more (the table below)" if len(diff) > SAID else ""
    return f"This page shows the `{profile}` run, smaller than the reports' settings (`full`): {said}{more}."


def settings_table(per_profile: dict[str, dict[str, Any]]) -> str:
    """The settings that depend on the profile, one row each, as a Markdown table."""
    from idl_helpers.core import tables    # here, not at the top: the data layer imports this module
    rows = ["| setting | " + " | ".join(PROFILES) + " |", "|---|" + "---|" * len(PROFILES)]
    rows += [f"| {tables.readable_header(k)} | " + " | ".join(show_value(k, per_profile[p][k]) for p in PROFILES) + " |"
             for k in _varying(per_profile)]
    return "\n".join(rows)


def _say_settings(profile: str, per_profile: dict) -> None:
    """Show :func:`settings_sentence` as the cell's output when running in a notebook."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    if get_ipython() is None:
        return
    text = settings_sentence(profile, per_profile)
    if _varying(per_profile):
        text += ("\n\n<details><summary>Every setting that depends on the profile</summary>\n\n"
                 + settings_table(per_profile) + "\n\n</details>")
    display(Markdown(text))
