"""Variational autoencoder with a Bernoulli likelihood on (x + 1) / 2.

Kingma & Welling, "Auto-Encoding Variational Bayes" (https://arxiv.org/abs/1312.6114),
as configured in Berthelot et al., ICLR 2019, appendix B. The conv encoder's
output (d_z values) feeds two linear dense layers d_z -> d_z giving mu and
log sigma^2; a reparameterised sample, reshaped to the latent shape, is
decoded to logits. Loss = -(LL - beta * KL), both summed per example and
averaged over the batch.

`encode`, which the export, the line metrics, K-means and the image grids
use, returns a posterior sample z by default, as the original's `encode` op
did (so those evaluations are stochastic, as the paper's were);
`--encode_with=mean` returns the mean mu instead (deterministic; on a 32-kimg
lines32 run the Mean Distance read 64.5e-3 with mu and 28.8e-3 with a sample).
The probe reads the conv output before the dense layers, as in the original.
"""

import math

import keras
import tensorflow as tf

from acai_tf.models.base import AutoEncoder, StepOutput, mse
from acai_tf.models.vae_config import VAEConfig


class VAE(AutoEncoder):
  config_class = VAEConfig
  logged = ('loss_ae', 'loss_kl', 'loss_ll', 'elbo')

  def build_networks(self):
    size = math.prod(self.latent_shape)
    self.mu = keras.layers.Dense(size, name='mu')
    self.log_var = keras.layers.Dense(size, name='log_var')
    self.mu.build((None, size))
    self.log_var.build((None, size))

  def _moments(self, x, training):
    conv = self.encoder(x, training=training)
    flat = tf.reshape(conv, [tf.shape(x)[0], -1])
    return conv, self.mu(flat), self.log_var(flat)

  def _latent(self, flat):
    return tf.reshape(flat, (-1,) + self.latent_shape)

  def compute_losses(self, x, seed):
    conv, mu, log_var = self._moments(x, training=True)
    z = mu + tf.exp(0.5 * log_var) * tf.random.stateless_normal(tf.shape(mu), seed)
    logits = self.decoder(self._latent(z), training=True)
    batch = tf.cast(tf.shape(x)[0], tf.float32)
    loss_ll = -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits((x + 1) / 2, logits)) / batch
    loss_kl = 0.5 * tf.reduce_sum(-log_var - 1 + tf.exp(log_var) + tf.square(mu)) / batch
    elbo = loss_ll - self.config.beta * loss_kl
    loss_ae = mse(x, 2 * tf.sigmoid(logits) - 1)
    logs = {'loss_ae': loss_ae, 'loss_kl': loss_kl, 'loss_ll': loss_ll,
            'elbo': elbo}
    return StepOutput({'ae': -elbo}, logs, conv)

  def variable_groups(self):
    groups = super().variable_groups()
    groups['ae'] = groups['ae'] + self.mu.trainable_variables + self.log_var.trainable_variables
    return groups

  def encode(self, x):
    _, mu, log_var = self._moments(x, training=False)
    if self.config.encode_with == 'sample':
      mu += tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mu))
    return self._latent(mu)

  def decode(self, z):
    return 2 * tf.sigmoid(self.decoder(z, training=False)) - 1

  def probe_features(self, x):
    return self.encoder(x, training=False)
