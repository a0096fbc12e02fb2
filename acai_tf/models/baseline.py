"""Baseline: the plain convolutional autoencoder trained on MSE alone.

Berthelot et al., ICLR 2019, appendix B (https://arxiv.org/abs/1807.07543).
"""

from acai_tf.models.base import AutoEncoder
from acai_tf.models.baseline_config import BaselineConfig


class Baseline(AutoEncoder):
  """Reconstruction loss only; the shared base does all the work."""
  config_class = BaselineConfig
