"""Tokenisation shared by the IMDB experiments (Part I and the DAN of Part II).

The report's rule: lower-case, keep letters only, first 100 tokens. Ours, exactly:
HTML line breaks (``<br />``) become spaces, every run of non-letters (``[^a-z]``
after lower-casing) becomes one space, tokens are what remains between spaces.
So ``"Don't <br />STOP!"`` → ``["don", "t", "stop"]`` (GloVe knows both ``don`` and ``t``).
"""

from __future__ import annotations

import re
from typing import Iterable

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_NON_LETTERS = re.compile(r"[^a-z]+")

#: bump when the rule changes, so caches built with the old rule are not reused
TOKENIZER_VERSION = 1


def letters_tokens(text: str, max_len: int | None = None) -> list[str]:
    """Lower-cased letter-only tokens of ``text`` (the first ``max_len`` when given)."""
    tokens = _NON_LETTERS.sub(" ", _BR.sub(" ", text).lower()).split()
    return tokens if max_len is None else tokens[:max_len]


def tokenize_all(texts: Iterable[str], max_len: int | None = None) -> list[list[str]]:
    return [letters_tokens(t, max_len) for t in texts]
