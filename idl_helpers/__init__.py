"""Helpers for the reproducible book of deep-learning coursework, in layers.

Each layer imports only the layers above it in this list (``tests/test_layout.py`` checks it), so
a fix stales only the pages that really use the changed file:

- :mod:`idl_helpers.core`        the page framework: paths, run profiles, device and pinned numerics,
  parallel workers, results as data, the reports' numbers, tables
- :mod:`idl_helpers.data`        one module per data set (IMDB, GloVe, PTB, Shakespeare, the course's
  IMDB pipeline) and the IMDB × GloVe id matrices
- :mod:`idl_helpers.theory`      derivations checked with SymPy, gradient checks, gradient flow, BPTT
- :mod:`idl_helpers.models`      every model of both reports, each readable top to bottom
- :mod:`idl_helpers.training`    the training loops, metrics and sweeps
- :mod:`idl_helpers.analysis`    the statistical rules, gap attributions, plots, per-word scores
- :mod:`idl_helpers.experiments` what each page runs, one module per question group

The book machinery (running notebooks, page status, the scorecard, Sphinx extensions) is the
separate package :mod:`idl_book`; nothing here imports it.
"""

__version__ = "0.1.0"
