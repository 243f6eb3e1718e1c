"""Tiny Shakespeare (1,115,394 characters) and the two out-of-domain passages of question II.4b."""

from __future__ import annotations

from ._fetch import Resource, fetch

_COURSE = "https://raw.githubusercontent.com/tau-nlp-course/NLP_HW2/main/data/"

TINY = Resource("shakespeare.txt", _COURSE + "shakespeare.txt",
                "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                ("tau-nlp-hw2/shakespeare.txt", "shakespeare.txt"),
                "Tiny Shakespeare, identical to karpathy/char-rnn's input.txt")
PASSAGES = {
    "shakespeare": Resource("shakespeare_for_perplexity.txt", _COURSE + "shakespeare_for_perplexity.txt",
                            "sha256:78bb0eefafdc9d16fc59c99dff2a795c47c9b5f7807450d59eb29ccd503753c5",
                            ("tau-nlp-hw2/shakespeare_for_perplexity.txt", "shakespeare_for_perplexity.txt")),
    "wikipedia": Resource("wikipedia_for_perplexity.txt", _COURSE + "wikipedia_for_perplexity.txt",
                          "sha256:21868e73d1701f54540cc62dcd255d5403229d5944474273cbd938944570b7aa",
                          ("tau-nlp-hw2/wikipedia_for_perplexity.txt", "wikipedia_for_perplexity.txt")),
}
RESOURCES = [TINY, *PASSAGES.values()]


def load_tiny_shakespeare() -> str:
    """The whole Tiny Shakespeare text (the file is ASCII: 1,115,394 characters)."""
    return fetch(TINY).read_text(encoding="utf-8")


def load_passages() -> dict[str, str]:
    """``{"shakespeare": text, "wikipedia": text}``: the out-of-domain passages of II.4b."""
    return {k: fetch(r).read_text(encoding="utf-8") for k, r in PASSAGES.items()}
