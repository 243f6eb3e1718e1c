"""The page framework every notebook runs on: where things live (paths), run profiles, the
device and pinned numerics, parallel workers, results as data, the reports' numbers, tables.
Imports nothing from the other layers.
"""
