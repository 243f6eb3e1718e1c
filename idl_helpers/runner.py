"""Execute the book's notebooks with papermill.

``run_notebooks`` executes every source notebook in ``notebooks/`` (or those named in
``only``) into the book folder, one kernel per notebook, ``jobs`` at a time, under one
profile. A failing notebook does not stop the others: its executed copy (with the
traceback) is still written, and the returned :class:`NotebookRun` names the cell that
failed. A run log (status, wall time, device, versions per notebook) is written beside
the results as ``runs-<profile>.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks

from . import device as device_mod
from . import paths
from .profiles import check_profile, default_profile
from .results import git_commit, versions

PARAMETERS = ("profile", "seed", "device", "data_dir")
#: notebooks that summarise the others run after them, in this order
RUN_LAST = ("scorecard",)


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

    def describe(self) -> str:
        if self.status == "ok":
            return f"{self.name}: ok ({self.wall_time_s:.1f} s)"
        where = f" in cell In [{self.failed_cell}]" if self.failed_cell is not None else ""
        return f"{self.name}: FAILED{where}: {self.error}"


def discover(source_root: Path | None = None) -> list[Path]:
    """Source notebooks, part by part and page by page, summaries (``RUN_LAST``) at the end."""
    root = Path(source_root) if source_root else paths.notebooks_dir()
    found = [p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    def key(p: Path):
        last = RUN_LAST.index(p.stem) if p.stem in RUN_LAST else -1
        return (last, p.relative_to(root).as_posix())
    return sorted(found, key=key)


def select(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """Keep notebooks whose stem equals or starts with one of ``only`` (error if one matches none)."""
    if not only:
        return notebooks
    chosen, unknown = [], []
    for name in only:
        stem = Path(name).stem
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
        device_mod.resolve(device)  # the same check every notebook's setup() makes
    except (ValueError, RuntimeError) as exc:
        raise RunnerError(str(exc)) from None
    if data_dir and not Path(data_dir).is_dir():
        raise RunnerError(f"data_dir {data_dir!r} is not a directory")
    return {"profile": profile, "seed": seed, "device": device, "data_dir": str(data_dir or "")}


def executed_profile(path: Path) -> str | None:
    """The profile an executed notebook in the book was run with (papermill's metadata), if any."""
    try:
        return json.loads(Path(path).read_text())["metadata"]["papermill"]["parameters"]["profile"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ipc_kernel_manager(socket_dir: str):
    """A kernel manager talking to its kernel over local IPC sockets in ``socket_dir``
    (not TCP: nothing listens on the network, and the kernel has no plain-TCP warning to print)."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(socket_dir, "k"))
            super().__init__(**kwargs)

    return IPCKernelManager


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


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def threads_per_kernel(jobs: int) -> int:
    """CPU threads each kernel may use: the cores shared out among the notebooks running at once.

    Two kernels with two BLAS/torch threads each on two cores run small models 10–25× slower
    than with one thread each (measured on this book's GRU and DAN), so threads are never
    oversubscribed. ``$OMP_NUM_THREADS`` set by the user wins.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"])
    return max(1, (os.cpu_count() or 1) // max(jobs, 1))


def _first_line(message) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else ""


def _execute(source: str, output: str, parameters: dict, results_dir: str, timeout: int | None,
             threads: int | None = None) -> dict:
    """Run one notebook (in a worker process); never raises for a failing notebook."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # inherited by the kernel (torch, NumPy's BLAS and MKL read the thread counts at start-up);
    # restored afterwards, since with jobs=1 this runs in the caller's own process
    saved = {v: os.environ.get(v) for v in (paths.RESULTS_DIR_ENV, *THREAD_VARS)}
    os.environ[paths.RESULTS_DIR_ENV] = results_dir
    for var in THREAD_VARS if threads else ():
        os.environ[var] = str(threads)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    error, cell = "", None
    sockets = tempfile.mkdtemp(prefix="idl-kernel-")
    try:
        pm.execute_notebook(source, output, parameters=parameters, kernel_name="python3",
                            cwd=str(out.parent), progress_bar=False, log_output=False,
                            execution_timeout=timeout, kernel_manager_class=_ipc_kernel_manager(sockets))
        status = "ok"
    except PapermillExecutionError as exc:
        status, cell = "failed", exc.exec_count
        error = f"{exc.ename}: {_first_line(exc.evalue)}"
    except Exception as exc:  # kernel died, bad notebook, timeout …
        status, error = "failed", f"{exc.__class__.__name__}: {_first_line(exc)}"
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


def run_notebooks(profile: str | None = None, *, only: list[str] | None = None, jobs: int = 1,
                  seed: int = 0, device: str = "auto", data_dir: str | None = None,
                  source_root: Path | None = None, book_root: Path | None = None,
                  results_root: Path | None = None, timeout: int | None = None,
                  progress: bool = True) -> list[NotebookRun]:
    """Execute notebooks into the book (see the module docstring); returns one record each."""
    profile = profile or default_profile()
    params = validate(profile, seed, device, data_dir)
    if data_dir:
        params["data_dir"] = str(Path(data_dir).resolve())
    source_root = Path(source_root) if source_root else paths.notebooks_dir()
    book_root = Path(book_root) if book_root else paths.book_dir()
    results_root = Path(results_root) if results_root else (
        paths.results_dir() if book_root == paths.book_dir() else book_root / "results")
    notebooks = select(discover(source_root), only)
    if jobs < 1:
        raise RunnerError("jobs must be at least 1")
    # summaries read everybody's results, so they run after all others finish
    first = [p for p in notebooks if p.stem not in RUN_LAST]
    last = [p for p in notebooks if p.stem in RUN_LAST]
    runs: list[NotebookRun] = []
    bar = tqdm(total=len(notebooks), desc=f"notebooks ({profile})", unit="nb", disable=not progress)

    from .profiles import PROFILES

    # a smoke run over a committed quick/full copy is allowed (make book PROFILE=smoke), but said
    before = {src: executed_profile(book_root / src.relative_to(source_root)) for src in notebooks}
    rank = {p: i for i, p in enumerate(PROFILES)}

    def record(src: Path, res: dict):
        out = book_root / src.relative_to(source_root)
        old = before[src]
        replaced = old if old in rank and rank[old] > rank[profile] else None
        runs.append(NotebookRun(src.stem, str(src), str(out), **res, replaced_profile=replaced))
        bar.update(1)
        bar.set_postfix_str(f"{src.stem}: {res['status']}")

    threads = threads_per_kernel(jobs)

    def args(src: Path):
        out = book_root / src.relative_to(source_root)
        return str(src), str(out), params, str(results_root), timeout, threads

    for group in (first, last):
        if jobs == 1 or len(group) <= 1:
            for src in group:
                bar.set_description_str(f"running {src.stem}")
                record(src, _execute(*args(src)))
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(_execute, *args(src)): src for src in group}
                bar.set_description_str(f"running {len(group)} notebooks, {jobs} at a time")
                for fut in as_completed(futures):
                    record(futures[fut], fut.result())
    bar.close()
    order = {p.stem: i for i, p in enumerate(notebooks)}
    runs.sort(key=lambda r: order[r.name])
    _write_log(runs, profile, {**params, "jobs": jobs, "threads_per_kernel": threads}, results_root)
    return runs


def _write_log(runs: list[NotebookRun], profile: str, params: dict, results_root: Path) -> Path:
    """Merge this run into ``runs-<profile>.json``: one entry per notebook, the latest run of each
    (so ``--only`` runs update their notebooks and keep the others' timings)."""
    import torch

    results_root.mkdir(parents=True, exist_ok=True)
    path = results_root / f"runs-{profile}.json"
    try:
        entries = {e["name"]: e for e in json.loads(path.read_text())["notebooks"]}
    except (OSError, ValueError, KeyError):
        entries = {}
    dev = device_mod.resolve(params["device"])
    common = {"device": device_mod.describe(dev), "cuda_available": torch.cuda.is_available(),
              "parameters": {k: v for k, v in params.items() if k != "data_dir"},
              "versions": versions(), "git_commit": git_commit(),
              "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    def rel(p: str) -> str:  # paths inside the repository are logged relative to it
        try:
            return Path(p).resolve().relative_to(paths.REPO_ROOT).as_posix()
        except ValueError:
            return p

    for r in runs:
        entries[r.name] = {**asdict(r), "source": rel(r.source), "output": rel(r.output), **common}
    log = {"profile": profile, "notebooks": sorted(entries.values(), key=lambda e: e["source"])}
    path.write_text(json.dumps(log, indent=1) + "\n")
    return path


def summary(runs: list[NotebookRun]) -> pd.DataFrame:
    return pd.DataFrame([{"notebook": r.name, "status": r.status, "wall time (s)": round(r.wall_time_s, 1),
                          "failed cell": "" if r.failed_cell is None else r.failed_cell,
                          "error": r.error} for r in runs])
