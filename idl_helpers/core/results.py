"""A page's run and its results: what every notebook does first and last, the records it keeps, and the
table beside the reports' numbers it ends with.

First cell after the ``parameters`` cell::

    from idl_helpers.core.results import setup
    ctx = setup("II_1a_4a_softmax_perplexity", profile=profile, seed=seed, device=device, data_dir=data_dir)
    rec = ctx.recorder

Last cell::

    ctx.finish()   # saves the results JSON and shows them beside the report's numbers

Results are data: one file per notebook and profile, ``book/results/<profile>/<notebook>.json``
(``$IDL_RESULTS_DIR`` overrides the root). A record says which question it answers, the metric, the
value and everything needed to judge it: profile, seed, device, data variant, wall time, library
versions, git commit::

    rec.check("II.1a", passed=bool(diff == 0), expression=str(grad))   # a verified derivation
    rec.add("II.1d", "dev perplexity", ppl, data_variant="ptb-mikolov")  # a measured number

Sections, in order: **results** (:class:`Recorder`, reading and checking results files), **notebook**
(:func:`setup`, :class:`Context`) and **compare** (one page's records beside the report's numbers:
:func:`show_compare`; the book's scorecard, :mod:`idl_book.scorecard`, imports it, never the other way
round). It depends only on :mod:`.environment`, the registry of the reports' numbers
(:mod:`idl_helpers.core.reports`) and :mod:`idl_helpers.core.tables`, so editing the scorecard does not
make every page stale.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from idl_helpers.core import environment, reports, tables
from idl_helpers.core.environment import check_profile


# -------------------- results ---------------------------------------------------------------

SCHEMA_VERSION = 1


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers."""
    out = {"python": platform.python_version()}
    for name in ("torch", "numpy", "sympy", "pandas", "sklearn", "idl_helpers"):
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except ImportError:
            out[name] = "missing"
    return out


#: Environment variable naming where a running notebook writes its results file: the runner
#: points it at a staging folder and moves the file into the book only when the notebook finished.
STAGING_ENV = "IDL_RESULTS_STAGING"


class ResultsError(ValueError):
    """A results file that cannot be read (damaged JSON, wrong layout)."""


def is_runner_output(path: str, root: Path | None = None) -> bool:
    """True for files the runner itself writes into the repository: results and run logs under
    ``book/results/``, and ``book/<rel>.ipynb`` whenever ``notebooks/<rel>.ipynb`` is a source."""
    root = Path(root or environment.REPO_ROOT)
    if path.startswith("book/results/"):
        return True
    if path.startswith("book/") and path.endswith(".ipynb"):
        return (root / "notebooks" / path[len("book/"):]).is_file()
    return False


def _dirty_paths(porcelain: str) -> list[str]:
    out = []
    for line in porcelain.splitlines():
        name = line[3:]
        if " -> " in name:  # a rename: both sides count
            out += name.split(" -> ")
        else:
            out.append(name)
    return [n.strip('"') for n in out if n]


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The repository's commit, ``+dirty`` when files other than the runner's own outputs
    (executed pages, results, run logs: :func:`is_runner_output`) differ from it, or ``unknown``.

    The runner rewrites pages in ``book/`` while it works, so counting those would mark every
    run after the first as dirty even on a clean clone.
    """
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=environment.REPO_ROOT,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        porcelain = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=environment.REPO_ROOT,
            capture_output=True, text=True, timeout=10,
        ).stdout
        dirty = [p for p in _dirty_paths(porcelain) if not is_runner_output(p)]
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _plain(value: Any) -> Any:
    """Turn numpy / torch scalars into JSON-friendly Python values; NaN and inf become strings."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Recorder:
    """Collects one notebook's records and writes them to its JSON file."""

    def __init__(self, notebook: str, *, profile: str, seed: int, device: str,
                 data_variant: str | None = None):
        self.notebook = notebook
        self.profile = check_profile(profile)
        self.seed = int(seed)
        self.device = device
        self.data_variant = data_variant
        self.records: list[dict[str, Any]] = []
        self._t0 = time.perf_counter()
        self._started = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def add(self, question: str, metric: str, value: Any, *, data_variant: str | None = None,
            wall_time_s: float | None = None, seed: int | None = None, **extra: Any) -> None:
        """Record one number (or short verdict) for a question (see :attr:`records`).

        Returns nothing, so that a call ending a notebook cell does not print the record."""
        if not question or not metric:
            raise ValueError("a record needs a question id and a metric name")
        rec = {
            "question": question,
            "metric": metric,
            "value": _plain(value),
            "profile": self.profile,
            "seed": self.seed if seed is None else int(seed),
            "device": self.device,
            "data_variant": data_variant or self.data_variant,
            "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 3),
        }
        if extra:
            rec["extra"] = _plain(extra)
        self.records.append(rec)

    def check(self, question: str, passed: bool, *, what: str = "check", **quantities: Any) -> None:
        """Record a verified derivation or test: ``value`` is ``"passed"`` or ``"FAILED"``.

        Raises ``AssertionError`` after recording when the check failed, so a wrong
        derivation stops the notebook (and the book build) instead of being rendered.
        """
        self.add(question, what, "passed" if passed else "FAILED", **quantities)
        if not passed:
            self.save()
            raise AssertionError(f"{question}: {what} FAILED ({quantities})")

    def save(self) -> Path:
        """Write (overwrite) ``<results>/<profile>/<notebook>.json``; returns its path."""
        staging = os.environ.get(STAGING_ENV)
        folder = Path(staging) / self.profile if staging else environment.results_dir(self.profile)
        out = folder / f"{self.notebook}.json"
        payload = {
            "schema": SCHEMA_VERSION,
            "notebook": self.notebook,
            "profile": self.profile,
            "seed": self.seed,
            "device": self.device,
            "started_utc": self._started,
            "wall_time_s": round(time.perf_counter() - self._t0, 3),
            "versions": versions(),
            "git_commit": git_commit(),
            "records": self.records,
        }
        with environment.atomic_path(out) as tmp:
            tmp.write_text(json.dumps(payload, indent=1) + "\n")
        return out


def read_file(path: Path) -> dict:
    """One results file, or a :class:`ResultsError` that names it and says what to do."""
    try:
        payload = json.loads(Path(path).read_text())
        if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
            raise ValueError("no 'records' list")
        for key in ("notebook", "wall_time_s", "git_commit", "versions", "started_utc"):
            payload[key]  # noqa: B018 - every field load() reads must be there
        return payload
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{path}: not a readable results file ({exc.__class__.__name__}: {exc}); "
                           f"re-run its notebook or restore it with `git checkout -- {path}`") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc})") from None


#: words in a metric name or ``extra`` key that mark a measurement of time, not of the model: these
#: differ between two runs of one commit by nature, and are left out of :func:`numbers`
TIMING_WORDS = ("wall time", "wall_time", "seconds", "step time", "speed-up", "timing", "_s")


def is_timing(name: str) -> bool:
    name = str(name).lower()
    return any(w in name for w in TIMING_WORDS[:-1]) or name.endswith(TIMING_WORDS[-1])


def numbers(path: Path) -> dict[str, Any]:
    """Everything a results file computed, flattened to ``{"question | metric | key": value}`` —
    each record's value and its ``extra`` fields — without timings (:func:`is_timing`). Two runs
    of one commit with the same profile and seed on one machine kind give equal dicts."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if not is_timing(k):
                    walk(f"{prefix}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{prefix}[{i}]", v)
        else:
            out[prefix] = value

    for r in read_file(path)["records"]:
        if is_timing(r["metric"]):
            continue
        key = f"{r['question']} | {r['metric']}"
        walk(f"{key} | value", r["value"])
        walk(f"{key} | extra", r.get("extra", {}))
    return out


def _writes_results(entry: dict) -> bool:
    """A run-log entry of a page that saves a results file: the runner recorded the file it wrote
    (``results``), or — in a log written before it did — the page ran ``setup`` / ``Context.finish``
    (``idl_helpers/core/notebook.py`` or, before the layers, ``idl_helpers/notebook.py`` among its
    inputs). A summary page such as the scorecard only reads results."""
    if entry.get("results"):
        return True
    return any(str(k).replace("\\", "/").endswith(("idl_helpers/core/notebook.py", "idl_helpers/notebook.py"))
               for k in entry.get("inputs") or {})


def missing_files(root: Path | None = None, profile: str | None = None) -> list[str]:
    """The results files the run log says a finished page wrote, but that are not there (deleted or
    never landed), one sentence each. ``profile=None``: every profile that has a run log."""
    root = Path(root) if root else environment.results_dir()
    profiles = [profile] if profile else sorted(p.name[len("runs-"):-len(".json")] for p in root.glob("runs-*.json"))
    out = []
    for p in profiles:
        log = root / f"runs-{p}.json"
        try:
            entries = json.loads(log.read_text())["notebooks"]
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ResultsError(f"{log}: the run log cannot be read ({exc.__class__.__name__}: {exc})") from None
        for e in entries:
            path = root / p / f"{e.get('name')}.json"
            if e.get("status") == "ok" and _writes_results(e) and not path.is_file():
                out.append(f"{path}: missing, but {log.name} says {e.get('name')} finished at "
                           f"{e.get('finished_utc', '?')}; re-run it or restore it with `git checkout -- {path}`")
    return out


def load(profile: str | None = None, root: Path | None = None) -> pd.DataFrame:
    """All records (of one profile, or all), one row each, with the notebook-level fields.

    Raises :class:`ResultsError` for a damaged file, and for a missing one that the run log says a
    finished page wrote (:func:`missing_files`): a deleted results file is never read as "not run"."""
    root = Path(root) if root else environment.results_dir()
    missing = missing_files(root, profile)
    if missing:
        raise ResultsError("; ".join(missing))
    files = sorted((root / profile).glob("*.json") if profile else root.glob("*/*.json"))
    rows = []
    for f in files:
        payload = read_file(f)
        for r in payload["records"]:
            rows.append({**r, "notebook": payload["notebook"],
                         "notebook_wall_time_s": payload["wall_time_s"],
                         "git_commit": payload["git_commit"],
                         "torch": payload["versions"].get("torch"),
                         "started_utc": payload["started_utc"]})
    cols = ["question", "metric", "value", "profile", "seed", "device", "data_variant",
            "wall_time_s", "notebook", "notebook_wall_time_s", "git_commit", "torch", "started_utc", "extra"]
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df:
            df[c] = None
    return df[cols + [c for c in df.columns if c not in cols]]



# -------------------- notebook --------------------------------------------------------------

@dataclass
class Context:
    name: str
    profile: str
    seed: int
    device: str
    recorder: Recorder

    def finish(self, show: bool = True):
        """Save the results and return (for display) our numbers beside the report's.

        Every record is also glued (``myst_nb.glue``) under :func:`idl_helpers.core.tables.glue_key`
        of its question and metric, so a markdown cell anywhere on the page can quote it with
        ``{glue}`key``` and the prose follows the numbers of the run.

        Raises :class:`~idl_helpers.core.reports.HeadlineError` — after saving, so the records can be
        inspected — when a question whose headline this page answers (:data:`reports.ANSWERED_ON`)
        has no headline record, or a number headline that is NaN/inf/None: the runner then reports
        the page "failed" instead of rendering "not run" beside an older number.
        """
        path = self.recorder.save()
        glue_records(self.recorder.records)
        problems = reports.headline_problems(self.name, self.recorder.records)
        if problems:
            raise reports.HeadlineError(f"{self.name} ({self.profile}): " + "; ".join(problems)
                                        + f". The records were saved to {path}.")
        if not show:
            return path
        return show_compare(self.recorder.records)


def glue_records(records: list[dict]) -> None:
    """Glue each record's value, formatted as the tables show it (nothing displayed)."""
    try:
        from IPython import get_ipython
        from myst_nb import glue
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is None:
        return
    from idl_helpers.core.tables import Text, fmt, glue_key

    latest = {glue_key(r["question"], r["metric"]): r["value"] for r in records}  # a key glued twice warns
    for key, value in latest.items():
        glue(key, Text(fmt(value)), display=False)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one number."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def plot_style() -> None:
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7, 4),
                         "axes.titleweight": "bold"})


def setup(name: str, *, profile: str, seed: int = 0, device: str = "auto", data_dir: str = "",
          data_variant: str | None = None) -> Context:
    """Validate the papermill parameters, seed everything, pick the device, start a Recorder."""
    check_profile(profile)
    if data_dir:
        if not Path(data_dir).is_dir():
            raise FileNotFoundError(f"data_dir={data_dir!r} is not a directory")
        os.environ[environment.DATA_DIR_ENV] = str(Path(data_dir).resolve())
    dev = environment.resolve_device(device)
    environment.apply()  # the runner's thread count, also in a notebook opened by hand
    seed_everything(seed)
    plot_style()
    tables.install()  # every DataFrame shown on the page: no index, no NaN, no truncation
    described = environment.describe_device(dev)
    rec = Recorder(name, profile=profile, seed=seed, device=described, data_variant=data_variant)
    v = versions()
    pinned = all(os.environ.get(k) == v for k, v in environment.code_paths().items())
    print(f"Executed with profile={profile!r}, seed={seed}, device={described}\n"
          f"torch {v['torch']}, numpy {v['numpy']}, commit {git_commit()}"
          + ("" if pinned or not dev.startswith("cpu") else
             "\nnote: CPU code paths not pinned (run it with `idl-book run` to reproduce the book's numbers "
             "to the last digit)"))
    return Context(name, profile, int(seed), dev, rec)



# -------------------- compare ---------------------------------------------------------------

#: colours of the "ours" column: a failed check in red, a number nobody ran in grey (the
#: scorecard's :data:`idl_book.scorecard.VERDICT_STYLE` for the same words)
OURS_STYLE = {
    "FAILED": "color: #cf222e; font-weight: bold",
    "not run": "color: #8c959f",
}


def fmt_ours(v) -> str:
    """One of our values as the tables show it (checks: "passed"/"FAILED")."""
    if isinstance(v, bool):
        return "passed" if v else "FAILED"
    return tables.fmt(v)


def fmt_report(v) -> str:
    """A report's number as transcribed (all its digits), or its claim."""
    if tables._is_missing(v):
        return tables.MISSING
    if isinstance(v, bool):
        return "passed" if v else "FAILED"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 and v.is_integer() else f"{v:g}"
    return str(v)


def _number(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def difference(ours, theirs):
    """ours − report, when both are numbers (else None, shown as "—")."""
    a, b = _number(ours), _number(theirs)
    return None if a is None or b is None else a - b


def compare(records: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Records (ours) joined with the report's numbers on ``(question, metric)``, as text. The
    report column comes from the registry only, never from a record."""
    ours = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
    cols = ["question", "metric", "report", "ours", "difference", "data", "profile", "device"]
    if ours.empty:
        return pd.DataFrame(columns=cols)
    reg = reports.table()[["question", "metric", "value"]].rename(columns={"value": "report"})
    df = ours.drop(columns=[c for c in ("report",) if c in ours]).merge(reg, on=["question", "metric"], how="left")
    diffs = [difference(o, r) for o, r in zip(df["value"], df["report"])]
    data = df["data_variant"] if "data_variant" in df else [None] * len(df)
    out = pd.DataFrame({
        "question": df["question"], "metric": df["metric"],
        "report": [fmt_report(v) for v in df["report"]], "ours": [fmt_ours(v) for v in df["value"]],
        "difference": tables.format_column(diffs, "difference"),
        "data": [tables.fmt(v) for v in data], "profile": [tables.fmt(v) for v in df["profile"]],
        "device": [tables.fmt(v) for v in df["device"]],
    }, columns=cols)
    return out.reset_index(drop=True)


def show_compare(records: list[dict] | pd.DataFrame, caption: str = "") -> tables.Table:
    """:func:`compare` as a readable table: run context stated once, failed checks coloured."""
    card = compare(records)
    colour = lambda v: OURS_STYLE.get(v, "")  # noqa: E731
    return tables.show(card, caption=caption, context=("question", *tables.CONTEXT_COLUMNS),
                       colours={"ours": colour})
