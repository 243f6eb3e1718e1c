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
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks

from .metrics import classification_metrics


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    diverged: bool = False
    message: str = ""
    wall_time_s: float = 0.0

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


def fit(model: nn.Module, train, test, *, epochs: int, batch_size: int, lr: float,
        optimizer: str = "adam", weight_decay: float = 0.0, seed: int = 0, progress: bool = True,
        desc: str = "", eval_batch_size: int = 1024, raise_on_divergence: bool = False,
        optimizer_kwargs: dict | None = None, final_test=None) -> FitResult:
    """Train with cross-entropy; evaluate on ``test`` after each epoch (see module docstring).

    ``final_test`` (default: ``test``) is the set the returned metrics and probabilities are
    measured on, so the per-epoch curve can use a cheap subset while the final numbers use the
    whole test set. ``optimizer_kwargs`` go to the optimizer (e.g. ``{"foreach": True}`` for
    Adam, which speeds up small-batch steps)."""
    device = next(model.parameters()).device
    train = [t.to(device) for t in train]
    test = [t.to(device) for t in test]
    opt_cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[optimizer]
    opt = opt_cls([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay,
                  **(optimizer_kwargs or {}))
    gen = torch.Generator().manual_seed(seed)
    hist = History()
    t0 = time.perf_counter()
    n_steps = math.ceil(len(train[-1]) / batch_size)
    bar = tqdm(range(epochs), desc=desc or model.__class__.__name__, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        tot_loss, tot_correct, seen = 0.0, 0, 0
        for *inputs, labels in _batches(train, batch_size, True, gen):
            logits = model(*inputs)
            loss = nn.functional.cross_entropy(logits, labels)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                hist.diverged = True
                hist.message = f"loss became {loss_value} in epoch {epoch + 1} (of {epochs}); run stopped"
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
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
        te_loss, te_acc, _ = evaluate(model, test, eval_batch_size)
        if not (math.isfinite(te_loss) and math.isfinite(te_acc)):
            hist.diverged = True
            hist.message = f"test outputs became NaN/inf in epoch {epoch + 1} (of {epochs}); run stopped"
            break
        hist.epochs.append({"epoch": epoch + 1, "train_loss": tot_loss / seen, "train_acc": tot_correct / seen,
                            "test_loss": te_loss, "test_acc": te_acc, "time_s": time.perf_counter() - t0,
                            "steps": (epoch + 1) * n_steps})
        bar.set_postfix(train_acc=f"{tot_correct / seen:.3f}", test_acc=f"{te_acc:.3f}")
    hist.wall_time_s = time.perf_counter() - t0
    proba = None
    if not hist.diverged:
        final = test if final_test is None else [t.to(device) for t in final_test]
        _, _, proba = evaluate(model, final, eval_batch_size)
        if not np.isfinite(proba).all():
            hist.diverged = True
            hist.message = "outputs on the final test set are NaN/inf; no metrics computed"
    if hist.diverged:
        if raise_on_divergence:
            raise Diverged(hist.message)
        print(f"[{desc or 'run'}] DIVERGED: {hist.message}")
        return FitResult(model, hist, None, None)
    metrics = classification_metrics(final[-1].cpu().numpy(), proba)
    return FitResult(model, hist, metrics, proba)
