"""The denoising autoencoder's config (TensorFlow-free)."""

import dataclasses

from acai_tf.config import hparam
from acai_tf.models.base_config import AEConfig


@dataclasses.dataclass(frozen=True)
class DenoisingConfig(AEConfig):
  """Reconstruct the clean image from a noisy one."""
  model_class = 'acai_tf.models.denoising.Denoising'
  display_name = 'Denoising'

  noise: float = hparam(1.0, 'Std of the Gaussian pixel noise, in [-1, 1] units (unclipped).',
                        at_least=0)
