"""Plots the notebooks share: training curves, confusion matrices, per-word score strips."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


def plot_histories(histories: Mapping[str, "object"], keys=("train_acc", "test_acc"), ax=None,
                   title: str = "", ylabel: str = "accuracy"):
    """One line per run and key (solid = first key, dashed = second), x = epoch."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    styles = ["-", "--", ":", "-."]
    for i, (label, hist) in enumerate(histories.items()):
        color = f"C{i % 10}"
        for key, ls in zip(keys, styles):
            if not hist.epochs:
                continue
            ax.plot(hist.series("epoch"), hist.series(key), ls, color=color,
                    label=f"{label} ({key.replace('_', ' ')})")
        if getattr(hist, "diverged", False):
            ax.plot([], [], "x", color=color, label=f"{label}: diverged")
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.legend(fontsize=8, ncol=2)
    return ax


def plot_confusion(confusion, ax=None, title: str = "", labels=("negative", "positive")):
    """A seaborn heatmap of a 2×2 confusion matrix (rows: truth, columns: prediction)."""
    ax = ax or plt.subplots(figsize=(3.4, 3))[1]
    cm = np.asarray(confusion)
    sns.heatmap(cm, annot=True, fmt=",d", cmap="Blues", cbar=False, ax=ax,
                xticklabels=labels, yticklabels=labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return ax


def plot_word_scores(rows: Sequence[tuple[str, Sequence[str], Sequence[float], Sequence[bool]]],
                     vmax: float | None = None, title: str = "", cmap: str = "RdYlGn"):
    """Per-word scores as coloured strips: one row per sentence, words as cell labels.

    ``rows`` holds ``(label, words, scores, known)``; words with ``known=False`` (not in the
    vocabulary) are shown hatched and in italics with a ``†``.
    """
    width = max(len(w) for _, w, _, _ in rows)
    vmax = vmax or max(max(abs(float(s)) for s in sc) for _, _, sc, _ in rows) or 1.0
    fig, axes = plt.subplots(len(rows), 1, figsize=(min(1.0 + 0.95 * width, 18), 0.9 * len(rows) + 0.6),
                             squeeze=False)
    norm = plt.Normalize(-vmax, vmax)
    cm = plt.get_cmap(cmap)
    for ax, (label, words, scores, known) in zip(axes[:, 0], rows):
        for j, (w, s, k) in enumerate(zip(words, scores, known)):
            ax.add_patch(plt.Rectangle((j, 0), 1, 1, color=cm(norm(float(s))), hatch=None if k else "///",
                                       ec="white", lw=1))
            ax.text(j + 0.5, 0.62, w + ("" if k else "†"), ha="center", va="center", fontsize=8,
                    style="normal" if k else "italic")
            ax.text(j + 0.5, 0.25, f"{float(s):+.2f}", ha="center", va="center", fontsize=7)
        ax.set_xlim(0, width)
        ax.set_ylim(0, 1)
        ax.set_axis_off()
        ax.set_title(label, loc="left", fontsize=9)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cm), ax=axes[:, 0].tolist(), shrink=0.8,
                 label="score (positive − negative)")
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontweight="bold")
    return fig
