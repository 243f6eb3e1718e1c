"""Run many recurrent-classifier configurations, in parallel processes where the hardware allows.

A configuration is a :class:`Run` (cell, hidden size, activation, seed, …). :func:`run_all`
trains each one with :func:`idl_helpers.train.fit` and returns one :class:`Outcome` per run,
in the order given. Per-epoch curves are measured on a fixed ``curve`` subset of the test
split (cheap, every epoch); the final accuracy / F1 / ROC AUC / confusion matrix on the
**whole** test split given.

Parallelism: ``workers > 1`` starts that many processes (``spawn``), each with
``threads`` torch threads, and hands them the data once (not per run). On a 2-core CPU,
two single-threaded workers use both cores; on a GPU several workers overlap the many
small kernels of a step-by-step recurrent loop. ``workers=1`` runs in this process.

Runs are independent: a run that diverges is an :class:`Outcome` with ``diverged`` set and no
metrics, and a run that raises (in a worker or here) is an :class:`Outcome` with ``error`` set;
neither loses the results of the other runs.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .recurrent import RecurrentClassifier, n_trainable, param_count
from .train import History, fit


@dataclass(frozen=True)
class Run:
    cell: str                 # "rnn" | "gru"
    hidden: int = 64
    act: str = "tanh"
    seed: int = 0
    epochs: int = 15
    lr: float = 1e-3
    batch_size: int = 128
    reset: str = "before"
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or f"{self.cell} act={self.act} hidden={self.hidden} seed={self.seed}"


@dataclass
class Outcome:
    run: Run
    params: int
    history: History
    metrics: dict | None          # on the whole test split; None when the run diverged
    proba: np.ndarray | None = field(repr=False, default=None)
    wall_time_s: float = 0.0
    device: str = "cpu"
    error: str = ""               # the exception of a run that raised instead of finishing

    @property
    def diverged(self) -> bool:
        """No numbers: the run diverged, or it raised (then :attr:`failed` is True as well, and
        code that only asks ``diverged`` skips it instead of reading missing metrics)."""
        return self.history.diverged

    @property
    def failed(self) -> bool:
        """The run raised an exception (kept in :attr:`error`) instead of finishing."""
        return bool(self.error)

    @property
    def ok(self) -> bool:
        return not self.diverged and self.metrics is not None


_DATA: dict = {}


def _init_worker(data: dict, threads: int, device: str) -> None:
    torch.set_num_threads(threads)
    _DATA.clear()
    _DATA.update(data)
    _DATA["device"] = device


def _train_one(run: Run) -> Outcome:
    d = _DATA
    device = d["device"]
    torch.manual_seed(run.seed)
    model = RecurrentClassifier(d["embeddings"], run.cell, run.hidden, run.act, reset=run.reset).to(device)
    as_t = lambda arrs: tuple(torch.as_tensor(a) for a in arrs)
    t0 = time.perf_counter()
    res = fit(model, as_t(d["train"]), as_t(d["curve"]), epochs=run.epochs, batch_size=run.batch_size,
              lr=run.lr, seed=run.seed, progress=False, desc=run.name, final_test=as_t(d["test"]))
    metrics, proba = res.test_metrics, res.test_proba
    if proba is not None:
        proba = proba.astype(np.float32)
    return Outcome(run, n_trainable(model), res.history, metrics, proba, time.perf_counter() - t0, device)


def run_all(runs: list[Run], *, embeddings, train, test, curve=None, device: str = "cpu",
            workers: int = 1, threads: int = 1) -> list[Outcome]:
    """Train every run; ``train``/``test``/``curve`` are ``(ids, lengths, labels)`` arrays or tensors."""
    to_np = lambda arrs: tuple(np.asarray(a.cpu() if hasattr(a, "cpu") else a) for a in arrs)
    data = {"embeddings": np.asarray(embeddings), "train": to_np(train), "test": to_np(test),
            "curve": to_np(curve if curve is not None else test)}
    workers = max(1, min(workers, len(runs)))
    emb_dim = data["embeddings"].shape[1]
    if workers == 1:
        saved = dict(_DATA)
        _init_worker(data, torch.get_num_threads(), device)
        try:
            out = []
            for r in runs:
                try:
                    out.append(_train_one(r))
                except Exception as exc:                     # one broken run must not lose the others
                    out.append(_failed(r, exc, emb_dim, device))
            return out
        finally:
            _DATA.clear()
            _DATA.update(saved)
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(data, threads, device)) as pool:
        futures = [pool.submit(_train_one, r) for r in runs]
        out = []
        for r, fut in zip(runs, futures):
            try:
                out.append(fut.result())
            except Exception as exc:                         # raised in the worker, or the pool broke
                out.append(_failed(r, exc, emb_dim, device))
        return out


def _failed(run: Run, exc: BaseException, emb_dim: int, device: str) -> Outcome:
    """The :class:`Outcome` of a run that raised: no metrics, the exception kept in ``error``."""
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    print(f"[{run.name}] FAILED: {msg}")
    try:
        n = param_count(run.cell, emb_dim, run.hidden, reset=run.reset)
    except Exception:                                        # an unknown cell: the count is unknown too
        n = 0
    return Outcome(run, n, History(diverged=True, message=f"run raised {msg}"), None, None, 0.0, device, error=msg)


def default_workers(device: str) -> int:
    """Processes to use: one per CPU core on a CPU; a few on a GPU (the loop is launch-bound)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(4, cores) if device.startswith("cuda") else max(1, cores)


def summary(outcomes: list[Outcome]):
    """One row per run: settings, parameters, final train/test accuracy, F1, AUC, wall time."""
    import pandas as pd

    rows = []
    for o in outcomes:
        row = {**asdict(o.run), "name": o.run.name, "params": o.params, "diverged": o.diverged,
               "failed": o.failed, "train_acc": o.history.final.get("train_acc"), "wall_time_s": o.wall_time_s}
        if o.metrics:
            row.update(test_acc=o.metrics["accuracy"], f1=o.metrics["f1"], roc_auc=o.metrics["roc_auc"])
        rows.append(row)
    return pd.DataFrame(rows)


def seed_stats(outcomes: list[Outcome]) -> dict:
    """Mean / std / min / max of accuracy, F1 and ROC AUC over the runs that neither diverged
    nor failed (``n_diverged`` / ``n_failed`` count the others).

    ``best`` is the run with the highest test accuracy (what re-running "until a stable
    convergence" and reporting that run amounts to: an optimistic pick).
    """
    ok = [o for o in outcomes if o.ok]
    n_failed = sum(o.failed for o in outcomes)
    out = {"n_runs": len(outcomes), "n_diverged": len(outcomes) - len(ok) - n_failed, "n_failed": n_failed,
           "seeds": [o.run.seed for o in ok], "wall_time_s": float(sum(o.wall_time_s for o in outcomes))}
    for key in ("accuracy", "f1", "roc_auc"):
        v = np.array([o.metrics[key] for o in ok], dtype=float)
        out[key] = ({"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                     "min": float(v.min()), "max": float(v.max()), "per_seed": v.tolist()} if len(v) else None)
    tr = np.array([o.history.final["train_acc"] for o in ok], dtype=float)
    out["train_acc"] = float(tr.mean()) if len(tr) else None
    out["best"] = max(ok, key=lambda o: o.metrics["accuracy"]) if ok else None
    return out


def record_group(rec, question: str, setting: str, outcomes: list[Outcome], *, measures=("accuracy", "f1", "roc_auc"),
                 train: bool = False, data_variant: str | None = None) -> dict:
    """Record the seed mean of each measure as ``"test <measure> | <setting>"`` (and the spread
    as extra fields); a group whose runs all diverged is recorded as ``"diverged"`` (``"failed"``
    when none diverged but all raised)."""
    names = {"accuracy": "test accuracy", "f1": "test F1", "roc_auc": "test ROC AUC"}
    st = seed_stats(outcomes)
    for m in measures:
        if st[m] is None:
            rec.add(question, f"{names[m]} | {setting}", "diverged" if st["n_diverged"] or not st["n_failed"] else "failed",
                    data_variant=data_variant, n_runs=st["n_runs"], n_diverged=st["n_diverged"],
                    n_failed=st["n_failed"])
            continue
        rec.add(question, f"{names[m]} | {setting}", st[m]["mean"], data_variant=data_variant,
                wall_time_s=st["wall_time_s"], seeds=st["seeds"], per_seed=st[m]["per_seed"], std=st[m]["std"],
                min=st[m]["min"], max=st[m]["max"], n_diverged=st["n_diverged"], n_failed=st["n_failed"],
                aggregate=f"mean over {len(st['seeds'])} seed(s)")
    if train and st["train_acc"] is not None:
        rec.add(question, f"train accuracy | {setting}", st["train_acc"], data_variant=data_variant,
                seeds=st["seeds"], note="mean accuracy over the last training epoch")
    return st


def closing_table(records: list[dict], notes: dict[str, str] | None = None, default_note: str = ""):
    """The report's number, ours, the difference and a short explanation, for every recorded
    metric the report has a number for (others are left out)."""
    from .scorecard import compare

    df = compare(records)
    df = df[df["report"] != "—"].copy()
    notes = notes or {}
    df["explanation"] = [next((t for k, t in notes.items() if k in m), default_note) for m in df["metric"]]
    return df[["question", "metric", "report", "ours", "difference", "explanation"]].reset_index(drop=True)


__all__ = ["Outcome", "Run", "closing_table", "default_workers", "record_group", "run_all", "seed_stats", "summary"]
