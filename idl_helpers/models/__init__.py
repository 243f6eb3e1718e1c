"""The models of both reports, each written to be read top to bottom: recurrent cells, the
token-wise classifiers, the DAN, the bigram and character language models, the NumPy network,
the I.T2/I.T3 architectures. Imports only :mod:`idl_helpers.core` and :mod:`idl_helpers.data`.
"""
