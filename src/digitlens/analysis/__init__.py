"""Numbers about a model: metrics, fingerprints, composed weights, neuron importance, ablation."""
