"""galaxyscope: measure galactic bars with explainable AI.

The core packages (images, synth, model, saliency, measure, bias, store,
evaluate, jobs) never import Qt; only ``galaxyscope.gui`` does.
"""

__version__ = "0.1.0"
