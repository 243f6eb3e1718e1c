"""Part II language models, one module per page, so that a page's recorded inputs are the library modules
it really runs (the book finds them by reading the imports): :mod:`.bigram_lm` (page 03: II.1d, II.4a,
II.4b), :mod:`.char_gru` (page 10: II.3) and :mod:`.bigram_direction` (page 05: II.6).

This ``__init__`` imports nothing.
"""
