"""Helpers for the reproducible book of deep-learning coursework.

Small modules with obvious names:

- :mod:`idl_helpers.paths`     where the repository, data, caches and results live
- :mod:`idl_helpers.profiles`  the ``smoke`` / ``quick`` / ``full`` run profiles
- :mod:`idl_helpers.device`    picking ``cpu`` / ``cuda``
- :mod:`idl_helpers.data`      one module per data set (IMDB, GloVe, PTB, Shakespeare)
- :mod:`idl_helpers.results`   recording a notebook's key numbers as JSON
- :mod:`idl_helpers.reports`   the reports' own numbers, keyed by question id
- :mod:`idl_helpers.runner`    executing notebooks with papermill
- :mod:`idl_helpers.scorecard` the report-vs-ours table
"""

__version__ = "0.1.0"
