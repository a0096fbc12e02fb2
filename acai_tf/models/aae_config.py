"""The adversarial autoencoder's config (TensorFlow-free)."""

import dataclasses

from acai_tf.config import hparam
from acai_tf.models.base_config import AEConfig


@dataclasses.dataclass(frozen=True)
class AAEConfig(AEConfig):
  """An MLP discriminator on the latent against N(0, I): its learning rate and widths."""
  model_class = 'acai_tf.models.aae.AAE'
  display_name = 'AAE'

  adversary_lr: float = hparam(1e-4, 'Adam learning rate of the latent discriminator.',
                                above=0)
  disc_layer_sizes: str = hparam('100,100', 'Hidden widths of the discriminator MLP, '
                                 'comma-separated.')

  def __post_init__(self):
    super().__post_init__()
    try:
      sizes = [int(s) for s in self.disc_layer_sizes.split(',')]
    except ValueError:
      sizes = [0]
    if not sizes or min(sizes) <= 0:
      raise ValueError(f'disc_layer_sizes={self.disc_layer_sizes!r} must be comma-separated '
                       'positive integers, e.g. 100,100.')

  @property
  def disc_widths(self):
    return [int(s) for s in self.disc_layer_sizes.split(',')]
