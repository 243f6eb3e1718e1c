"""One training loop for every classifier in the book.

``fit`` trains a model whose ``forward(*inputs)`` returns logits over classes, on data
given as tensors ``(*inputs, labels)``, and evaluates on the test tensors after every
epoch. It shows a progress bar, records per-epoch loss/accuracy for train and test,
and stops a run whose loss becomes NaN/inf (recorded as *diverged*, not as a number).

Divergence is also caught where the training loss cannot see it: a step that turns the
weights into NaN/inf (the last step of a run included) or outputs that overflow on the test
set. Such an epoch is not added to the history, and no accuracy, F1 or ROC AUC is computed
from non-finite outputs: the run's ``test_metrics`` and ``test_proba`` are ``None``.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks

from idl_helpers.training.metrics import classification_metrics
from idl_helpers.models.recurrent import Workspace, reuse_buffers


@contextmanager
def members_at(model, states):
    """Within the block, member ``k`` of a stacked model (one with ``stacked()``) holds the
    parameters ``states[k]`` (members whose state is ``None`` keep theirs); afterwards every
    member is back where it was. Used to evaluate or copy out each run's chosen epoch."""
    with torch.no_grad():
        params = model.stacked()
        saved = {nm: p.detach().clone() for nm, p in params.items()}
        for k, state in enumerate(states):
            if state is not None:
                for nm, p in params.items():
                    p[k].copy_(state[nm])
        try:
            yield model
        finally:
            for nm, p in params.items():
                p.copy_(saved[nm])


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    diverged: bool = False
    message: str = ""
    wall_time_s: float = 0.0
    best_epoch: int | None = None          # with keep_best: the epoch of the best per-epoch accuracy

    def series(self, key: str) -> np.ndarray:
        return np.array([e[key] for e in self.epochs], dtype=float)

    @property
    def final(self) -> dict:
        return self.epochs[-1] if self.epochs else {}


@dataclass
class FitResult:
    model: nn.Module
    history: History
    test_metrics: dict | None  # accuracy, f1, roc_auc, confusion, n (None when diverged)
    test_proba: np.ndarray | None
    selected_metrics: dict | None = None   # keep_best: the final set measured with the best epoch's weights
    selected_proba: np.ndarray | None = None


def _batches(tensors, batch_size, shuffle, generator):
    n = len(tensors[-1])
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield [t[idx] for t in tensors]


@torch.no_grad()
def predict_logits(model: nn.Module, inputs, batch_size: int = 1024) -> torch.Tensor:
    """Logits for every row of ``inputs`` (a tuple of tensors), in order, without gradients."""
    was_training = model.training
    model.eval()
    outs = [model(*batch[:-1]) for batch in _batches(list(inputs) + [inputs[0]], batch_size, False, None)]
    model.train(was_training)
    return torch.cat(outs)


def evaluate(model: nn.Module, data, batch_size: int = 1024) -> tuple[float, float, np.ndarray]:
    """``(mean loss, accuracy, P(positive))`` over ``data = (*inputs, labels)``.

    When any logit is NaN or infinite the loss and the accuracy are NaN (an argmax over NaN
    outputs is not an accuracy) and ``P(positive)`` contains the non-finite values."""
    *inputs, labels = data
    logits = predict_logits(model, inputs, batch_size).float()
    if not bool(torch.isfinite(logits).all()):
        return float("nan"), float("nan"), torch.softmax(logits, 1)[:, 1].cpu().numpy()
    loss = float(nn.functional.cross_entropy(logits, labels))
    acc = float((logits.argmax(1) == labels).float().mean())
    proba = torch.softmax(logits, 1)[:, 1].cpu().numpy()
    return loss, acc, proba


def _finite_parameters(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _clip_coefficient(norm: torch.Tensor, max_norm) -> torch.Tensor:
    # exactly torch.nn.utils.clip_grad_norm_'s factor
    return torch.clamp(max_norm / (norm + 1e-6), max=1.0)


def fit(model: nn.Module, train, test, *, epochs: int, batch_size: int, lr: float,
        optimizer: str = "adam", weight_decay: float = 0.0, seed: int = 0, progress: bool = True,
        desc: str = "", eval_batch_size: int = 1024, raise_on_divergence: bool = False,
        optimizer_kwargs: dict | None = None, final_test=None, clip_grad_norm: float | None = None,
        keep_best: bool = False, eval_name: str = "test") -> FitResult:
    """Train with cross-entropy; evaluate on ``test`` after each epoch (see module docstring).

    ``final_test`` (default: ``test``) is the set the returned metrics and probabilities are
    measured on, so the per-epoch curve can use a cheap subset (or a validation split) while the
    final numbers use the whole test set. ``optimizer_kwargs`` go to the optimizer (e.g.
    ``{"foreach": True}`` for Adam, which speeds up small-batch steps)."""
    device = next(model.parameters()).device
    train = [t.to(device) for t in train]
    test = [t.to(device) for t in test]
    opt_cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[optimizer]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = opt_cls(params, lr=lr, weight_decay=weight_decay, **(optimizer_kwargs or {}))
    gen = torch.Generator().manual_seed(seed)
    hist = History()
    ev = eval_name
    best_acc, best_state = -math.inf, None
    ws = Workspace()
    t0 = time.perf_counter()
    n_steps = math.ceil(len(train[-1]) / batch_size)
    bar = tqdm(range(epochs), desc=desc or model.__class__.__name__, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        tot_loss, tot_correct, seen = 0.0, 0, 0
        for *inputs, labels in _batches(train, batch_size, True, gen):
            with reuse_buffers(ws):
                logits = model(*inputs)
                loss = nn.functional.cross_entropy(logits, labels)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    hist.diverged = True
                    hist.message = f"loss became {loss_value} in epoch {epoch + 1} (of {epochs}); run stopped"
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
            if clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
            opt.step()
            tot_loss += loss_value * len(labels)
            tot_correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        if hist.diverged:
            break
        if not _finite_parameters(model):          # e.g. the epoch's last step produced NaN weights
            hist.diverged = True
            hist.message = (f"parameters became NaN/inf in epoch {epoch + 1} (of {epochs}), "
                            "after the last loss was computed; run stopped")
            break
        with reuse_buffers(ws):
            te_loss, te_acc, _ = evaluate(model, test, eval_batch_size)
        if not (math.isfinite(te_loss) and math.isfinite(te_acc)):
            hist.diverged = True
            hist.message = f"{ev} outputs became NaN/inf in epoch {epoch + 1} (of {epochs}); run stopped"
            break
        hist.epochs.append({"epoch": epoch + 1, "train_loss": tot_loss / seen, "train_acc": tot_correct / seen,
                            f"{ev}_loss": te_loss, f"{ev}_acc": te_acc, "time_s": time.perf_counter() - t0,
                            "steps": (epoch + 1) * n_steps})
        if keep_best and te_acc > best_acc:
            best_acc, hist.best_epoch = te_acc, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        bar.set_postfix(train_acc=f"{tot_correct / seen:.3f}", **{f"{ev}_acc": f"{te_acc:.3f}"})
    hist.wall_time_s = time.perf_counter() - t0
    proba = None
    if not hist.diverged:
        final = test if final_test is None else [t.to(device) for t in final_test]
        with reuse_buffers(ws):
            _, _, proba = evaluate(model, final, eval_batch_size)
        if not np.isfinite(proba).all():
            hist.diverged = True
            hist.message = f"outputs on the final {'test' if final_test is not None else ev} set are NaN/inf; no metrics computed"
    if hist.diverged:
        if raise_on_divergence:
            raise Diverged(hist.message)
        print(f"[{desc or 'run'}] DIVERGED: {hist.message}")
        return FitResult(model, hist, None, None)
    y_final = final[-1].cpu().numpy()
    metrics = classification_metrics(y_final, proba)
    sel_metrics, sel_proba = None, None
    if keep_best and best_state is not None:
        if hist.best_epoch == len(hist.epochs):           # the last epoch was the best: the same model
            sel_metrics, sel_proba = metrics, proba
        else:
            final_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(best_state)
            with reuse_buffers(ws):
                _, _, sel_proba = evaluate(model, final, eval_batch_size)
            model.load_state_dict(final_state)
            sel_metrics = classification_metrics(y_final, sel_proba) if np.isfinite(sel_proba).all() else None
    return FitResult(model, hist, metrics, proba, sel_metrics, sel_proba)


@torch.no_grad()
def _stacked_logits(model, inputs, batch_size: int) -> torch.Tensor:
    """(K, N, C) logits of every member on the same rows ``inputs`` (one batch shared by all)."""
    was_training = model.training
    model.eval()
    n = len(inputs[0])
    outs = [model(*[t[s:s + batch_size].unsqueeze(0) for t in inputs]) for s in range(0, n, batch_size)]
    model.train(was_training)
    return torch.cat(outs, 1).float()


def _stacked_eval(model, data, batch_size):
    """Per member: (loss, accuracy, P(positive)) with NaN loss/accuracy for non-finite outputs."""
    *inputs, labels = data
    logits = _stacked_logits(model, inputs, batch_size)
    out = []
    for k in range(logits.shape[0]):
        lk = logits[k]
        proba = torch.softmax(lk, 1)[:, 1].cpu().numpy()
        if not bool(torch.isfinite(lk).all()):
            out.append((float("nan"), float("nan"), proba))
            continue
        out.append((float(nn.functional.cross_entropy(lk, labels)), float((lk.argmax(1) == labels).float().mean()),
                    proba))
    return out


def fit_stacked(model: nn.Module, train, test, *, seeds, epochs: int, batch_size: int, lr: float,
                clip_grad_norm=None, progress: bool = False, desc: str = "", eval_batch_size: int = 256,
                final_test=None, keep_best: bool = False, eval_name: str = "test") -> list[FitResult]:
    """Train the ``K`` members of a stacked model together (Adam, cross-entropy): one
    :class:`FitResult` per member, each as :func:`fit` would give for that member alone.

    ``model(ids (K, B, T), lengths (K, B))`` returns (K, B, C) logits and every trainable
    parameter has the member as its leading dimension; ``model.member(k)`` is member ``k`` as a
    plain model. Member ``k`` draws its batch order from ``seeds[k]`` exactly as :func:`fit` does;
    the summed loss gives each member its own gradient. ``clip_grad_norm`` is one max-norm for all
    or one per member (``None``: no clipping), applied to each member's own gradient norm. A member
    whose loss, weights or outputs become NaN/inf is stopped (its history says why) and takes no
    further part; the others go on.
    """
    K = model.K
    seeds = list(seeds)
    if len(seeds) != K:
        raise ValueError(f"{K} members but {len(seeds)} seeds")
    clip = list(clip_grad_norm) if isinstance(clip_grad_norm, (list, tuple)) else [clip_grad_norm] * K
    device = next(model.parameters()).device
    train = [t.to(device) for t in train]
    test = [t.to(device) for t in test]
    params = [p for p in model.parameters() if p.requires_grad]
    if any(p.shape[0] != K for p in params):
        raise ValueError("every trainable parameter needs the member as its leading dimension")
    opt = torch.optim.Adam(params, lr=lr)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    hists = [History() for _ in range(K)]
    alive = [True] * K
    ev = eval_name
    best_acc, best_state = [-math.inf] * K, [None] * K
    max_norm = torch.tensor([math.inf if c is None else float(c) for c in clip], device=device)
    any_clip = any(c is not None for c in clip)
    ws = Workspace()
    n = len(train[-1])
    n_steps = math.ceil(n / batch_size)
    t0 = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc or "stacked", disable=not progress, leave=False)

    def stop(k, message):
        alive[k] = False
        hists[k].diverged, hists[k].message = True, message
        hists[k].wall_time_s = time.perf_counter() - t0

    for epoch in bar:
        if not any(alive):
            break
        model.train()
        orders = [torch.randperm(n, generator=g) for g in gens]        # as fit's _batches, per member
        tot_loss = torch.zeros(K, dtype=torch.float64)
        tot_correct = torch.zeros(K, dtype=torch.long)
        seen = 0
        for start in range(0, n, batch_size):
            idx = torch.stack([o[start:start + batch_size] for o in orders]).to(device)   # (K, b)
            *inputs, labels = [t[idx] for t in train]
            with reuse_buffers(ws):
                logits = model(*inputs)                                   # (K, b, C)
                losses = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                     reduction="none").view(K, -1).mean(1)
                values = losses.detach().cpu()
                for k in range(K):
                    if alive[k] and not math.isfinite(float(values[k])):
                        stop(k, f"loss became {float(values[k])} in epoch {epoch + 1} (of {epochs}); run stopped")
                if not any(alive):
                    break
                mask = torch.tensor(alive, device=device)
                opt.zero_grad(set_to_none=True)
                torch.where(mask, losses, torch.zeros_like(losses)).sum().backward()
            if any_clip:
                with torch.no_grad():
                    grads = [p.grad for p in params if p.grad is not None]
                    norms = torch.stack([g.reshape(K, -1).norm(dim=1) for g in grads], 1)   # (K, n_params)
                    coef = _clip_coefficient(torch.linalg.vector_norm(norms, 2, dim=1), max_norm)
                    for g in grads:
                        g.mul_(coef.view(K, *([1] * (g.dim() - 1))))
            opt.step()
            b = idx.shape[1]
            tot_loss += values.double() * b
            tot_correct += (logits.detach().argmax(-1) == labels).sum(1).cpu()
            seen += b
        with torch.no_grad():
            for k in range(K):
                if alive[k] and not all(bool(torch.isfinite(p[k]).all()) for p in params):
                    stop(k, f"parameters became NaN/inf in epoch {epoch + 1} (of {epochs}), "
                            "after the last loss was computed; run stopped")
        if not any(alive):
            break
        with reuse_buffers(ws):
            evals = _stacked_eval(model, test, eval_batch_size)
        now = time.perf_counter() - t0
        for k in range(K):
            if not alive[k]:
                continue
            te_loss, te_acc, _ = evals[k]
            if not (math.isfinite(te_loss) and math.isfinite(te_acc)):
                stop(k, f"{ev} outputs became NaN/inf in epoch {epoch + 1} (of {epochs}); run stopped")
                continue
            hists[k].epochs.append({"epoch": epoch + 1, "train_loss": float(tot_loss[k]) / seen,
                                    "train_acc": int(tot_correct[k]) / seen, f"{ev}_loss": te_loss,
                                    f"{ev}_acc": te_acc, "time_s": now, "steps": (epoch + 1) * n_steps})
            if keep_best and te_acc > best_acc[k]:
                best_acc[k], hists[k].best_epoch = te_acc, epoch + 1
                best_state[k] = {nm: p[k].detach().clone() for nm, p in model.stacked().items()}
        accs = [h.epochs[-1][f"{ev}_acc"] for h, a in zip(hists, alive) if a and h.epochs]
        if accs:
            bar.set_postfix(**{f"mean_{ev}_acc": f"{np.mean(accs):.3f}"})
    wall = time.perf_counter() - t0
    final = test if final_test is None else [t.to(device) for t in final_test]
    y_final = final[-1].cpu().numpy()
    finals = [None] * K
    if any(alive):
        with reuse_buffers(ws):
            finals = _stacked_eval(model, final, eval_batch_size)
    selected = [None] * K
    if keep_best and any(alive[k] and best_state[k] is not None and hists[k].best_epoch != len(hists[k].epochs)
                         for k in range(K)):
        with members_at(model, best_state), reuse_buffers(ws):
            selected = _stacked_eval(model, final, eval_batch_size)
    results = []
    for k in range(K):
        h = hists[k]
        if alive[k]:
            h.wall_time_s = wall
            proba = finals[k][2]
            if not np.isfinite(proba).all():
                h.diverged = True
                h.message = f"outputs on the final {'test' if final_test is not None else ev} set are NaN/inf; no metrics computed"
        if h.diverged:
            print(f"[{desc or 'run'} member {k}] DIVERGED: {h.message}")
            results.append(FitResult(model.member(k), h, None, None))
            continue
        metrics = classification_metrics(y_final, proba)
        sel_metrics, sel_proba = None, None
        if keep_best and h.best_epoch is not None:
            if h.best_epoch == len(h.epochs):
                sel_metrics, sel_proba = metrics, proba
            else:
                sel_proba = selected[k][2]
                sel_metrics = classification_metrics(y_final, sel_proba) if np.isfinite(sel_proba).all() else None
        results.append(FitResult(model.member(k), h, metrics, proba, sel_metrics, sel_proba))
    return results
