"""ACAI: Adversarially Constrained Autoencoder Interpolation.

"Understanding and Improving Interpolation in Autoencoders via an Adversarial
Regularizer", Berthelot, Raffel, Roy, Goodfellow, ICLR 2019
(https://arxiv.org/abs/1807.07543), section 2.

A critic, with the encoder's architecture averaged to one scalar, learns to
predict the mixing coefficient alpha in [0, 0.5] of images decoded from
z_alpha = alpha * z + (1 - alpha) * z_partner, where the partner is the
reversed batch. The autoencoder is trained to make the critic output 0 on
those interpolants. A second critic term, on gamma * x + (1 - gamma) * x_hat
with target 0, keeps the critic from simply spotting reconstructions.
"""

import tensorflow as tf

from acai_tf import nets
from acai_tf.models.acai_config import ACAIConfig
from acai_tf.models.base import AutoEncoder, StepOutput, mse


class ACAI(AutoEncoder):
  """The autoencoder plus the critic; the critic's loss is a group of its own ('critic')."""
  config_class = ACAIConfig
  logged = ('loss_ae', 'loss_disc', 'loss_ae_disc', 'loss_disc_real')

  def build_networks(self):
    config = self.config
    self.critic = nets.critic(self.image_shape, self.scales,
                              config.advdepth or config.depth, config.latent, dtype=self.precision,
                              conv_paths=self.conv_paths)

  def compute_losses(self, x, seed):
    z = self.encoder(x, training=True)
    x_hat = self.decoder(z, training=True)
    alpha = tf.random.stateless_uniform([tf.shape(x)[0], 1, 1, 1], seed)
    alpha = 0.5 - tf.abs(alpha - 0.5)  # fold U(0, 1) onto [0, 0.5]
    x_mix = self.decoder(alpha * z + (1 - alpha) * z[::-1], training=True)
    critic_mix = self.critic(x_mix, training=True)
    reg = self.config.reg
    critic_real = self.critic(x_hat + reg * (x - x_hat), training=True)

    loss_ae = mse(x, x_hat)
    loss_ae_disc = tf.reduce_mean(tf.square(critic_mix))
    loss_disc = tf.reduce_mean(tf.square(critic_mix - tf.reshape(alpha, [-1])))
    loss_disc_real = tf.reduce_mean(tf.square(critic_real))
    losses = {'ae': loss_ae + self.config.advweight * loss_ae_disc,
              'critic': loss_disc + loss_disc_real}
    logs = {'loss_ae': loss_ae, 'loss_disc': loss_disc,
            'loss_ae_disc': loss_ae_disc, 'loss_disc_real': loss_disc_real}
    return StepOutput(losses, logs, z)

  def variable_groups(self):
    return {**super().variable_groups(), 'critic': self.critic.trainable_variables}

  def extra_networks(self):
    return [self.critic]
