"""Dropout autoencoder: dropout on the latent code during training.

Berthelot et al., ICLR 2019, section 4 and appendix B
(https://arxiv.org/abs/1807.07543). The flattened latent is dropped out
(survivors scaled by 1/keep) before decoding; encode, reconstructions and the
probe use the clean latent.
"""

import tensorflow as tf

from acai_tf.models.base import AutoEncoder, StepOutput, mse
from acai_tf.models.dropout_config import DropoutConfig


class Dropout(AutoEncoder):
  config_class = DropoutConfig

  def compute_losses(self, x, seed):
    z = self.encoder(x, training=True)
    flat = tf.reshape(z, [tf.shape(z)[0], -1])
    dropped = tf.nn.experimental.stateless_dropout(flat, rate=1 - self.config.dropout, seed=seed)
    loss_ae = mse(x, self.decoder(tf.reshape(dropped, tf.shape(z)), training=True))
    return StepOutput({'ae': loss_ae}, {'loss_ae': loss_ae}, z)
