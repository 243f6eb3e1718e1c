"""Sentences and displays for the token-wise models' per-word scores (I.P2–I.P4).

The report printed sub-scores for four sentences of its own; :data:`REPORT_SENTENCES` holds
them verbatim and :data:`OUR_SENTENCES` adds probes for the failure modes the report
discusses (negation in a positive context, contrast with "but", long-distance dependency,
words GloVe lacks). The per-word strips are drawn by :func:`idl_helpers.analysis.plots.plot_word_scores`.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from idl_helpers.analysis.plots import plot_word_scores


#: (name, text, intended label 1 = positive / 0 = negative), exactly as in the report.
REPORT_SENTENCES: list[tuple[str, str, int]] = [
    ("report: strong positive", "very good movie i love movie very love", 1),
    ("report: strong negative",
     "bad move i hate it made me feel gross and bad and shallow really boring", 0),
    ("report: negation", "not extremely amazing good love like said", 0),
    ("report: sarcasm",
     "you are so capable strong amazing and good looking that even writing your own name is easy for you", 0),
]

#: Our probes: each isolates one difficulty.
OUR_SENTENCES: list[tuple[str, str, int]] = [
    ("ours: negation in a positive context",
     "the cast is wonderful and the music is beautiful but the film is not good", 0),
    ("ours: negated negatives", "not bad at all i was never bored and not once disappointed", 1),
    ("ours: contrast with but", "the trailer looked great but the movie was a dull waste of time", 0),
    ("ours: long-distance dependency",
     "i expected to hate this film because the trailer made it look like a cheap sequel "
     "with a silly plot and awful actors and a terrible script but i loved it", 1),
    ("ours: words missing from GloVe (positive)", "awsome acting and a rewatchable story", 1),
    ("ours: words missing from GloVe (negative)", "what a cringeworthy snoozefest", 0),
]

ALL_SENTENCES = REPORT_SENTENCES + OUR_SENTENCES


def plot_sentence_scores(rows: Sequence[dict], names: Sequence[str], *, key: str = "word_score",
                         title: str = "", vmax: float | None = None, per_line: int = 12, cmap: str = "RdYlGn",
                         label: str = "word score (positive − negative sub-score)"):
    """Coloured per-word strips for rows from :func:`tokenwise.explain_texts`, one block per sentence
    titled with the model's P(positive); drawn by :func:`idl_helpers.analysis.plots.plot_word_scores`."""
    strips = [(f"{n}  —  P(positive) = {r['p_positive']:.2f}", r["words"], r[key], r["known"])
              for n, r in zip(names, rows)]
    return plot_word_scores(strips, vmax=vmax, title=title, cmap=cmap, per_line=per_line, label=label)


def word_table(rows: Sequence[dict], names: Sequence[str]) -> pd.DataFrame:
    """Long table: one row per (sentence, position) with the word, whether GloVe knows it, its
    score (positive − negative sub-score) and, when present, its softmax weight."""
    out = []
    for n, r in zip(names, rows):
        for i, w in enumerate(r["words"]):
            d = {"sentence": n, "position": i, "word": w, "in GloVe": r["known"][i],
                 "score": float(r["word_score"][i])}
            if "weights" in r:
                d["weight"] = float(r["weights"][i])
                d["weighted score"] = float(r["weights"][i] * r["word_score"][i])
            out.append(d)
    return pd.DataFrame(out)


def repeated_words(rows: Sequence[dict], names: Sequence[str], keys: Sequence[str] = ("word_score",)) -> pd.DataFrame:
    """Words that occur more than once in a sentence, with the score of every occurrence and
    the spread (max − min) across occurrences: 0 for a token-wise model, not for attention.

    For every further per-position quantity in ``keys`` (e.g. ``"weights"``) a column
    ``"<key> spread"`` is added. A NaN at any occurrence makes the spread NaN (never a
    smaller number); :func:`largest_spread` turns that into ``inf``."""
    extra = [k for k in keys if k != "word_score"]
    out = []
    for n, r in zip(names, rows):
        words = r["words"]
        for w in dict.fromkeys(words):
            pos = [i for i, x in enumerate(words) if x == w]
            if len(pos) > 1:
                s = np.asarray(r["word_score"], dtype=float)[pos]
                row = {"sentence": n, "word": w, "positions": pos,
                       "scores": [round(float(v), 3) for v in s], "spread": float(np.ptp(s))}
                for k in extra:
                    row[f"{k} spread"] = float(np.ptp(np.asarray(r[k], dtype=float)[pos]))
                out.append(row)
    return pd.DataFrame(out, columns=["sentence", "word", "positions", "scores", "spread"]
                        + [f"{k} spread" for k in extra])


def occurrence_spread(model, data, texts: Sequence[str], names: Sequence[str], device: str = "cpu") -> pd.DataFrame:
    """:func:`repeated_words` with every occurrence scored on its own: the model runs on the
    full sequence with ``per_position=True`` (no score-each-distinct-word-once shortcut), and the
    per-position scores (and softmax weights, for a model that has them) of all occurrences of a
    word are compared. For a token-wise model the spread is round-off; a model whose score
    depends on the context (attention) gives a clear spread, so the check can fail."""
    from idl_helpers.models.tokenwise import explain_texts

    rows = explain_texts(model, data, list(texts), device=device, per_position=True)
    keys = ["word_score"] + (["weights"] if "weights" in rows[0] else [])
    return repeated_words(rows, names, keys=keys)


def largest_spread(rep: pd.DataFrame) -> float:
    """The largest spread of any column ``…spread`` of :func:`repeated_words`; ``inf`` when a spread
    is NaN/inf or when there is no repeated word at all (then nothing was checked)."""
    from idl_helpers.theory.derive import max_error

    cols = [c for c in rep.columns if c.endswith("spread")]
    return max_error([rep[c].to_numpy(dtype=float) for c in cols]) if len(rep) else float("inf")


def plot_attention(row: dict, ax=None, title: str = ""):
    """Heatmap of one sentence's attention matrix (rows: the word that looks, columns: the
    words it looks at)."""
    a = np.asarray(row["attention"])
    words = [w + ("" if k else "†") for w, k in zip(row["words"], row["known"])]
    ax = ax or plt.subplots(figsize=(0.42 * len(words) + 1.5, 0.38 * len(words) + 1))[1]
    im = ax.imshow(a, cmap="Blues", vmin=0, vmax=max(float(a.max()), 1e-9))
    ax.set_xticks(range(len(words)), words, rotation=90, fontsize=8)
    ax.set_yticks(range(len(words)), words, fontsize=8)
    ax.set(xlabel="attended word (key)", ylabel="attending word (query)", title=title)
    ax.grid(False)
    plt.colorbar(im, ax=ax, shrink=0.7, label="attention weight")
    return ax


def vocabulary_scores(model, data, *, min_count: int = 20, device: str = "cpu") -> pd.DataFrame:
    """Every vocabulary word GloVe knows that occurs at least ``min_count`` times in the
    training reviews, with its count, its stand-alone score (positive − negative sub-score)
    and, for a model with ``word_importance`` (the weighted sum), its learned importance.
    Only for per-word models: with attention a word's score depends on its neighbours."""
    import torch

    counts = np.bincount(data.train.ids.ravel(), minlength=len(data.vocab))
    keep = np.flatnonzero(data.in_glove & (counts >= min_count))
    ids = torch.as_tensor(keep, device=device)
    was = model.training
    model.eval()
    with torch.no_grad():
        sub = model.mlp(model.embedding(ids)).cpu().numpy()
        imp = model.word_importance(ids).cpu().numpy() if hasattr(model, "word_importance") else None
    model.train(was)
    df = pd.DataFrame({"word": [data.vocab[i] for i in keep], "train count": counts[keep],
                       "score": sub[:, 1] - sub[:, 0]})
    if imp is not None:
        df["importance"] = imp
    return df


__all__ = ["REPORT_SENTENCES", "OUR_SENTENCES", "ALL_SENTENCES", "plot_sentence_scores", "word_table",
           "repeated_words", "occurrence_spread", "largest_spread", "plot_attention", "vocabulary_scores"]
