"""What the pages run: one module per question group, holding the settings, the training loops
and the tables a page used to define in its own cells.

A page imports the one module it answers from (``from idl_helpers.experiments import
recurrent_imdb as ex``); this package's ``__init__`` imports nothing, so a page's recorded inputs
are the modules it really uses and a fix to one group stales only that group's pages.
"""
