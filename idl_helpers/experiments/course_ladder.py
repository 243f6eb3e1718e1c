"""The attribution ladder of issue 20: our IMDB numbers walked, one change at a time, to the course's pipeline.

The reports trained on the course's own data pipeline (public starter code: repository
``damebrown/IDL_ex2``, files ``loader.py`` and ``sentiment.py``; re-implemented in
:mod:`idl_helpers.data.course_imdb`), not on ours. The ladder says how much of each gap between
our number and the report's that difference accounts for. Each rung adds **one** change to the
previous rung (:data:`RUNGS`, :func:`changed_settings`):

0. ``ours`` — our pipeline: aclImdb's train/test split, our tokens (every letter-only word, the
   **first** 100), a stratified validation split held out of training, the last epoch's model
   measured on the whole test split.
1. ``window`` — the course's window: the same reviews, encoded as the course did (Keras
   ``Tokenizer(num_words=5000)`` fitted on all 50k texts, every other word dropped, the **last** 100
   kept, zero-padded after) with GloVe rows for those 4,999 words.
2. ``split`` — the course's split and size: the 50k reviews shuffled (one shuffle per seed, as the
   course drew one per run), trained on the shuffled rows after the first ``n_holdout`` (45,000 under
   ``full``: 4,500 fewer than the course's 49,500, so that the same run also measures on a large
   held-out set), measured after the last epoch on the ``n_holdout`` (5,000) held-out rows.
3. ``test`` — the report's test procedure: the same runs, measured on the course's 500 test reviews
   (the first 500 shuffled rows, which are the first 500 held-out rows), **the epoch chosen on those
   500** — test-set selection: it is how the report measured, not how this book selects models.
4. ``glove100`` — GloVe 100-d: not in the offline mirror (``/work/shared/data/README.md``: only 50-d
   installs here), so an **extrapolation**, never a measurement: rung 2's runs are repeated on PCA
   projections of the GloVe vectors (``trend_dims``, e.g. 25-d; the same seeds and reviews), each
   seed's accuracy is fitted against log2(dimension), and that seed's slope, continued from 50-d to
   100-d (one doubling), is added to its rung-3 number. The model pages fit the same trend on
   10/25/50-d; it is measured here again, on the course's data, so this page reads no other page's
   results.

Every measured rung trains each model over the same seeds; a rung's effect is the paired 95%
interval (:func:`idl_helpers.analysis.stats.paired_interval`) of its per-seed accuracy minus the previous
rung's, seed by seed (rungs 0/1 are seed twins on the same reviews; rungs 2/3 are the same runs).

The verdict (:func:`ladder_verdict`) compares the last rung's predicted number with the report's:
*explained* when within the 95% prediction band of one run of the report's procedure (the last
rung's seeds, each measured on its own 500 test reviews: their spread holds the 500-review noise);
*partly explained* when not, but the ladder moved our number toward the report's by more than that
band; *not explained* otherwise; *inconclusive* without a band (one seed), or in place of an
agreement (*explained*, *within noise already*) when the band reaches a coin's accuracy.

What the ladder keeps from our pipeline on purpose: our models mask padding (the course's Keras
cell ran all 100 steps, over the zero padding too), our validation-free training length (the
report's 15 epochs under ``full``), and the three hand-written sentences the course's loader wrote
over its first three test texts are not used (all 500 test reviews are real).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from idl_helpers.analysis import stats
from idl_helpers.core import tables
from idl_helpers.data import course_imdb
from idl_helpers.data.imdb_glove import Split, balanced_subset, prepare_imdb, validation_split

GLOVE_DIM = 50           # the dimension the mirror has (the course: 100)
REPORT_GLOVE_DIM = 100
MAX_LEN = 100            # both pipelines' window length
BATCH_SIZE, LR = 128, 1e-3
COURSE_SOURCE = ("the course's starter code, repository `damebrown/IDL_ex2`: `loader.py` (`get_dataset`: "
                 "shuffle, 500/49,500 split, cleaning, `Tokenizer(num_words=5000)`, `pad_sequences(maxlen=100, "
                 "padding='post')`, GloVe 100-d) and `sentiment.py` (the Keras models, trained with the 500 "
                 "test reviews as `validation_data`)")

# ----------------------------------------------------------------------------- the rungs


@dataclass(frozen=True)
class Rung:
    key: str
    label: str
    window: str          # "ours: first 100 letter-only words" | "course: last 100 of the top 5,000"
    split: str           # "aclImdb train/test" | "course: shuffled 50k"
    test: str            # "large held-out set, last epoch" | "report: 500 reviews, epoch chosen on them"
    glove_dim: int
    measured: bool = True


SETTINGS = ("window", "split", "test", "glove_dim")
_R0 = Rung("ours", "0 · ours", "ours: first 100 letter-only words", "aclImdb train/test",
           "large held-out set, last epoch", GLOVE_DIM)
_R1 = replace(_R0, key="window", label="1 · + course window", window="course: last 100 of the top 5,000 words")
_R2 = replace(_R1, key="split", label="2 · + course split and size", split="course: shuffled 50k, ~49.5k train")
_R3 = replace(_R2, key="test", label="3 · + report's test procedure (test-set selection)",
              test="report: 500 test reviews, epoch chosen on them")
_R4 = replace(_R3, key="glove100", label="4 · + GloVe 100-d (extrapolated)", glove_dim=REPORT_GLOVE_DIM,
              measured=False)
RUNGS = (_R0, _R1, _R2, _R3, _R4)


def changed_settings(a: Rung, b: Rung) -> list[str]:
    """The settings in which rung ``b`` differs from rung ``a``."""
    return [s for s in SETTINGS if getattr(a, s) != getattr(b, s)]


# ----------------------------------------------------------------------------- the models


@dataclass(frozen=True)
class Model:
    key: str
    label: str
    question: str
    page: str = ""            # the page whose headline configuration this is
    report_metric: str = ""   # the report's headline (idl_helpers.core.reports)
    trend_metric: str = ""    # the page's recorded dimension trend (rung 4)
    cell: str = ""            # recurrent: "rnn" | "gru"
    act: str = ""
    hidden: int = 64          # recurrent: hidden units
    tokenwise: str = ""       # tokenwise: class name in idl_helpers.models.tokenwise
    kw: tuple = ()


_TW = (("layers", 10), ("width", 50), ("dropout", 0.1))
MODELS = (
    Model("rnn", "RNN, ReLU, 64", "I.P1.a", "10_I_P1a_rnn", "test accuracy | rnn act=relu",
          "test accuracy per doubling of the GloVe dimension (fit on 10–50-d) | rnn act=relu", cell="rnn", act="relu"),
    Model("gru", "GRU, tanh, 64", "I.P1.b", "11_I_P1b_gru", "test accuracy | gru act=tanh",
          "test accuracy per doubling of the GloVe dimension (fit on 10–50-d) | gru act=tanh", cell="gru", act="tanh"),
    Model("mlp", "MLP 10×50, average", "I.P2", "20_I_P2_tokenwise_mlp", "test accuracy | best mlp",
          "test accuracy per doubling of the GloVe dimension (probe, 10–50-d) | best mlp", tokenwise="MeanMLP", kw=_TW),
    Model("wsum", "weighted sum", "I.P3", "21_I_P3_weighted_sum", "test accuracy",
          "test accuracy per doubling of the GloVe dimension (probe, 10–50-d)", tokenwise="WeightedSumMLP", kw=_TW),
    Model("attn", "restricted attention, k=5", "I.P4", "22_I_P4_restricted_attention", "test accuracy",
          "test accuracy per doubling of the GloVe dimension (probe, 10–50-d)", tokenwise="RestrictedAttentionMLP",
          kw=(("k", 5),) + _TW),
)

#: the other side of a page's claim, trained on the measured rungs for part 3 only (no verdict, no trend)
CLAIM_MODELS = (
    Model("rnn_tanh", "RNN, tanh, 64", "I.P1.a", cell="rnn", act="tanh"),
    Model("rnn128", "RNN, ReLU, 128 (parameter-matched to GRU-64)", "I.P1.b", cell="rnn", act="relu", hidden=128),
    Model("mlp25", "MLP 10×25, average", "I.P2", tokenwise="MeanMLP", kw=(("layers", 10), ("width", 25),
                                                                          ("dropout", 0.1))),
)

#: part 3: the pages' claims "a beats b" that the rung runs can re-judge: (question, claim, a, b).
#: Not here: "over-fitting grows with the hidden size" (I.P1.a), which needs the page's hidden sweep.
CLAIMS = (("I.P1.a", "ReLU beats tanh (RNN, 64)", "rnn", "rnn_tanh"),
          ("I.P1.b", "GRU beats RNN (ReLU, 64)", "gru", "rnn"),
          ("I.P1.b", "GRU-64 beats the parameter-matched RNN-128 (ReLU, not clipped)", "gru", "rnn128"),
          ("I.P2", "10×50 beats 10×25", "mlp", "mlp25"),
          ("I.P3", "weighted sum beats average", "wsum", "mlp"),
          ("I.P4", "attention beats weighted sum", "attn", "wsum"))

PROFILES = dict(
    smoke=dict(n_train=320, n_test=256, val_fraction=0.2, n_course_train=320, n_holdout=256, n_report=128,
               epochs=1, n_seeds=3, workers=1, trend_dims=(25,)),
    quick=dict(n_train=2_500, n_test=4_000, val_fraction=0.1, n_course_train=4_000, n_holdout=2_000, n_report=500,
               epochs=3, n_seeds=3, workers=0, trend_dims=(25,)),
    full=dict(n_train=None, n_test=None, val_fraction=0.1, n_course_train=None, n_holdout=5_000, n_report=500,
              epochs=15, n_seeds=3, workers=0, trend_dims=(25,)),
)

# ----------------------------------------------------------------------------- the data of each rung


@dataclass
class RungData:
    embeddings: np.ndarray
    train: Split
    val: Split        # the per-epoch set: our validation split, or (course) the report's 500 test reviews
    test: Split       # measured once, after the last epoch
    what: str


def _split(table, rows: np.ndarray) -> Split:
    return Split(table["ids"][rows], table["lengths"][rows], table["labels"][rows], table["review_ids"][rows],
                 table["ratings"][rows], [table["texts"][i] for i in rows])


def course_table(seed: int, glove_dim: int = GLOVE_DIM) -> dict:
    """All 50,000 reviews encoded by the course's pipeline (tokenizer fitted after ``seed``'s shuffle;
    the shuffle only breaks count ties), in :func:`idl_helpers.data.imdb.load_imdb`'s row order."""
    from idl_helpers.data import imdb

    df = imdb.load_imdb(progress=False)
    c = course_imdb.prepare_course_imdb(seed, glove_dim, own_test_texts=False)
    ids = np.zeros((len(df), MAX_LEN), np.int64)
    ids[c.train.rows], ids[c.test.rows] = c.train.ids, c.test.ids
    return {"ids": ids, "lengths": np.maximum((ids != 0).sum(1), 1).astype(np.int64),
            "labels": df["label"].to_numpy().astype(np.int64), "review_ids": df["id"].to_numpy(),
            "ratings": df["rating"].to_numpy(), "texts": df["text"].tolist(), "split": df["split"].to_numpy(),
            "embeddings": c.embeddings, "oov": c.oov, "variant": c.data_variant}


def our_rows(table: dict, name: str, n: int | None, seed: int) -> np.ndarray:
    """The table rows of :func:`prepare_imdb`'s ``name`` split for ``n`` and ``seed`` (the same reviews)."""
    rows = np.flatnonzero(table["split"] == name)
    return rows[balanced_subset(table["labels"][rows], n, seed + (name == "test"))]


def ours_and_window(cfg, seed: int, table: dict) -> tuple[RungData, RungData]:
    """Rungs 0 and 1: the same reviews (our subset, our validation split), our encoding and the course's."""
    data = prepare_imdb(max_len=MAX_LEN, glove_dim=GLOVE_DIM, n_train=cfg.n_train, n_test=cfg.n_test, seed=seed)
    rows = {s: our_rows(table, s, getattr(cfg, f"n_{s}"), seed) for s in ("train", "test")}
    for s in rows:   # the same reviews in the same order, or the rungs are no seed twins
        if not np.array_equal(table["review_ids"][rows[s]], getattr(data, s).review_ids):
            raise AssertionError(f"rung 1's {s} reviews are not rung 0's")
    tr0, va0 = validation_split(data.train, cfg.val_fraction, seed=seed)
    tr1, va1 = validation_split(_split(table, rows["train"]), cfg.val_fraction, seed=seed)
    return (RungData(data.embeddings, tr0, va0, data.test, "ours"),
            RungData(table["embeddings"], tr1, va1, _split(table, rows["test"]), "course window"))


def course_split(cfg, seed: int, table: dict) -> RungData:
    """Rungs 2 and 3: ``seed``'s shuffle of the 50k; train on the rows after the first ``n_holdout``,
    per-epoch on the first ``n_report`` (the course's test set), measured on the first ``n_holdout``."""
    held, train = course_imdb.split_rows(len(table["labels"]), seed, cfg.n_holdout)
    train = train[:cfg.n_course_train] if cfg.n_course_train else train
    return RungData(table["embeddings"], _split(table, train), _split(table, held[:cfg.n_report]),
                    _split(table, held), f"course split, seed {seed}")


# ----------------------------------------------------------------------------- training


def _workers(cfg, device: str) -> int:
    """The profile's worker count, or one per core (:func:`idl_helpers.training.sweep.default_workers`)."""
    from idl_helpers.training import sweep

    return cfg.workers or sweep.default_workers(device)


def train_models(models, data: RungData, seeds, cfg, device: str = "cpu", trend=(), trend_dims=()) -> dict:
    """Train each model once per seed on ``data``: ``{model key: {seed: (final test accuracy,
    best per-epoch accuracy)}}`` (NaN for a run that diverged). With ``trend`` models and
    ``trend_dims``, those models also train on each PCA projection of the vectors (the dimension
    trend, :func:`~idl_helpers.training.sweep.pca_embeddings`, as the model pages' probes), under the
    key ``(model key, dim)``.

    Both cores work: every recurrent run goes to one :func:`~idl_helpers.training.sweep.run_all`
    (each model's seeds one stack, the stacks shared out over the workers; a PCA run projects the
    vectors in its worker), then the token-wise stacks (one per model and dimension) over the same
    workers. A run computes the same numbers in any process and next to any other run, so the
    worker count changes the time, never a number."""
    from idl_helpers.core import parallel
    from idl_helpers.models import tokenwise as tw
    from idl_helpers.training import sweep
    from idl_helpers.training.tokenwise import fit_stack

    workers = _workers(cfg, device)
    jobs = [(m, None) for m in models] + [(m, d) for d in trend_dims for m in trend]
    key = lambda m, d: m.key if d is None else (m.key, d)
    out = {}
    runs = [(m, d, sweep.Run(m.cell, m.hidden, m.act, seed=s, epochs=cfg.epochs, lr=LR, batch_size=BATCH_SIZE,
                             input_dim=d)) for m, d in jobs if m.cell for s in seeds]
    if runs:
        res = sweep.run_all([r for *_, r in runs], embeddings=data.embeddings, train=data.train.tensors(),
                            val=data.val.tensors(), test=data.test.tensors(), device=device, workers=workers)
        for (m, d, _), o in zip(runs, res):
            out.setdefault(key(m, d), {})[o.run.seed] = (o.metrics["accuracy"] if o.ok else math.nan,
                                                          o.best_val_acc if o.ok else math.nan)
    stacks = [(m, d) for m, d in jobs if not m.cell]
    vectors = {d: data.embeddings if d is None else sweep.pca_embeddings(data.embeddings, d) for _, d in stacks}
    specs = [([(getattr(tw, m.tokenwise), vectors[d], s, dict(m.kw)) for s in seeds], data.train, data.val,
              data.test, list(seeds), cfg.epochs, BATCH_SIZE, LR, device, m.label, False) for m, d in stacks]
    if specs:
        for (m, d), res in zip(stacks, parallel.run(fit_stack, specs, workers=workers, label="token-wise stack")):
            out[key(m, d)] = {s: (r["metrics"]["accuracy"] if r["metrics"] else math.nan,
                                  float(np.max(r["fit"].history.series("val_acc"))) if r["metrics"] else math.nan)
                              for s, r in zip(seeds, res)}
    return {key(m, d): out[key(m, d)] for m, d in jobs}


def run_ladder(cfg, seed: int = 0, device: str = "cpu", models=MODELS, claim_models=CLAIM_MODELS) -> dict:
    """Every measured rung for every model: ``{model key: {rung key: {seed: accuracy}}}``, and the data notes.
    ``claim_models`` are trained on the measured rungs only (for :func:`claims`): no dimension trend.
    Prints one line: how long each part took."""
    import time

    seeds = [seed + i for i in range(cfg.n_seeds)]
    t_start = time.perf_counter()
    table = course_table(seed)
    everyone = tuple(models) + tuple(claim_models)
    acc = {m.key: {r.key: {} for r in RUNGS if r.measured} for m in everyone}
    r0, r1 = ours_and_window(cfg, seed, table)
    t_rungs = time.perf_counter()
    for rung, data in (("ours", r0), ("window", r1)):
        for k, per_seed in train_models(everyone, data, seeds, cfg, device).items():
            acc[k][rung] = {s: final for s, (final, _) in per_seed.items()}
    t_course = time.perf_counter()
    sizes, dims = {}, sorted(set(cfg.trend_dims) | {GLOVE_DIM})
    trend = {m.key: {d: {} for d in dims} for m in models}
    for s in seeds:     # each seed its own shuffle of the 50k: the split's runs and the trend's, side by side
        data = course_split(cfg, s, table)
        sizes = {"train": len(data.train), "held-out": len(data.test), "report test": len(data.val)}
        for k, per_seed in train_models(everyone, data, [s], cfg, device, trend=models,
                                        trend_dims=cfg.trend_dims).items():
            if isinstance(k, tuple):                 # (model, PCA dimension): the dimension trend
                trend[k[0]][k[1]][s] = per_seed[s][0]
                continue
            acc[k]["split"][s], acc[k]["test"][s] = per_seed[s]
            if k in trend:
                trend[k][GLOVE_DIM][s] = per_seed[s][0]
    for k in trend:
        acc[k]["glove100"] = extrapolate(acc[k]["test"], trend[k])
    end = time.perf_counter()
    took = {"data": t_rungs - t_start, "rungs 0–1": t_course - t_rungs, "rungs 2–3 and the PCA trend": end - t_course}
    print(f"{end - t_start:,.0f} s on {_workers(cfg, device)} process(es): "
          + ", ".join(f"{k} {v:,.0f} s" for k, v in took.items()))
    notes = {"ours": {"train": len(r0.train), "validation": len(r0.val), "test": len(r0.test)},
             "course": sizes, "oov": str(table["oov"]), "variant": table["variant"], "seeds": seeds}
    return {"acc": acc, "trend": trend, "notes": notes}


def extrapolate(last: dict, trend: dict, to_dim: int = REPORT_GLOVE_DIM) -> dict:
    """Per seed: ``last[seed]`` plus that seed's least-squares slope of accuracy on log2(dimension)
    (``trend = {dim: {seed: accuracy}}``) times the doublings from :data:`GLOVE_DIM` to ``to_dim``;
    seeds without a finite slope (a diverged run, or one dimension) are left out."""
    dims = sorted(trend)
    out = {}
    for s, v in last.items():
        pts = [(math.log2(d), trend[d].get(s, math.nan)) for d in dims]
        pts = [(x, y) for x, y in pts if np.isfinite(y)]
        if len(pts) < 2 or not np.isfinite(v):
            continue
        slope = float(np.polyfit(*zip(*pts), 1)[0])
        out[s] = float(v) + slope * math.log2(to_dim / GLOVE_DIM)
    return out


# ----------------------------------------------------------------------------- rung 4 and the verdict


EXPLAINED, PARTLY, NOT_EXPLAINED, INCONCLUSIVE = "explained", "partly explained", "not explained", "inconclusive"
WITHIN_NOISE = "within noise already"     # the gap before the ladder is inside the band: nothing to attribute
CHANCE = 0.5             # a coin's accuracy on the balanced reviews: a band reaching it can agree with anything


@dataclass
class LadderVerdict:
    verdict: str
    report: float
    ours: float
    predicted: float
    noise: float          # 95% prediction band half-width of the report's run around the prediction

    @property
    def reaches_chance(self) -> bool:
        """The band around the ladder's number reaches a coin's accuracy: agreement with it says nothing."""
        return bool(self.predicted - self.noise <= CHANCE)

    @property
    def text(self) -> str:
        chance = f" reaches chance, {CHANCE:g}" if self.verdict == INCONCLUSIVE and self.reaches_chance else ""
        return (f"{self.verdict}: ours {self.ours:.3f} → ladder {self.predicted:.3f} vs report {self.report:.3f} "
                f"(gap {self.ours - self.report:+.3f} → {self.predicted - self.report:+.3f}; 95% band "
                f"±{self.noise:.3f}{chance})")


def ladder_verdict(report: float, ours, predicted) -> LadderVerdict:
    """``ours``/``predicted``: per-seed accuracies of rung 0 and the last rung. The band is the 95%
    prediction half-width of one run of the last rung (:func:`stats.prediction_half_width`,
    ``t·sd·√(1+1/n)``): each of its seeds is one run of the report's procedure, measured on its own
    500 shuffled test reviews, so its spread already holds the 500-review noise and the seed noise
    of the report's single run (the binomial 500-review part of :func:`stats.report_band` is not
    added a second time). Within noise already when ``|mean(ours) − report| ≤ band`` (the ladder is
    credited with nothing); else explained when ``|mean(predicted) − report| ≤ band``; partly explained when
    not, but ``|gap after| ≤ |gap before| − band`` (the ladder moved our number toward the report's by
    more than the band); else not explained; inconclusive without a band (fewer than two seeds), and
    in place of *within noise already* or *explained* when the band reaches :data:`CHANCE` (runs that
    barely learn spread so widely that agreeing with the report says nothing; a report outside even
    that band still counts as not explained)."""
    o, p = stats.finite(ours), stats.finite(predicted)
    mo = float(o.mean()) if len(o) else math.nan
    mp = float(p.mean()) if len(p) else math.nan
    band = stats.prediction_half_width(p)
    if not (np.isfinite(band) and np.isfinite(mo) and np.isfinite(mp)):
        return LadderVerdict(INCONCLUSIVE, report, mo, mp, band)
    before, after = abs(mo - report), abs(mp - report)
    v = (WITHIN_NOISE if before <= band else EXPLAINED if after <= band else PARTLY if after <= before - band
         else NOT_EXPLAINED)
    out = LadderVerdict(v, report, mo, mp, band)
    return replace(out, verdict=INCONCLUSIVE) if v in (WITHIN_NOISE, EXPLAINED) and out.reaches_chance else out


# ----------------------------------------------------------------------------- tables, records, figure


def ladder_rows(acc: dict, models=MODELS) -> list[dict]:
    """One row per (model, rung): mean accuracy over seeds and the rung's effect with its 95% interval."""
    rows = []
    for m in models:
        a = acc[m.key]
        prev = None
        for r in RUNGS:
            per = a.get(r.key, {})
            d = stats.paired_interval(per, a[prev.key]) if prev else None
            eff, lo, hi, note = (d.estimate, d.low, d.high, d.note) if d else (math.nan,) * 3 + ("",)
            vals = stats.finite(per.values())
            rows.append({"model": m.label, "question": m.question, "rung": r.label, "key": r.key,
                         "accuracy": float(vals.mean()) if len(vals) else math.nan, "effect": eff, "low": lo,
                         "high": hi, "per_seed": dict(per), "kind": "measured" if r.measured else "extrapolation",
                         "note": note, "changes": ", ".join(changed_settings(prev, r)) if prev else ""})
            prev = r
    return rows


def verdicts(acc: dict, models=MODELS) -> dict:
    """Per model: ``(verdict, last rung, verdict on the measured rungs)``: :func:`ladder_verdict` of rung 0
    against the last rung that has numbers (the extrapolated rung 4 when it could be estimated), and
    against rung 3, the last measured one."""
    from idl_helpers.core import reports

    out = {}
    for m in models:
        a, report = acc[m.key], float(reports.value(m.question, m.report_metric))
        last = next(r.key for r in reversed(RUNGS) if a.get(r.key))
        judge = lambda key: ladder_verdict(report, list(a["ours"].values()), list(a.get(key, {}).values()))
        out[m.key] = (judge(last), last, judge("test"))
    return out


def claims(acc: dict) -> list[dict]:
    """Part 3: each claim, judged at every measured rung (paired over seeds: the runs share data and seeds)."""
    from idl_helpers.analysis import attribution

    rows = []
    for q, name, a, b in CLAIMS:
        for r in RUNGS:
            if r.measured and a in acc and b in acc:
                v = attribution.claim_verdict(acc[a][r.key], acc[b][r.key], paired=True, what=f"{a} − {b}")
                rows.append({"question": q, "claim": name, "rung": r.label, "key": r.key, "verdict": v.verdict,
                             "estimate": v.estimate, "low": v.low, "high": v.high, "text": v.text})
    return rows


def record(rec, rows: list[dict], verdict_map: dict, claim_rows: list[dict], models=MODELS) -> None:
    """Every number of the ladder, under each model's question, metric names beginning ``ladder: ``."""
    for r in rows:
        if np.isfinite(r["accuracy"]):
            rec.add(r["question"], f"ladder: test accuracy | {r['key']}", r["accuracy"], per_seed=r["per_seed"],
                    kind=r["kind"], rung=r["rung"])
        if np.isfinite(r["effect"]):
            rec.add(r["question"], f"ladder: effect | {r['key']}", r["effect"], low=r["low"], high=r["high"],
                    kind=r["kind"], interval="95%, paired over seeds" + ("" if r["kind"] == "measured" else
                    " (each seed's own dimension slope, continued to 100-d)"), changes=r["changes"])
    for m in models:
        v, last, v3 = verdict_map[m.key]
        rec.add(m.question, "ladder: predicted test accuracy (last rung)", v.predicted, rung=last,
                report=v.report, includes_extrapolation=last == "glove100")
        rec.add(m.question, "ladder: verdict", v.verdict, text=v.text, band=v.noise, rung=last)
        rec.add(m.question, "ladder: verdict (measured rungs only)", v3.verdict, text=v3.text, band=v3.noise,
                rung="test")
    for c in claim_rows:
        rec.add(c["question"], f"ladder: claim {c['claim']} | {c['key']}", c["verdict"], estimate=c["estimate"],
                low=c["low"], high=c["high"])


def table(rows: list[dict]):
    import pandas as pd

    df = pd.DataFrame(rows)[["model", "rung", "changes", "accuracy", "effect", "low", "high", "kind", "note"]]
    return tables.show(df.round({"accuracy": 3, "effect": 3, "low": 3, "high": 3}))


def verdict_table(verdict_map: dict, models=MODELS):
    import pandas as pd

    return tables.show(pd.DataFrame([{"model": m.label, "question": m.question, "ours (rung 0)": round(v.ours, 3),
                                      "ladder (last rung)": round(v.predicted, 3), "last rung": last,
                                      "report": v.report, "verdict": v.text}
                                     for m in models for v, last, _ in [verdict_map[m.key]]]))


def claims_table(claim_rows: list[dict]):
    import pandas as pd

    df = pd.DataFrame(claim_rows)[["question", "claim", "rung", "verdict", "estimate", "low", "high"]]
    return tables.show(df.round({"estimate": 3, "low": 3, "high": 3}))


def figure(rows: list[dict], models=MODELS):
    """Effect of each rung (after rung 0) per model, with its 95% interval; hatched: extrapolated."""
    import matplotlib.pyplot as plt

    rungs = [r for r in RUNGS[1:]]
    fig, ax = plt.subplots(figsize=(10, 4))
    w = 0.8 / len(models)
    for j, m in enumerate(models):
        labelled = False
        for i, r in enumerate(rungs):
            row = next((x for x in rows if x["model"] == m.label and x["key"] == r.key), None)
            if row is None or not np.isfinite(row["effect"]):
                continue
            x = i + (j - (len(models) - 1) / 2) * w
            err = ([[row["effect"] - row["low"]], [row["high"] - row["effect"]]]
                   if np.isfinite(row["low"]) and np.isfinite(row["high"]) else None)
            ax.bar(x, row["effect"], w, color=f"C{j}", hatch="//" if row["kind"] != "measured" else None,
                   alpha=0.6 if row["kind"] != "measured" else 1.0, label=None if labelled else m.label)
            labelled = True
            if err is not None:
                ax.errorbar(x, row["effect"], yerr=err, color="k", capsize=3, lw=1)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(range(len(rungs)), [r.label.replace(" (", "\n(") for r in rungs], fontsize=8)
    ax.set(ylabel="effect on test accuracy", title="The ladder: each rung's effect (95% interval, paired by seed)")
    ax.legend(fontsize=8, ncol=len(models), loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    return fig


def summary(verdict_map: dict, claim_rows: list[dict], notes: dict, models=MODELS) -> dict[str, str]:
    """Sentences for the page's prose (glued): the verdicts, the claims on each rung, the data sizes."""
    out = {"ladder_verdicts": "; ".join(f"{m.label} — {verdict_map[m.key][0].text}" for m in models),
           "ladder_verdicts_measured": "; ".join(f"{m.label} — {verdict_map[m.key][2].text}" for m in models)}
    by = {}
    for c in claim_rows:
        by.setdefault(c["claim"], {})[c["key"]] = c["verdict"]
    out["ladder_claims"] = "; ".join(f"{name}: {v.get('ours', 'not run')} on ours, {v.get('split', 'not run')} "
                                     f"on the course's split, {v.get('test', 'not run')} by the report's procedure"
                                     for name, v in by.items())
    changed = [name for name, v in by.items() if len(set(v.values())) > 1]
    out["ladder_claims"] += (f". {len(by) - len(changed)} of {len(by)} claims keep one verdict on every measured rung"
                             + (f"; the verdict changes with the pipeline for: {', '.join(changed)}" if changed else ""))
    o, c = notes["ours"], notes["course"]
    out["ladder_sizes"] = (f"rungs 0–1 train on {o['train']:,} reviews (validation {o['validation']:,}) and test on "
                           f"{o['test']:,}; rungs 2–3 train on {c['train']:,} shuffled reviews, rung 2 tests on "
                           f"{c['held-out']:,} held out and rung 3 on the first {c['report test']:,} of them; seeds "
                           f"{', '.join(map(str, notes['seeds']))}; the course's vocabulary: {notes['oov']}")
    return out


__all__ = ["CLAIMS", "CLAIM_MODELS", "MODELS", "PROFILES", "RUNGS", "SETTINGS", "LadderVerdict", "Model", "Rung", "RungData",
           "changed_settings", "claims", "claims_table", "course_split", "course_table", "extrapolate", "figure",
           "ladder_rows", "ladder_verdict", "our_rows", "ours_and_window", "record", "run_ladder", "summary",
           "table", "train_models", "verdict_table", "verdicts"]
