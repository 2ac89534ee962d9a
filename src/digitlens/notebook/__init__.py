"""digitlens in Jupyter: views and analyses of a run in one call, live widgets, progress bars."""
