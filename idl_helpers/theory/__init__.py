"""Derivations checked with SymPy and by finite differences (Part I theory, II.2).
Imports only :mod:`idl_helpers.core`.
"""
