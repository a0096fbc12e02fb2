"""Evaluation metrics in pure numpy/scipy (no TensorFlow)."""
