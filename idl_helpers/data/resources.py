"""Every data set's files, for ``idl-book data`` (listing and checking the local copies).

Kept out of the package's ``__init__``: importing it pulls in every data module, and a page that
reads one data set records only that one's module as its input (:mod:`idl_book.page_status`).
"""

from __future__ import annotations

from . import glove, imdb, ptb, shakespeare
from ._fetch import Resource


def all_resources() -> dict[str, list[Resource]]:
    """The registry's files by data set."""
    return {"imdb": imdb.RESOURCES, "glove": glove.RESOURCES, "ptb": ptb.RESOURCES,
            "shakespeare": shakespeare.RESOURCES}
