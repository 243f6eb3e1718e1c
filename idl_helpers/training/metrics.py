"""Classification metrics (scikit-learn) and the noise of a small test set."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score


def classification_metrics(y_true, proba_pos) -> dict:
    """Accuracy, F1, ROC AUC and the confusion matrix of a binary classifier.

    ``proba_pos`` is the predicted probability of the positive class; the prediction is
    ``proba_pos >= 0.5``. Returned values are plain Python numbers.
    """
    y_true = np.asarray(y_true).astype(int)
    proba_pos = np.asarray(proba_pos, dtype=float)
    y_pred = (proba_pos >= 0.5).astype(int)
    auc = roc_auc_score(y_true, proba_pos) if len(np.unique(y_true)) == 2 else float("nan")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(auc),
        "confusion": confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
        "n": int(len(y_true)),
    }


def bootstrap_accuracy(y_true, y_pred, *, size: int = 500, n_boot: int = 2000, seed: int = 0) -> dict:
    """Spread of accuracy measured on random ``size``-review test sets drawn from ours.

    The report measured on 500 reviews; this says how far such a number can stray from the
    full-test-set accuracy by chance alone.
    """
    correct = (np.asarray(y_true) == np.asarray(y_pred)).astype(float)
    rng = np.random.default_rng(seed)
    accs = correct[rng.integers(0, len(correct), size=(n_boot, size))].mean(1)
    lo, hi = np.percentile(accs, [2.5, 97.5])
    return {"size": size, "mean": float(accs.mean()), "std": float(accs.std()),
            "ci95_low": float(lo), "ci95_high": float(hi), "samples": accs}
