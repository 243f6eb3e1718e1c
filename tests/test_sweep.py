"""The sweep runner: seeded runs repeat exactly, metrics cover the whole test split, divergence is
recorded as a verdict and never as a number."""

import numpy as np
import torch

from idl_helpers import sweep
from idl_helpers.recurrent import param_count
from idl_helpers.results import Recorder
from idl_helpers.train import History


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
