"""Page I.T2: the five architecture choices, each built as a small PyTorch module and run on
realistic shapes (:mod:`idl_helpers.models.architectures` holds the modules).

One function per task, called in the page's order (they draw from the global torch generator the
page's ``setup`` seeded, so the order is part of the numbers); each adds its output-shape check and
parameter count to a :class:`Designs`, which :func:`summarise` records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from IPython.display import display
from torch import nn

from idl_helpers.models import architectures as A

NAME = "03_I_T2_architectures"
DATA_VARIANT = "dummy inputs; GloVe 50-d for the translation demo"
SETTINGS = dict(smoke=dict(batch=2, audio_seconds=2, qa_len=128, img=224, words=1000,
                           test_words=200, mlp_steps=100),
                quick=dict(batch=4, audio_seconds=5, qa_len=384, img=224, words=10000,
                           test_words=1500, mlp_steps=600),
                full=dict(batch=8, audio_seconds=10, qa_len=384, img=224, words=20000,
                          test_words=1500, mlp_steps=1500))


@dataclass
class Designs:
    """What the page checks across the five tasks."""
    shapes_ok: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    ctc_learns: bool = False
    reference_counts: bool = False


def speech_word_softmax(cfg, d: Designs) -> tuple[torch.Tensor, nn.Module]:
    """1. The report's design: spectrogram windows → BiLSTM → a word softmax at every frame.
    Returns the spectrogram frames (the CTC model reads the same ones) and the model."""
    sr = 16_000
    wave = torch.randn(cfg.batch, cfg.audio_seconds * sr)
    frames = A.log_spectrogram(wave)                     # 25 ms windows every 10 ms
    word_model = A.SpeechBiLSTM(n_freq=frames.shape[-1], hidden=256, n_out=10_000)
    with torch.no_grad():
        word_logits = word_model(frames)
    T = frames.shape[1]
    d.shapes_ok["speech (per-frame words)"] = word_logits.shape == (cfg.batch, T, 10_000)
    d.counts["speech: BiLSTM + per-frame word softmax"] = A.n_params(word_model)
    print(f"audio {tuple(wave.shape)} → spectrogram {tuple(frames.shape)} → word logits "
          f"{tuple(word_logits.shape)}; "
          f"{A.count(word_model)} parameters")
    return frames, word_model


def speech_ctc(cfg, d: Designs, frames: torch.Tensor, word_model: nn.Module) -> None:
    """1, today's design: a character softmax trained with CTC, which needs no frame alignment."""
    T = frames.shape[1]
    alphabet = "_ abcdefghijklmnopqrstuvwxyz'"               # index 0 is the CTC blank
    ctc_model = A.SpeechBiLSTM(n_freq=frames.shape[-1], hidden=128, n_out=len(alphabet), layers=1)
    transcripts = ["hello world", "deep learning"][: cfg.batch] + ["ctc"] * max(0, cfg.batch - 2)
    targets = torch.tensor([alphabet.index(c) for t in transcripts for c in t])
    target_lengths = torch.tensor([len(t) for t in transcripts])
    ctc = nn.CTCLoss(blank=0)
    opt = torch.optim.Adam(ctc_model.parameters(), lr=1e-2)
    losses = []
    for step in range(5):
        log_probs = ctc_model(frames).log_softmax(-1)             # (B, T, C)
        loss = ctc(log_probs.transpose(0, 1), targets, torch.full((cfg.batch,), T), target_lengths)
        opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
    decoded = A.ctc_greedy_decode(log_probs.detach())
    d.shapes_ok["speech (CTC)"] = log_probs.shape == (cfg.batch, T, len(alphabet))
    d.counts["speech: BiLSTM + CTC over characters"] = A.n_params(ctc_model)
    print(f"{T} frames, transcripts of {target_lengths.tolist()} characters; CTC loss over 5 steps: "
          + " → ".join(f"{l:.1f}" for l in losses))
    print(f"CTC model: {A.count(ctc_model)} parameters (the word-softmax model: "
          f"{A.count(word_model)}); "
          f"greedy decode after 5 steps on noise: "
          f"{[''.join(alphabet[i] for i in seq) for seq in decoded]!r}")
    ctc_learns = losses[-1] < losses[0]
    d.ctc_learns = ctc_learns


def span_qa(cfg, d: Designs) -> None:
    """2. Question answering as span extraction: a BERT-style encoder with start/end heads."""
    qa = A.SpanQA(vocab=30_522, d=128, heads=4, layers=2, max_len=512)
    L, q_len = cfg.qa_len, 16
    # [CLS] q [SEP] p [SEP]
    ids = torch.randint(1000, 30_522, (cfg.batch, L))
    ids[:, 0] = 101; ids[:, q_len] = 102; ids[:, -1] = 102
    segments = torch.zeros(cfg.batch, L, dtype=torch.long); segments[:, q_len + 1:] = 1
    with torch.no_grad():
        start, end = qa(ids, segments)
    paragraph = (segments == 1) & (ids != 102)
    spans = A.best_span(start, end, paragraph, max_len=30)
    spans_ok = bool(((spans[:, 0] <= spans[:, 1]) & (spans[:, 1] - spans[:, 0] < 30)
                     & (spans[:, 0] > q_len)).all())
    d.shapes_ok["question answering"] = start.shape == end.shape == (cfg.batch, L) and spans_ok
    d.counts["QA: encoder + start/end heads"] = A.n_params(qa)
    print(f"tokens {tuple(ids.shape)} → start/end logits {tuple(start.shape)} each; best spans "
          f"{spans.tolist()} "
          f"(inside the paragraph, start ≤ end: {spans_ok}); {A.count(qa)} parameters, "
          f"of which the heads: {A.n_params(qa.head)}")


def sentence_sentiment(cfg, d: Designs) -> None:
    """3. Sentence sentiment: the encoder with a [CLS] token and one logit."""
    senti = A.SentimentCLS(vocab=30_522, d=128, heads=4, layers=2)
    ids = torch.randint(1000, 30_522, (cfg.batch, 64)); ids[:, 0] = 101
    pad = torch.zeros(cfg.batch, 64, dtype=torch.bool); pad[0, 40:] = True   # a shorter first sentence
    with torch.no_grad():
        logit = senti(ids, pad_mask=pad)
    p_positive = torch.sigmoid(logit)
    d.shapes_ok["sentiment"] = logit.shape == (cfg.batch,
                                             ) and bool(((p_positive > 0) & (p_positive < 1)).all())
    d.counts["sentiment: encoder + [CLS] head"] = A.n_params(senti)
    print(f"tokens {tuple(ids.shape)} → one logit per sentence {tuple(logit.shape)}, P(positive) = "
          f"{[round(v, 3) for v in p_positive.tolist()]}; {A.count(senti)} parameters")


def image_classification(cfg, d: Designs) -> None:
    """4. AlexNet and ResNet-18 on image batches; parameter counts against torchvision's."""
    images = torch.randn(cfg.batch, 3, cfg.img, cfg.img)
    alex, resnet = A.AlexNet(1000).eval(), A.ResNet18(1000).eval()
    with torch.no_grad():
        p_alex = alex(images).softmax(-1)
        p_res = resnet(images).softmax(-1)
    d.shapes_ok["image classification"] = p_alex.shape == p_res.shape == (cfg.batch, 1000) \
        and bool(torch.allclose(p_alex.sum(-1), torch.ones(cfg.batch)))
    d.counts["AlexNet"] = A.n_params(alex)
    d.counts["ResNet-18"] = A.n_params(resnet)
    # the reference implementations (torchvision) have exactly these counts
    reference_counts = A.n_params(alex) == 61_100_840 and A.n_params(resnet) == 11_689_512
    print(f"images {tuple(images.shape)} → class probabilities {tuple(p_alex.shape)}")
    print(f"AlexNet {A.n_params(alex):,} parameters, {A.fc_share(alex):.1%} in fully connected layers; "
          f"ResNet-18 {A.n_params(resnet):,}, {A.fc_share(resnet):.1%}; same counts as torchvision: "
          f"{reference_counts}")
    d.reference_counts = reference_counts


def word_translation(rec, cfg, d: Designs, seed: int) -> None:
    """5. Translating a single word: Procrustes against the report's MLP on a constructed pair of
    embedding spaces (GloVe and a noisy rotation of it), nearest neighbour among the vocabulary."""
    from idl_helpers.data.glove import load_glove  # only this task reads data

    glove = load_glove(50)
    src = np.asarray(glove.vectors[: cfg.words], dtype=np.float64)      # the most frequent words
    src = (src - src.mean(0)) / src.std()
    rng = np.random.default_rng(seed)
    R = A.rotation(src.shape[1], seed=seed)
    tgt = src @ R + 0.3 * rng.normal(size=src.shape)                  # the "target language"
    perm = rng.permutation(cfg.words)
    test_idx, train_idx = perm[: cfg.test_words], perm[cfg.test_words:]
    table = torch.tensor(tgt, dtype=torch.float32)
    truth = torch.tensor(test_idx)

    W = A.procrustes(src[train_idx], tgt[train_idx])
    p1_procrustes = float((A.nearest_neighbours(torch.tensor(src[test_idx] @ W, dtype=torch.float32),
                                                table) == truth).float().mean())

    mlp = A.WordTranslator(d_src=50, d_tgt=50, hidden=256)
    losses = A.fit_translator(mlp, torch.tensor(src[train_idx], dtype=torch.float32),
                              torch.tensor(tgt[train_idx], dtype=torch.float32), steps=cfg.mlp_steps,
                              seed=seed)
    with torch.no_grad():
        mapped = mlp(torch.tensor(src[test_idx], dtype=torch.float32))
    p1_mlp = float((A.nearest_neighbours(mapped, table) == truth).float().mean())
    d.shapes_ok["word translation"] = mapped.shape == (cfg.test_words, 50)
    d.counts["translation: MLP (d=50, hidden 256)"] = A.n_params(mlp)
    print(f"{len(train_idx):,} training pairs, {cfg.test_words:,} held-out words, nearest neighbour "
          f"among {cfg.words:,}:")
    print(f"  Procrustes (orthogonal, closed form, 0 trained parameters): P@1 = {p1_procrustes:.3f}")
    print(f"  the report's MLP ({A.n_params(mlp):,} parameters, {cfg.mlp_steps} Adam steps, final MSE "
          f"{losses[-1]:.3f}): P@1 = {p1_mlp:.3f}")
    rec.add("I.T2", "word translation P@1, Procrustes (constructed rotated-GloVe pair)", p1_procrustes,
            data_variant="GloVe 50-d + random rotation + noise", words=cfg.words,
            test_words=cfg.test_words)
    rec.add("I.T2", "word translation P@1, report's MLP (constructed rotated-GloVe pair)", p1_mlp,
            data_variant="GloVe 50-d + random rotation + noise", steps=cfg.mlp_steps)


def summarise(rec, d: Designs) -> None:
    """The parameter counts (shown and recorded) and the page's check."""
    display(pd.DataFrame({"parameters": d.counts}))
    for name, n in d.counts.items():
        rec.add("I.T2", f"parameters: {name}", n, data_variant="dummy input")
    print("output shapes as designed:", d.shapes_ok)
    rec.check("I.T2", all(d.shapes_ok.values()) and d.reference_counts and d.ctc_learns, what="check",
              shapes=d.shapes_ok, alexnet_resnet_counts_match_torchvision=d.reference_counts,
              ctc_loss_decreases=d.ctc_learns)
