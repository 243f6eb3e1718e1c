"""Helpers for the reproducible book of deep-learning coursework.

Small modules with obvious names:

- :mod:`idl_helpers.paths`     where the repository, data, caches and results live
- :mod:`idl_helpers.profiles`  the ``smoke`` / ``quick`` / ``full`` run profiles
- :mod:`idl_helpers.device`    picking ``cpu`` / ``cuda``
- :mod:`idl_helpers.data`      one module per data set (IMDB, GloVe, PTB, Shakespeare)
- :mod:`idl_helpers.results`   recording a notebook's key numbers as JSON
- :mod:`idl_helpers.reports`   the reports' own numbers, keyed by question id
- :mod:`idl_helpers.stats`     every statistical rule (intervals, bands, verdicts' thresholds)
- :mod:`idl_helpers.experiments` what each page runs, one module per question group

The book machinery (running notebooks, page status, the scorecard, Sphinx extensions) is the
separate package :mod:`idl_book`; nothing here imports it.
"""

__version__ = "0.1.0"
