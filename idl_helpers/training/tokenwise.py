"""Training several token-wise models side by side: :func:`fit_members` builds a
:class:`~idl_helpers.models.tokenwise_stacked.StackedTokenwise`, trains it with the per-epoch curve on a
**validation** split and measures every member once on the test split."""

from __future__ import annotations

from idl_helpers.models import tokenwise as tw
from idl_helpers.models.tokenwise_stacked import StackedTokenwise, build


def fit_members(members: list[tw._TokenwiseBase], train, val, test, *, seeds, epochs: int, batch_size: int,
                lr: float, device: str = "cpu", desc: str = "", eval_batch_size: int = 1024,
                progress: bool = True) -> list[dict]:
    """Train ``members`` side by side (:class:`StackedTokenwise`, :func:`~idl_helpers.training.train.fit_stacked`;
    member ``k`` draws its batch order from ``seeds[k]``) on the :class:`~idl_helpers.data.imdb_glove.Split`
    ``train``; the per-epoch curve (``val_acc``, ``val_loss``) is on ``val``; every member is measured
    once, after its last epoch, on ``test``. Returns one dict per member as
    :func:`idl_helpers.models.tokenwise.fit_and_score` does: ``fit``, ``metrics`` (test), ``proba`` (test),
    ``train_acc`` (last epoch, dropout on), plus ``val_acc`` (last epoch) and ``wall_time_s`` (of
    the whole stack).

    The dropout masks come from a random stream of the stack's own, seeded with ``seeds[0]``, and the
    caller's stream is left as it was: a stack computes the same numbers whatever was trained before it
    and in whichever process it runs (:func:`fit_stack` in a worker)."""
    import torch

    from idl_helpers.training.train import fit_stacked

    stack = StackedTokenwise(members).to(device)
    with torch.random.fork_rng():
        torch.manual_seed(int(seeds[0]))
        res = fit_stacked(stack, train.tensors(device), val.tensors(device), seeds=seeds, epochs=epochs,
                          batch_size=batch_size, lr=lr, progress=progress, desc=desc or "stacked",
                          eval_batch_size=eval_batch_size, final_test=test.tensors(device), eval_name="val")
    out = []
    for r in res:
        h = r.history
        out.append({"fit": r, "metrics": r.test_metrics, "proba": r.test_proba,
                    "train_acc": h.final.get("train_acc") if h.epochs else None,
                    "val_acc": h.final.get("val_acc") if h.epochs else None,
                    "wall_time_s": h.wall_time_s})
    return out


def fit_stack(specs, train, val, test, seeds, epochs: int, batch_size: int, lr: float, device: str = "cpu",
              desc: str = "", progress: bool = True) -> list[dict]:
    """:func:`fit_members` of members built here from ``specs`` — ``(kind, embeddings, seed, model_kw)``
    each, initialised as :func:`~idl_helpers.models.tokenwise_stacked.build` does — so that a stack can
    be sent to a worker process (:mod:`idl_helpers.core.parallel`) as plain data."""
    members = [build(kind, emb, s, **model_kw) for kind, emb, s, model_kw in specs]
    return fit_members(members, train, val, test, seeds=seeds, epochs=epochs, batch_size=batch_size, lr=lr,
                       device=device, desc=desc, progress=progress)
