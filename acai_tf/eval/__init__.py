"""Evaluation programs that read a run's SavedModel export (python -m acai_tf.eval.<name>)."""
