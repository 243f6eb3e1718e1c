"""What the numbers mean: the statistical rules, metrics, gap attributions, plots and
per-word scores. Imports the layers below it.
"""
