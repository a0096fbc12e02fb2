"""The dropout autoencoder's config (TensorFlow-free)."""

import dataclasses

from acai_tf.config import hparam
from acai_tf.models.base_config import AEConfig


@dataclasses.dataclass(frozen=True)
class DropoutConfig(AEConfig):
  """Dropout on the latent code during training."""
  model_class = 'acai_tf.models.dropout.Dropout'
  display_name = 'Dropout'
  dataset_defaults = {'cifar10': {'dropout': 0.75}}  # the paper's CIFAR-10 runs: dropout0.75

  dropout: float = hparam(0.5, 'KEEP probability of each latent unit (the original flag\'s '
                          'meaning; 0.5 keeps half).', above=0, at_most=1)
