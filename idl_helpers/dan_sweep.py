"""The II.5b and II.5c sweeps: many DANs, one stacked model per depth, epochs chosen on validation.

:func:`sweep` is a module-level function so that a page can run one sweep in a second process
(:func:`idl_helpers.parallel.start`) while it trains the other: both are single-threaded.
"""

from __future__ import annotations

import pandas as pd

from .dan import REPORT_HIDDEN, StackedDAN, fit_dans


def sweep(configs, *, embeddings, train, val, test, epochs: int, batch_size: int, lr: float,
          device: str = "cpu") -> pd.DataFrame:
    """Train every ``(depth, p, seed)`` of ``configs``, one stacked model per depth; one row per run.

    ``train``/``val``/``test`` are ``(ids, lengths, labels)`` tensors. A run's model is the one of
    its best validation epoch; its test accuracy is measured once for that epoch and once after
    the last epoch. The per-epoch test accuracy is measured only to show what choosing the epoch
    on test (the report's practice) would have added."""
    rows = []
    for k in sorted({c[0] for c in configs}):
        group = [c for c in configs if c[0] == k]
        stack = StackedDAN.concat([StackedDAN.from_seeds(embeddings, [s], hidden=REPORT_HIDDEN[:k], word_dropout=p)
                                   for _, p, s in group]).to(device)
        runs = fit_dans(stack, train, val, seeds=[s for *_, s in group], epochs=epochs, batch_size=batch_size,
                        lr=lr, test=test)
        for (d, p, s), r in zip(group, runs):
            if r.diverged:
                rows.append({"depth": d, "p": p, "seed": s, "diverged": True, "seconds": r.history.wall_time_s})
                continue
            h = r.history
            rows.append({"depth": d, "p": p, "seed": s, "diverged": False,
                         "chosen epoch": r.best_epoch,
                         "validation accuracy": h.series("val_acc")[r.best_epoch - 1],
                         "test accuracy": r.selected_test["accuracy"],
                         "final test accuracy": r.final_test["accuracy"],
                         "best test accuracy (chosen on test)": h.series("test_acc").max(),
                         "final train accuracy": h.series("train_acc")[-1],
                         "seconds": h.wall_time_s})
    return pd.DataFrame(rows)
