"""Sweeps: a grid of preset overrides × seeds, each point an ordinary run folder.

``grid`` parses the grid and turns a point into a ``TrainConfig``; ``table`` keeps the sweep's
manifest and results table; ``execute`` trains the points on a Dask cluster (optional extra
``cluster``).
"""
