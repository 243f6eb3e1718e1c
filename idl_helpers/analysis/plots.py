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
                     vmax: float | None = None, title: str = "", cmap: str = "RdYlGn", per_line: int = 12,
                     label: str = "score (positive − negative)"):
    """Per-word scores as coloured cells: one block per sentence, words as labels, values under them.

    ``rows`` holds ``(label, words, scores, known)``. Long sentences wrap after ``per_line``
    words. Words with ``known=False`` (no GloVe vector) are hatched, in italics and marked ``†``.
    The colour scale is symmetric, ``±vmax`` (default: the 95th percentile of ``|score|``, so one
    extreme word does not wash out the rest; the printed values are exact).
    """
    blocks = []
    for head, words, vals, known in rows:
        words, vals, known = list(words), np.asarray(vals, dtype=float), list(known)
        lines = [(words[s:s + per_line], vals[s:s + per_line], known[s:s + per_line])
                 for s in range(0, len(words), per_line)] or [([], np.array([]), [])]
        blocks.append((head, lines))
    allv = np.abs(np.concatenate([np.asarray(r[2], dtype=float) for r in rows] + [np.zeros(1)]))
    vmax = float(vmax or np.percentile(allv, 95) or allv.max() or 1.0)
    norm = plt.Normalize(-vmax, vmax)
    cm = plt.get_cmap(cmap)
    title_h, line_h, gap = 0.55, 1.0, 0.35
    total = sum(title_h + line_h * len(lines) + gap for _, lines in blocks)
    fig, ax = plt.subplots(figsize=(1.0 * per_line + 1.6, 0.5 * total + 0.6))
    y = 0.0
    for head, lines in blocks:
        ax.text(0, y + title_h * 0.7, head, fontsize=9, fontweight="bold", va="baseline")
        y += title_h
        for words, vals, known in lines:
            for j, (w, v, k) in enumerate(zip(words, vals, known)):
                c = float(np.clip(norm(v), 0, 1))
                ax.add_patch(plt.Rectangle((j + 0.02, y + 0.04), 0.96, 0.92, facecolor=cm(c),
                                           hatch=None if k else "///", edgecolor="white" if k else "0.35", lw=0.6))
                ink = "white" if abs(c - 0.5) > 0.38 else "black"
                ax.text(j + 0.5, y + 0.36, w + ("" if k else "†"), ha="center", va="center", color=ink,
                        fontsize=8 if len(w) <= 10 else 6.5, style="normal" if k else "italic",
                        fontweight="bold" if k else "normal")
                ax.text(j + 0.5, y + 0.72, f"{v:+.2f}", ha="center", va="center", fontsize=7, color=ink)
            y += line_h
        y += gap
    ax.set_xlim(0, per_line)
    ax.set_ylim(total, 0)
    ax.set_axis_off()
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cm), ax=ax, shrink=min(1.0, 6 / max(total * 0.5, 1)),
                 pad=0.01, label=label + f"\n(colour clipped at ±{vmax:.2g}; † hatched = no GloVe vector)")
    if title:
        ax.set_title(title, loc="left", fontweight="bold")
    return fig
