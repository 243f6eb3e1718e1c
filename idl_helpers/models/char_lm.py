"""A character-level GRU language model (question II.3b), batched over the sequence.

The course's model (after spro/char-rnn.pytorch): embedding → GRU (hidden 100) → linear
over the characters, trained on random 400-character chunks with Adam, one chunk per
iteration. The course fed one character per forward call; here the whole chunk goes
through ``nn.GRU`` at once (:func:`stepwise_loss` is the one-character loop, kept to show
both give the same loss)::

    vocab = CharVocab.from_text(text)
    train, held = split_text(vocab.encode(text), held_out_fraction=0.1)
    model = CharGRU(len(vocab), hidden=100)
    hist = train_char_lm(model, train, held, iterations=2000, chunk_len=400, lr=0.005)
    sample(model, vocab, "ROMEO:", 300, temperature=0.8, seed=0)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks


@dataclass
class CharVocab:
    """The characters of a text, sorted; ids are positions in ``chars``."""

    chars: list[str]

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls(sorted(set(text)))

    def __post_init__(self):
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Ids of ``text`` (a ``KeyError`` names a character the vocabulary lacks)."""
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def split_text(data: torch.Tensor, held_out_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Contiguous split: the first part trains, the last ``held_out_fraction`` is held out
    (a contiguous tail, so no training chunk overlaps a held-out one)."""
    cut = int(round(len(data) * (1 - held_out_fraction)))
    return data[:cut], data[cut:]


def random_chunks(data: torch.Tensor, chunk_len: int, batch_size: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random chunks: inputs ``(B, chunk_len)`` and targets shifted by one."""
    starts = torch.randint(0, len(data) - chunk_len - 1, (batch_size,), generator=generator)
    offsets = torch.arange(chunk_len + 1)
    window = data[starts[:, None] + offsets[None, :]]
    return window[:, :-1], window[:, 1:]


class CharGRU(nn.Module):
    """Embedding (``emb_dim``, default = ``hidden`` as in the course) → GRU → linear."""

    def __init__(self, vocab_size: int, hidden: int = 100, emb_dim: int | None = None, layers: int = 1):
        super().__init__()
        emb_dim = emb_dim or hidden
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.gru = nn.GRU(emb_dim, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor, h: torch.Tensor | None = None):
        """``ids (B, T)`` → logits ``(B, T, V)`` and the last hidden state."""
        y, h = self.gru(self.embedding(ids), h)
        return self.out(y), h


def sequence_loss(model: CharGRU, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per character) of the whole chunk in one GRU call."""
    logits, _ = model(x)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def stepwise_loss(model: CharGRU, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The course's loop: one character per forward call, carrying the hidden state."""
    h, total = None, 0.0
    for t in range(x.shape[1]):
        logits, h = model(x[:, t:t + 1], h)
        total = total + nn.functional.cross_entropy(logits[:, 0], y[:, t])
    return total / x.shape[1]


@torch.no_grad()
def held_out_loss(model: CharGRU, data: torch.Tensor, chunk_len: int = 400, max_chars: int | None = None) -> float:
    """Mean nats per character over ``data`` (first ``max_chars``), cut into consecutive
    chunks evaluated as one batch; the hidden state starts at zero in every chunk, as in training."""
    was = model.training
    model.eval()
    n = len(data) - 1 if max_chars is None else min(max_chars, len(data) - 1)
    n_chunks = max(1, n // chunk_len)
    x = data[: n_chunks * chunk_len].view(n_chunks, chunk_len)
    y = data[1: n_chunks * chunk_len + 1].view(n_chunks, chunk_len)
    dev = next(model.parameters()).device
    loss = float(sequence_loss(model, x.to(dev), y.to(dev)))
    model.train(was)
    return loss


@dataclass
class CharLMHistory:
    iteration: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)   # mean over the iterations since the last point
    held_loss: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def held_bpc(self) -> np.ndarray:
        return np.asarray(self.held_loss) / math.log(2)

    @property
    def train_bpc(self) -> np.ndarray:
        return np.asarray(self.train_loss) / math.log(2)


def train_char_lm(model: CharGRU, train: torch.Tensor, held: torch.Tensor, *, iterations: int = 2000,
                  chunk_len: int = 400, batch_size: int = 1, lr: float = 0.005, eval_every: int = 100,
                  eval_chars: int | None = 40_000, seed: int = 0, progress: bool = True,
                  desc: str = "char GRU") -> CharLMHistory:
    """Adam on random chunks; every ``eval_every`` iterations record the mean training loss
    since the previous record and the held-out loss (nats per character)."""
    dev = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    hist = CharLMHistory()
    t0, running, count = time.perf_counter(), 0.0, 0
    for it in tqdm(range(1, iterations + 1), desc=desc, disable=not progress, leave=False):
        x, y = random_chunks(train, chunk_len, batch_size, gen)
        loss = sequence_loss(model, x.to(dev), y.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running += loss.item()
        count += 1
        if it % eval_every == 0 or it == iterations:
            hist.iteration.append(it)
            hist.train_loss.append(running / count)
            hist.held_loss.append(held_out_loss(model, held, chunk_len, eval_chars))
            running, count = 0.0, 0
    hist.wall_time_s = time.perf_counter() - t0
    return hist


def train_new(vocab_size: int, train: torch.Tensor, held: torch.Tensor, *, hidden: int, layers: int = 1,
              seed: int = 0, device: str = "cpu", chunk_len: int = 400,
              **fit) -> tuple[CharGRU, CharLMHistory, float]:
    """A fresh :class:`CharGRU`, initialised from ``seed`` and trained by :func:`train_char_lm`
    (``fit``: its settings); returns the model, its history and its loss on the whole ``held``
    slice. A module-level function, so that a page can train one model in a second process
    (:func:`idl_helpers.core.parallel.start`) while it trains another."""
    torch.manual_seed(seed)
    model = CharGRU(vocab_size, hidden, layers=layers).to(device)
    hist = train_char_lm(model, train, held, chunk_len=chunk_len, seed=seed, progress=False, **fit)
    return model, hist, held_out_loss(model, held, chunk_len)


@torch.no_grad()
def sample(model: CharGRU, vocab: CharVocab, prime: str, length: int, temperature: float = 0.8,
           seed: int = 0) -> str:
    """``prime`` followed by ``length`` characters drawn from softmax(logits / temperature),
    with a private generator seeded by ``seed`` (same seed and model → same text)."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    ids = vocab.encode(prime)[None].to(dev)
    logits, h = model(ids)
    out = []
    last = logits[:, -1]
    for _ in range(length):
        probs = torch.softmax(last.double().cpu() / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=gen)
        out.append(int(nxt))
        logits, h = model(nxt.to(dev), h)
        last = logits[:, -1]
    model.train(was)
    return prime + vocab.decode(out)


__all__ = ["CharVocab", "split_text", "random_chunks", "CharGRU", "sequence_loss", "stepwise_loss",
           "held_out_loss", "CharLMHistory", "train_char_lm", "sample"]
