"""II.3a · II.3b — the character-level GRU on Tiny Shakespeare: what page 10 runs.

:class:`CharPage` holds the page's state; each method is one step of the page, in order: the text and its
split, characters against words (II.3a), the batched GRU against the course's per-character loop, the
baselines, training (with the optional extension in a second process), samples and the extension's curve.
The model lives in :mod:`idl_helpers.models.char_lm`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from IPython.display import display

from idl_helpers.core import tables


CHAR_PROFILES = dict(smoke=dict(iterations=40, eval_every=20, eval_chars=4_000, sample_len=120,
                                ext=dict(hidden=100, layers=1, batch_size=8, iterations=20, lr=0.005)),
                     quick=dict(iterations=1_000, eval_every=100, eval_chars=40_000, sample_len=400,
                                ext=dict(hidden=100, layers=1, batch_size=8, iterations=250, lr=0.005)),
                     # full's extension is sized to finish beside the course model on a 2-core CPU (about 400 s;
                     # two layers and 1,000 iterations took 1,500 s, most of the page)
                     full=dict(iterations=2_000, eval_every=50, eval_chars=None, sample_len=600,
                               ext=dict(hidden=256, layers=1, batch_size=16, iterations=600, lr=0.002)))
CHUNK, HIDDEN, LR, HELD_OUT = 400, 100, 0.005, 0.1
PRIME = "JULIET:\n"
TEMPERATURES = (0.5, 0.8, 1.2)


def single_thread(device: str) -> None:
    """A GRU with 100 units gains nothing from a second thread, and slows down ~10× when cores are shared."""
    import torch

    if device == "cpu":
        torch.set_num_threads(1)


def words(s: str) -> list[str]:
    """Lower-cased letter words with inner apostrophes (``know't``, ``we'll``)."""
    import re

    return re.findall(r"[a-z]+(?:'[a-z]+)*", s.lower())


class CharPage:
    """Page 10's state, filled in cell by cell (each method is one step of the page, in order)."""

    def __init__(self, cfg, seed: int, device: str, rec):
        self.cfg, self.seed, self.device, self.rec = cfg, seed, device, rec

    def load(self) -> dict:
        """Tiny Shakespeare, every character in the vocabulary, the last 10% held out as one slice."""
        from idl_helpers.models import char_lm
        from idl_helpers.models.char_lm import CharVocab
        from idl_helpers.data.shakespeare import load_tiny_shakespeare

        text = load_tiny_shakespeare()
        vocab = CharVocab.from_text(text)
        data = vocab.encode(text)
        train, held = char_lm.split_text(data, HELD_OUT)
        cut = len(train)
        self.text, self.vocab, self.train, self.held = text, vocab, train, held
        self.train_text, self.held_text = text[:cut], text[cut:]
        print(f"{len(text):,} characters, {len(vocab)} distinct · train {len(train):,} · held out "
              f"{len(held):,}")
        print("held-out slice starts:", repr(self.held_text[:80]))
        return {"shakespeare_chars": f"{len(text):,}", "char_vocab": f"{len(vocab)}"}

    # ------------------------------------------------------------------------- II.3a
    def characters_or_words(self) -> None:
        """Vocabulary, sequence length, held-out OOV and output-layer size, for characters and for words."""
        from collections import Counter

        vocab, train = self.vocab, self.train
        train_words, held_words = words(self.train_text), words(self.held_text)
        word_counts = Counter(train_words)
        top2k = {w for w, _ in word_counts.most_common(2000)}
        oov_full = float(np.mean([w not in word_counts for w in held_words]))
        oov_2k = float(np.mean([w not in top2k for w in held_words]))
        unseen_types = sorted({w for w in held_words if w not in word_counts})
        train_chars = set(self.train_text)
        char_oov = float(np.mean([c not in train_chars for c in self.held_text]))
        comparison = pd.DataFrame({
            "vocabulary size (train)": [len(vocab), len(word_counts), 2001],
            "train text length (steps)": [len(train), len(train_words), len(train_words)],
            "held-out tokens outside the vocabulary": [char_oov, oov_full, oov_2k],
            f"output-layer weights ({HIDDEN} hidden units)": [len(vocab) * HIDDEN, len(word_counts) * HIDDEN,
                                                              2001 * HIDDEN],
        }, index=pd.Index(["characters", "words", "words (top 2,000)"], name="tokens"))
        display(tables.show(comparison))
        print(f"{len(train) / len(train_words):.2f} characters per word step · {len(unseen_types):,} "
              "held-out word types never "
              f"seen in training, e.g. {', '.join(unseen_types[:12])}")
        self.word_counts, self.train_words = word_counts, train_words
        self.oov_full, self.oov_2k, self.char_oov = oov_full, oov_2k, char_oov

    def record_ii3a(self) -> None:
        """The report's two claims as a verdict (exact counts on this text: it holds or it does not)."""
        rec, train, train_words = self.rec, self.train, self.train_words
        char_oov, oov_full, oov_2k = self.char_oov, self.oov_full, self.oov_2k
        rec.check("II.3a", char_oov == 0.0 and oov_full > 0 and len(train) / len(train_words) > 3,
                  what="check",
                  char_oov_rate=char_oov, word_oov_rate_full_vocab=oov_full, word_oov_rate_top2000=oov_2k,
                  chars_per_word=len(train) / len(train_words))
        char_claim = char_oov == 0.0 and oov_full > 0 and len(train) / len(train_words) > 3
        rec.add("II.3a", "claim: characters leave no held-out token unknown while words do, and words give ≥ 3× "
                "shorter sequences",
                "holds" if char_claim else "does not hold",
                text=f"held-out OOV: characters {char_oov:.4f}, words {oov_full:.4f} (top 2,000: {oov_2k:.4f}); "
                     f"{len(train) / len(train_words):.2f} characters per word (counted on this text, no noise)")
        rec.add("II.3a", "character vocabulary size", len(self.vocab))
        rec.add("II.3a", "word vocabulary size (train part)", len(self.word_counts))
        rec.add("II.3a", "held-out word OOV rate | full train vocabulary", oov_full)
        rec.add("II.3a", "held-out word OOV rate | top 2,000 words", oov_2k)
        rec.add("II.3a", "characters per word", len(train) / len(train_words))

    # ------------------------------------------------------------------------- II.3b
    def batched_equals_loop(self) -> None:
        """Same weights, same chunk, float64: the course's per-character loop against one nn.GRU call."""
        import torch
        from idl_helpers.models import char_lm
        from idl_helpers.models.char_lm import CharGRU
        from idl_helpers.theory.derive import max_error, within

        seed, rec = self.seed, self.rec
        torch.manual_seed(seed)
        probe = CharGRU(len(self.vocab), HIDDEN).double()
        x, y = char_lm.random_chunks(self.train, CHUNK, 1, torch.Generator().manual_seed(seed))
        t0 = time.perf_counter()
        loop = char_lm.stepwise_loss(probe, x, y)
        g_loop = torch.autograd.grad(loop, list(probe.parameters())); t_loop = time.perf_counter() - t0
        t0 = time.perf_counter()
        batched = char_lm.sequence_loss(probe, x, y)
        g_batch = torch.autograd.grad(batched, list(probe.parameters())); t_batch = time.perf_counter() - t0
        loss_gap = max_error(loop, batched)
        grad_gap = max_error(list(g_loop), list(g_batch))  # NaN anywhere → inf, never a pass
        print(f"loss: loop {loop.item():.10f} · batched {batched.item():.10f} · |difference| "
              f"{loss_gap:.1e}; largest gradient difference {grad_gap:.1e}")
        print(f"one 400-character chunk, forward + backward: loop {t_loop * 1e3:.0f} ms · batched "
              f"{t_batch * 1e3:.0f} ms "
              f"({t_loop / t_batch:.0f}× faster; shared CPU, timings are noisy)")
        rec.check("II.3b", within(loss_gap, 1e-10) and within(grad_gap, 1e-10),
                  what="batched GRU loss equals the step-by-step loop",
                  loss_difference=loss_gap, gradient_difference=grad_gap)
        rec.add("II.3b", "speed-up of the batched GRU over the per-character loop", t_loop / t_batch)

    def baselines(self) -> pd.DataFrame:
        """Uniform, unigram and add-one bigram character models, held-out nats and bits per character."""
        V = len(self.vocab)
        tr_np, he_np = self.train.numpy(), self.held.numpy()
        cfg = self.cfg
        n_eval = len(he_np) - 1 if cfg.eval_chars is None else min(cfg.eval_chars, len(he_np) - 1)
        uni = np.bincount(tr_np, minlength=V) + 1.0
        uni /= uni.sum()
        bi = np.ones((V, V))
        np.add.at(bi, (tr_np[:-1], tr_np[1:]), 1.0)
        bi /= bi.sum(1, keepdims=True)
        self.base = {"uniform": math.log(V),
                     "unigram": float(-np.log(uni[he_np[1:n_eval + 1]]).mean()),
                     "bigram": float(-np.log(bi[he_np[:n_eval], he_np[1:n_eval + 1]]).mean())}
        per_char = pd.Series(self.base, name="held-out nats / char").to_frame()
        per_char["bits / char"] = per_char.iloc[:, 0] / math.log(2)
        return per_char

    def fit_course(self) -> dict:
        """The course's model and settings; the optional extension trains in a second process meanwhile.
        Returns the prose numbers to glue."""
        from functools import partial
        from idl_helpers.core import parallel
        from idl_helpers.models import char_lm

        cfg, e, train, held, seed, device = self.cfg, self.cfg.ext, self.train, self.held, self.seed, self.device
        # the optional extension (end of the page) is independent of this model and, like it, single-threaded
        self.ext_job = parallel.start(partial(char_lm.train_new, len(self.vocab), train, held, hidden=e["hidden"],
                                              layers=e["layers"], iterations=e["iterations"], chunk_len=CHUNK,
                                              batch_size=e["batch_size"], lr=e["lr"],
                                              eval_every=max(1, e["iterations"] // 20), eval_chars=cfg.eval_chars,
                                              seed=seed, device=device),
                                      workers=parallel.default_workers(device))
        model, hist, held_all = char_lm.train_new(len(self.vocab), train, held, hidden=HIDDEN,
                                                  iterations=cfg.iterations, chunk_len=CHUNK, batch_size=1, lr=LR,
                                                  eval_every=cfg.eval_every, eval_chars=cfg.eval_chars, seed=seed,
                                                  device=device)
        self.model, self.hist, self.held_all = model, hist, held_all
        print(f"{cfg.iterations:,} iterations in {hist.wall_time_s:.0f} s (shared CPU cores: wall time is "
              "inflated)")
        print(f"last training loss {hist.train_loss[-1]:.3f} nats/char · held-out loss on the whole slice "
              f"{held_all:.3f} nats/char "
              f"= {held_all / math.log(2):.3f} bits/char (bigram baseline "
              f"{self.base['bigram'] / math.log(2):.3f} bits/char)")
        k = max(1, len(hist.held_loss) // 4)
        print(f"gap held-out − training at the end: {hist.held_loss[-1] - hist.train_loss[-1]:+.3f} "
              "nats/char · held-out change over "
              f"the last quarter of training: {hist.held_loss[-1] - hist.held_loss[-1 - k]:+.3f} nats/char")
        late = hist.held_loss[-1] - hist.held_loss[-1 - k]
        return {"char_gru_parameters": f"{sum(p.numel() for p in model.parameters()):,}",
                "char_gru_chars_seen": f"{cfg.iterations:,} × {CHUNK}",
                "char_gru_passes": f"{cfg.iterations * CHUNK / len(train):.2f}",
                "char_gru_held_trend": (f"still falls in the last quarter of training ({late:+.3f} nats/char)"
                                        if late < 0 else
                                        f"no longer falls in the last quarter of training ({late:+.3f} nats/char)"),
                "char_gru_fit_verdict": ("is not over-fitting yet; whether longer training would help we did not "
                                         "measure (one run, one length)" if late < 0
                                         else "has stopped improving on held-out text at this size and learning "
                                              "rate (one run)")}

    def plot_losses(self) -> None:
        """Training and held-out loss per iteration, beside the unigram and bigram baselines."""
        hist = self.hist
        fig, ax = plt.subplots(figsize=(7.5, 4))
        ax.plot(hist.iteration, hist.train_loss, "o-", ms=3, label="training (mean since previous point)")
        ax.plot(hist.iteration, hist.held_loss, "s-", ms=3, label="held-out slice")
        for name, ls in (("unigram", ":"), ("bigram", "--")):
            ax.axhline(self.base[name], color="grey", ls=ls, lw=1, label=f"{name} baseline (held out)")
        ax.set(xlabel="iteration (one 400-character chunk each)", ylabel="cross-entropy (nats / character)",
               title="Character GRU (hidden 100) on Tiny Shakespeare")
        sec = ax.secondary_yaxis("right", functions=(lambda n: n / math.log(2), lambda b: b * math.log(2)))
        sec.set_ylabel("bits / character")
        ax.legend(fontsize=8); plt.show()

    def record_training(self) -> None:
        rec, hist, held_all, cfg = self.rec, self.hist, self.held_all, self.cfg
        first, last = hist.train_loss[0], hist.train_loss[-1]
        rec.add("II.3b", "training loss curve",
                f"falls from {first:.2f} to {last:.2f} nats/char over {cfg.iterations:,} iterations")
        rec.add("II.3b", "final training loss (nats/char)", last, wall_time_s=hist.wall_time_s,
                iterations=cfg.iterations)
        rec.add("II.3b", "held-out loss (nats/char)", held_all, iterations=cfg.iterations)
        rec.add("II.3b", "held-out bits per character", held_all / math.log(2), iterations=cfg.iterations)
        rec.add("II.3b", "held-out bits per character | bigram baseline", self.base["bigram"] / math.log(2))
        rec.add("II.3b", "held-out loss below the bigram baseline", bool(held_all < self.base["bigram"]))

    def samples(self) -> None:
        """Text from the same prime at three temperatures (fixed seed), with the share of real words; recorded."""
        from idl_helpers.models import char_lm

        cfg, seed, rec = self.cfg, self.seed, self.rec
        known_words = set(self.word_counts)
        samples = {}
        for T in TEMPERATURES:
            s = char_lm.sample(self.model, self.vocab, PRIME, cfg.sample_len, temperature=T, seed=seed)
            ws = words(s[len(PRIME):])
            samples[T] = (s, float(np.mean([w in known_words for w in ws])) if ws else float("nan"))
            print(f"──────── temperature {T} ────────\n{s}\n")
            print(f"[{samples[T][1]:.0%} of the {len(ws)} generated words occur in the training text]\n")
        again = char_lm.sample(self.model, self.vocab, PRIME, cfg.sample_len, temperature=0.8, seed=seed)
        rec.check("II.3b", again == samples[0.8][0], what="sampling with a fixed seed is reproducible")
        for T, (_, share) in samples.items():
            rec.add("II.3b", f"share of generated words that are real | T={T}", share)

    def extension(self) -> None:
        """The optional extension (started next to the course model): held-out loss against characters seen."""
        from idl_helpers.models import char_lm

        big, hist_ext, held_ext = self.ext_job.result()
        e, hist, held_all, cfg = self.cfg.ext, self.hist, self.held_all, self.cfg
        label = f"extension: hidden {e['hidden']} × {e['layers']} layer(s), {e['batch_size']} chunks/iteration"
        print(f"{label}: held-out {held_ext:.3f} nats/char = {held_ext / math.log(2):.3f} bits/char "
              f"after {e['iterations']:,} iterations ({hist_ext.wall_time_s:.0f} s) · course model: "
              f"{held_all / math.log(2):.3f} bits/char")
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        chars_seen = lambda h, b: np.asarray(h.iteration) * CHUNK * b
        ax.plot(chars_seen(hist, 1), hist.held_loss, "s-", ms=3, label="course model, 1 chunk/iteration")
        ax.plot(chars_seen(hist_ext, e["batch_size"]), hist_ext.held_loss, "o-", ms=3, label=label)
        ax.axhline(self.base["bigram"], color="grey", ls="--", lw=1, label="bigram baseline")
        ax.set(xscale="log", xlabel="training characters seen", ylabel="held-out nats / character",
               title="Optional extension: held-out loss against data seen")
        ax.legend(fontsize=8); plt.show()
        self.rec.add("II.3b", "held-out bits per character | extension (optional)", held_ext / math.log(2),
                     wall_time_s=hist_ext.wall_time_s, **e)
        print(char_lm.sample(big, self.vocab, PRIME, cfg.sample_len, temperature=0.8, seed=self.seed))
