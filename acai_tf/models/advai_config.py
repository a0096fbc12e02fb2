"""AdvAI's config (TensorFlow-free): ACAI's, with the correction module's and its phase 1."""

import dataclasses

from acai_tf.config import hparam
from acai_tf.models.acai_config import ACAIConfig


@dataclasses.dataclass(frozen=True)
class AdvAIConfig(ACAIConfig):
  """ACAI plus a learned correction R of the latent path and its latent critic D_R."""
  model_class = 'acai_tf.models.advai.AdvAI'
  display_name = 'AdvAI'
  in_paper = False  # an extension: the paper's grid and tables list it only when asked

  train_int_kimg: float = hparam(2048, 'Phase 1 length (kimg) training only R and D_R on the '
                                 'prior, before the total_kimg of autoencoder training.',
                                 at_least=0)
  per_sample_alpha: bool = hparam(False, "Critics regress each score to its own alpha; unset: "
                                  "to every alpha of the batch (the official code's "
                                  'broadcasting, i.e. to the batch mean).')
  int_width: int = hparam(1200, 'Width of the hidden layers of R and D_R.', at_least=1)
  int_hidden_layers: int = hparam(2, 'Hidden layers of each MLP of R.', at_least=0)
  int_hidden_units: int = hparam(100, 'Size of the code R forms of each (endpoint, alpha).',
                                  at_least=1)
  disc_hidden_layers: int = hparam(2, 'Hidden layers of the latent critic D_R.', at_least=0)
  n_scale: float = hparam(5.0, 'Codes are multiplied by this before R and divided after.',
                          above=0)
  wgt_mmd: float = hparam(1.0, 'Weight of the MMD between codes and N(0, I).', at_least=0)
  wgt_noise: float = hparam(0.1, 'Weight of the adversarial term on noise-to-code interpolants.',
                            at_least=0)
  wgt_fake: float = hparam(0.1, 'Weight of the adversarial term on decoded prior samples.',
                           at_least=0)

  @classmethod
  def grid_settings(cls, total_kimg):
    return {'train_int_kimg': total_kimg / 8}  # the official 2048 before 16384 kimg
