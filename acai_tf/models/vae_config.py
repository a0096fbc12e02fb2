"""The VAE's config (TensorFlow-free)."""

import dataclasses

from acai_tf.config import hparam
from acai_tf.models.base_config import AEConfig

ENCODINGS = ('sample', 'mean')


@dataclasses.dataclass(frozen=True)
class VAEConfig(AEConfig):
  """A Bernoulli VAE: the KL term's weight and what `encode` returns."""
  model_class = 'acai_tf.models.vae.VAE'
  display_name = 'VAE'

  beta: float = hparam(1.0, 'Weight of the KL term.', at_least=0)
  encode_with: str = hparam('sample', 'What encode returns (read by the line metrics, K-means, '
                            'the grids and the export): sample, a draw from the posterior (the '
                            'original), or mean, its mean mu (deterministic).',
                            choices=ENCODINGS)
