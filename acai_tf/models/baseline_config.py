"""The baseline's config (TensorFlow-free): the shared hyperparameters and nothing else."""

import dataclasses

from acai_tf.models.base_config import AEConfig


@dataclasses.dataclass(frozen=True)
class BaselineConfig(AEConfig):
  """The plain convolutional autoencoder trained on MSE alone."""
  model_class = 'acai_tf.models.baseline.Baseline'
  display_name = 'Baseline'
