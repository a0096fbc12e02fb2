"""ACAI's config (TensorFlow-free)."""

import dataclasses

from acai_tf.config import hparam
from acai_tf.models.base_config import AEConfig


@dataclasses.dataclass(frozen=True)
class ACAIConfig(AEConfig):
  """The autoencoder, a critic of the mixing coefficient and its weight in the AE loss."""
  model_class = 'acai_tf.models.acai.ACAI'
  display_name = 'ACAI'

  advweight: float = hparam(0.5, 'Weight lambda of the adversarial term in the AE loss.',
                            at_least=0)
  advdepth: int = hparam(0, 'Depth of the critic; 0 means use --depth.', at_least=0)
  reg: float = hparam(0.2, 'Critic regulariser gamma: blend gamma*x + (1-gamma)*x_hat.',
                      at_least=0, at_most=1)
