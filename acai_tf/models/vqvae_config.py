"""VQ-VAE's config (TensorFlow-free)."""

import dataclasses

from acai_tf.config import hparam
from acai_tf.models.base_config import AEConfig


@dataclasses.dataclass(frozen=True)
class VQVAEConfig(AEConfig):
  """The original's discrete bottleneck: its codebook, EMA and commitment weight."""
  model_class = 'acai_tf.models.vqvae.VQVAE'
  display_name = 'VQ-VAE'
  dataset_defaults = {'lines32': {'latent_width': 4}}  # runs/vqvae.sh used 4x4x16 on lines

  commitment: float = hparam(10.0, 'Weight of the commitment loss (the original\'s --beta).',
                             at_least=0)
  z_log_size: int = hparam(14, 'log2 of the number of codebook entries.', at_least=1,
                           at_most=20)
  num_latents: int = hparam(10, 'Codebook vectors per image.', at_least=1)
  decay: float = hparam(0.999, 'EMA decay of the codebook statistics.', above=0, below=1)
  epsilon: float = hparam(1e-5, 'Laplace smoothing of the EMA counts.', above=0)
  filter_size: int = hparam(512, 'Width of the MLP after quantisation (the original\'s '
                             'hparams.filter_size).', at_least=1)
