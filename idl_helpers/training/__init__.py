"""Training loops and sweeps: one loop for every classifier, many configurations stacked into
batched models, in parallel processes. Imports the layers below it.
"""
