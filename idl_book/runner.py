"""Execute the book's notebooks with papermill.

``run_notebooks`` executes every source notebook in ``notebooks/`` (or those named in
``only``) into the book folder, one kernel per notebook, ``jobs`` at a time, under one
profile. Runs are atomic: a notebook executes into a staging folder, and only one that
finished replaces its page, its results file and its run-log entry. A failing notebook does
not stop the others; the returned :class:`NotebookRun` names the cell that failed, its executed
copy (with the traceback) is kept under ``_build/failed/<profile>/``, and the book keeps the
previous page, marked in the run log. A run log (status, wall time, device, versions and the
hashes of the inputs per notebook, :mod:`idl_book.page_status`) is written beside the
results as ``runs-<profile>.json``, under a lock.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks

from idl_helpers.core import environment, parallel
from idl_helpers.core.environment import check_profile, default_profile
from idl_helpers.core.results import STAGING_ENV, git_commit, versions

from .page_status import input_hashes, input_hashes_of
from .pages import RUN_LAST, discover, executed_profile, is_summary

PARAMETERS = ("profile", "seed", "device", "data_dir")


class RunnerError(ValueError):
    """Invalid runner arguments (unknown profile, notebook, device …)."""


@dataclass
class NotebookRun:
    name: str
    source: str
    output: str
    status: str  # "ok" | "failed"
    wall_time_s: float
    error: str = ""
    failed_cell: int | None = None  # execution count, as "In [n]" shows it in the executed notebook
    replaced_profile: str | None = None  # the more thorough profile of the copy this run overwrote
    kept_profile: str | None = None  # the more thorough profile of the page this run left in the book

    def describe(self) -> str:
        if self.status == "ok":
            return f"{self.name}: ok ({self.wall_time_s:.1f} s)"
        where = f" in cell In [{self.failed_cell}]" if self.failed_cell is not None else ""
        return f"{self.name}: FAILED{where}: {self.error}"


def select(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """Keep notebooks whose stem equals or starts with one of ``only`` (error if one matches none)."""
    if only is None:
        return notebooks
    if not only or any(not str(n).strip() for n in only):
        raise RunnerError(f"--only needs notebook names, got {only!r}; available: "
                          f"{', '.join(p.stem for p in notebooks)}")
    for name in only:  # ".", "/", "./", "..": an empty stem would match every notebook
        stem = Path(str(name).strip()).stem
        if not stem.strip(".") or str(name).strip().endswith("/"):
            raise RunnerError(f"--only {name!r} is not a notebook name; give notebook names or prefixes "
                              f"such as 10_II_3 (available: {', '.join(p.stem for p in notebooks)})")
    chosen, unknown = [], []
    for name in only:
        stem = Path(str(name).strip()).stem
        hits = [p for p in notebooks if p.stem == stem or p.stem.startswith(stem)]
        if not hits:
            unknown.append(name)
        chosen += [p for p in hits if p not in chosen]
    if unknown:
        raise RunnerError(f"no notebook matches {unknown}; available: {', '.join(p.stem for p in notebooks)}")
    return [p for p in notebooks if p in chosen]


def validate(profile: str, seed, device: str, data_dir: str | None) -> dict:
    """Check the papermill parameters before any kernel starts."""
    try:
        check_profile(profile)
    except ValueError as exc:
        raise RunnerError(str(exc)) from None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RunnerError(f"seed must be an integer, not {seed!r}")
    try:
        environment.resolve_device(device)  # the same check every notebook's setup() makes
    except (ValueError, RuntimeError) as exc:
        raise RunnerError(str(exc)) from None
    if data_dir and not Path(data_dir).is_dir():
        raise RunnerError(f"data_dir {data_dir!r} is not a directory")
    return {"profile": profile, "seed": seed, "device": device, "data_dir": str(data_dir or "")}


def _ipc_kernel_manager(socket_dir: str, stderr_path: str | None = None):
    """A kernel manager talking to its kernel over local IPC sockets in ``socket_dir``
    (not TCP: nothing listens on the network, and the kernel has no plain-TCP warning to print).

    The kernel's own stderr (its tracebacks when a cell is interrupted or timed out: tens of lines)
    goes to ``stderr_path``, kept beside a failed run's executed copy, not to the terminal.
    jupyter_client starts the kernel in a session of its own and tells it its parent's pid, so the
    kernel exits when the runner dies, and its worker processes die with it
    (:func:`idl_helpers.core.parallel._limit_threads` asks for a parent-death signal)."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(socket_dir, "k"))
            super().__init__(**kwargs)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            if stderr_path:
                with open(stderr_path, "ab") as fh:  # the child keeps its own copy of the descriptor
                    kw["stderr"] = fh
                    return await super()._async_launch_kernel(kernel_cmd, **kw)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

        _launch_kernel = _async_launch_kernel

    return IPCKernelManager


def _running_cell(path: Path) -> int | None:
    """The execution count of the last cell papermill started in an executed copy (the one that was
    running when a timeout or a dead kernel stopped the run)."""
    try:
        cells = json.loads(Path(path).read_text()).get("cells", [])
    except (OSError, ValueError):
        return None
    started = [c for c in cells if c.get("cell_type") == "code"
               and ((c.get("metadata") or {}).get("papermill") or {}).get("start_time")]
    return started[-1].get("execution_count") if started else None


@contextmanager
def _quiet_loggers():
    """nbclient and papermill log a cell's timeout or interrupt as tracebacks of their own; the
    runner reports it in one line (``NotebookRun.describe``), so they are silenced while it runs."""
    import logging

    names = ("papermill", "nbclient", "traitlets", "asyncio", "jupyter_client")
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


def _hide_parameter_cells(path: Path) -> None:
    """Tag the parameters cell and papermill's injected one ``remove-cell`` in the executed copy:
    the rendered page shows the run line that ``setup()`` prints instead (the cells stay in the file)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


def workers_per_kernel(jobs: int) -> int:
    """Worker processes each kernel may start for independent single-threaded jobs
    (:mod:`idl_helpers.core.parallel`): the cores shared out among the notebooks running at once.
    This changes only the speed; the kernel's own thread count is fixed (:mod:`idl_helpers.core.environment`),
    so no number depends on ``--jobs``."""
    return max(1, parallel.cores() // max(jobs, 1))


def _first_line(message) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else ""


def _execute(source: str, output: str, cwd: str, parameters: dict, results_dir: str, staging: str,
             timeout: int | None, threads: int | None = None, roots: tuple[str, str] = ("", ""),
             workers: int | None = None) -> dict:
    """Run one notebook (in a worker process) into ``output``, a staging path; never raises for a
    failing notebook. Its results file goes to ``staging`` too (``$IDL_RESULTS_STAGING``), while
    ``$IDL_RESULTS_DIR`` keeps pointing at the book's results, which summaries read."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # inherited by the kernel (torch, NumPy's BLAS and MKL read thread counts and code paths at
    # start-up, :mod:`idl_helpers.core.environment`); restored afterwards, since with jobs=1 this runs in the caller's own process
    pinned = environment.pinned_env(threads, workers)
    saved = {v: os.environ.get(v) for v in (environment.RESULTS_DIR_ENV, STAGING_ENV, environment.NOTEBOOKS_DIR_ENV,
                                            environment.BOOK_DIR_ENV, *pinned)}
    os.environ[environment.RESULTS_DIR_ENV] = results_dir
    os.environ[STAGING_ENV] = staging
    os.environ[environment.NOTEBOOKS_DIR_ENV], os.environ[environment.BOOK_DIR_ENV] = roots
    os.environ.update(pinned)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(cwd).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    error, cell = "", None
    sockets = tempfile.mkdtemp(prefix="idl-kernel-")
    kernel_log = str(out) + ".kernel-stderr.txt"
    try:
        with _quiet_loggers():
            pm.execute_notebook(source, output, parameters=parameters, kernel_name="python3",
                                cwd=cwd, progress_bar=False, log_output=False, execution_timeout=timeout,
                                kernel_manager_class=_ipc_kernel_manager(sockets, kernel_log))
        status = "ok"
    except PapermillExecutionError as exc:
        status, cell = "failed", exc.exec_count
        error = f"{exc.ename}: {_first_line(exc.evalue)}"
        fix = [ln.strip() for ln in str(exc.evalue).splitlines()[1:] if ln.strip().startswith("fix:")]
        if fix:  # a data error's remedy (set $IDL_DATA_DIR …) is said with it, not only in the failed copy
            error += f" ({fix[0]})"
        if exc.ename == "KeyboardInterrupt":  # Ctrl-C reached the kernel too
            status = "interrupted"
    except Exception as exc:  # kernel died, bad notebook, timeout …
        status, cell = "failed", _running_cell(out)
        error = f"{exc.__class__.__name__}: {_first_line(exc)}"
        if exc.__class__.__name__ == "CellTimeoutError":
            where = f"cell In [{cell}]" if cell is not None else "a cell"
            error = f"{where} timed out after {timeout} s (--timeout {timeout})"
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    if out.exists():
        _hide_parameter_cells(out)
    return {"status": status, "wall_time_s": time.perf_counter() - t0, "error": error, "failed_cell": cell}


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class _Job:
    """One notebook of a run: where it executes (staging) and where it lands when it finishes."""

    src: Path
    out: Path  # the page in the book
    staged: Path  # where papermill writes it
    staged_results: Path  # where its Recorder writes
    failed_copy: Path  # where a failed attempt's executed copy (with the traceback) is kept
    inputs: dict


def run_notebooks(profile: str | None = None, *, only: list[str] | None = None, jobs: int = 1,
                  seed: int = 0, device: str = "auto", data_dir: str | None = None,
                  source_root: Path | None = None, book_root: Path | None = None,
                  results_root: Path | None = None, timeout: int | None = None,
                  progress: bool = True, replace_thorough: bool = False) -> list[NotebookRun]:
    """Execute notebooks into the book (see the module docstring); returns one record each.

    The book shows the most thorough run of each page: a run under a lighter profile than the
    page's (``smoke`` over ``quick``, ``quick`` over ``full``) records its numbers but leaves the
    page alone, its executed copy going to ``_build/executed/<profile>/`` — unless
    ``replace_thorough``.

    Each notebook runs into a staging folder; only a notebook that finished replaces its page,
    its results file and its run-log entry. A failed or interrupted run leaves the previous page
    and numbers in place and marks them in the run log (``last_attempt``); its executed copy,
    traceback included, is kept under ``_build/failed/<profile>/``.

    ``progress``: a bar on a terminal; in a log (no TTY) one line per notebook started and finished.
    """
    profile = profile or default_profile()
    params = validate(profile, seed, device, data_dir)
    if data_dir:
        params["data_dir"] = str(Path(data_dir).resolve())
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
        raise RunnerError(f"timeout must be a positive number of seconds, not {timeout!r}")
    source_root = Path(source_root) if source_root else environment.notebooks_dir()
    book_root = Path(book_root) if book_root else environment.book_dir()
    results_root = Path(results_root) if results_root else (
        environment.results_dir() if book_root == environment.book_dir() else book_root / "results")
    notebooks = select(discover(source_root), only)
    if jobs < 1:
        raise RunnerError("jobs must be at least 1")
    # summaries read the others' results, so they run after all others finish, in page order
    first = [p for p in notebooks if not is_summary(p)]
    last = [p for p in notebooks if is_summary(p)]
    runs: list[NotebookRun] = []
    show = _Progress(len(notebooks), profile, enabled=progress)

    from idl_helpers.core.environment import PROFILES

    # a smoke run over a committed quick/full copy is allowed (make book PROFILE=smoke), but said
    before = {src: executed_profile(book_root / src.relative_to(source_root)) for src in notebooks}
    rank = {p: i for i, p in enumerate(PROFILES)}
    try:
        threads = environment.threads()
    except environment.NumericsError as exc:
        raise RunnerError(str(exc)) from None
    workers = workers_per_kernel(jobs)
    if progress and jobs > 1 and jobs * threads > parallel.cores():
        print(f"note: {jobs} notebooks at once × {threads} threads each on {parallel.cores()} cores: slower than "
              f"--jobs {max(1, parallel.cores() // threads)}, same numbers (the thread count is fixed so that "
              f"--jobs never changes a number; ${environment.THREADS_ENV} sets it)", file=sys.stderr)
    log_params = {**{k: v for k, v in params.items() if k != "data_dir"}, "jobs": jobs,
                  "threads_per_kernel": threads, "workers_per_kernel": workers}
    failed_root = book_root.resolve().parent / "_build" / "failed" / profile
    kept_root = book_root.resolve().parent / "_build" / "executed" / profile
    book_root.mkdir(parents=True, exist_ok=True)
    _remove_orphaned_staging(book_root)
    staging = Path(tempfile.mkdtemp(prefix=".run-", dir=book_root))  # same file system: moves are atomic
    (staging / OWNER).write_text(str(os.getpid()))

    def job(src: Path) -> _Job:
        rel = src.relative_to(source_root)
        inputs = input_hashes(src)
        if is_summary(src):  # a summary shows other pages' numbers: they are its inputs too
            summaries = {p.stem for p in notebooks if is_summary(p)}  # (not other summaries': they run after)
            inputs.update(input_hashes_of(sorted(f for f in (results_root / profile).glob("*.json")
                                                 if f.stem not in summaries)))
        return _Job(src, book_root / rel, staging / "pages" / rel, staging / "results" / src.stem,
                    failed_root / rel, inputs)

    def land(j: _Job, res: dict) -> None:
        written = sorted((j.staged_results / profile).glob("*.json"))
        if res["status"] == "ok" and not written and _must_record(j.src, results_root / profile):
            res = {**res, "status": "failed",
                   "error": f"wrote no results file (book/results/{profile}/{j.src.stem}.json): its "
                            f"`ctx.finish()` cell did not run; the previous numbers are kept"}
        results_hashes = {}
        old = before[j.src]
        thorough = old if res["status"] == "ok" and old in rank and rank[old] > rank[profile] else None
        replaced, kept = (thorough, None) if replace_thorough else (None, thorough)
        output = kept_root / j.src.relative_to(source_root) if kept else j.out
        if res["status"] == "ok":
            for f in written:
                dest = results_root / profile / f.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(f, dest)
                results_hashes.update(input_hashes_of([dest]))
            output.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(j.staged, output) if kept else os.replace(j.staged, output)
        elif j.staged.exists():
            j.failed_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(j.staged, j.failed_copy)
            output = j.failed_copy
            log = Path(str(j.staged) + ".kernel-stderr.txt")
            if log.is_file() and log.stat().st_size:  # the kernel's own traceback, for whoever digs
                shutil.move(log, str(j.failed_copy) + ".kernel-stderr.txt")
        run = NotebookRun(j.src.stem, str(j.src), str(output), **res, replaced_profile=replaced,
                          kept_profile=kept)
        _update_log(results_root, profile, [run], log_params, {j.src.stem: j.inputs},
                    {j.src.stem: results_hashes})
        runs.append(run)
        show.finished(run)

    running: dict[Path, _Job] = {}
    roots = (str(source_root.resolve()), str(book_root.resolve()))
    try:
        for group in (first, last):
            if jobs == 1 or len(group) <= 1 or group is last:  # a summary may read the one before it
                for src in group:
                    j = running[src] = job(src)
                    show.started(src.stem)
                    res = _execute(str(src), str(j.staged), str(j.out.parent), params, str(results_root),
                                   str(j.staged_results), timeout, threads, roots, workers)
                    del running[src]
                    land(j, res)
                    if res["status"] == "interrupted":
                        raise KeyboardInterrupt
            else:
                _run_pool(group, jobs, job, land, running, show, params, results_root, timeout, threads, roots,
                          workers)
    except KeyboardInterrupt:
        now = _utc()
        for j in running.values():
            run = NotebookRun(j.src.stem, str(j.src), str(j.out), "interrupted", 0.0,
                              error=f"interrupted at {now}")
            _update_log(results_root, profile, [run], log_params, {})
            runs.append(run)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        show.close()
    order = {p.stem: i for i, p in enumerate(notebooks)}
    runs.sort(key=lambda r: order[r.name])
    return runs


#: the file in a staging folder that names the process running it
OWNER = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_orphaned_staging(book_root: Path) -> None:
    """Staging folders of runs that were killed (SIGKILL, a crash) and could not clean up: their
    owner process is gone. A staging folder of a run still going (or one without an owner file,
    made by an older runner) is left alone."""
    for d in sorted(Path(book_root).glob(".run-*")):
        try:
            pid = int((d / OWNER).read_text().strip())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            print(f"note: removed {d}, left by a run (pid {pid}) that was killed before it finished; "
                  f"its pages and results were never changed", file=sys.stderr)


def _run_pool(group, jobs, job, land, running, show, params, results_root, timeout, threads, roots,
              workers) -> None:
    """``group`` on ``jobs`` worker processes; on Ctrl-C the workers and their kernels are stopped."""
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        futures = {}
        for src in group:
            j = running[src] = job(src)
            futures[pool.submit(_execute, str(src), str(j.staged), str(j.out.parent), params,
                                str(results_root), str(j.staged_results), timeout, threads, roots,
                                workers)] = src
        queue = list(group)  # the pool starts them in this order, a worker each
        for src in queue[:jobs]:
            show.started(src.stem)
        next_up = jobs
        for fut in as_completed(futures):
            src = futures[fut]
            j = running.pop(src)
            try:
                res = fut.result()
            except Exception as exc:  # the worker process died
                res = {"status": "failed", "wall_time_s": 0.0, "failed_cell": None,
                       "error": f"{exc.__class__.__name__}: {_first_line(exc)}"}
            land(j, res)  # says "finished" before the freed worker's next notebook says "started"
            if res["status"] == "interrupted":
                raise KeyboardInterrupt
            if next_up < len(queue):  # the worker that just finished takes the next one
                show.started(queue[next_up].stem)
                next_up += 1
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    procs = list(getattr(pool, "_processes", {}).values())
    try:
        import psutil

        for p in procs:
            try:
                for child in psutil.Process(p.pid).children(recursive=True):
                    child.kill()
            except psutil.Error:
                pass
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        pass
    for p in procs:
        p.kill()
    pool.shutdown(wait=False, cancel_futures=True)


class _Progress:
    """A bar on a terminal; in a non-interactive log one plain line per notebook started and
    finished (no carriage returns)."""

    def __init__(self, total: int, profile: str, enabled: bool = True):
        self.total, self.done, self.enabled = total, 0, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=f"notebooks ({profile})", unit="nb", disable=not self.tty)

    def _line(self, text: str) -> None:
        if self.enabled and not self.tty:
            print(text, file=sys.stderr, flush=True)

    def started(self, name: str) -> None:
        self.bar.set_description_str(f"running {name}")
        self._line(f"[{self.done}/{self.total}] started  {name}")

    def finished(self, run: "NotebookRun") -> None:
        self.done += 1
        self.bar.update(1)
        self.bar.set_postfix_str(f"{run.name}: {run.status}")
        where = f" in cell In [{run.failed_cell}]" if run.failed_cell is not None else ""
        self._line(f"[{self.done}/{self.total}] finished {run.name}: {run.status}{where} "
                   f"({run.wall_time_s:.1f} s)")

    def close(self) -> None:
        self.bar.close()


@contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` (a lock file of its own) for a read-modify-write."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_log_entries(path: Path) -> dict[str, dict]:
    """The log's entries; a damaged log is kept aside (said on stderr), never silently dropped."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        return {e["name"]: e for e in json.loads(text)["notebooks"]}
    except (ValueError, KeyError, TypeError) as exc:
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(path, aside)
        print(f"warning: {path} could not be read ({exc.__class__.__name__}: {exc}); kept as {aside}, "
              f"starting a new run log", file=sys.stderr)
        return {}


def _must_record(src: Path, results_dir: Path) -> bool:
    """Whether a finished run of ``src`` must have written its results file: every notebook that
    calls ``setup(`` (its recorder) unless it is a summary, and every notebook that has a results
    file from an earlier run (else the book would keep another run's numbers beside the new page).
    Summaries such as the scorecard, which never recorded, are the exception."""
    if (results_dir / f"{src.stem}.json").exists():
        return True
    if is_summary(src):
        return False
    try:
        cells = json.loads(Path(src).read_text()).get("cells", [])
    except (OSError, ValueError):
        return False
    return any("setup(" in "".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


def _update_log(results_root: Path, profile: str, runs: list[NotebookRun], params: dict,
                inputs: dict[str, dict], results_files: dict[str, dict] | None = None) -> Path:
    """Merge ``runs`` into ``runs-<profile>.json`` under a lock, written atomically.

    One entry per notebook: the run the book shows (``status`` ok) with the inputs it was
    executed from; a run that did not finish only adds ``last_attempt`` to it, so the shown
    page's numbers are never reported as those of the failed run."""
    import torch

    path = results_root / f"runs-{profile}.json"
    dev = environment.resolve_device(params["device"])
    common = {"device": environment.describe_device(dev, params.get("threads_per_kernel")), "cuda_available": torch.cuda.is_available(),
              "parameters": params, "versions": versions(), "git_commit": git_commit(),
              "numerics": environment.describe_numerics(environment.pinned_env(params.get("threads_per_kernel")))}

    def rel(p: str) -> str:  # paths inside the repository are logged relative to it
        try:
            return Path(p).resolve().relative_to(environment.REPO_ROOT).as_posix()
        except ValueError:
            return p

    with _locked(results_root / f".runs-{profile}.lock"):
        entries = _read_log_entries(path)
        for r in runs:
            if r.status == "ok":
                entries[r.name] = {**asdict(r), "source": rel(r.source), "output": rel(r.output), **common,
                                   "finished_utc": _utc(), "inputs": inputs.get(r.name, {}),
                                   "results": (results_files or {}).get(r.name, {})}
                continue
            attempt = {"status": r.status, "at": _utc(), "error": r.error, "failed_cell": r.failed_cell,
                       "wall_time_s": r.wall_time_s, "copy": rel(r.output), "git_commit": git_commit()}
            entry = entries.get(r.name) or {"name": r.name, "source": rel(r.source), "status": r.status}
            entries[r.name] = {**entry, "last_attempt": attempt}
        log = {"profile": profile, "notebooks": sorted(entries.values(), key=lambda e: e["source"])}
        with environment.atomic_path(path) as tmp:
            tmp.write_text(json.dumps(log, indent=1) + "\n")
    return path


def summary(runs: list[NotebookRun]) -> pd.DataFrame:
    return pd.DataFrame([{"notebook": r.name, "status": r.status, "wall time (s)": round(r.wall_time_s, 1),
                          "failed cell": "" if r.failed_cell is None else r.failed_cell,
                          "error": r.error} for r in runs])
