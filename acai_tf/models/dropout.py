"""Dropout autoencoder: dropout on the latent code during training.

Berthelot et al., ICLR 2019, section 4 and appendix B
(https://arxiv.org/abs/1807.07543). The flattened latent is dropped out
(survivors scaled by 1/keep) before decoding; encode, reconstructions and the
probe use the clean latent.
"""

import dataclasses

import tensorflow as tf

from acai_tf.models.base import AEConfig, AutoEncoder, StepOutput, hparam, mse


@dataclasses.dataclass(frozen=True)
class DropoutConfig(AEConfig):
  dropout: float = hparam(0.5, 'KEEP probability of each latent unit (the original flag\'s '
                          'meaning; 0.5 keeps half).', above=0, at_most=1)


class Dropout(AutoEncoder):
  display_name = 'Dropout'
  dataset_defaults = {'cifar10': {'dropout': 0.75}}  # the paper's CIFAR-10 runs: dropout0.75
  config_class = DropoutConfig

  def compute_losses(self, x, seed):
    z = self.encoder(x, training=True)
    flat = tf.reshape(z, [tf.shape(z)[0], -1])
    dropped = tf.nn.experimental.stateless_dropout(flat, rate=1 - self.config.dropout, seed=seed)
    loss_ae = mse(x, self.decoder(tf.reshape(dropped, tf.shape(z)), training=True))
    return StepOutput({'ae': loss_ae}, {'loss_ae': loss_ae}, z)
