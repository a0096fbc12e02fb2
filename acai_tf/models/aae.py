"""Adversarial autoencoder: a discriminator pushes the latent towards N(0, I).

Makhzani et al., "Adversarial Autoencoders" (https://arxiv.org/abs/1511.05644),
as configured in Berthelot et al., ICLR 2019, appendix B: an MLP discriminator
(leaky ReLU 0.2) on the flattened latent tells encodings (label 0) from prior
samples (label 1) with sigmoid cross-entropy; the autoencoder adds the fooling
term (encodings labelled 1) with weight 1 to its MSE.

Logged besides the losses, to watch the adversarial game (and its collapse):
`adversary_accuracy`, the discriminator's accuracy on the batch's encodings and
prior samples, and `latent_mean` / `latent_std` of the encodings (the prior's
are 0 and 1).
"""

import math

import keras
import tensorflow as tf

from acai_tf.models.aae_config import AAEConfig
from acai_tf.models.base import AutoEncoder, StepOutput, mse


def sigmoid_xent(logits, label):
  return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), label),
                                                                logits))


class AAE(AutoEncoder):
  config_class = AAEConfig
  logged = ('loss_ae', 'loss_adv_latent', 'loss_adv_prior', 'loss_ae_latent',
            'adversary_accuracy', 'latent_mean', 'latent_std')

  def build_networks(self):
    config = self.config
    x = inputs = keras.Input((math.prod(self.latent_shape),))
    for width in config.disc_widths:
      x = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(width)(x))
    self.discriminator = keras.Model(inputs, keras.layers.Dense(1)(x)[:, 0], name='discriminator')

  def compute_losses(self, x, seed):
    z = self.encoder(x, training=True)
    loss_ae = mse(x, self.decoder(z, training=True))
    flat = tf.reshape(z, [tf.shape(z)[0], -1])
    prior = tf.random.stateless_normal(tf.shape(flat), seed)
    logit_latent = self.discriminator(flat, training=True)
    logit_prior = self.discriminator(prior, training=True)
    loss_adv_latent = sigmoid_xent(logit_latent, 0.0)
    loss_adv_prior = sigmoid_xent(logit_prior, 1.0)
    loss_ae_latent = sigmoid_xent(logit_latent, 1.0)
    accuracy = 0.5 * (tf.reduce_mean(tf.cast(logit_latent <= 0, tf.float32))
                      + tf.reduce_mean(tf.cast(logit_prior > 0, tf.float32)))
    logs = {'loss_ae': loss_ae, 'loss_adv_latent': loss_adv_latent,
            'loss_adv_prior': loss_adv_prior, 'loss_ae_latent': loss_ae_latent,
            'adversary_accuracy': accuracy, 'latent_mean': tf.reduce_mean(flat),
            'latent_std': tf.math.reduce_std(flat)}
    return StepOutput({'ae': loss_ae + loss_ae_latent, 'critic': loss_adv_latent + loss_adv_prior},
                logs, z)

  def variable_groups(self):
    return {**super().variable_groups(), 'critic': self.discriminator.trainable_variables}

  def extra_networks(self):
    return [self.discriminator]

  def learning_rates(self):
    return {**super().learning_rates(), 'critic': self.config.adversary_lr}
