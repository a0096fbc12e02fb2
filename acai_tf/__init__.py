"""acai_tf: the ACAI paper's autoencoders in TensorFlow 2 / Keras 3."""

__version__ = '0.1.0'
