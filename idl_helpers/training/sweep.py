"""Run many recurrent-classifier configurations: stacked into batched models, in parallel processes.

A configuration is a :class:`Run` (cell, hidden size, activation, seed, variant, …).
:func:`run_all` trains each one and returns one :class:`Outcome` per run, in the order given.
Per-epoch curves and every selection (best epoch, best seed, best setting) use the ``val``
split (a validation split carved from the training reviews, see
:func:`idl_helpers.data.imdb_glove.validation_split`); the **test** split is measured only at the
end, once for the final model and once for the best-validation-epoch model
(:attr:`Outcome.selected`), and never chooses anything.

Speed: runs of our own cells that differ only in seed, initialisation or clipping (same
cell, size, activation, inputs, epochs, learning rate, batch size) are trained together as
one :class:`~idl_helpers.models.recurrent.StackedRecurrentClassifier` (``stack=True``), each member
exactly as it would train alone (``tests/test_sweep.py``). Runs of ``torch.nn.RNN``/``nn.GRU``
(``impl="torch"``) train one at a time with :func:`idl_helpers.training.train.fit`.

Parallelism: ``workers > 1`` starts that many processes (``spawn``), each with
``threads`` torch threads, and hands them the data once (not per run). On a 2-core CPU,
two single-threaded workers use both cores; the largest groups are started first so the
workers finish together. ``workers=1`` runs in this process.

Runs are independent: a run that diverges is an :class:`Outcome` with ``diverged`` set and no
metrics, and a run that raises (in a worker or here) is an :class:`Outcome` with ``error`` set;
neither loses the results of the other runs.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from idl_helpers.core import parallel
from idl_helpers.models.recurrent import (RecurrentClassifier, StackedRecurrentClassifier, TorchRecurrentClassifier, n_trainable,
                        param_count)
from idl_helpers.training.train import History, fit, fit_stacked

#: A run counts as *collapsed* when it diverged, ended below this validation accuracy (never
#: learned, or fell back to chance), or ended this far below its own best epoch.
COLLAPSE_BELOW = 0.60
COLLAPSE_DROP = 0.05


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
    clip: float | None = None         # gradient-norm clipping (max norm); None: the report's recipe
    init: str = "uniform"             # "uniform" (PyTorch's scheme) | "orthogonal" recurrent blocks
    impl: str = "ours"                # "ours" (from scratch) | "torch" (torch.nn.RNN / nn.GRU)
    input_dim: int | None = None      # PCA projection of the GloVe vectors to this many dims; None: as given

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        extra = [f"clip={self.clip:g}" if self.clip is not None else "", f"init={self.init}" if self.init != "uniform" else "",
                 "nn." + self.cell.upper() if self.impl == "torch" else "",
                 f"glove-pca={self.input_dim}" if self.input_dim else "",
                 f"lr={self.lr:g}" if self.lr != 1e-3 else "", f"reset={self.reset}" if self.reset != "before" else ""]
        return " ".join([f"{self.cell} act={self.act} hidden={self.hidden} seed={self.seed}"] + [e for e in extra if e])

    def group_key(self) -> tuple:
        """Runs with the same key can be trained as one stacked model."""
        return (self.cell, self.hidden, self.act, self.reset, self.input_dim, self.epochs, self.lr, self.batch_size)


@dataclass
class Outcome:
    run: Run
    params: int
    history: History
    metrics: dict | None          # the final model on the whole test split; None when the run diverged
    proba: np.ndarray | None = field(repr=False, default=None)
    wall_time_s: float = 0.0
    device: str = "cpu"
    error: str = ""               # the exception of a run that raised instead of finishing
    selected: dict | None = None  # test metrics of the best-validation-epoch weights
    selected_proba: np.ndarray | None = field(repr=False, default=None)
    stacked_with: int = 1         # members trained together in one stacked model (1: alone)
    group: int = -1               # which group of :func:`plan` trained it (see :func:`timing`)

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

    def _val(self, which: str):
        key = next((k for k in ("val_acc", "test_acc") if self.history.epochs and k in self.history.epochs[0]), None)
        if key is None:
            return None
        v = self.history.series(key)
        return float(v[-1] if which == "final" else v.max())

    @property
    def val_acc(self) -> float | None:
        """Accuracy on the per-epoch (validation) set after the last epoch."""
        return self._val("final")

    @property
    def best_val_acc(self) -> float | None:
        return self._val("best")

    @property
    def collapsed(self) -> bool:
        """Diverged, ended below :data:`COLLAPSE_BELOW` validation accuracy, or ended
        :data:`COLLAPSE_DROP` or more below its own best epoch."""
        if not self.ok:
            return True
        v, best = self.val_acc, self.best_val_acc
        return v < COLLAPSE_BELOW or best - v >= COLLAPSE_DROP


_DATA: dict = {}


def _init_worker(data: dict, threads: int, device: str, flush_denormal: bool = True) -> None:
    torch.set_num_threads(threads)
    # Denormal floats (below 1.2e-38: e.g. the gradient through a saturated sigmoid) make x86
    # arithmetic 10-20x slower; a sigmoid RNN trained 5x slower per epoch than the same RNN
    # without activation. Treating them as zero changes no number this book reports.
    torch.set_flush_denormal(flush_denormal)
    _DATA.clear()
    _DATA.update(data)
    _DATA["device"] = device


def pca_embeddings(embeddings, dim: int) -> np.ndarray:
    """The embedding rows projected on their first ``dim`` principal axes: ``x ↦ V_dᵀ x``.

    The axes come from the non-zero rows (the words GloVe has), centred; the projection itself is
    not centred, so zero rows (padding, words GloVe lacks) stay zero vectors. With ``dim`` equal to
    the full dimension it is a rotation (no information lost)."""
    E = np.asarray(embeddings, dtype=np.float64)
    rows = E[np.abs(E).sum(1) > 0]
    _, _, Vt = np.linalg.svd(rows - rows.mean(0), full_matrices=False)
    Vt = Vt * np.where(Vt[np.arange(len(Vt)), np.abs(Vt).argmax(1)] < 0, -1.0, 1.0)[:, None]   # fixed signs
    return (E @ Vt[:dim].T).astype(np.float32)


def _embeddings(run: Run) -> np.ndarray:
    if not run.input_dim:
        return _DATA["embeddings"]
    key = ("pca", run.input_dim)
    if key not in _DATA:
        _DATA[key] = pca_embeddings(_DATA["embeddings"], run.input_dim)
    return _DATA[key]


def _model(run: Run, emb) -> torch.nn.Module:
    torch.manual_seed(run.seed)
    if run.impl == "torch":
        return TorchRecurrentClassifier(emb, run.cell, run.hidden, run.act)
    if run.impl != "ours":
        raise ValueError(f"impl must be 'ours' or 'torch', not {run.impl!r}")
    return RecurrentClassifier(emb, run.cell, run.hidden, run.act, reset=run.reset, init=run.init)


def _as_t(arrs):
    return tuple(torch.as_tensor(a) for a in arrs)


def _outcome(run, model, res, wall, device, k=1) -> Outcome:
    f32 = lambda a: None if a is None else a.astype(np.float32)
    return Outcome(run, n_trainable(model), res.history, res.test_metrics, f32(res.test_proba), wall, device,
                   selected=res.selected_metrics, selected_proba=f32(res.selected_proba), stacked_with=k)


def _train_one(run: Run) -> Outcome:
    d = _DATA
    device = d["device"]
    model = _model(run, _embeddings(run)).to(device)
    t0 = time.perf_counter()
    res = fit(model, _as_t(d["train"]), _as_t(d["val"]), epochs=run.epochs, batch_size=run.batch_size,
              lr=run.lr, seed=run.seed, progress=False, desc=run.name, final_test=_as_t(d["test"]),
              clip_grad_norm=run.clip, keep_best=True, eval_name=d["eval_name"])
    return _outcome(run, model, res, time.perf_counter() - t0, device)


def _train_group(runs: tuple[Run, ...]) -> list[Outcome]:
    """One stacked model for ``runs`` (same :meth:`Run.group_key`); one Outcome per run."""
    if len(runs) == 1 or runs[0].impl == "torch":
        return [_train_one(r) for r in runs]
    d = _DATA
    device = d["device"]
    emb = _embeddings(runs[0])
    members = [_model(r, emb) for r in runs]
    model = StackedRecurrentClassifier(members).to(device)
    r0 = runs[0]
    t0 = time.perf_counter()
    results = fit_stacked(model, _as_t(d["train"]), _as_t(d["val"]), seeds=[r.seed for r in runs], epochs=r0.epochs,
                          batch_size=r0.batch_size, lr=r0.lr, clip_grad_norm=[r.clip for r in runs],
                          desc=f"{len(runs)} × {r0.cell} act={r0.act} hidden={r0.hidden}",
                          final_test=_as_t(d["test"]), keep_best=True, eval_name=d["eval_name"])
    wall = (time.perf_counter() - t0) / len(runs)      # the group's time, shared out
    return [_outcome(r, res.model, res, wall, device, len(runs)) for r, res in zip(runs, results)]


def max_stack(cell: str, hidden: int, device: str) -> int:
    """How many members to train as one stacked model. On a CPU the time per member falls until
    about 2 GRU-64 or 4 RNN-64 members (memory traffic dominates beyond; measured on the
    2-core machine this book is built on); on a GPU, where a step is launch-bound, many more."""
    if device.startswith("cuda"):
        return 16
    budget = {"gru": 128, "rnn": 256}.get(cell, 128)
    return max(1, min(8, round(budget / hidden)))


def _cost(group: tuple[Run, ...], emb_dim: int) -> float:
    r = group[0]
    gates = 3 if r.cell == "gru" else 1
    return len(group) * r.epochs * gates * r.hidden * (r.hidden + (r.input_dim or emb_dim))


def plan(runs: list[Run], device: str = "cpu", stack: bool = True) -> list[tuple[Run, ...]]:
    """The groups :func:`run_all` trains, in order: runs of our cells with the same
    :meth:`Run.group_key` in chunks of :func:`max_stack`; every other run alone."""
    groups: dict = {}
    singles = []
    for r in runs:
        if stack and r.impl == "ours":
            groups.setdefault(r.group_key(), []).append(r)
        else:
            singles.append((r,))
    out = []
    for key, members in groups.items():
        k = max_stack(key[0], key[1], device)
        out += [tuple(members[i:i + k]) for i in range(0, len(members), k)]
    return out + singles


def run_all(runs: list[Run], *, embeddings, train, test, val=None, curve=None, device: str = "cpu",
            workers: int = 1, threads: int = 1, stack: bool = True, flush_denormal: bool = True) -> list[Outcome]:
    """Train every run; ``train``/``val``/``test`` are ``(ids, lengths, labels)`` arrays or tensors.

    ``val`` is the per-epoch set (curves, best epoch); ``curve`` is its older name (a subset of
    the test split, then the curve keys say ``test_*``). Without either, the test split itself.
    ``flush_denormal``: treat denormal floats as zero while training (see ``_init_worker``)."""
    to_np = lambda arrs: tuple(np.asarray(a.cpu() if hasattr(a, "cpu") else a) for a in arrs)
    per_epoch = val if val is not None else (curve if curve is not None else test)
    data = {"embeddings": np.asarray(embeddings), "train": to_np(train), "test": to_np(test),
            "val": to_np(per_epoch), "eval_name": "val" if val is not None else "test"}
    emb_dim = data["embeddings"].shape[1]
    groups = plan(runs, device, stack)
    order = sorted(range(len(groups)), key=lambda i: -_cost(groups[i], emb_dim))   # largest first
    workers = max(1, min(workers, len(groups)))
    done: dict[Run, list] = {}

    def collect(i, result_or_exc):
        group = groups[i]
        if isinstance(result_or_exc, BaseException):
            result_or_exc = [_failed(r, result_or_exc, emb_dim, device) for r in group]
        for r, o in zip(group, result_or_exc):
            o.group = i
            done.setdefault(id(r), []).append(o)

    if workers == 1:   # here, with the workers' thread count: the numbers do not depend on `workers`
        saved, before = dict(_DATA), torch.get_num_threads()
        _init_worker(data, threads, device, flush_denormal)
        try:
            for i in order:
                try:
                    collect(i, _train_group(groups[i]))
                except Exception as exc:                     # one broken group must not lose the others
                    collect(i, exc)
        finally:
            _DATA.clear()
            _DATA.update(saved)
            torch.set_flush_denormal(False)          # this process's defaults again
            torch.set_num_threads(before)
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(data, threads, device, flush_denormal)) as pool:
            futures = {i: pool.submit(_train_group, groups[i]) for i in order}
            for i in order:
                try:
                    collect(i, futures[i].result())
                except Exception as exc:                     # raised in the worker, or the pool broke
                    collect(i, exc)
    return [done[id(r)].pop(0) for r in runs]


def _failed(run: Run, exc: BaseException, emb_dim: int, device: str) -> Outcome:
    """The :class:`Outcome` of a run that raised: no metrics, the exception kept in ``error``."""
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    print(f"[{run.name}] FAILED: {msg}")
    try:
        n = param_count(run.cell, run.input_dim or emb_dim, run.hidden, reset=run.reset)
    except Exception:                                        # an unknown cell: the count is unknown too
        n = 0
    return Outcome(run, n, History(diverged=True, message=f"run raised {msg}"), None, None, 0.0, device, error=msg)


def timing(outcomes: list[Outcome], workers=(1, 2)) -> dict:
    """Training time of a sweep: seconds per group, their sum, and the time the groups take on
    ``w`` parallel workers when each next-largest group goes to the first free worker."""
    per_group: dict[int, float] = {}
    for o in outcomes:
        per_group[o.group] = per_group.get(o.group, 0.0) + o.wall_time_s
    times = sorted(per_group.values(), reverse=True)
    span = {}
    for w in workers:
        load = [0.0] * w
        for t in times:
            load[load.index(min(load))] += t
        span[w] = max(load) if load else 0.0
    return {"groups": len(times), "total_s": float(sum(times)), "per_group_s": times, "workers_s": span}


def default_workers(device: str) -> int:
    """Processes to use: :func:`idl_helpers.core.parallel.default_workers` on a CPU (the kernel's share of
    the cores), a few on a GPU (the loop is launch-bound)."""
    if device.startswith("cuda"):
        return min(4, parallel.cores())
    return parallel.default_workers(device)


def summary(outcomes: list[Outcome]):
    """One row per run: settings, parameters, final train / validation / test accuracy, F1, AUC,
    the best validation epoch and its test accuracy, collapse, wall time."""
    import pandas as pd

    rows = []
    for o in outcomes:
        row = {**asdict(o.run), "name": o.run.name, "params": o.params, "diverged": o.diverged,
               "failed": o.failed, "train_acc": o.history.final.get("train_acc"), "val_acc": o.val_acc,
               "best_epoch": o.history.best_epoch, "collapsed": o.collapsed, "wall_time_s": o.wall_time_s,
               "stacked_with": o.stacked_with}
        if o.metrics:
            row.update(test_acc=o.metrics["accuracy"], f1=o.metrics["f1"], roc_auc=o.metrics["roc_auc"])
        if o.selected:
            row.update(test_acc_best_epoch=o.selected["accuracy"])
        rows.append(row)
    return pd.DataFrame(rows)


def seed_stats(outcomes: list[Outcome], which: str = "final") -> dict:
    """Mean / std / min / max of accuracy, F1 and ROC AUC over the runs that neither diverged
    nor failed (``n_diverged`` / ``n_failed`` count the others; ``n_collapsed`` see
    :attr:`Outcome.collapsed`). ``which="final"``: the model after the last epoch (the report's
    recipe); ``"selected"``: the best-validation-epoch model.

    ``best`` is the run with the highest **validation** accuracy (what re-running "until a stable
    convergence" and keeping that run amounts to, done without the test set); ``best_on_test``
    is the run with the highest test accuracy (the same pick made on the test set: optimistic).
    """
    def m(o):
        return o.metrics if which == "final" else o.selected
    ok = [o for o in outcomes if o.ok and m(o) is not None]
    n_failed = sum(o.failed for o in outcomes)
    out = {"n_runs": len(outcomes), "n_diverged": sum(o.diverged and not o.failed for o in outcomes),
           "n_failed": n_failed, "n_collapsed": sum(o.collapsed for o in outcomes),
           "seeds": [o.run.seed for o in ok], "wall_time_s": float(sum(o.wall_time_s for o in outcomes))}
    for key in ("accuracy", "f1", "roc_auc"):
        v = np.array([m(o)[key] for o in ok], dtype=float)
        out[key] = ({"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                     "min": float(v.min()), "max": float(v.max()), "per_seed": v.tolist()} if len(v) else None)
    tr = np.array([o.history.final["train_acc"] for o in ok], dtype=float)
    out["train_acc"] = float(tr.mean()) if len(tr) else None
    out["train_acc_per_seed"] = tr.tolist()
    va = np.array([o.val_acc for o in ok], dtype=float)
    out["val_acc"] = float(va.mean()) if len(va) else None
    on_test = [o.run.seed for o in ok if not picks_on_validation(o)]
    if which == "selected" and on_test:
        raise ValueError(f"the 'selected' epoch of seed(s) {on_test} was chosen on the test split (no validation "
                         "curve): pass val= to run_all")
    pick = (lambda o: o.val_acc) if which == "final" else (lambda o: o.best_val_acc)
    # the best run is chosen on validation only: with a test-split curve there is no honest pick
    out["best"] = max(ok, key=pick) if ok and not on_test else None
    out["best_on_test"] = max(ok, key=lambda o: m(o)["accuracy"]) if ok else None
    return out


def picks_on_validation(o: Outcome) -> bool:
    """Whether ``o``'s per-epoch curve — what :attr:`Outcome.val_acc`, its best epoch and
    :func:`seed_stats`' ``best`` are chosen on — is a validation split (``val_acc``), not the test split."""
    return bool(o.history.epochs) and "val_acc" in o.history.epochs[0]


def record_group(rec, question: str, setting: str, outcomes: list[Outcome], *, measures=("accuracy", "f1", "roc_auc"),
                 train: bool = False, data_variant: str | None = None, which: str = "final") -> dict:
    """Record the seed mean of each measure as ``"test <measure> | <setting>"`` (and the spread
    as extra fields); a group whose runs all diverged is recorded as ``"diverged"`` (``"failed"``
    when none diverged but all raised). ``which`` as in :func:`seed_stats`."""
    names = {"accuracy": "test accuracy", "f1": "test F1", "roc_auc": "test ROC AUC"}
    st = seed_stats(outcomes, which)
    for m in measures:
        if st[m] is None:
            rec.add(question, f"{names[m]} | {setting}", "diverged" if st["n_diverged"] or not st["n_failed"] else "failed",
                    data_variant=data_variant, n_runs=st["n_runs"], n_diverged=st["n_diverged"],
                    n_failed=st["n_failed"])
            continue
        rec.add(question, f"{names[m]} | {setting}", st[m]["mean"], data_variant=data_variant,
                wall_time_s=st["wall_time_s"], seeds=st["seeds"], per_seed=st[m]["per_seed"], std=st[m]["std"],
                min=st[m]["min"], max=st[m]["max"], n_diverged=st["n_diverged"], n_failed=st["n_failed"],
                n_collapsed=st["n_collapsed"], model="final epoch" if which == "final" else "best validation epoch",
                aggregate=f"mean over {len(st['seeds'])} seed(s)")
    if train and st["train_acc"] is not None:
        rec.add(question, f"train accuracy | {setting}", st["train_acc"], data_variant=data_variant,
                seeds=st["seeds"], note="mean accuracy over the last training epoch")
    return st


def group_table(groups: dict, which: str = "final"):
    """One row per group of runs (e.g. one setting over several seeds): runs, test accuracy mean ±
    std (min–max), collapsed / diverged runs, mean train and validation accuracy (last epoch)."""
    import pandas as pd

    rows = {}
    for name, outs in groups.items():
        st = seed_stats(outs, which)
        a = st["accuracy"]
        rows[name] = {"runs": st["n_runs"], "test acc mean": a["mean"] if a else None,
                      "± std": a["std"] if a else None, "min": a["min"] if a else None,
                      "max": a["max"] if a else None, "collapsed": st["n_collapsed"], "diverged": st["n_diverged"],
                      "train acc": st["train_acc"], "val acc": st["val_acc"]}
    return pd.DataFrame(rows).T


def selection_table(groups: dict):
    """What picking the best of N seeds is worth, and what picking it on the test set adds.

    Per group with at least two finished runs: the mean test accuracy (no pick), the test accuracy
    of the run with the best **validation** accuracy (an honest "re-run until it converges"), and of
    the run with the best **test** accuracy (the same pick made on the test set), and the difference
    of the two picks (the optimism of selecting on the test set)."""
    import pandas as pd

    rows = {}
    for name, outs in groups.items():
        st = seed_stats(outs)
        if st["accuracy"] is None or len(st["accuracy"]["per_seed"]) < 2 or st["best"] is None:
            continue  # (no best: the runs have no validation curve to pick on)
        v, t = st["best"], st["best_on_test"]
        rows[name] = {"N": len(st["accuracy"]["per_seed"]), "mean (no pick)": st["accuracy"]["mean"],
                      "picked on validation": v.metrics["accuracy"], "its seed": v.run.seed,
                      "picked on test": t.metrics["accuracy"], "its seed ": t.run.seed,
                      "test pick − validation pick": t.metrics["accuracy"] - v.metrics["accuracy"]}
    return pd.DataFrame(rows).T


def length_effect(probe: Outcome, short_epochs: int) -> dict | None:
    """Validation and training accuracy of one run after ``short_epochs`` and after its last epoch:
    what the extra epochs are worth, read within that one run. (Its first ``short_epochs`` epochs
    repeat a ``short_epochs`` run of the same seed up to floating-point rounding — same batches,
    same updates — but an unstable run can amplify the rounding, so that run is not used.)"""
    if not probe.ok or len(probe.history.epochs) < max(short_epochs, 1):
        return None
    e = probe.history.epochs
    key = "val_acc" if "val_acc" in e[0] else "test_acc"
    short, long = e[short_epochs - 1], e[-1]
    return {"short_epochs": short_epochs, "long_epochs": long["epoch"], "val_short": short[key], "val_long": long[key],
            "train_short": short["train_acc"], "train_long": long["train_acc"],
            "val_effect": long[key] - short[key], "train_effect": long["train_acc"] - short["train_acc"]}


class _AutogradLoop(torch.nn.Module):
    """A classifier whose cell runs ``forward_autograd`` (the loop over the equations that autograd
    differentiates: this book's implementation before the fused scans)."""

    def __init__(self, m: RecurrentClassifier):
        super().__init__()
        self.m = m

    def forward(self, ids, lengths):
        T = int(lengths.max())
        _, last = self.m.rnn.forward_autograd(self.m.embedding(ids[:, :T]), lengths)
        out = self.m.head(last)
        return torch.cat([torch.zeros_like(out), out], 1)


def speed_check(embeddings, cell: str = "gru", hidden: int = 64, members: int = 2, *, steps: int = 4,
                rounds: int = 3, batch: int = 128, seq: int = 100, seed: int = 0) -> dict:
    """Milliseconds per model and training step (forward over ``seq`` steps, backward, Adam) on one
    batch of random reviews, for: the autograd loop (before), the fused scan with one model, and
    ``members`` models stacked (the way :func:`run_all` trains). The three are timed in interleaved
    rounds so that load from other processes hits them alike; medians are reported, with each
    one's speed-up over the autograd loop."""
    from idl_helpers.models.recurrent import Workspace, reuse_buffers

    emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    V = emb.shape[0]
    ids = torch.randint(2, V, (members, batch, seq), generator=g)
    lengths = torch.full((members, batch), seq)
    y = torch.randint(0, 2, (members, batch), generator=g)

    def single(model):
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-3)
        ws = Workspace()

        def step():
            with reuse_buffers(ws):
                loss = torch.nn.functional.cross_entropy(model(ids[0], lengths[0]), y[0])
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
        return step

    def stacked(model):
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        ws = Workspace()

        def step():
            with reuse_buffers(ws):
                logits = model(ids, lengths)
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), y.reshape(-1),
                                                         reduction="none").view(members, -1).mean(1).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
        return step

    def build(k):
        torch.manual_seed(seed + k)
        return RecurrentClassifier(emb, cell, hidden, "tanh")

    variants = {"autograd loop (before)": (1, single(_AutogradLoop(build(0)))),
                "fused scan, one model": (1, single(build(0))),
                f"fused scan, {members} models stacked": (members, stacked(StackedRecurrentClassifier(
                    [build(k) for k in range(members)])))}
    times = {k: [] for k in variants}
    for _, fn in variants.values():                  # warm-up
        fn()
    for _ in range(rounds):
        for name, (k, fn) in variants.items():
            for _ in range(steps):
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) / k)
    ms = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    ref = ms["autograd loop (before)"]
    return {"cell": cell, "hidden": hidden, "members": members, "batch": batch, "seq": seq,
            "threads": torch.get_num_threads(),
            "ms_per_model_step": ms, "speedup": {k: ref / v for k, v in ms.items()}}


def closing_table(records: list[dict], notes: dict[str, str] | None = None, default_note: str = ""):
    """The report's number, ours, the difference and a short explanation, for every recorded
    metric the report has a number for (others are left out)."""
    from idl_helpers.core.results import compare

    df = compare(records)
    df = df[df["report"] != "—"].copy()
    notes = notes or {}
    df["explanation"] = [next((t for k, t in notes.items() if k in m), default_note) for m in df["metric"]]
    return df[["question", "metric", "report", "ours", "difference", "explanation"]].reset_index(drop=True)


__all__ = ["COLLAPSE_BELOW", "COLLAPSE_DROP", "Outcome", "Run", "closing_table", "default_workers", "group_table",
           "length_effect", "max_stack", "pca_embeddings", "plan", "record_group", "run_all", "seed_stats",
           "selection_table", "speed_check", "summary", "timing"]
