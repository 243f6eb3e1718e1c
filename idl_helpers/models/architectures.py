"""The five architecture choices of question I.T2 as small PyTorch modules.

Each is the report's design at a size that runs on a CPU in milliseconds; the notebook
runs a forward pass on dummy input of realistic shape, asserts the output shapes and
prints parameter counts. Where today's standard differs (CTC for speech, global average
pooling instead of AlexNet's huge fully connected layers, an orthogonal Procrustes map for
word translation) the alternative is here too.
"""

from __future__ import annotations


import numpy as np
import torch
from torch import nn


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ 1. speech to text
def log_spectrogram(wave: torch.Tensor, n_fft: int = 400, hop: int = 160) -> torch.Tensor:
    """``(B, samples)`` at 16 kHz → ``(B, frames, n_fft//2 + 1)`` log power, per-utterance normalised.

    25 ms windows every 10 ms, the usual speech front end (a mel filterbank would follow).
    """
    spec = torch.stft(wave, n_fft=n_fft, hop_length=hop, window=torch.hann_window(n_fft, device=wave.device),
                      return_complex=True).abs() ** 2
    logspec = torch.log(spec + 1e-10).transpose(1, 2)
    return (logspec - logspec.mean(dim=(1, 2), keepdim=True)) / (logspec.std(dim=(1, 2), keepdim=True) + 1e-5)


class SpeechBiLSTM(nn.Module):
    """The report's design: spectrogram frames → bidirectional LSTM → per-frame linear → softmax.

    ``forward`` returns per-frame logits ``(B, T, n_out)``. With ``n_out`` = word vocabulary it is
    the report's per-frame word classifier; with ``n_out`` = characters + blank it is the CTC model.
    """

    def __init__(self, n_freq: int = 201, hidden: int = 256, n_out: int = 10_000, layers: int = 2):
        super().__init__()
        self.lstm = nn.LSTM(n_freq, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, n_out)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(frames)
        return self.out(h)


def ctc_greedy_decode(log_probs: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best path per utterance: argmax per frame, merge repeats, drop blanks. ``(B, T, C)`` input."""
    out = []
    for path in log_probs.argmax(-1).tolist():
        seq, prev = [], None
        for s in path:
            if s != prev and s != blank:
                seq.append(s)
            prev = s
        out.append(seq)
    return out


# ------------------------------------------------------------------ shared text encoder
class TinyEncoder(nn.Module):
    """A BERT-shaped Transformer encoder (token + position + segment embeddings), randomly initialised.

    Stands in for a pretrained BERT: same interface and shapes, a few layers instead of 12.
    """

    def __init__(self, vocab: int = 30_522, d: int = 128, heads: int = 4, layers: int = 2, max_len: int = 512):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.seg = nn.Embedding(2, d)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=4 * d, batch_first=True,
                                           norm_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        h = self.tok(ids) + self.pos(pos)[None]
        if segments is not None:
            h = h + self.seg(segments)
        return self.norm(self.encoder(h, src_key_padding_mask=pad_mask))


# ------------------------------------------------------------------ 2. question answering
class SpanQA(nn.Module):
    """``[CLS] question [SEP] paragraph [SEP]`` → encoder → two logits per token (answer start, end)."""

    def __init__(self, **encoder_kw):
        super().__init__()
        self.encoder = TinyEncoder(**encoder_kw)
        self.head = nn.Linear(self.encoder.tok.embedding_dim, 2)

    def forward(self, ids, segments, pad_mask=None):
        start, end = self.head(self.encoder(ids, segments, pad_mask)).unbind(-1)
        return start, end          # each (B, L); softmax over positions gives P(start = i), P(end = j)


def best_span(start: torch.Tensor, end: torch.Tensor, allowed: torch.Tensor, max_len: int = 30):
    """Highest ``start_i + end_j`` with ``i ≤ j < i + max_len``, both in ``allowed`` (the paragraph)."""
    neg = torch.finfo(start.dtype).min
    s = start.masked_fill(~allowed, neg)
    e = end.masked_fill(~allowed, neg)
    score = s[:, :, None] + e[:, None, :]                                # (B, L, L)
    L = start.shape[1]
    i, j = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
    valid = (j >= i) & (j < i + max_len)
    score = score.masked_fill(~valid, neg)
    flat = score.flatten(1).argmax(1)
    return torch.stack([flat // L, flat % L], 1)                         # (B, 2): start, end


# ------------------------------------------------------------------ 3. sentiment
class SentimentCLS(nn.Module):
    """``[CLS] sentence`` → encoder → the ``[CLS]`` vector → linear → one logit (sigmoid = P(positive))."""

    def __init__(self, **encoder_kw):
        super().__init__()
        self.encoder = TinyEncoder(**encoder_kw)
        self.head = nn.Linear(self.encoder.tok.embedding_dim, 1)

    def forward(self, ids, pad_mask=None):
        return self.head(self.encoder(ids, pad_mask=pad_mask)[:, 0]).squeeze(-1)


# ------------------------------------------------------------------ 4. image classification
class AlexNet(nn.Module):
    """AlexNet (Krizhevsky et al. 2012, single-GPU layout as in torchvision): 5 convs, flatten, 3 FC."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class _BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.short = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016): skip connections, batch norm, global average pooling, one FC."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                  nn.MaxPool2d(3, 2, 1)]
        c = 64
        for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [_BasicBlock(c, c_out, stride), _BasicBlock(c_out, c_out, 1)]
            c = c_out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def fc_share(model: nn.Module) -> float:
    """Fraction of the parameters that sit in ``nn.Linear`` layers."""
    fc = sum(n_params(m) for m in model.modules() if isinstance(m, nn.Linear))
    return fc / n_params(model)


# ------------------------------------------------------------------ 5. word translation
class WordTranslator(nn.Module):
    """The report's design: fixed source embedding → MLP → a vector in the target embedding space."""

    def __init__(self, d_src: int = 300, d_tgt: int = 300, hidden: int = 512):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d_src, hidden), nn.ReLU(), nn.Linear(hidden, d_tgt))

    def forward(self, v):
        return self.mlp(v)


def nearest_neighbours(queries: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Index of the most cosine-similar row of ``table`` for every query (the translation)."""
    q = nn.functional.normalize(queries, dim=-1)
    t = nn.functional.normalize(table, dim=-1)
    return (q @ t.T).argmax(-1)


def procrustes(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """The orthogonal ``W`` minimising ``‖src W − tgt‖_F`` (``W = U Vᵀ`` from the SVD of ``srcᵀ tgt``).

    The standard map between two embedding spaces (Mikolov et al. 2013; Smith et al. 2017;
    MUSE, Conneau et al. 2018): closed form, no hyper-parameters, distances preserved.
    """
    u, _, vt = np.linalg.svd(src.T @ tgt)
    return u @ vt


def fit_translator(model: WordTranslator, src: torch.Tensor, tgt: torch.Tensor, steps: int = 300,
                   lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Train the MLP with mean squared error between mapped source and target vectors (full batch)."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(src), tgt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def count(module: nn.Module) -> str:
    n = n_params(module)
    return f"{n:,}" if n < 1e6 else f"{n / 1e6:.2f} M"


def rotation(d: int, seed: int = 0) -> np.ndarray:
    """A random orthogonal ``d × d`` matrix (QR of a Gaussian matrix, signs fixed)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("math", "np", "torch", "nn")]
