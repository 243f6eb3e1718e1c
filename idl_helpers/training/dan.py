"""Training DANs: :func:`fit_dans` trains a :class:`~idl_helpers.models.dan.StackedDAN` (each member
exactly as a separate run), and the II.5b and II.5c sweeps: many DANs, one stacked model per depth,
epochs chosen on validation.

:func:`sweep` is a module-level function so that a page can run one sweep in a second process
(:func:`idl_helpers.core.parallel.start`) while it trains the other: both are single-threaded.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from idl_helpers.models.dan import DAN, REPORT_HIDDEN, StackedDAN, masked_mean
from idl_helpers.training.train import History, members_at


def sweep(configs, *, embeddings, train, val, test, epochs: int, batch_size: int, lr: float,
          device: str = "cpu") -> pd.DataFrame:
    """Train every ``(depth, p, seed)`` of ``configs``, one stacked model per depth; one row per run.

    ``train``/``val``/``test`` are ``(ids, lengths, labels)`` tensors. A run's model is the one of
    its best validation epoch; its test accuracy is measured once for that epoch and once after
    the last epoch. The per-epoch test accuracy is measured only to show what choosing the epoch
    on test (the report's practice) would have added."""
    rows = []
    for k in sorted({c[0] for c in configs}):
        group = [c for c in configs if c[0] == k]
        stack = StackedDAN.concat([StackedDAN.from_seeds(embeddings, [s], hidden=REPORT_HIDDEN[:k], word_dropout=p)
                                   for _, p, s in group]).to(device)
        runs = fit_dans(stack, train, val, seeds=[s for *_, s in group], epochs=epochs, batch_size=batch_size,
                        lr=lr, test=test)
        for (d, p, s), r in zip(group, runs):
            if r.diverged:
                rows.append({"depth": d, "p": p, "seed": s, "diverged": True, "seconds": r.history.wall_time_s})
                continue
            h = r.history
            rows.append({"depth": d, "p": p, "seed": s, "diverged": False,
                         "chosen epoch": r.best_epoch,
                         "validation accuracy": h.series("val_acc")[r.best_epoch - 1],
                         "test accuracy": r.selected_test["accuracy"],
                         "final test accuracy": r.final_test["accuracy"],
                         "best test accuracy (chosen on test)": h.series("test_acc").max(),
                         "final train accuracy": h.series("train_acc")[-1],
                         "seconds": h.wall_time_s})
    return pd.DataFrame(rows)


@dataclass
class DANRun:
    """One member's run under :func:`fit_dans`.

    ``history.epochs``: per epoch ``train_loss``, ``train_acc`` (word dropout on), ``val_loss``,
    ``val_acc`` and — when a test split was given with ``test_every_epoch`` — ``test_loss``,
    ``test_acc`` (for measuring what choosing on test would be worth, never for choosing);
    ``history.best_epoch`` is the epoch of the best validation accuracy (the first, on ties).
    ``selected_test`` / ``final_test`` are the test metrics of the validation-selected epoch and of
    the last epoch (``None`` without a test split or after divergence); ``model`` has the weights
    of the selected epoch, ``final_model`` those of the last one."""
    history: "History"
    model: DAN | None
    final_model: DAN | None
    selected_test: dict | None
    final_test: dict | None
    selected_proba: np.ndarray | None
    final_proba: np.ndarray | None

    @property
    def best_epoch(self) -> int | None:
        return self.history.best_epoch

    @property
    def diverged(self) -> bool:
        return self.history.diverged


def _member_eval(logits: torch.Tensor, labels: torch.Tensor):
    """Per member ``(loss, accuracy)`` from ``(K, N, C)`` logits (NaN for non-finite outputs)."""
    K = logits.shape[0]
    finite = torch.isfinite(logits).flatten(1).all(1)
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.repeat(K),
                                       reduction="none").view(K, -1).mean(1)
    acc = (logits.argmax(-1) == labels).float().mean(1)
    nan = torch.full_like(loss, float("nan"))
    return torch.where(finite, loss, nan).tolist(), torch.where(finite, acc, nan).tolist()


def fit_dans(model: StackedDAN, train, val, *, seeds: Sequence[int], epochs: int, batch_size: int, lr: float,
             test=None, test_every_epoch: bool = True, eval_batch_size: int = 8192,
             optimizer_kwargs: dict | None = None, progress: bool = False, desc: str = "") -> list[DANRun]:
    """Train the members of ``model`` with Adam and cross-entropy; select each one's epoch on ``val``.

    ``train``, ``val``, ``test`` are ``(ids, lengths, labels)`` tensors. Member ``k`` draws its batch
    order from ``seeds[k]`` exactly as :func:`idl_helpers.training.train.fit` does (``torch.randperm`` of a
    generator seeded with it, each epoch), so each member is the run ``fit`` would make alone. When
    no member drops words, each review's average is computed once and the epochs train the MLP on
    it (the same numbers as averaging every batch again, up to float rounding). Validation (and
    test) averages are always computed once. ``optimizer_kwargs`` go to Adam (default
    ``{"fused": True}``, the fastest on small batches). A member whose loss, weights or outputs become
    NaN/inf is stopped (its history says why and its metrics are ``None``); the others go on.
    """
    from tqdm.std import tqdm

    from idl_helpers.training.metrics import classification_metrics

    K = model.K
    seeds = list(seeds)
    if len(seeds) != K:
        raise ValueError(f"{K} members but {len(seeds)} seeds")
    device = next(model.parameters()).device
    train = [t.to(device) for t in train]
    ids_tr, len_tr, y_tr = train
    emb = model.embedding
    avg_val = masked_mean(emb, val[0].to(device), val[1].to(device))
    y_val = val[2].to(device)
    if test is not None:
        avg_te, y_te = masked_mean(emb, test[0].to(device), test[1].to(device)), test[2].to(device)
    precomputed = all(p == 0 for p in model.word_dropout)
    avg_tr = masked_mean(emb, ids_tr, len_tr) if precomputed else None
    params = [p for p in model.parameters() if p.requires_grad]
    # fused Adam: one kernel for all parameters; the same update element by element as fit's Adam
    opt = torch.optim.Adam(params, lr=lr, **({"fused": True} if optimizer_kwargs is None else optimizer_kwargs))
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    hists = [History() for _ in range(K)]
    alive = torch.ones(K, dtype=torch.bool, device=device)
    best_acc = [-math.inf] * K
    best_state: list[dict | None] = [None] * K
    best_proba: list[np.ndarray | None] = [None] * K

    @torch.no_grad()
    def logits_of(avgs):
        return torch.cat([model.head(avgs[s:s + eval_batch_size].expand(K, -1, -1))
                          for s in range(0, len(avgs), eval_batch_size)], 1).float()

    def stop(k, message):
        alive[k] = False
        hists[k].diverged, hists[k].message = True, message

    n = len(y_tr)
    n_steps = math.ceil(n / batch_size)
    t0 = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc or "DANs", disable=not progress, leave=False)
    for epoch in bar:
        if not bool(alive.any()):
            break
        model.train()
        orders = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)      # (K, n)
        tot_loss = torch.zeros(K, dtype=torch.float64, device=device)
        tot_correct = torch.zeros(K, dtype=torch.long, device=device)
        for start in range(0, n, batch_size):
            idx = orders[:, start:start + batch_size]                                      # (K, b)
            x = avg_tr[idx] if precomputed else model.average(ids_tr[idx], len_tr[idx])
            logits = model.head(x)
            labels = y_tr[idx]
            losses = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                 reduction="none").view(K, -1).mean(1)
            opt.zero_grad(set_to_none=True)
            torch.where(alive, losses, torch.zeros_like(losses)).sum().backward()
            opt.step()
            with torch.no_grad():
                tot_loss += losses.detach().double() * idx.shape[1]
                tot_correct += (logits.detach().argmax(-1) == labels).sum(1)
        now = time.perf_counter() - t0
        with torch.no_grad():
            finite_w = torch.stack([torch.isfinite(p).flatten(1).all(1) for p in params]).all(0)
        loss_list, correct_list, finite_list = tot_loss.tolist(), tot_correct.tolist(), finite_w.tolist()
        for k in range(K):
            if bool(alive[k]) and not math.isfinite(loss_list[k]):
                stop(k, f"loss became non-finite in epoch {epoch + 1} (of {epochs}); run stopped")
            elif bool(alive[k]) and not finite_list[k]:
                stop(k, f"parameters became NaN/inf in epoch {epoch + 1} (of {epochs}); run stopped")
        model.eval()
        v_logits = logits_of(avg_val)
        v_loss, v_acc = _member_eval(v_logits, y_val)
        if test is not None and test_every_epoch:
            t_logits = logits_of(avg_te)
            t_loss, t_acc = _member_eval(t_logits, y_te)
        for k in range(K):
            if not bool(alive[k]):
                continue
            if not (math.isfinite(v_loss[k]) and math.isfinite(v_acc[k])):
                stop(k, f"validation outputs became NaN/inf in epoch {epoch + 1} (of {epochs}); run stopped")
                continue
            row = {"epoch": epoch + 1, "train_loss": loss_list[k] / n, "train_acc": correct_list[k] / n,
                   "val_loss": v_loss[k], "val_acc": v_acc[k]}
            if test is not None and test_every_epoch:
                row.update(test_loss=t_loss[k], test_acc=t_acc[k])
            row.update(time_s=now, steps=(epoch + 1) * n_steps)
            hists[k].epochs.append(row)
            if v_acc[k] > best_acc[k]:
                best_acc[k], hists[k].best_epoch = v_acc[k], epoch + 1
                best_state[k] = {nm: p[k].detach().clone() for nm, p in model.stacked().items()}
                if test is not None and test_every_epoch:
                    best_proba[k] = torch.softmax(t_logits[k], -1)[:, 1].cpu().numpy()
        if progress:
            bar.set_postfix(mean_val_acc=f"{np.nanmean(v_acc):.3f}")
    wall = time.perf_counter() - t0
    model.eval()
    final_proba = [None] * K
    if test is not None:
        t_logits = logits_of(avg_te)
        final_proba = [torch.softmax(t_logits[k], -1)[:, 1].cpu().numpy() for k in range(K)]
        if not test_every_epoch and any(s is not None for s in best_state):
            with members_at(model, best_state):
                sel = logits_of(avg_te)
                best_proba = [torch.softmax(sel[k], -1)[:, 1].cpu().numpy() for k in range(K)]
    final_models = [model.member(k) for k in range(K)]
    with members_at(model, best_state):
        selected_models = [model.member(k) for k in range(K)]
    y_np = y_te.cpu().numpy() if test is not None else None
    runs = []
    for k in range(K):
        h = hists[k]
        h.wall_time_s = wall
        if test is not None and not h.diverged and not np.isfinite(final_proba[k]).all():
            h.diverged, h.message = True, "outputs on the test set are NaN/inf; no metrics computed"
        if h.diverged:
            print(f"[{desc or 'DAN'} member {k}] DIVERGED: {h.message}")
            runs.append(DANRun(h, None, None, None, None, None, None))
            continue
        fin = classification_metrics(y_np, final_proba[k]) if test is not None else None
        sel = (classification_metrics(y_np, best_proba[k])
               if test is not None and best_proba[k] is not None and np.isfinite(best_proba[k]).all() else None)
        runs.append(DANRun(h, selected_models[k], final_models[k], sel, fin, best_proba[k], final_proba[k]))
    return runs
