"""The token-wise pages' (I.P2–I.P4) headline numbers over seeds, and why they differ from the report's.

Built on :mod:`idl_helpers.analysis.attribution` exactly as the recurrent pages use it:

* :func:`seed_stats` — mean, sample std, per-seed values and the 95% t half-width of a group of runs
  (the dicts :func:`idl_helpers.training.tokenwise.fit_members` returns);
* :func:`pca_tables` — GloVe projected on its leading principal components, zero-padded to the
  original width (the input-representation probe: 10/25-d against 50-d, continued to 100-d as an
  extrapolation);
* :func:`length_cause`, :func:`dimension_cause` — the attribution rows that need a computation;
* :func:`gap` — the table, the verdict and the noise band for one headline number;
* :func:`answer_row` — one row of the answer-first table (report | ours ± spread | difference | verdict).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from idl_helpers.analysis import attribution, stats

REPORT_EPOCHS = 15                 # the report's epochs (COURSEWORK.md)
REPORT_DIM = 100                   # the report's GloVe dimension


def _acc(r: dict) -> float:
    m = r.get("metrics")
    return float(m["accuracy"]) if m else float("nan")


def seed_stats(runs: list[dict]) -> dict:
    """``mean``, ``std`` (ddof 1; 0 for one run), ``half`` (95% t half-width of the mean; nan for one
    run), ``per_seed`` test accuracies, ``val_per_seed``, ``train_acc`` mean and ``n`` finite runs."""
    acc = [_acc(r) for r in runs]
    ok = [a for a in acc if np.isfinite(a)]
    val = [float(r["val_acc"]) if r.get("val_acc") is not None else float("nan") for r in runs]
    tr = [float(r["train_acc"]) for r in runs if r.get("train_acc") is not None and r.get("metrics")]
    return {"mean": float(np.mean(ok)) if ok else float("nan"),
            "std": float(np.std(ok, ddof=1)) if len(ok) > 1 else (0.0 if ok else float("nan")),
            "half": attribution.seed_half_width(ok), "per_seed": acc, "val_per_seed": val,
            "val_mean": float(np.nanmean(val)) if np.isfinite(val).any() else float("nan"),
            "train_acc": float(np.mean(tr)) if tr else float("nan"), "n": len(ok)}


def pca_tables(embeddings: np.ndarray, dims, rows: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """``{d: table}``: every row projected on the ``d`` leading principal components of the non-zero
    rows (``rows``: a boolean mask of the rows to fit on; default the rows that are not all zero),
    written into the first ``d`` columns of a table of the original width (the rest zero). Zero rows
    (padding, ``<unk>``, words GloVe lacks) stay zero. A model reading the padded table sees exactly
    the ``d``-dimensional projection."""
    e = np.asarray(embeddings, dtype=np.float64)
    fit = np.any(e != 0, axis=1) if rows is None else np.asarray(rows, bool)
    mu = e[fit].mean(0)
    _, _, vt = np.linalg.svd(e[fit] - mu, full_matrices=False)
    out = {}
    for d in dims:
        d = int(d)
        if not 0 < d <= e.shape[1]:
            raise ValueError(f"cannot project {e.shape[1]}-d vectors on {d} components")
        t = np.zeros_like(e)
        t[fit, :d] = (e[fit] - mu) @ vt[:d].T
        out[d] = t.astype(np.float32)
    return out


def length_cause(histories, epochs: int, *, target: int = REPORT_EPOCHS, key: str = "val_acc") -> attribution.Cause:
    """The training-length row. With ``epochs ≥ target`` there is nothing to move (effect 0). Shorter:
    the mean **validation** accuracy over the runs (the test split is measured once per model, never
    per epoch), continued from its gain per epoch over the second half of the run to ``target``
    epochs — an **extrapolation** (never counts as explaining). The row's name says it is validation."""
    curves = [np.asarray(h.series(key), float) for h in histories if h.epochs and len(h.epochs) == epochs]
    if not curves:
        return attribution.Cause("training length (validation accuracy)", "not measured (no complete run)", float("nan"), float("nan"),
                                 kind="extrapolation")
    mean = np.mean(curves, 0)
    last = float(mean[-1])
    if epochs >= target:
        return attribution.Cause("training length (validation accuracy)", f"the report's {target} epochs (nothing to change)", last, last)
    half = max(epochs // 2, 1)
    slope = (mean[-1] - mean[half - 1]) / (epochs - half) if epochs > half else float("nan")
    return attribution.Cause("training length (validation accuracy)",
                             f"{epochs} → {target} epochs: validation gain per epoch over epochs {half}–{epochs} "
                             "continued (not measured)", last + slope * (target - epochs), last, kind="extrapolation")


def dimension_trend(acc_by_dim: dict[int, list[float]], base_dim: int, *, target: int = REPORT_DIM):
    """Per-doubling trend of accuracy against the input dimension and its continuation from
    ``base_dim`` to ``target``: ``(ClaimVerdict, extrapolated change)``."""
    xs = [math.log2(d) for d, v in acc_by_dim.items() for a in v if np.isfinite(a)]
    ys = [a for d, v in acc_by_dim.items() for a in v if np.isfinite(a)]
    tr = attribution.trend_verdict(xs, ys, what="test accuracy per doubling of the GloVe dimension")
    ext = tr.estimate * (math.log2(target) - math.log2(base_dim)) if np.isfinite(tr.estimate) else float("nan")
    return tr, ext


def gap(report: float, st: dict, boot_std: float, causes: list[attribution.Cause]):
    """``(table, GapVerdict, band half-width)`` for our seed mean against ``report``, by the book's one
    rule (:func:`attribution.report_gap`, the same band the scorecard uses): the 95% prediction band
    of ``ours − report`` combines the spread of one run over our seeds (``t_{n-1} · sd · √(1 + 1/n)``)
    with the binomial chance spread of the report's 500-review measurement. One seed: no band,
    verdict inconclusive. Collapsed runs (accuracy below :data:`stats.COLLAPSE_BELOW`) are left out
    of the statistics and counted in the verdict's text. ``boot_std`` (a bootstrap sd of one of our
    500-review accuracies) is shown beside the binomial part in its row's note, as a cross-check. The
    seed and 500-review rows are appended (kind ``"noise"``). NaN inputs never explain anything."""
    split = stats.split_collapsed(st.get("per_seed", []))
    v, band, rows = attribution.report_gap(report, split.healthy, causes)
    if np.isfinite(boot_std):
        rows[-1] = attribution.Cause(rows[-1].cause, rows[-1].setting, rows[-1].value, rows[-1].reference,
                                     kind="noise", note=f"bootstrap of ours at 500 reviews: ±{1.96 * boot_std:.3f}")
    if split.collapsed:
        rows.append(attribution.Cause("collapsed runs", split.text, float("nan"), float("nan"), kind="noise"))
    ours = float(np.mean(split.healthy)) if split.healthy else st["mean"]
    return attribution.attribution_table(report, ours, rows), v, band.half


def verdict_text(v) -> str:
    """A gap verdict's line, and an honest one when the numbers were not finite."""
    if not np.isfinite(v.gap):
        return "not judged: our number or the report's is missing (a run diverged or was not made)"
    return v.text


def answer_row(what: str, report: float, st: dict, verdict: str) -> dict:
    """One row of the answer-first table."""
    ours = st["mean"]
    spread = (f"{ours:.3f} ± {st['half']:.3f} ({st['n']} seeds)" if np.isfinite(st.get("half", float("nan")))
              else f"{ours:.3f} ({st['n']} seed{'s' if st['n'] != 1 else ''})")
    return {"": what, "report": report, "ours (95% interval over seeds)": spread,
            "difference (ours − report)": round(ours - report, 3) if np.isfinite(ours) else float("nan"),
            "verdict": verdict}


def answer_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).set_index("")


__all__ = ["REPORT_DIM", "REPORT_EPOCHS", "answer_row", "answer_table", "dimension_trend", "gap", "length_cause",
           "pca_tables", "seed_stats", "verdict_text"]
