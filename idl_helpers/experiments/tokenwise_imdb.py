"""I.P2–I.P4: token-wise review classifiers on IMDB with fixed GloVe inputs, and their comparison.

Four pages answer from this module:

* ``20_I_P2_tokenwise_mlp`` (:class:`MLPPage`) — every word scores itself, the review is the mean:
  the report's hyper-parameter table, the pick on validation, the per-word displays;
* ``21_I_P3_weighted_sum`` (:class:`WeightedSumPage`) — a learned softmax importance per word;
* ``22_I_P4_restricted_attention`` (:class:`AttentionPage`) — self-attention within ±k words before
  the MLP, the window ablation and the context probes;
* ``23_I_P2_4_comparison`` (:class:`ComparisonPage`) — every IMDB classifier of Part I side by
  side, read from the results files, and the report's claims across the token-wise pages.

The settings the token-wise pages share are defined once here (:data:`GLOVE_DIM`, :data:`MAX_LEN`,
:data:`VAL_FRACTION`, :data:`BATCH_SIZE`, :data:`LR`, :data:`PCA_DIMS`, the report's best MLP
:data:`MLP`); each page's profile table only adds what it varies. Models of one shape train side by
side (:func:`idl_helpers.training.tokenwise.fit_members`); the headline numbers are seed means on the
whole test split and the gap to the report is weighed by :mod:`idl_helpers.analysis.tokenwise_attribution`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from idl_helpers.core import parallel, reports, results
from idl_helpers.analysis import attribution
from idl_helpers.analysis import stats as S
from idl_helpers.models import tokenwise as tw
from idl_helpers.analysis import tokenwise_attribution as ta
from idl_helpers.analysis import word_scores as ws
from idl_helpers.theory.derive import beyond, max_error, within
from idl_helpers.data.imdb_glove import balanced_subset, prepare_imdb, validation_split
from idl_helpers.training.metrics import bootstrap_accuracy
from idl_helpers.analysis.plots import plot_confusion, plot_histories
from idl_helpers.core.environment import settings
from idl_helpers.models.tokenwise_stacked import build
from idl_helpers.training.tokenwise import fit_members, fit_stack

# ----------------------------------------------------------------------------- shared settings

GLOVE_DIM = 50          # the only GloVe 6B dimension in the offline mirror (the report: 100)
MAX_LEN = 100           # the first 100 tokens of a review
VAL_FRACTION = dict(smoke=0.2, quick=0.1, full=0.1)   # stratified validation split held out of training
BATCH_SIZE, LR = 128, 1e-3                            # the report's Adam settings
PCA_DIMS = (10, 25)     # the input-representation probe: GloVe projected on its leading components
MLP = dict(layers=10, width=50, dropout=0.1)          # the report's best MLP: the sub-score MLP of I.P3 and I.P4
REPORT_TABLE = [(10, 25, 0.15), (10, 25, 0.3), (10, 50, 0.1)]   # the report's rows (layers, width, dropout)
GUESS = (10, 50, 0.1)   # scheduling only: the report's best row gets all seeds up front
CHECK_TEXTS = ["a wonderful film", "dull and far too long for what it is"]   # the untrained models' checks


def _profiles(**per_profile) -> dict:
    """Each profile's settings with the shared ones (validation fraction, batch size, learning rate) added."""
    return {p: dict(n_train=kw.pop("n_train"), n_test=kw.pop("n_test"), val_fraction=VAL_FRACTION[p],
                    epochs=kw.pop("epochs"), n_seeds=kw.pop("n_seeds"), batch_size=BATCH_SIZE, lr=LR, **kw)
            for p, kw in per_profile.items()}


P2_PROFILES = _profiles(
    smoke=dict(n_train=320, n_test=256, epochs=1, n_seeds=2, configs=REPORT_TABLE + [(2, 50, 0.1)], pca_dims=PCA_DIMS,
               pca_n_train=256, pca_epochs=1),
    quick=dict(n_train=10_000, n_test=None, epochs=6, n_seeds=2, configs=REPORT_TABLE + [(2, 50, 0.1)],
               pca_dims=PCA_DIMS, pca_n_train=6_000, pca_epochs=3),
    full=dict(n_train=None, n_test=None, epochs=15, n_seeds=3, configs=REPORT_TABLE + [(2, 50, 0.1)],
              pca_dims=PCA_DIMS, pca_n_train=6_000, pca_epochs=6))

P3_PROFILES = _profiles(
    smoke=dict(n_train=320, n_test=256, epochs=1, n_seeds=2, min_count=2, pca_dims=PCA_DIMS, pca_n_train=256,
               pca_epochs=1),
    quick=dict(n_train=10_000, n_test=None, epochs=8, n_seeds=2, min_count=20, pca_dims=PCA_DIMS, pca_n_train=6_000,
               pca_epochs=4),
    full=dict(n_train=None, n_test=None, epochs=15, n_seeds=3, min_count=20, pca_dims=PCA_DIMS, pca_n_train=6_000,
              pca_epochs=6))

P4_PROFILES = _profiles(
    smoke=dict(n_train=320, n_test=256, epochs=1, n_seeds=2, k=5, ablation_ks=(0, 5), ablation_n_train=256,
               ablation_epochs=1, pca_dims=PCA_DIMS),
    quick=dict(n_train=10_000, n_test=None, epochs=5, n_seeds=2, k=5, ablation_ks=(0, 1, 2, 5, 10),
               ablation_n_train=6_000, ablation_epochs=3, pca_dims=PCA_DIMS),
    full=dict(n_train=None, n_test=None, epochs=15, n_seeds=3, k=5, ablation_ks=(0, 1, 2, 5, 10),
              ablation_n_train=6_000, ablation_epochs=4, pca_dims=PCA_DIMS))


def _glue(name, value):
    glue(name, value, display=False)


# ----------------------------------------------------------------------------- what the token-wise pages share


class _Page:
    """A token-wise page's run: ``ctx`` from :func:`idl_helpers.core.results.setup`, its settings, data and seeds."""

    QID = ""
    profiles: dict = {}

    def __init__(self, ctx):
        self.ctx, self.rec, self.seed = ctx, ctx.recorder, ctx.seed
        self.cfg = settings(ctx.profile, **self.profiles)
        self.SEEDS = [self.seed + i for i in range(self.cfg.n_seeds)]
        self.workers = parallel.default_workers(ctx.device)    # speed only: a stack's numbers never depend on it

    def load_data(self):
        """IMDB at :data:`MAX_LEN` tokens with fixed GloVe rows; a stratified validation split held out of training."""
        cfg, seed = self.cfg, self.seed
        self.data = data = prepare_imdb(max_len=MAX_LEN, glove_dim=GLOVE_DIM, n_train=cfg.n_train, n_test=cfg.n_test,
                                        seed=seed)
        self.train_split, self.val_split = train_split, val_split = validation_split(data.train, cfg.val_fraction,
                                                                                     seed=seed)
        self.rec.data_variant = (f"IMDB {len(data.train)}/{len(data.test)} reviews, first 100 letter-only tokens, "
                                 "GloVe 6B 50d fixed (report: 100d); a stratified validation split held out of the "
                                 "training reviews")
        print(f"{len(train_split):,} training, {len(val_split):,} validation (held out of the training reviews) and "
              f"{len(data.test):,} test reviews; vocabulary {len(data.vocab):,} words")
        print("GloVe coverage:", data.oov)
        return data

    def _fit(self, members, train, seeds, epochs, desc):
        cfg = self.cfg
        return fit_members(members, train, self.val_split, self.data.test, seeds=seeds, epochs=epochs,
                           batch_size=cfg.batch_size, lr=cfg.lr, device=self.ctx.device, desc=desc)

    def _stack_job(self, specs, train, seeds, epochs, desc) -> tuple:
        """One stack as the arguments of :func:`~idl_helpers.training.tokenwise.fit_stack` (plain data, so that
        it can train in a worker process while the page goes on)."""
        cfg = self.cfg
        return (specs, train, self.val_split, self.data.test, list(seeds), epochs, cfg.batch_size, cfg.lr,
                self.ctx.device, desc, self.workers < 2)

    def _record_tests(self, runs, suffix, wt, extra):
        """Seed means of test accuracy, F1 and ROC AUC over the healthy ``runs`` (``"diverged"`` when none is)."""
        for key, name in (("accuracy", "test accuracy"), ("f1", "test F1"), ("roc_auc", "test ROC AUC")):
            vals = [r["metrics"][key] for r in runs if r["metrics"] is not None]
            self.rec.add(self.QID, name + suffix, float(np.mean(vals)) if vals else "diverged", wall_time_s=wt,
                         **{**extra, "per_seed": vals, "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0})

    def _record_noise(self, run, suffix=""):
        """The chance spread of a 500-review accuracy, drawn from one run's whole-test-split predictions."""
        self.noise = noise = bootstrap_accuracy(self.data.test.labels, (run["proba"] >= 0.5).astype(int), size=500,
                                                seed=self.seed)
        self.rec.add(self.QID, "test accuracy std on 500-review samples" + suffix, noise["std"])
        return noise

    def _verdict(self, report, causes, metric, glue_prefix, answer):
        """Ours − report against the 95% band with the measured causes; recorded, shown and glued for the prose."""
        dim_trend, dim_extrap = self.dim_trend, self.dim_extrap
        table, gap, band = ta.gap(report, self.st, self.noise["std"], causes)
        verdict = ta.verdict_text(gap)
        self.rec.add(self.QID, metric, gap.verdict, text=verdict, gap=gap.gap, noise=band)
        display(table)
        _glue(f"{glue_prefix}_verdict", verdict)
        _glue(f"{glue_prefix}_dim_trend", dim_trend.text)
        _glue(f"{glue_prefix}_answer", ta.answer_table([ta.answer_row(answer, report, self.st, gap.verdict)]))
        print(f"input dimension: {dim_trend.text}; continued to 100-d: {dim_extrap:+.3f} (extrapolation)")

    def _check_probe(self, kind, texts, **model_kw):
        """An untrained ``kind`` (seeded with the page's seed) and ``texts`` encoded as id and length tensors."""
        torch.manual_seed(self.seed)
        probe = kind(self.data.embeddings, **model_kw).eval()
        ids, lengths, _ = self.data.encode(texts)
        return probe, torch.as_tensor(ids), torch.as_tensor(lengths)

    def train_seeds(self, kind, desc, title, **model_kw):
        """Every seed of the profile side by side; seed means recorded; curves (of ``title``) and the first seed's
        confusion."""
        cfg, rec, QID, SEEDS, data = self.cfg, self.rec, self.QID, self.SEEDS, self.data
        self.members = members = [build(kind, data.embeddings, s, **model_kw) for s in SEEDS]
        # two stacks, the first half of the seeds here and the rest in a worker process beside them: the split is
        # fixed (never the machine's worker count), so the numbers are the same with one worker or two
        half = (len(SEEDS) + 1) // 2
        rest = (parallel.start(fit_stack, *self._stack_job([(kind, data.embeddings, s, model_kw) for s in SEEDS[half:]],
                                                           self.train_split, SEEDS[half:], cfg.epochs, desc + " (2)"),
                               workers=self.workers) if SEEDS[half:] else None)
        runs = self._fit(members[:half], self.train_split, SEEDS[:half], cfg.epochs, desc)
        self.runs = runs = runs + (rest.result() if rest is not None else [])
        self.st = st = ta.seed_stats(runs)
        ok_runs = [r for r in runs if r["metrics"] is not None]
        self.run = run = ok_runs[0] if ok_runs else runs[0]          # the displays below use the first seed's model
        m = run["metrics"]
        wt = max(r["wall_time_s"] for r in runs)                     # the slower of the two stacks
        extra = dict(**model_kw, epochs=cfg.epochs, test_reviews=len(data.test), seeds=SEEDS,
                     per_seed=st["per_seed"], std=st["std"], half_width_95=st["half"],
                     aggregate=f"mean over {st['n']} seed(s)")
        self._record_tests(ok_runs, "", wt, extra)
        rec.add(QID, "train accuracy", st["train_acc"], wall_time_s=wt, **extra)
        rec.add(QID, "validation accuracy", st["val_mean"], per_seed=st["val_per_seed"])
        rec.add(QID, "parameters", tw.n_parameters(members[0]))
        noise = self._record_noise(run)
        print(f"test accuracy {st['mean']:.4f} (seeds: {', '.join(f'{a:.4f}' for a in st['per_seed'])}); first seed: "
              f"F1 {m['f1']:.4f}, ROC AUC {m['roc_auc']:.4f} on {m['n']:,} reviews ({wt:.0f} s of training, two "
              f"stacks of seeds side by side); a 500-review test set: {noise['ci95_low']:.3f} … {noise['ci95_high']:.3f}")
        fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
        plot_histories({f"seed {s}": r["fit"].history for s, r in zip(SEEDS, runs)}, ("train_acc", "val_acc"),
                       ax=axes[0], title=f"{title}: train (solid) and validation (dashed) accuracy per epoch")
        plot_confusion(m["confusion"], ax=axes[1], title=f"first seed, {m['n']:,} test reviews")
        plt.tight_layout(); plt.show()

    def start_pca_probe(self, kind, background: bool = True, **model_kw):
        """Start the PCA probe's stack: in a worker process beside the page (``background`` and two
        workers), else here and now. :meth:`pca_probe` collects it."""
        cfg, data, seed = self.cfg, self.data, self.seed
        pca = ta.pca_tables(data.embeddings, cfg.pca_dims, rows=data.in_glove)
        pca[GLOVE_DIM] = data.embeddings
        self.pca_train = pca_train = self.train_split.subset(balanced_subset(self.train_split.labels,
                                                                             cfg.pca_n_train, seed))
        self.dims = dims = sorted(pca)
        job = self._stack_job([(kind, pca[d], seed, model_kw) for d in dims], pca_train, [seed] * len(dims),
                              cfg.pca_epochs, "GloVe PCA")
        self._pca_job = parallel.start(fit_stack, *job, workers=self.workers if background else 1)

    def pca_probe(self, kind, setting="", **model_kw):
        """The model on GloVe projected to :data:`PCA_DIMS` and on GloVe itself, one seed, a balanced subset
        (started by :meth:`start_pca_probe`, or now).

        ``setting`` names the model in the metric (I.P2: ``"best mlp"``; the other pages: none)."""
        cfg, rec, QID = self.cfg, self.rec, self.QID
        if getattr(self, "_pca_job", None) is None:
            self.start_pca_probe(kind, background=False, **model_kw)
        pca_runs, self._pca_job = self._pca_job.result(), None
        dims, pca_train = self.dims, self.pca_train
        acc_by_dim = {d: [ta._acc(r)] for d, r in zip(dims, pca_runs)}
        for d in dims:
            rec.add(QID, f"test accuracy | GloVe PCA {d}-d probe" + (f", {setting}" if setting else ""), acc_by_dim[d][0],
                    train_reviews=len(pca_train), epochs=cfg.pca_epochs)
        self._dim_trend(acc_by_dim, f" | {setting}" if setting else "")

    def _dim_trend(self, acc_by_dim, suffix=""):
        """Test accuracy per doubling of the probe's input dimension, continued to 100-d; the trend recorded."""
        self.dims = sorted(acc_by_dim)
        self.dim_trend, self.dim_extrap = dim_trend, _ = ta.dimension_trend(acc_by_dim, GLOVE_DIM)
        self.rec.add(self.QID, "test accuracy per doubling of the GloVe dimension (probe, 10–50-d)" + suffix,
                     dim_trend.estimate, verdict=dim_trend.verdict, low=dim_trend.low, high=dim_trend.high)

    def _dim_cause(self, st, n_reviews, epochs):
        """The input-representation row: the probe's trend continued to GloVe 100-d (an extrapolation)."""
        return attribution.Cause(
            "input representation", f"GloVe 50 → 100-d: the {'/'.join(map(str, self.dims))}-d probe trend continued "
            f"({n_reviews:,} reviews, {epochs} epochs)", st["mean"] + self.dim_extrap, st["mean"], kind="extrapolation")

    def _why(self, glue_prefix, answer, n_reviews, epochs):
        """The report's test accuracy against ours: training length (continued curve) and GloVe 100-d (the probe)."""
        report = reports.value(self.QID, "test accuracy")
        causes = [ta.length_cause([r["fit"].history for r in self.runs], self.cfg.epochs),
                  self._dim_cause(self.st, n_reviews, epochs)]
        self._verdict(report, causes, "attribution verdict | test accuracy", glue_prefix, answer)

    def sentences(self, model, title):
        """The report's four sentences and our probes: per-word score strips and P(positive) against intent."""
        QID, rec = self.QID, self.rec
        self.names = names = [n for n, _, _ in ws.ALL_SENTENCES]
        self.texts = texts = [t for _, t, _ in ws.ALL_SENTENCES]
        intended = [y for _, _, y in ws.ALL_SENTENCES]
        self.rows = rows = tw.explain_texts(model, self.data, texts, device=self.ctx.device)
        ws.plot_sentence_scores(rows, names, title=title)
        plt.show()
        verdicts = pd.DataFrame({"sentence": names,
                                 "intended": ["positive" if y else "negative" for y in intended],
                                 "P(positive)": [r["p_positive"] for r in rows]})
        verdicts["predicted"] = np.where(verdicts["P(positive)"] >= 0.5, "positive", "negative")
        verdicts["right?"] = verdicts["predicted"] == verdicts["intended"]
        for n, r in zip(names[:4], rows[:4]):
            rec.add(QID, f"P(positive) | {n}", r["p_positive"])
        rec.add(QID, "sentences classified as intended (of 10)", int(verdicts["right?"].sum()))
        return verdicts.round(3)

    def occurrence_check(self, model):
        """Every occurrence of a repeated word scored on its own; an untrained attention model as the control."""
        data, texts, names, device, seed = self.data, self.texts, self.names, self.ctx.device, self.seed
        # the model runs on the full sentences without its score-each-distinct-word-once shortcut, and the
        # per-position scores of all occurrences of a word are compared (largest_spread is inf on NaN, or if no
        # word repeats)
        rep = ws.occurrence_spread(model, data, texts, names, device=device)
        display(rep)
        spread = ws.largest_spread(rep)
        # control: the same measurement on a model whose scores depend on the context must see a spread
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            context_probe = tw.RestrictedAttentionMLP(data.embeddings, k=2, layers=2, width=16).to(device).eval()
        control = ws.largest_spread(ws.occurrence_spread(context_probe, data, texts, names, device=device))
        print(f"{len(rep)} repeated words: largest spread across occurrences {spread:.1e}; "
              f"an untrained attention model (k=2), same measurement: {control:.1e}")
        self.rec.check(self.QID, within(spread, 1e-5) and beyond(control, 1e-4),
                       what="check: a repeated word always gets the same score",
                       largest_spread=spread, repeated_words=len(rep), context_model_spread=control)


# ----------------------------------------------------------------------------- I.P2: the token-wise MLP


class MLPPage(_Page):
    """``20_I_P2_tokenwise_mlp``: the report's hyper-parameter table, the pick on validation, the word displays."""

    QID = "I.P2"
    profiles = P2_PROFILES

    def mean_check(self):
        """Logits = the plain mean of the real words' sub-scores, independent of the padding."""
        probe, ids, lengths = self._check_probe(tw.MeanMLP, CHECK_TEXTS, **MLP)
        with torch.no_grad():
            full = probe.explain(ids, lengths)
            short = probe.explain(ids[:, : int(lengths.max())], lengths)
            mean_of_words = torch.stack([full["sub_scores"][b, :n].mean(0) for b, n in enumerate(lengths.tolist())])
        # logits vs the mean of the sub-scores, and vs the same reviews padded less (inf if anything is NaN/inf)
        err = max_error([full["logits"], full["logits"]], [mean_of_words, short["logits"]])
        print(f"{tw.n_parameters(probe):,} trainable parameters (GloVe is fixed); largest difference: {err:.2e}")
        self.rec.check(self.QID, within(err, 1e-5),
                       what="check: logits = mean sub-score over real words, independent of padding",
                       max_abs_difference=err)

    def _train_group(self, items):
        """Train (config, seed) pairs side by side, one stack per shape (layers, width); the stacks on the
        page's worker processes, the costliest (members × layers × width) first."""
        shapes = {}
        for key, s in items:
            shapes.setdefault(key[:2], []).append((key, s))
        stacks = list(shapes.items())
        jobs = [self._stack_job([(tw.MeanMLP, self.data.embeddings, s, dict(layers=l, width=w, dropout=p))
                                 for (l, w, p), s in group], self.train_split, [s for _, s in group],
                                self.cfg.epochs, f"MLP {layers}x{width}") for (layers, width), group in stacks]
        cost = [len(group) * layers * width for (layers, width), group in stacks]
        for ((_, group), res) in zip(stacks, parallel.run(fit_stack, jobs, workers=self.workers, cost=cost,
                                                           label="MLP stack")):
            for (key, s), r in zip(group, res):
                self.runs.setdefault(key, {})[s] = r

    def table(self):
        """Every configuration with the first seed; the pick on validation then trained with every seed."""
        cfg, rec, QID, SEEDS = self.cfg, self.rec, self.QID, self.SEEDS
        self.runs = runs = {}
        self._train_group([(key, s) for key in cfg.configs for s in (SEEDS if key == GUESS else SEEDS[:1])])
        self.first = first = {key: rs[SEEDS[0]] for key, rs in runs.items()}
        ok = {k: r for k, r in first.items() if r["metrics"] is not None and np.isfinite(r["val_acc"])}
        self.best_key = best_key = max(ok, key=lambda k: ok[k]["val_acc"])     # the pick: validation, first seed
        self.test_key = test_key = max(ok, key=lambda k: ok[k]["metrics"]["accuracy"])   # the report's way: on test
        missing = [(best_key, s) for s in SEEDS if s not in runs[best_key]]
        if missing:
            self._train_group(missing)
        self.stats = stats = {key: ta.seed_stats([rs[s] for s in sorted(rs)]) for key, rs in runs.items()}
        table = []
        for key in cfg.configs:
            layers, width, dropout = key
            rs, stk = runs[key], stats[key]
            r0 = rs[SEEDS[0]]
            table.append({"layers": layers, "width": width, "dropout": dropout,
                          "parameters": tw.n_parameters(r0["fit"].model),
                          "seeds": len(rs), "validation acc. (first seed)": r0["val_acc"],
                          "train acc. (last epoch)": stk["train_acc"], "test acc. (seed mean)": stk["mean"],
                          "test acc. std": stk["std"] if stk["n"] > 1 else None,
                          "train time of its stack (s)": r0["wall_time_s"],
                          "note": ("picked on validation" if key == best_key else "") +
                                  ("; best on test" if key == test_key else "") +
                                  ("; diverged" if stk["n"] < len(rs) else "")})
            if stk["n"]:
                setting = f"mlp layers={layers} width={width} dropout={dropout}"
                rec.add(QID, f"test accuracy | {setting}", stk["mean"], wall_time_s=r0["wall_time_s"],
                        epochs=cfg.epochs, seeds=sorted(rs), per_seed=stk["per_seed"], std=stk["std"],
                        aggregate=f"mean over {stk['n']} seed(s)")
                rec.add(QID, f"train accuracy | {setting}", stk["train_acc"], wall_time_s=r0["wall_time_s"],
                        epochs=cfg.epochs)
                rec.add(QID, f"validation accuracy | {setting}", r0["val_acc"], seed=SEEDS[0])
        return pd.DataFrame(table).round(4)

    def record_best(self):
        """The picked configuration over seeds; what picking on the test set would add; the 500-review spread."""
        cfg, rec, QID, SEEDS, data = self.cfg, self.rec, self.QID, self.SEEDS, self.data
        runs, best_key, test_key, first = self.runs, self.best_key, self.test_key, self.first
        self.best_runs = best_runs = [runs[best_key][s] for s in SEEDS if runs[best_key][s]["metrics"] is not None]
        self.st = st = self.stats[best_key]
        self.best = best = best_runs[0] if best_runs else runs[best_key][SEEDS[0]]   # the displays use its first seed
        self.bm = bm = best["metrics"]
        layers, width, dropout = best_key
        extra = dict(layers=layers, width=width, dropout=dropout, epochs=cfg.epochs, test_reviews=len(data.test),
                     seeds=SEEDS, chosen_on="validation accuracy (first seed)", aggregate=f"mean over {st['n']} seed(s)",
                     half_width_95=st["half"])
        wt = best["wall_time_s"]
        rec.add(QID, "train accuracy | best mlp", st["train_acc"], wall_time_s=wt, **extra)
        self._record_tests(best_runs, " | best mlp", wt, extra)
        self.optimism = optimism = first[test_key]["metrics"]["accuracy"] - first[best_key]["metrics"]["accuracy"]
        rec.add(QID, "best-config test accuracy, picked on test − picked on validation (first seed)", optimism,
                test_pick=str(test_key), validation_pick=str(best_key))
        _glue("p2_pick_optimism", f"{optimism:+.3f}" + ("" if test_key == best_key else f" (test would pick {test_key})"))
        noise = self._record_noise(best, " | best mlp")
        print(f"picked on validation: {layers} layers × {width}, dropout {dropout}: test accuracy {st['mean']:.4f} "
              f"over {st['n']} seed(s) ({', '.join(f'{a:.4f}' for a in st['per_seed'])}); first seed F1 "
              f"{bm['f1']:.4f}, ROC AUC {bm['roc_auc']:.4f} on {bm['n']:,} reviews")
        print(f"a 500-review test set (the report's size) would have given {noise['ci95_low']:.3f} … "
              f"{noise['ci95_high']:.3f} (95% of random draws; std {noise['std']:.3f})")

    def curves_figure(self):
        bm = self.bm
        fig, axes = plt.subplots(1, 2, figsize=(13, 4), gridspec_kw={"width_ratios": [2.2, 1]})
        plot_histories({f"{l}×{w} p={p}": r["fit"].history for (l, w, p), r in self.first.items()},
                       ("train_acc", "val_acc"), ax=axes[0],
                       title="token-wise MLP (first seed): train (solid) and validation (dashed) accuracy")
        plot_confusion(bm["confusion"], ax=axes[1], title=f"picked MLP, first seed, {bm['n']:,} test reviews")
        plt.tight_layout(); plt.show()

    def narrow_claims(self):
        """The report's claim: the 10 × 50 MLP beats the deep narrow 10 × 25 ones."""
        ref = self.stats[GUESS]["per_seed"]
        claims = {}
        for key in ((10, 25, 0.15), (10, 25, 0.3)):
            v = attribution.claim_verdict(ref, self.stats[key]["per_seed"],   # a one-seed group: no spread borrowed
                                          what=f"test accuracy, 10×50 p=0.1 − {key[0]}×{key[1]} p={key[2]}")
            self.rec.add(self.QID, f"claim: 10×50 beats {key[0]}×{key[1]} dropout={key[2]}", v.verdict, text=v.text)
            claims[key] = v.text
            print(v.text)
        _glue("p2_claim_narrow_015", claims[(10, 25, 0.15)])
        _glue("p2_claim_narrow_03", claims[(10, 25, 0.3)])

    def why(self):
        """Why our number differs: training length, selection on test (measured), GloVe 100-d (extrapolated)."""
        QID, st = self.QID, self.st
        layers, width, dropout = self.best_key
        self.pca_probe(tw.MeanMLP, "best mlp", layers=layers, width=width, dropout=dropout)
        C = attribution.Cause
        report = reports.value(QID, "test accuracy | best mlp")
        causes = [ta.length_cause([r["fit"].history for r in self.best_runs], self.cfg.epochs),
                  C("selection on the test set", f"best row picked on test ({self.test_key}) instead of validation "
                    f"({self.best_key}), first seed", st["mean"] + self.optimism, st["mean"]),
                  self._dim_cause(st, len(self.pca_train), self.cfg.pca_epochs)]
        self._verdict(report, causes, "attribution verdict | best mlp test accuracy", "p2",
                      f"test accuracy, best MLP ({layers}×{width}, dropout {dropout}, picked on validation)")

    def vocabulary(self):
        """The most positive and most negative frequent words by the picked MLP's own score."""
        vocab_scores = ws.vocabulary_scores(self.best["fit"].model, self.data, min_count=20, device=self.ctx.device)
        vocab_scores = vocab_scores.sort_values("score", ascending=False, ignore_index=True)
        side = pd.concat([vocab_scores.head(15).reset_index(drop=True).add_prefix("most positive: "),
                          vocab_scores.tail(15).iloc[::-1].reset_index(drop=True).add_prefix("most negative: ")], axis=1)
        return side.round(3)


# ----------------------------------------------------------------------------- I.P3: the weighted sum


class WeightedSumPage(_Page):
    """``21_I_P3_weighted_sum``: a learned softmax importance per word over the report's best MLP."""

    QID = "I.P3"
    profiles = P3_PROFILES

    def softmax_check(self):
        """Weights = the softmax of the real words' importances (zero on padding); logits = the weighted sum."""
        probe, ids, lengths = self._check_probe(tw.WeightedSumMLP, CHECK_TEXTS, **MLP)
        errs = []
        with torch.no_grad():
            out = probe.explain(ids, lengths)
            short = probe.explain(ids[:, : int(lengths.max())], lengths)
            for b, n in enumerate(lengths.tolist()):
                w = torch.softmax(probe.word_importance(ids[b, :n]), 0)
                errs += [float((out["weights"][b, :n] - w).abs().max()), float(out["weights"][b, n:].abs().max()),
                         float((out["logits"][b] - (w[:, None] * out["sub_scores"][b, :n]).sum(0)).abs().max())]
            errs.append(float((out["logits"] - short["logits"]).abs().max()))
        err = max_error(errs)                       # inf if any difference is NaN/inf
        print(f"{tw.n_parameters(probe):,} trainable parameters; largest difference: {err:.2e}")
        self.rec.check(self.QID, within(err, 1e-5), what="check: softmax weights over real words only, logits = weighted sum",
                       max_abs_difference=err)

    def train(self):
        self.start_pca_probe(tw.WeightedSumMLP, **MLP)          # trains beside the seeds; collected in why()
        self.train_seeds(tw.WeightedSumMLP, "weighted sum", "weighted sum", **MLP)

    def why(self):
        """Why our number differs: training length (continued curve) and GloVe 100-d (extrapolated)."""
        self.pca_probe(tw.WeightedSumMLP, **MLP)
        self._why("p3", "test accuracy, weighted sum", len(self.pca_train), self.cfg.pca_epochs)

    def importance_ranking(self):
        """Every frequent word ranked by its learned importance; where the report's words land."""
        vocab = ws.vocabulary_scores(self.run["fit"].model, self.data, min_count=self.cfg.min_count,
                                                  device=self.ctx.device)
        vocab = vocab.sort_values("importance", ascending=False, ignore_index=True)
        vocab["importance rank"] = np.arange(1, len(vocab) + 1)
        self.vocab = vocab
        cols = ["word", "importance", "score", "train count"]
        side = pd.concat([vocab[cols].head(20).reset_index(drop=True).add_prefix("highest: "),
                          vocab[cols].tail(20).iloc[::-1].reset_index(drop=True).add_prefix("lowest: ")], axis=1)
        display(side.round(3))
        self.report_high = report_high = ["bad", "amazing", "good", "easy", "boring", "shallow"]
        self.report_low = report_low = ["i", "me", "said", "movie", "looking"]
        theirs = vocab[vocab["word"].isin(report_high + report_low)].copy()
        theirs["report's group"] = np.where(theirs["word"].isin(report_high), "high", "low")
        theirs["percentile"] = 100 * (1 - (theirs["importance rank"] - 1) / len(vocab))
        print(f"the report's words among our {len(vocab):,} ranked words (percentile 100 = most important):")
        return theirs[["word", "report's group", "importance", "importance rank", "percentile", "score"]].round(3)

    def importance_figure(self):
        vocab = self.vocab
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.scatter(vocab["score"], vocab["importance"], s=4, alpha=0.3)
        for w in self.report_high + self.report_low:
            hit = vocab[vocab["word"] == w]
            if len(hit):
                ax.annotate(w, (hit["score"].iloc[0], hit["importance"].iloc[0]), fontsize=8, color="C3")
        ax.set(xlabel="word score  $s_1 - s_0$", ylabel="importance $a(w)$",
               title="every frequent word: importance vs its own score")
        plt.show()
        rho = float(np.corrcoef(np.abs(vocab["score"]), vocab["importance"])[0, 1])
        self.rec.add(self.QID, "correlation of importance with |word score| (vocabulary)", rho, words=len(vocab))
        print(f"correlation between importance and |score| over the vocabulary: {rho:+.3f}")

    def contributions(self):
        """Each word's contribution weight × score (they add up to the logit difference)."""
        rows, names = self.rows, self.names
        for r in rows:
            r["contribution"] = r["weights"] * r["word_score"]
        ws.plot_sentence_scores(rows, names, key="contribution",
                                title="weighted sum: contribution of each word, weight × score")
        plt.show()
        tab = ws.word_table(rows, names)
        return tab[tab["sentence"].str.startswith("report")].round(3)


# ----------------------------------------------------------------------------- I.P4: restricted attention


class AttentionPage(_Page):
    """``22_I_P4_restricted_attention``: attention within ±k words, the window ablation, the context probes."""

    QID = "I.P4"
    profiles = P4_PROFILES

    def attention_check(self):
        """The batched layer against a double loop; zero outside the window and on padding; padding-free."""
        cfg = self.cfg
        probe, ids, lengths = self._check_probe(tw.RestrictedAttentionMLP, ["a wonderful film", "dull and far too long "
                                                "for what it is but the ending is fine"], k=cfg.k, **MLP)
        att = probe.attention
        with torch.no_grad():
            x = probe.embedding(ids).double()
            fast_out, fast_a = att.double()(x, lengths)
            ref_out, ref_a = tw.naive_restricted_attention(x, lengths, att.q.weight, att.q.bias,
                                                           att.key.weight,
                                                           att.key.bias, att.v.weight, att.v.bias, cfg.k)
            att.float()
            i = torch.arange(ids.shape[1])
            outside = (i[:, None] - i[None, :]).abs() > cfg.k
            pad = ~tw.padding_mask(lengths, ids.shape[1])
            zero_outside = bool((fast_a[:, outside] == 0).all())
            zero_on_padding = bool((fast_a.transpose(1, 2)[pad] == 0).all() and (fast_a[pad] == 0).all())
            full = probe.explain(ids, lengths)
            unpadded = [probe.explain(ids[b:b + 1, :n],
                                      lengths[b:b + 1]) for b, n in enumerate(lengths.tolist())]
        err_loop = max_error(fast_a, ref_a)
        err_pad = max_error([full["sub_scores"][b, :n] for b, n in enumerate(lengths.tolist())],
                            [u["sub_scores"][0] for u in unpadded])  # NaN anywhere → inf, never a pass
        print(f"{tw.n_parameters(probe):,} trainable parameters; |batched − double loop| ≤ {err_loop:.1e}; "
              f"zero outside the window: {zero_outside}; zero on padding: {zero_on_padding}; "
              f"padding changes sub-scores by ≤ {err_pad:.1e}")
        self.rec.check(self.QID, within(err_loop, 1e-12) and zero_outside and zero_on_padding
                       and within(err_pad, 1e-5),
                       what="check: attention = double-loop reference; zero outside window and on padding; "
                            "padding-free",
                       max_abs_difference_loop=err_loop, max_abs_difference_padding=err_pad)

    def train(self):
        cfg = self.cfg
        self.start_ablation()                                   # trains beside the seeds; collected in ablation()
        self.train_seeds(tw.RestrictedAttentionMLP, f"attention k={cfg.k}", "restricted attention", k=cfg.k, **MLP)

    def attention_figure(self):
        fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
        for ax, i in zip(axes, (0, 1)):
            ws.plot_attention(self.rows[i], ax=ax, title=self.names[i])
        plt.tight_layout(); plt.show()

    def repeated_words(self):
        rep = ws.repeated_words(self.rows, self.names)
        display(rep)
        self.rec.add(self.QID, "score spread of repeated words (max over sentences)", float(rep["spread"].max()))
        very = rep[(rep["sentence"] == self.names[0]) & (rep["word"] == "very")]
        if len(very):
            print("'very' in the report's positive sentence:", very["scores"].iloc[0])

    def start_ablation(self, background: bool = True):
        """Start the ablation's stack (one seed per window k, and the k-model on PCA inputs): in a worker
        process beside the page (``background`` and two workers), else here and now."""
        cfg, data, seed = self.cfg, self.data, self.seed
        self.abl_train = abl_train = self.train_split.subset(balanced_subset(self.train_split.labels,
                                                                             cfg.ablation_n_train, seed))
        pca = ta.pca_tables(data.embeddings, cfg.pca_dims, rows=data.in_glove)
        self.abl_specs = specs = ([(k, GLOVE_DIM, data.embeddings) for k in cfg.ablation_ks]
                                  + [(cfg.k, d, pca[d]) for d in cfg.pca_dims])
        job = self._stack_job([(tw.RestrictedAttentionMLP, e, seed, dict(k=k, **MLP)) for k, _, e in specs],
                              abl_train, [seed] * len(specs), cfg.ablation_epochs, "window ablation")
        self._abl_job = parallel.start(fit_stack, *job, workers=self.workers if background else 1)

    def ablation(self):
        """One seed per window k (same parameters, only the mask changes) and the k-model on PCA inputs, one stack
        (started by :meth:`start_ablation`, or now)."""
        cfg, rec, QID = self.cfg, self.rec, self.QID
        if getattr(self, "_abl_job", None) is None:
            self.start_ablation(background=False)
        abl_runs, self._abl_job = self._abl_job.result(), None
        abl_train, specs = self.abl_train, self.abl_specs
        self.ablation_runs = ablation = {k: r for (k, d, _), r in zip(specs, abl_runs) if d == GLOVE_DIM}
        self.probe_by_dim = {d: [ta._acc(r)] for (k, d, _), r in zip(specs, abl_runs) if k == cfg.k}
        abl = []
        for (k, d, _), r in zip(specs, abl_runs):
            mm = r["metrics"] or {}
            abl.append({"k": k, "input dim.": d, "parameters": tw.n_parameters(r["fit"].model),
                        "train reviews": len(abl_train), "epochs": cfg.ablation_epochs,
                        "train acc. (last epoch)": r["train_acc"], "validation acc.": r["val_acc"],
                        "test acc.": mm.get("accuracy"), "test F1": mm.get("f1"), "test ROC AUC": mm.get("roc_auc")})
            if r["metrics"] is not None:
                name = f"test accuracy | window k={k}" if d == GLOVE_DIM else f"test accuracy | GloVe PCA {d}-d probe, k={k}"
                rec.add(QID, name, mm["accuracy"], wall_time_s=r["wall_time_s"], train_reviews=len(abl_train),
                        epochs=cfg.ablation_epochs)
        abl = pd.DataFrame(abl)
        display(abl.round(4))
        w = abl[abl["input dim."] == GLOVE_DIM]
        fig, ax = plt.subplots(figsize=(6, 3.4))
        ax.plot(w["k"], w["validation acc."], "o-", label="validation")
        ax.plot(w["k"], w["test acc."], "s--", label="test")
        ax.set(xlabel="window half-width k", ylabel="accuracy", title="restricted attention: window ablation")
        ax.legend(); plt.show()
        ctx_claim = attribution.claim_verdict([ta._acc(ablation[max(cfg.ablation_ks)])] if 0 in ablation else [],
                                              [ta._acc(ablation[0])] if 0 in ablation else [],   # no spread borrowed
                                              what=f"test accuracy, k={max(cfg.ablation_ks)} − k=0")
        rec.add(QID, "claim (ours): a context window beats no context", ctx_claim.verdict, text=ctx_claim.text)
        _glue("p4_context", ctx_claim.text)
        print("context window against none:", ctx_claim.text)

    def context_probes(self):
        """One target word in several contexts: its score and P(positive), with k and with k = 0."""
        cfg, data, rec, QID, device, ablation = self.cfg, self.data, self.rec, self.QID, self.ctx.device, self.ablation_runs
        context_model = self.run["fit"].model
        trained_k0 = 0 in ablation and ablation[0]["metrics"] is not None
        no_context = ablation[0]["fit"].model if trained_k0 else None
        probes = [("very",
                   ["very good", "very bad", "a very good movie i love", "a very boring movie i hate"]),
                  ("really", ["really good", "really boring", "it was really fun", "it was really dull"]),
                  ("good", ["good", "not good", "this is good", "this is not good", "not good at all"]),
                  ("bad", ["bad", "not bad", "this is bad", "this is not bad", "not bad at all"])]
        out = []
        for target, contexts in probes:
            for text in contexts:
                r = tw.explain_texts(context_model, data, [text], device=device)[0]
                row = {"word": target, "context": text,
                       f"score (k={cfg.k})": float(r["word_score"][r["words"].index(target)]),
                       f"P(positive) (k={cfg.k})": r["p_positive"]}
                if no_context is not None:
                    r0 = tw.explain_texts(no_context, data, [text], device=device)[0]
                    row["score (k=0)"] = float(r0["word_score"][r0["words"].index(target)])
                    row["P(positive) (k=0)"] = r0["p_positive"]
                out.append(row)
        probe_table = pd.DataFrame(out)
        display(probe_table.round(3))
        spread = probe_table.groupby("word")[f"score (k={cfg.k})"].agg(lambda s: s.max() - s.min())
        for w, v in spread.items():
            rec.add(QID, f"score spread of '{w}' across probe contexts | k={cfg.k}", float(v))
        if no_context is not None:
            spread0 = probe_table.groupby("word")["score (k=0)"].agg(lambda s: s.max() - s.min())
            rec.check(QID, bool((spread0 < 1e-5).all()),
                      what="check: with k=0 a word's score ignores its context",
                      largest_spread=float(spread0.max()))
        neg = probe_table[probe_table["word"].isin(["good", "bad"])].copy()
        neg["negated"] = neg["context"].str.contains("not ")
        flips = neg.groupby(["word", "negated"])[f"P(positive) (k={cfg.k})"].mean().unstack()
        print("mean P(positive) of the probes with and without 'not' (attention model):")
        return flips.round(3)

    def why(self):
        """Why our number differs: training length (continued curve) and GloVe 100-d (the ablation's PCA probe)."""
        cfg = self.cfg
        self._dim_trend(self.probe_by_dim)
        self._why("p4", f"test accuracy, restricted attention k={cfg.k}", len(self.abl_train), cfg.ablation_epochs)


# ----------------------------------------------------------------------------- the comparison page

# the headline setting of every model: (label, question, metric suffix used by its page)
MODELS = [
    ("RNN, ReLU, hidden 64", "I.P1.a", "rnn act=relu"),
    ("RNN, tanh, hidden 64", "I.P1.a", "rnn act=tanh"),
    ("RNN, ReLU, hidden 128", "I.P1.b", "rnn hidden=128"),
    ("GRU, tanh, hidden 64", "I.P1.b", "gru act=tanh"),
    ("GRU, ReLU, hidden 64", "I.P1.b", "gru act=relu"),
    ("token-wise MLP (best)", "I.P2", "best mlp"),
    ("weighted sum", "I.P3", ""),
    ("restricted attention, k=5", "I.P4", ""),
]
MEASURES = ["test accuracy", "test F1", "test ROC AUC"]


def metric_name(measure, suffix):
    return f"{measure} | {suffix}" if suffix else measure


def theirs(question, metric):
    try:
        return reports.value(question, metric)
    except KeyError:
        return None


class ComparisonPage:
    """``23_I_P2_4_comparison``: every IMDB model of Part I from this profile's results files; the cross-page claims."""

    def __init__(self, ctx):
        self.ctx, self.rec, self.profile = ctx, ctx.recorder, ctx.profile
        recorded = results.load(self.profile)
        self.recorded = recorded[recorded["question"].isin({q for _, q,
                                                            _ in MODELS})] if len(recorded) else recorded

    def ours(self, question, metric):
        recorded = self.recorded
        if recorded.empty:
            return None
        hit = recorded[(recorded["question"] == question) & (recorded["metric"] == metric)]
        return None if hit.empty else hit.iloc[-1]

    def extra(self, question, metric) -> dict:
        """The extras a page recorded with a metric (empty when it has not run for this profile)."""
        r = self.ours(question, metric)
        return r["extra"] if r is not None and isinstance(r.get("extra"), dict) else {}

    def table(self):
        """Ours beside the report's for every model (``not run yet`` where a page has no results file)."""
        rows = []
        for label, q, suffix in MODELS:
            row = {"model": label, "question": q}
            acc = self.ours(q, metric_name("test accuracy", suffix))
            for measure in MEASURES:
                r = self.ours(q, metric_name(measure, suffix))
                row[f"ours: {measure}"] = r["value"] if r is not None else "not run yet"
                row[f"report: {measure}"] = theirs(q, metric_name(measure, suffix))
            row["train time (s)"] = acc["wall_time_s"] if acc is not None else None
            row["notebook"] = acc["notebook"] if acc is not None else "—"
            rows.append(row)
        self.comparison = comparison = pd.DataFrame(rows)
        print(f"profile {self.profile!r}: {int((comparison['ours: test accuracy'] != 'not run yet').sum())} of "
              f"{len(comparison)} models have recorded results")
        return comparison.astype(object).where(comparison.notna(), "—")

    def figure(self):
        comparison, profile = self.comparison, self.profile
        have = comparison[comparison["ours: test accuracy"] != "not run yet"]
        if len(have):
            fig, ax = plt.subplots(figsize=(8, 0.45 * len(comparison) + 1.2))
            y = np.arange(len(comparison))[::-1]
            our_acc = pd.to_numeric(comparison["ours: test accuracy"], errors="coerce")
            rep_acc = pd.to_numeric(comparison["report: test accuracy"], errors="coerce")
            ax.barh(y + 0.2, our_acc, height=0.4, label=f"ours ({profile})")
            ax.barh(y - 0.2, rep_acc, height=0.4, label="report (500 reviews)", alpha=0.6)
            ax.set_yticks(y, comparison["model"])
            lo = np.nanmin(np.r_[our_acc.to_numpy(float), rep_acc.to_numpy(float)])
            ax.set(xlim=(max(0.0, lo - 0.05), 1.0), xlabel="test accuracy",
                   title="IMDB, first 100 tokens, fixed GloVe")
            ax.legend(loc="lower right"); plt.show()
        else:
            print("no model of this table has results for this profile yet: run notebooks 1x and 20–22 "
                  "first")

    def validation(self, q, suffix):
        """The recorded validation accuracy of a model (mean over seeds): the only number a model is chosen on."""
        if suffix == "best mlp":           # the page's pick, itself made on validation: its setting is in the record
            e = self.extra(q, "test accuracy | best mlp")
            suffix = f"mlp layers={e.get('layers')} width={e.get('width')} dropout={e.get('dropout')}" if e else None
        r = self.ours(q, metric_name("validation accuracy", suffix)) if suffix is not None else None
        v = pd.to_numeric(r["value"], errors="coerce") if r is not None else np.nan
        return float(v) if np.isfinite(v) else np.nan

    def test_runs(self, q, suffix):
        """Per-seed test accuracies of a model, collapsed runs left out (counted in the text)."""
        return S.split_collapsed(self.extra(q, metric_name("test accuracy", suffix)).get("per_seed") or [])

    def findings(self):
        """RNN against GRU and recurrent against token-wise, each model chosen on validation accuracy."""
        comparison = self.comparison
        acc_ours = pd.to_numeric(comparison["ours: test accuracy"], errors="coerce")
        table = comparison.assign(acc=acc_ours, val=[self.validation(q, s) for _, q, s in MODELS],
                                  suffix=[s for _, _, s in MODELS]).dropna(subset=["acc"])

        def pick(frame):
            """The model with the highest validation accuracy (None when no model of the group recorded one)."""
            frame = frame.dropna(subset=["val"])
            return frame.loc[frame["val"].idxmax()] if len(frame) else None

        def compare(a, b, what):
            """a − b in test accuracy over seeds (Welch: different models, independent runs)."""
            sa, sb = self.test_runs(a["question"], a["suffix"]), self.test_runs(b["question"], b["suffix"])
            v = attribution.claim_verdict(sa.healthy, sb.healthy, what=what)
            col = "".join(f" ({x['model']}: {s.text})" for x, s in ((a, sa), (b, sb)) if s.collapsed)
            return v, col

        lines = []
        is_rec = table["question"].str.startswith("I.P1")
        r, g = (pick(table[is_rec & table["model"].str.startswith("RNN")]),
                pick(table[is_rec & table["model"].str.startswith("GRU")]))
        if r is not None and g is not None:
            v, col = compare(g, r, "GRU − RNN test accuracy")
            lines.append(
                f"* **RNN against GRU** (each chosen on validation accuracy: {r['model']}, {r['val']:.3f}; "
                f"{g['model']}, {g['val']:.3f}): on the test set the GRU measures {g['acc']:.3f} and the RNN "
                f"{r['acc']:.3f}, GRU − RNN {v.text}{col}. This compares two whole models; how much of the difference "
                "the gates themselves make we did not measure.")
        rbest, tbest = pick(table[is_rec]), pick(table[~is_rec])
        if rbest is not None and tbest is not None:
            v, col = compare(rbest, tbest, "recurrent − token-wise test accuracy")
            lines.append(
                f"* **Recurrent against token-wise** (each chosen on validation accuracy): {rbest['model']} "
                f"({rbest['acc']:.3f}) against {tbest['model']} ({tbest['acc']:.3f}): recurrent − token-wise "
                f"{v.text}{col}. Whether a difference comes from reading the words in order we did not measure: the "
                "models also differ in size, training length and training data (see each page).")
        if not lines:
            lines = ["*Not enough models of this table have results (with validation accuracies) for this profile.*"]
        return Markdown("\n".join(lines))

    def per_seed(self, question, metric):
        """The per-seed test accuracies a page recorded (empty when it has not run for this profile)."""
        return [float(x) for x in self.extra(question, metric).get("per_seed", []) if x is not None and np.isfinite(x)]

    def claims(self):
        """The report's claims across pages 20–22, judged from their recorded per-seed test accuracies."""
        def judged(a, b, what):
            if not a or not b:
                return attribution.ClaimVerdict(attribution.INCONCLUSIVE, float("nan"), float("nan"), float("nan"),
                                                "not judged: a page has no per-seed results for this profile yet")
            return attribution.claim_verdict(a, b, what=what)

        plain = self.per_seed("I.P2", "test accuracy | mlp layers=10 width=50 dropout=0.1")
        weighted = self.per_seed("I.P3", "test accuracy")
        attention = self.per_seed("I.P4", "test accuracy")
        c_weighted = judged(weighted, plain, "weighted sum − plain average, test accuracy")
        c_attention = judged(weighted, attention, "weighted sum − restricted attention, test accuracy")
        self.rec.add("I.P3", "claim: the weighted sum beats the plain average (10×50 MLP)", c_weighted.verdict,
                     text=c_weighted.text)
        self.rec.add("I.P4", "claim: restricted attention falls below the weighted sum", c_attention.verdict,
                     text=c_attention.text)
        _glue("cmp_claim_weighted", c_weighted.text)
        _glue("cmp_claim_attention", c_attention.text)
        print(c_weighted.text); print(c_attention.text)
