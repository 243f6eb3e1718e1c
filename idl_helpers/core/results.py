"""Results are data: every executed notebook records its key numbers as JSON.

One file per notebook and profile, ``book/results/<profile>/<notebook>.json``
(``$IDL_RESULTS_DIR`` overrides the root). A record says which question it answers,
the metric, the value and everything needed to judge it: profile, seed, device, data
variant, wall time, library versions, git commit.

Typical use at the top and bottom of a notebook::

    rec = Recorder("II_1a_4a_gradients_perplexity", profile=profile, seed=seed, device=device)
    ...
    rec.check("II.1a", passed=bool(diff == 0), expression=str(grad))   # a verified derivation
    rec.add("II.1d", "dev perplexity", ppl, data_variant="ptb-mikolov")  # a measured number
    rec.save()
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from idl_helpers.core import paths
from idl_helpers.core.profiles import check_profile

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
    root = Path(root or paths.REPO_ROOT)
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
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=paths.REPO_ROOT,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        porcelain = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.REPO_ROOT,
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
        folder = Path(staging) / self.profile if staging else paths.results_dir(self.profile)
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
        with paths.atomic_path(out) as tmp:
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
    """A run-log entry of a page that saves a results file: one that ran ``notebook.setup`` /
    ``Context.finish`` (its recorded inputs include ``idl_helpers/core/notebook.py``, or
    ``idl_helpers/notebook.py`` in a run made before the layers; a summary page such as the scorecard
    only reads results)."""
    return any(str(k).replace("\\", "/").endswith(("idl_helpers/core/notebook.py", "idl_helpers/notebook.py"))
               for k in entry.get("inputs") or {})


def missing_files(root: Path | None = None, profile: str | None = None) -> list[str]:
    """The results files the run log says a finished page wrote, but that are not there (deleted or
    never landed), one sentence each. ``profile=None``: every profile that has a run log."""
    root = Path(root) if root else paths.results_dir()
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
    root = Path(root) if root else paths.results_dir()
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
