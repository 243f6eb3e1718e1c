"""The sweep runner: seeded runs repeat exactly, metrics cover the whole test split, divergence is
recorded as a verdict and never as a number."""

import numpy as np
import torch

from idl_helpers.training import sweep
from idl_helpers.models.recurrent import param_count
from idl_helpers.core.results import Recorder
from idl_helpers.training.train import History


def _toy(n, T=12, V=40, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, V, (n, T))
    lengths = rng.integers(3, T + 1, n)
    ids[np.arange(T)[None] >= lengths[:, None]] = 0
    labels = (ids[:, 0] % 2).astype(np.int64)     # learnable from the first word
    return ids, lengths, labels


def test_run_all_in_process_is_seeded_and_uses_whole_test():
    torch.set_num_threads(1)
    emb = np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)
    train, test, curve = _toy(96), _toy(50, seed=2), _toy(10, seed=3)
    runs = [sweep.Run("gru", 8, "tanh", seed=0, epochs=2, batch_size=32),
            sweep.Run("gru", 8, "tanh", seed=0, epochs=2, batch_size=32),
            sweep.Run("rnn", 8, "relu", seed=1, epochs=2, batch_size=32)]
    a, b, c = sweep.run_all(runs, embeddings=emb, train=train, test=test, curve=curve)
    assert a.metrics["n"] == 50 and np.array_equal(a.proba, b.proba)
    assert a.params == param_count("gru", 6, 8) and c.params == param_count("rnn", 6, 8)
    assert len(a.history.epochs) == 2


def test_diverged_group_is_recorded_as_diverged():
    run = sweep.Run("rnn", 8, "relu")
    dead = sweep.Outcome(run, 10, History(diverged=True, message="loss became nan"), None)
    rec = Recorder("t", profile="smoke", seed=0, device="cpu")
    st = sweep.record_group(rec, "I.P1.a", "rnn act=relu", [dead])
    assert st["n_diverged"] == 1 and st["accuracy"] is None
    assert {r["value"] for r in rec.records} == {"diverged"}


def test_one_runs_divergence_or_crash_never_loses_another_runs_results_with_two_workers():
    """lr=1e6 makes the ReLU RNN's outputs overflow after its only (last) step — formerly a
    scikit-learn ValueError in the worker that made ``pool.map`` drop every run's result."""
    torch.set_num_threads(1)
    emb = np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)
    train, test = _toy(64), _toy(30, seed=2)
    runs = [sweep.Run("rnn", 8, "relu", seed=0, epochs=1, batch_size=64, lr=1e6, label="blows up"),
            sweep.Run("rnn", 8, "relu", seed=0, epochs=1, batch_size=64, lr=1e-3, label="healthy"),
            sweep.Run("lstm", 8, "tanh", seed=0, epochs=1, batch_size=64, label="raises")]
    bad, good, broken = sweep.run_all(runs, embeddings=emb, train=train, test=test, workers=2)
    assert bad.diverged and not bad.failed and bad.metrics is None and bad.proba is None
    assert all(np.isfinite(e["test_acc"]) for e in bad.history.epochs)   # no accuracy from NaN outputs
    assert good.ok and good.metrics["n"] == 30 and 0.0 <= good.metrics["accuracy"] <= 1.0
    assert len(good.proba) == 30 and np.isfinite(good.proba).all()
    assert broken.failed and broken.diverged and broken.metrics is None and "ValueError" in broken.error
    # the healthy run's numbers are the same as when it runs alone, in this process
    (alone,) = sweep.run_all([runs[1]], embeddings=emb, train=train, test=test, workers=1)
    assert alone.metrics == good.metrics
    st = sweep.seed_stats([bad, good, broken])
    assert (st["n_runs"], st["n_diverged"], st["n_failed"]) == (3, 1, 1)
    assert st["accuracy"]["per_seed"] == [good.metrics["accuracy"]]
    rec = Recorder("t", profile="smoke", seed=0, device="cpu")
    sweep.record_group(rec, "I.P1.a", "all three", [bad, good, broken], measures=("accuracy",))
    assert rec.records[0]["value"] == good.metrics["accuracy"] and rec.records[0]["extra"]["n_failed"] == 1
    assert sweep.summary([bad, good, broken])["failed"].tolist() == [False, False, True]


def test_stacked_sweep_equals_one_run_at_a_time():
    """Runs that differ in seed, clipping or initialisation are trained as one stacked model;
    each outcome is the one the run gets alone (1e-6), and the plan groups what it may."""
    torch.set_num_threads(1)
    emb = np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)
    emb[0] = 0
    train, val, test = _toy(96), _toy(30, seed=2), _toy(50, seed=3)
    runs = [sweep.Run("rnn", 8, "relu", seed=0, epochs=2, batch_size=32),
            sweep.Run("rnn", 8, "relu", seed=1, epochs=2, batch_size=32, clip=0.01),
            sweep.Run("rnn", 8, "relu", seed=2, epochs=2, batch_size=32, init="orthogonal"),
            sweep.Run("gru", 8, "tanh", seed=0, epochs=2, batch_size=32),
            sweep.Run("gru", 8, "tanh", seed=0, epochs=2, batch_size=32, impl="torch"),
            sweep.Run("gru", 8, "tanh", seed=0, epochs=2, batch_size=32, input_dim=3)]
    groups = sweep.plan(runs, "cpu")
    assert sorted(len(g) for g in groups) == [1, 1, 1, 3]
    together = sweep.run_all(runs, embeddings=emb, train=train, val=val, test=test)
    alone = sweep.run_all(runs, embeddings=emb, train=train, val=val, test=test, stack=False)
    assert [o.stacked_with for o in together] == [3, 3, 3, 1, 1, 1]
    for a, b in zip(together, alone):
        assert a.run == b.run and a.ok and b.ok
        np.testing.assert_allclose(a.proba, b.proba, atol=1e-6)
        assert a.history.best_epoch == b.history.best_epoch and "val_acc" in a.history.epochs[0]
        assert a.selected is not None and a.metrics["n"] == 50
    assert together[5].params == param_count("gru", 3, 8)


def test_pca_embeddings_keep_zero_rows_and_full_rank_is_a_rotation():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(50, 6)).astype(np.float32) @ np.diag([5, 3, 2, 1, .5, .1]).astype(np.float32)
    emb[:3] = 0
    full, low = sweep.pca_embeddings(emb, 6), sweep.pca_embeddings(emb, 2)
    assert low.shape == (50, 2) and not low[:3].any() and not full[:3].any()
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), np.linalg.norm(emb, axis=1), rtol=1e-5)
    # the first axes carry the most variance
    assert low[3:].var(0)[0] > low[3:].var(0)[1] > full[3:].var(0)[-1]


def test_collapse_means_diverged_at_chance_or_fallen():
    def out(accs):
        h = History(epochs=[{"epoch": i + 1, "train_acc": a, "val_acc": a} for i, a in enumerate(accs)])
        return sweep.Outcome(sweep.Run("rnn"), 1, h, {"accuracy": accs[-1], "f1": 0, "roc_auc": 0})
    assert not out([0.6, 0.7, 0.8]).collapsed
    assert out([0.6, 0.8, 0.7]).collapsed                    # fell 10 points from its best epoch
    assert out([0.52, 0.55, 0.56]).collapsed                 # never learned
    assert out([0.7, 0.8, 0.78]).collapsed is False


def test_timing_spreads_groups_over_workers():
    h = History()
    outs = [sweep.Outcome(sweep.Run("rnn"), 1, h, None, wall_time_s=t, group=g)
            for t, g in ((3, 0), (3, 0), (4, 1), (2, 2), (1, 3))]
    t = sweep.timing(outs)
    assert t["groups"] == 4 and t["total_s"] == 13 and t["per_group_s"] == [6, 4, 2, 1]
    assert t["workers_s"] == {1: 13, 2: 7}


def test_sweeps_use_only_the_cores_the_runner_gave_the_kernel(monkeypatch):
    from idl_helpers.core import parallel
    from idl_helpers.training import sweep

    monkeypatch.setattr(parallel, "cores", lambda: 4)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the kernel's own threads: not a share of cores
    monkeypatch.setenv("IDL_WORKERS", "1")
    assert sweep.default_workers("cpu") == 1  # two notebooks at once on two cores: no extra processes
    monkeypatch.setenv("IDL_WORKERS", "2")
    assert sweep.default_workers("cpu") == 2
    monkeypatch.delenv("IDL_WORKERS")
    assert sweep.default_workers("cpu") == 4
    assert sweep.default_workers("cuda") == 4


def test_a_sweep_gives_the_same_numbers_on_one_worker_as_on_two(monkeypatch):
    """One worker trains in this process with the workers' single thread (not the kernel's), so how
    many workers the runner's share of cores allowed never changes a number."""
    import torch

    from idl_helpers.training import sweep

    seen, train_group = [], sweep._train_group
    monkeypatch.setattr(sweep, "_train_group", lambda group: seen.append(torch.get_num_threads()) or train_group(group))
    torch.set_num_threads(2)  # a kernel's threads

    g = torch.Generator().manual_seed(0)
    emb = torch.randn(30, 4, generator=g).numpy()
    ids = torch.randint(1, 30, (64, 12), generator=g).numpy()
    lengths = torch.full((64,), 12).numpy()
    labels = (torch.rand(64, generator=g) > 0.5).long().numpy()
    data = (ids, lengths, labels)
    runs = [sweep.Run("gru", hidden=8, epochs=2, seed=s, batch_size=16) for s in (0, 1)] + \
           [sweep.Run("rnn", hidden=6, epochs=2, seed=0, batch_size=16)]
    before = torch.get_num_threads()
    one = sweep.run_all(runs, embeddings=emb, train=data, test=data, workers=1)
    assert torch.get_num_threads() == before and seen and set(seen) == {1}
    monkeypatch.undo()  # the workers import the module's own function
    two = sweep.run_all(runs, embeddings=emb, train=data, test=data, workers=2)
    for a, b in zip(one, two):
        assert list(a.history.series("train_loss")) == list(b.history.series("train_loss"))  # exactly
        assert a.metrics == b.metrics and len(a.history.series("train_loss")) == 2
