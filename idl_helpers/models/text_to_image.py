"""Question I.T3: sentence → latent → image, and the report's quadrant attention over 4! orderings.

Pipeline (the report's design, small and randomly initialised here):

* ``TextEncoder``  — a BERT-shaped encoder (pretrained in the report) → one sentence vector;
* ``TextToLatent`` — an MLP into the image latent space: 4 vectors, one per image quadrant;
  trained with the distance to the *image's* encoding (``latent_loss``);
* ``ImageEncoder`` / ``ImageDecoder`` — an autoencoder whose 2 × 2 bottleneck is exactly
  one latent vector per quadrant (top-left, top-right, bottom-left, bottom-right).

``PermutationAttention`` is the report's answer to "how can attention give each quadrant a
local description": keys and values are built from the 4! orderings of the 4 latent
vectors, each query (one per generation step) scores every ordering, and the softmax picks
the ordering that matches. Because the key map is linear in the concatenated latents, the
score of an ordering is a *sum over positions*, so the best ordering is a linear assignment
problem (``best_by_assignment``): k × k scores instead of k! keys.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

from idl_helpers.models.architectures import TinyEncoder

QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")


def permutations(k: int = 4) -> torch.Tensor:
    """All ``k!`` orderings as a ``(k!, k)`` index tensor (lexicographic; row 0 is the identity)."""
    return torch.tensor(list(itertools.permutations(range(k))))


# ------------------------------------------------------------------ the pipeline
class TextEncoder(nn.Module):
    """Token ids → sentence vector (the ``[CLS]`` position of a BERT-shaped encoder)."""

    def __init__(self, vocab: int = 30_522, d: int = 128, layers: int = 2, heads: int = 4):
        super().__init__()
        self.encoder = TinyEncoder(vocab=vocab, d=d, layers=layers, heads=heads)

    def forward(self, ids, pad_mask=None):
        return self.encoder(ids, pad_mask=pad_mask)[:, 0]


class TextToLatent(nn.Module):
    """Sentence vector → ``(B, 4, d_latent)``: the MLP that maps between the two spaces."""

    def __init__(self, d_text: int = 128, d_latent: int = 64, hidden: int = 256, k: int = 4):
        super().__init__()
        self.k, self.d = k, d_latent
        self.mlp = nn.Sequential(nn.Linear(d_text, hidden), nn.GELU(), nn.Linear(hidden, k * d_latent))

    def forward(self, s):
        return self.mlp(s).view(-1, self.k, self.d)


class ImageEncoder(nn.Module):
    """``(B, 3, 64, 64)`` → ``(B, 4, d_latent)``: a conv net down to a 2 × 2 map, one cell per quadrant."""

    def __init__(self, d_latent: int = 64, width: int = 32):
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 4 * width, d_latent]
        layers = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):          # 64 → 32 → 16 → 8 → 4 → 2
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.GELU()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, img):
        z = self.net(img)                                       # (B, d, 2, 2)
        return z.flatten(2).transpose(1, 2)                     # (B, 4, d), row-major quadrants


class ImageDecoder(nn.Module):
    """``(B, 4, d_latent)`` → ``(B, 3, 64, 64)`` with transposed convolutions."""

    def __init__(self, d_latent: int = 64, width: int = 32):
        super().__init__()
        chans = [d_latent, 4 * width, 4 * width, 2 * width, width, 3]
        layers = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):          # 2 → 4 → 8 → 16 → 32 → 64
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.GELU()]
        self.net = nn.Sequential(*layers[:-1], nn.Sigmoid())

    def forward(self, z):
        B, k, d = z.shape
        side = int(math.isqrt(k))
        return self.net(z.transpose(1, 2).reshape(B, d, side, side))


def latent_loss(predicted: torch.Tensor, image_latent: torch.Tensor) -> torch.Tensor:
    """The report's training loss: distance between the MLP's output and the image's encoding."""
    return nn.functional.mse_loss(predicted, image_latent.detach())


# ------------------------------------------------------------------ the report's quadrant attention
class PermutationAttention(nn.Module):
    """Attention whose keys and values are the ``k!`` orderings of ``k`` quadrant vectors.

    * value of ordering π: the concatenation ``[z_π(1); …; z_π(k)]`` (so the output, reshaped to
      ``(k, d)``, says which vector goes to which quadrant);
    * key of ordering π: ``W_k`` applied to that concatenation;
    * query: ``W_q`` applied to the text / the output so far, one per generation step.

    ``forward(z, s)`` with ``z: (B, k, d)`` and ``s: (B, T, d_query)`` returns the attended
    orderings ``(B, T, k, d)`` and the weights ``(B, T, k!)``. ``sharpness`` multiplies the
    scores (the report wants one ordering, not a blend: large sharpness ≈ argmax).
    """

    def __init__(self, d: int, d_query: int, d_k: int = 32, k: int = 4, sharpness: float = 1.0):
        super().__init__()
        self.k, self.d, self.d_k, self.sharpness = k, d, d_k, sharpness
        self.W_q = nn.Linear(d_query, d_k, bias=False)
        self.W_k = nn.Linear(k * d, d_k, bias=False)
        self.register_buffer("perms", permutations(k), persistent=False)

    def orderings(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, k!, k·d)``: every ordering of the ``k`` vectors, concatenated."""
        return z[:, self.perms].flatten(2)

    def scores(self, z, s):
        keys = self.W_k(self.orderings(z))                               # (B, k!, d_k)
        q = self.W_q(s)                                                  # (B, T, d_k)
        return self.sharpness * q @ keys.transpose(1, 2) / math.sqrt(self.d_k)

    def forward(self, z, s):
        w = torch.softmax(self.scores(z, s), dim=-1)                     # (B, T, k!)
        out = w @ self.orderings(z)                                      # (B, T, k·d)
        return out.view(*out.shape[:2], self.k, self.d), w

    def position_scores(self, z, s) -> torch.Tensor:
        """``(B, T, k, k)``: ``S[i, j]`` = score of putting vector ``j`` in quadrant ``i``.

        The score of ordering π equals ``Σ_i S[i, π(i)]`` because ``W_k`` is linear in the
        concatenation: ``q·W_k[z_π(1); …; z_π(k)] = Σ_i (W_kᵀ q)_i · z_π(i)``.
        """
        q = self.W_q(s)                                                  # (B, T, d_k)
        back = (q @ self.W_k.weight).view(*q.shape[:2], self.k, self.d)  # (W_kᵀ q) split by position
        return self.sharpness * back @ z.transpose(1, 2).unsqueeze(1) / math.sqrt(self.d_k)


def best_by_assignment(position_scores: torch.Tensor) -> torch.Tensor:
    """The best ordering per query from the ``k × k`` scores with the Hungarian algorithm (O(k³))."""
    from scipy.optimize import linear_sum_assignment

    flat = position_scores.detach().reshape(-1, *position_scores.shape[-2:]).cpu().numpy()
    best = [linear_sum_assignment(-S)[1] for S in flat]
    return torch.tensor(np.array(best)).view(*position_scores.shape[:-2], -1)


# ------------------------------------------------------------------ a constructed example
def make_scenes(n: int, k: int = 4, d: int = 8, d_text: int = 32, noise: float = 0.3,
                generator: torch.Generator | None = None, describe: torch.Tensor | None = None):
    """Scenes whose sentence says what is where, and whose latents arrive in a shuffled order.

    Each scene has ``k`` unit latent vectors in their true quadrant order; they are handed to
    the attention shuffled by a random permutation. The "sentence vector" is
    ``Σ_i D_i z_true(i) + noise`` — a fixed linear description per quadrant ``D_i``
    (``describe``, shape ``(k, d_text, d)``), so the text determines the layout only together
    with the latents. Returns ``(shuffled z, sentence, true ordering)`` where
    ``z_shuffled[true_ordering] == z_true`` (the index of the correct key).
    """
    g = generator
    z_true = nn.functional.normalize(torch.randn(n, k, d, generator=g), dim=-1)
    shuffle = torch.stack([torch.randperm(k, generator=g) for _ in range(n)])     # z_shuf[j] = z_true[shuffle[j]]
    z_shuf = torch.gather(z_true, 1, shuffle[:, :, None].expand(-1, -1, d))
    if describe is None:
        describe = torch.randn(k, d_text, d, generator=g) / math.sqrt(d)
    sentence = torch.einsum("ktd,nkd->nt", describe, z_true) + noise * torch.randn(n, d_text, generator=g)
    truth = torch.argsort(shuffle, dim=1)                 # z_shuf[truth[i]] = z_true[i]
    return z_shuf, sentence, truth, describe


def permutation_index(orderings: torch.Tensor, k: int = 4) -> torch.Tensor:
    """Row of each ordering in :func:`permutations` (``(…, k)`` → ``(…)``)."""
    perms = permutations(k)
    match = (orderings[..., None, :] == perms).all(-1)
    return match.float().argmax(-1)


def train_permutation_attention(att: PermutationAttention, steps: int = 300, batch: int = 128,
                                noise: float = 0.3, lr: float = 1e-2, seed: int = 0, d_text: int = 32):
    """Learn ``W_q, W_k`` so that the attended ordering reconstructs the quadrants in true order.

    Loss: mean squared error between the attention output ``(B, 1, k, d)`` and the true-order
    latents. Returns the loss curve and the fixed description matrices.
    """
    g = torch.Generator().manual_seed(seed)
    describe = torch.randn(att.k, d_text, att.d, generator=g) / math.sqrt(att.d)
    opt = torch.optim.Adam(att.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        z, s, truth, _ = make_scenes(batch, att.k, att.d, d_text, noise, g, describe)
        target = torch.gather(z, 1, truth[:, :, None].expand(-1, -1, att.d))
        out, _ = att(z, s[:, None])
        loss = nn.functional.mse_loss(out[:, 0], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, describe
