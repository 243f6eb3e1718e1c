"""II.6 — left-to-right and right-to-left MLE bigram models give every sentence the same probability:
the three checks page 05 runs (two symbolic with SymPy, one on every sentence of the PTB dev split).
"""

from __future__ import annotations

import numpy as np


DIRECTION_PROFILES = dict(smoke=dict(max_len=2, dev_sentences=500, telescoping_n=(2, 4)),
                          quick=dict(max_len=3, dev_sentences=None, telescoping_n=(2, 4, 8)),
                          full=dict(max_len=3, dev_sentences=None, telescoping_n=(2, 4, 8, 16)))


def telescoping(n: int) -> bool:
    """Check 1: P_LR / P_RL of a length-n sentence with symbolic counts simplifies to 1 once interior words have
    c→ = c← and <s>, </s> each occur once per sentence (N times)."""
    import sympy as sp

    c_fw = sp.symbols(f"cfw0:{n + 1}", positive=True)      # c→(x_i)
    c_bw = sp.symbols(f"cbw0:{n + 1}", positive=True)      # c←(x_i)
    big = sp.symbols(f"c_bigram1:{n + 1}", positive=True)  # c(x_{i-1} x_i)
    N = sp.Symbol("N", positive=True)
    p_lr = sp.prod([big[i - 1] / c_fw[i - 1] for i in range(1, n + 1)])
    p_rl = sp.prod([big[i - 1] / c_bw[i] for i in range(1, n + 1)])
    interior = {c_bw[i]: c_fw[i] for i in range(1, n)}     # ordinary words: c← = c→
    boundary = {c_fw[0]: N, c_bw[n]: N}                      # one <s> and one </s> per sentence
    return sp.simplify((p_lr / p_rl).subs(interior).subs(boundary)) == 1


def symbolic_corpus(max_len: int) -> dict[str, bool]:
    """Check 2: over the vocabulary {<s>, a, b, </s>} with symbolic bigram counts obeying the flow constraints,
    both directions' MLE probabilities agree for every sentence up to ``max_len`` words."""
    import itertools
    import sympy as sp

    words = ["a", "b"]
    left = ["<s>"] + words            # symbols that can be followed
    right = words + ["</s>"]          # symbols that can be preceded
    C = {(u, w): sp.Symbol(f"c[{u},{w}]", positive=True)
         for u in left for w in right if not (u == "<s>" and w == "</s>")}
    c_fw = {u: sum(C[(u, w)] for w in right if (u, w) in C) for u in left}
    c_bw = {w: sum(C[(u, w)] for u in left if (u, w) in C) for w in right}
    N = sp.Symbol("N", positive=True)
    constraints = [sp.Eq(c_fw[w], c_bw[w]) for w in words] + [sp.Eq(c_fw["<s>"], N), sp.Eq(c_bw["</s>"], N)]
    solved = sp.solve(constraints, [C[("<s>", "a")], C[("a", "</s>")], C[("b", "</s>")]], dict=True)[0]
    print("solved for:", ", ".join(map(str, solved)), "· free:",
          sorted({str(x) for e in solved.values() for x in e.free_symbols}))

    def probs(sentence):
        s = ["<s>", *sentence, "</s>"]
        lr = sp.prod([C[(s[i - 1], s[i])] / c_fw[s[i - 1]] for i in range(1, len(s))])
        rl = sp.prod([C[(s[i - 1], s[i])] / c_bw[s[i]] for i in range(1, len(s))])
        return lr.subs(solved), rl.subs(solved)

    sentences = [seq for n in range(1, max_len + 1) for seq in itertools.product(words, repeat=n)]
    return {" ".join(sent): sp.simplify(a - b) == 0 for sent in sentences for a, b in [probs(sent)]}


def direction_logprobs(sentences):
    """Log-probability of every sentence under the left-to-right and the right-to-left MLE bigram models,
    both estimated on ``sentences`` themselves; vectorised, one bincount per direction."""
    vocab = {w: i for i, w in enumerate(sorted({w for s in sentences for w in s}))}
    ids = [np.array([vocab[w] for w in s]) for s in sentences]
    prev = np.concatenate([a[:-1] for a in ids]); nxt = np.concatenate([a[1:] for a in ids])
    sid = np.repeat(np.arange(len(ids)), [len(a) - 1 for a in ids])
    V = len(vocab)
    pair = prev * V + nxt
    uniq, inv, pair_count = np.unique(pair, return_inverse=True, return_counts=True)
    c_bigram = pair_count[inv].astype(float)
    c_fw = np.bincount(prev, minlength=V).astype(float)   # followed by something
    c_bw = np.bincount(nxt, minlength=V).astype(float)    # preceded by something
    lr = np.bincount(sid, weights=np.log(c_bigram) - np.log(c_fw[prev]), minlength=len(ids))
    rl = np.bincount(sid, weights=np.log(c_bigram) - np.log(c_bw[nxt]), minlength=len(ids))
    return lr, rl
