"""Models trained side by side: ``K`` members of one shape whose trainable parameters are stacked along
a new leading (member) dimension, so that one optimizer step trains all ``K`` (Adam is element-wise).

The stacked RNN/GRU (:mod:`~idl_helpers.models.recurrent`), DAN (:mod:`~idl_helpers.models.dan`) and
token-wise classifiers (:mod:`~idl_helpers.models.tokenwise_stacked`) all keep their parameters this way.
"""

from __future__ import annotations

import torch
from torch import nn


def _key(name: str) -> str:
    return name.replace(".", "__")           # a ParameterDict key cannot hold a dot


class Stacked(nn.Module):
    """Base of the stacked models: :meth:`_stack` fills ``self.names`` and ``self.params``;
    :meth:`stacked` gives every parameter by its member model's name, shaped (K, …)."""

    def _stack(self, modules, names) -> None:
        """Parameter ``n`` of every module in ``modules`` (one per member), copied and stacked, for each
        ``n`` in ``names``."""
        self.names = list(names)
        self.params = nn.ParameterDict({
            _key(n): nn.Parameter(torch.stack([dict(m.named_parameters())[n].detach().clone() for m in modules]))
            for n in self.names})

    def stacked(self) -> dict[str, torch.Tensor]:
        return {n: self.params[_key(n)] for n in self.names}
