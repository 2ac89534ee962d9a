"""Data: IDX files, where to get them, and MNIST-style preprocessing of drawings."""
