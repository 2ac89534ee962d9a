"""The NumPy MLP engine: pure functions, the model, optimizers, the training loop, presets."""
