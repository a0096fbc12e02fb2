"""Denoising autoencoder: reconstruct the clean image from a noisy one.

Berthelot et al., ICLR 2019, section 4 and appendix B
(https://arxiv.org/abs/1807.07543). Gaussian noise of std `noise` is added in
[-1, 1] pixel space, unclipped; the probe reads the clean image's latent.
"""

import tensorflow as tf

from acai_tf.models.base import AutoEncoder, StepOutput, mse
from acai_tf.models.denoising_config import DenoisingConfig


class Denoising(AutoEncoder):
  config_class = DenoisingConfig

  def compute_losses(self, x, seed):
    noisy = x + self.config.noise * tf.random.stateless_normal(tf.shape(x), seed)
    loss_ae = mse(x, self.decoder(self.encoder(noisy, training=True), training=True))
    clean = self.encoder(x, training=False)  # what encode() returns; only the probe reads it
    return StepOutput({'ae': loss_ae}, {'loss_ae': loss_ae}, clean)
