"""Model stage: the ResNet-34 embedder, its weights and its numeric precision. Torch is imported
lazily, only when a model is built."""
