"""Page I.T3: sentence → latent → image, and the report's attention over the 4! quadrant orderings
(:mod:`idl_helpers.models.text_to_image` holds the modules and the constructed scenes).

The functions run in the page's order: the pipeline draws from the global torch generator
(seeded here), the attention part from its own generator ``g``, which the later steps continue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display

from idl_helpers.core import tables
from idl_helpers.models import text_to_image as T
from idl_helpers.models.architectures import n_params
from idl_helpers.theory.derive import max_error, within

NAME = "04_I_T3_text_to_image"
DATA_VARIANT = "constructed scenes"
SETTINGS = dict(smoke=dict(batch=2, train_steps=150, eval_scenes=300, steps_shown=6),
                quick=dict(batch=8, train_steps=600, eval_scenes=2000, steps_shown=8),
                full=dict(batch=32, train_steps=2000, eval_scenes=10000, steps_shown=8))


@dataclass
class Pipeline:
    ok: bool
    shapes: dict


def sentence_to_image(cfg, seed: int) -> Pipeline:
    """Part 1: text encoder → MLP → four quadrant latents → image decoder; the report's latent loss
    trains the MLP for 20 Adam steps on one batch. Shows the shapes and parameter counts."""
    torch.manual_seed(seed)
    d_text, d_latent = 128, 64
    text_enc, to_latent = T.TextEncoder(d=d_text), T.TextToLatent(d_text=d_text, d_latent=d_latent)
    img_enc, img_dec = T.ImageEncoder(d_latent=d_latent), T.ImageDecoder(d_latent=d_latent)
    ids = torch.randint(1000, 30_522, (cfg.batch, 20)); ids[:, 0] = 101
    images = torch.rand(cfg.batch, 3, 64, 64)
    with torch.no_grad():
        target = img_enc(images)                                  # (B, 4, d): one vector per quadrant
        reconstruction = img_dec(target)
    sentence = text_enc(ids)
    predicted = to_latent(sentence)
    generated = img_dec(predicted)
    opt = torch.optim.Adam(to_latent.parameters(), lr=1e-3)
    losses = []
    for _ in range(20):                                           # the report's loss trains the MLP
        loss = T.latent_loss(to_latent(sentence.detach()), target)
        opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
    pipeline_shapes = {"sentence": tuple(sentence.shape), "latent (predicted)": tuple(predicted.shape),
                       "latent (image encoder)": tuple(target.shape),
                       "generated image": tuple(generated.shape),
                       "reconstruction": tuple(reconstruction.shape)}
    pipeline_ok = (predicted.shape == target.shape == (cfg.batch, 4, d_latent)
                   and generated.shape == images.shape and losses[-1] < losses[0])
    display(pd.DataFrame({"shape": pipeline_shapes}))
    print({name: f"{n_params(m):,}" for name, m in
           [("text encoder", text_enc), ("MLP", to_latent), ("image encoder",
                                                             img_enc), ("image decoder", img_dec)]})
    print(f"latent loss of the MLP, 20 Adam steps on one batch: {losses[0]:.4f} → {losses[-1]:.4f}")
    return Pipeline(pipeline_ok, pipeline_shapes)


@dataclass
class Attention:
    att: T.PermutationAttention
    describe: torch.Tensor
    g: torch.Generator
    clean: pd.Series


def train_attention(cfg, seed: int) -> Attention:
    """Part 2: train the attention over the 24 orderings on noisy scenes, then measure the weight on
    the correct ordering at four noise levels (shown as a table)."""
    att = T.PermutationAttention(d=8, d_query=32, d_k=32)
    train_losses, describe = T.train_permutation_attention(att, steps=cfg.train_steps, noise=0.3,
                                                           seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    rows = []
    for noise in [0.0, 0.3, 1.0, 3.0]:
        z, s, truth, _ = T.make_scenes(cfg.eval_scenes, noise=noise, generator=g, describe=describe)
        with torch.no_grad():
            _, w = att(z, s[:, None])
        correct = T.permutation_index(truth)
        w_correct = w[:, 0].gather(1, correct[:, None]).squeeze(1)
        rows.append(dict(noise=noise, mean_weight_on_correct=float(w_correct.mean()),
                         median_weight_on_correct=float(w_correct.median()),
                         argmax_is_correct=float((w[:, 0].argmax(1) == correct).float().mean()),
                         chance=1 / 24))
    evaluation = pd.DataFrame(rows)
    print(f"trained {cfg.train_steps} steps: loss {train_losses[0]:.4f} → {train_losses[-1]:.4f}")
    display(evaluation.round(3))
    clean = evaluation.iloc[0]
    return Attention(att, describe, g, clean)


def weights_per_step_figure(cfg, a: Attention) -> None:
    """One scene, one query per generation step (the description less noisy each step): the
    attention weights over the 24 orderings."""
    att, describe, g = a.att, a.describe, a.g
    z, _, truth, _ = T.make_scenes(1, generator=g, describe=describe)
    z_true = torch.gather(z, 1, truth[:, :, None].expand(-1, -1, 8))
    noise_per_step = torch.linspace(6.0, 0.0, cfg.steps_shown)
    clean_sentence = torch.einsum("ktd,nkd->nt", describe, z_true)
    queries = clean_sentence[:, None] + noise_per_step[None, :, None] * torch.randn(1, cfg.steps_shown,
                                                                                    32, generator=g)
    with torch.no_grad():
        _, w_steps = att(z, queries)
    correct = int(T.permutation_index(truth)[0])
    fig, ax = plt.subplots(figsize=(10, 0.45 * cfg.steps_shown + 1.2))
    im = ax.imshow(w_steps[0].numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(24), ["".join(map(str, p.tolist())) for p in T.permutations()], rotation=90,
                  fontsize=7)
    ax.set_yticks(range(cfg.steps_shown),
                  [f"t={t + 1} (noise {n:.1f})" for t, n in enumerate(noise_per_step.tolist())],
                  fontsize=8)
    ax.axvline(correct, color="red", lw=1, ls="--")
    ax.set(xlabel="ordering π (quadrant i gets vector π(i)); red: the correct one",
           title="attention weights, one query per step")
    fig.colorbar(im, ax=ax, fraction=0.02); plt.tight_layout(); plt.show()
    print(f"weight on the correct ordering, first → last step: {w_steps[0, 0, correct]:.3f} → "
          f"{w_steps[0, -1, correct]:.3f}")


def cost_and_check(rec, cfg, a: Attention, pipeline: Pipeline) -> None:
    """What 4! orderings cost against a 4×4 assignment; the score of an ordering is a sum over
    positions, so the Hungarian algorithm finds the argmax. Records and checks the page."""
    att, describe, g, clean = a.att, a.describe, a.g, a.clean
    pipeline_ok, pipeline_shapes = pipeline.ok, pipeline.shapes
    z, s, truth, _ = T.make_scenes(cfg.eval_scenes, noise=0.3, generator=g, describe=describe)
    with torch.no_grad():
        scores = att.scores(z, s[:, None])                          # (B, 1, 24)
        S = att.position_scores(z, s[:, None])                      # (B, 1, 4, 4)
    perms = T.permutations()
    sum_over_positions = torch.stack([S[..., torch.arange(4), p].sum(-1) for p in perms], -1)
    decomposes = max_error(sum_over_positions, scores)           # inf if any score is NaN/inf
    hungarian = T.permutation_index(T.best_by_assignment(S))[:, 0]
    agree = float((hungarian == scores[:, 0].argmax(-1)).float().mean())
    cost = pd.DataFrame([{"quadrants": k, "orderings": math.factorial(k),
                          "key/value floats": math.factorial(k) * k * 64,
                          "assignment scores": k * k} for k in (4, 9, 16)])
    display(tables.show(cost))
    print(f"max |score(π) − Σ_i S[i, π(i)]| = {decomposes:.1e}; Hungarian on 4×4 scores == argmax over "
          "24 orderings "
          f"on {agree:.1%} of {cfg.eval_scenes:,} scenes")
    rec.add("I.T3", "mean attention weight on the correct ordering (noise 0)",
            clean.mean_weight_on_correct,
            chance=1 / 24, scenes=cfg.eval_scenes, train_steps=cfg.train_steps)
    rec.add("I.T3", "argmax = correct ordering (noise 0)", clean.argmax_is_correct,
            scenes=cfg.eval_scenes)
    rec.check("I.T3",
                  pipeline_ok and clean.mean_weight_on_correct > 0.5 and clean.argmax_is_correct > 0.9
                  and within(decomposes, 1e-4) and agree == 1.0, what="check",
                  pipeline_shapes=pipeline_shapes, mean_weight_on_correct=clean.mean_weight_on_correct,
                  argmax_accuracy=clean.argmax_is_correct, hungarian_agreement=agree)
