"""model package (no Qt): networks, training, checkpoints.

- ``networks``: registry name -> network ("small" CPU CNN, "resnet" for GPUs)
- ``preprocess``: image -> model input (crop, resize, normalise) and back
- ``loaded``: ``ModelMeta`` and ``LoadedModel`` (what every other layer uses)
- ``checkpoint``: safetensors save/load, never unpickling
- ``device``: ``pick_device`` (cuda > mps > cpu)
- ``trainset`` / ``augment`` / ``training`` / ``val_metrics``: the training run
- ``cli_train``: ``galaxyscope train``

Nothing is imported here, so ``import galaxyscope.model`` stays cheap.
"""
