"""AdvAI: ACAI with a learned correction of the interpolation path (extension).

Li et al., "AdvAI: Adversarial Interpolation in Autoencoders", ICME 2021 /
IEEE MultiMedia 2022 (doi 10.1109/MMUL.2022.3148991); official code
guanyuelee/AdvAI-Official.

A module R corrects the linear path between two codes,

    R(u, v, a) = (a + a(1-a) c(a)) u + ((1-a) + a(1-a) c(1-a)) v + a(1-a) b(u, v, a),

where b = dec_R(enc_R([u, a]) + enc_R([v, 1-a])) and c is a scalar MLP, so
R(u, v, a) = R(v, u, 1-a) and the endpoints stay fixed. A latent critic D_R
(an MLP averaged to one scalar) regresses a from R's output, as ACAI's critic
does in image space.

The reading implemented here (where the official code is ambiguous):
- The AE code's form is used: a weights the *first* argument, losses are
  squared L2, R also adapts the mixing coefficients (c), and the extra terms
  (MMD to N(0, I), noise-to-code interpolants, prior samples) are included.
- Two phases, as in the code. Phase 1, `train_int_kimg` long: only R and D_R
  train (not the autoencoder, the image critic or the probe), on prior samples
  h = n_scale * N(0, I), with a = 0.5 * U(0, 1):
  L_DR = D_R(h)^2 + (D_R(R(h, h_rev, a)) - a)^2 and L_R = D_R(R(h, h_rev, a))^2.
  Phase 2, `total_kimg` long (so a run trains train_int_kimg + total_kimg, as
  the official code), R and D_R are frozen (gradients still flow through R) and
  the autoencoder, image critic d and probe train with mix(u, v, a) = R(n u, n v, a) / n:
    d:  d(g + reg (x - g))^2 + (d(x_a) - a)^2 + (d(x_noise) - a_n)^2 + (d(x_fake) - 1/2)^2
    AE: MSE + advweight d(x_a)^2 + wgt_mmd relu(MMD^2(e, h)) + wgt_noise d(x_noise)^2
        + wgt_fake d(x_fake)^2
  with g = dec(e), x_a = dec(mix(e, e_rev, a)), x_noise = dec(mix(h, e, a_n)),
  a_n ~ U(0, 1), x_fake = dec(h).
- Regression targets, as the official code computed them: it subtracts an alpha
  of shape [B, 1, 1, 1] from critic scores of shape [B], which broadcasts to
  [B, 1, 1, B], so every score is compared with every alpha of the batch: the
  loss is mean_ij (d_j - a_i)^2 and each critic regresses to the batch mean of
  alpha (in the image critic's a and a_n terms and D_R's a term).
  `per_sample_alpha=True` compares each score with its own alpha instead, as
  the paper's equations read.
- MMD^2 is the unbiased estimate with a sum of RBF kernels exp(-|x-y|^2 / (2 s^2)),
  s in {2, 5, 10, 20, 40, 80}, on flattened codes.
- The image critic's width is `advdepth` (0 = depth) as in ACAI; the official
  code ignored advdepth and always used depth (the same at the default). The
  optional EMA on R (off by default there) is not implemented.
- `interpolate(z1, z2, alpha)` follows this package's convention (alpha = 0
  gives z1) and returns mix(z2, z1, alpha): the corrected path, which the line
  metrics, the grids and the export's `interpolate` all use.
"""

import math

import keras
import tensorflow as tf

from acai_tf.models.acai import ACAI
from acai_tf.models.advai_config import AdvAIConfig
from acai_tf.models.base import StepOutput, mse

MMD_SIGMAS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)


def mlp(inputs, widths, name):
  """Dense layers with leaky ReLU 0.2 between them and a linear last layer."""
  x = source = keras.Input((inputs,))
  for width in widths[:-1]:
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(width)(x))
  return keras.Model(source, keras.layers.Dense(widths[-1])(x), name=name)


def regress(scores, targets, per_sample):
  """mean (score - target)^2 of [B] scores: each with its own target (`per_sample`), or every
  score with every target, as the official [B] - [B, 1, 1, 1] broadcast did."""
  if per_sample:
    return tf.reduce_mean(tf.square(scores - targets))
  return tf.reduce_mean(tf.square(scores[None, :] - targets[:, None]))


def mmd2(x, y, sigmas=MMD_SIGMAS):
  """Unbiased MMD^2 between samples x [m, d] and y [m, d] with a sum of RBF kernels."""
  def kernel(a, b):
    d2 = (tf.reduce_sum(a * a, 1)[:, None] + tf.reduce_sum(b * b, 1)[None]
          - 2 * tf.matmul(a, b, transpose_b=True))
    return sum(tf.exp(-d2 / (2 * s * s)) for s in sigmas)
  m = tf.cast(tf.shape(x)[0], x.dtype)
  off_diagonal = lambda k: (tf.reduce_sum(k) - tf.linalg.trace(k)) / (m * (m - 1))  # noqa: E731
  return off_diagonal(kernel(x, x)) + off_diagonal(kernel(y, y)) - 2 * tf.reduce_mean(kernel(x, y))


class AdvAI(ACAI):
  config_class = AdvAIConfig
  logged = ACAI.logged + ('loss_interp', 'loss_interp_disc', 'loss_mmd', 'loss_noise',
                          'loss_fake')

  def build_networks(self):
    super().build_networks()
    config = self.config
    dim = math.prod(self.latent_shape)
    hidden = [config.int_width] * config.int_hidden_layers
    self.r_encoder = mlp(dim + 1, hidden + [config.int_hidden_units], 'r_encoder')
    self.r_decoder = mlp(config.int_hidden_units, hidden + [dim], 'r_decoder')
    self.r_alpha = mlp(1, hidden + [1], 'r_alpha')
    self.latent_critic = mlp(dim, [config.int_width] * config.disc_hidden_layers + [dim],
                             'latent_critic')
    self.phase = 'autoencoder' if config.train_int_kimg == 0 else 'interpolator'

  # ---- the correction module ------------------------------------------------------------

  def correct(self, u, v, a):
    """R(u, v, a) on flat codes [B, dim]; a [B] weights u."""
    a = a[:, None]
    code = self.r_encoder(tf.concat([u, a], 1)) + self.r_encoder(tf.concat([v, 1 - a], 1))
    bias = self.r_decoder(code)
    c1, c2 = self.r_alpha(a), self.r_alpha(1 - a)
    w = a * (1 - a)
    return (a + w * c1) * u + ((1 - a) + w * c2) * v + w * bias

  def mix(self, u, v, a):
    """The corrected interpolant of codes of any shape; a [B] weights u."""
    shape, n = tf.shape(u), self.config.n_scale
    flat = lambda t: tf.reshape(t, [shape[0], -1])  # noqa: E731
    return tf.reshape(self.correct(n * flat(u), n * flat(v), a) / n, shape)

  def interpolate(self, z1, z2, alpha):
    return self.mix(z2, z1, tf.reshape(alpha, [-1]))

  def latent_score(self, z):
    return tf.reduce_mean(self.latent_critic(z), axis=1)

  # ---- phases ---------------------------------------------------------------------------

  def kimg_before_total(self):
    return self.config.train_int_kimg

  def phase_kimg(self):
    return (self.config.train_int_kimg,) if self.config.train_int_kimg > 0 else ()

  def enter_phase(self, phase):
    phase = 'interpolator' if phase < len(self.phase_kimg()) else 'autoencoder'
    if phase != self.phase:
      self.phase = phase
      if self.compiled:
        self.make_train_function(force=True)  # the step is traced per phase

  def compute_losses(self, x, seed):
    if self.phase == 'interpolator':
      return self._interpolator_losses(x, seed)
    return self._autoencoder_losses(x, seed)

  def _interpolator_losses(self, x, seed):
    batch, dim = tf.shape(x)[0], math.prod(self.latent_shape)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    h = self.config.n_scale * tf.random.stateless_normal([batch, dim], seeds[0])
    a = 0.5 * tf.random.stateless_uniform([batch], seeds[1])
    score_mix = self.latent_score(self.correct(h, h[::-1], a))
    loss_interp = tf.reduce_mean(tf.square(score_mix))
    loss_interp_disc = (tf.reduce_mean(tf.square(self.latent_score(h)))
                        + regress(score_mix, a, self.config.per_sample_alpha))
    logs = {'loss_interp': loss_interp, 'loss_interp_disc': loss_interp_disc}
    return StepOutput({'interp': loss_interp, 'interp_critic': loss_interp_disc}, logs, None)

  def _autoencoder_losses(self, x, seed):
    batch = tf.shape(x)[0]
    e = self.encoder(x, training=True)
    g = self.decoder(e, training=True)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    h = tf.random.stateless_normal(tf.shape(e), seeds[0])
    a = 0.5 * tf.random.stateless_uniform([batch], seeds[1])
    a_noise = tf.random.stateless_uniform([batch], seeds[2])
    d = lambda images: self.critic(images, training=True)  # noqa: E731
    dec = lambda z: self.decoder(z, training=True)  # noqa: E731
    d_real = d(g + self.config.reg * (x - g))
    d_mix = d(dec(self.mix(e, e[::-1], a)))
    d_noise = d(dec(self.mix(h, e, a_noise)))
    d_fake = d(dec(h))
    flat = lambda t: tf.reshape(t, [batch, -1])  # noqa: E731
    loss_ae = mse(x, g)
    loss_ae_disc = tf.reduce_mean(tf.square(d_mix))
    loss_mmd = tf.nn.relu(mmd2(flat(e), flat(h)))
    loss_noise = tf.reduce_mean(tf.square(d_noise))
    loss_fake = tf.reduce_mean(tf.square(d_fake))
    c = self.config
    loss_disc = regress(d_mix, a, c.per_sample_alpha)
    loss_disc_real = tf.reduce_mean(tf.square(d_real))
    critic = (loss_disc_real + loss_disc + regress(d_noise, a_noise, c.per_sample_alpha)
              + tf.reduce_mean(tf.square(d_fake - 0.5)))
    ae = (loss_ae + c.advweight * loss_ae_disc + c.wgt_mmd * loss_mmd + c.wgt_noise * loss_noise
          + c.wgt_fake * loss_fake)
    logs = {'loss_ae': loss_ae, 'loss_disc': loss_disc,
            'loss_ae_disc': loss_ae_disc, 'loss_disc_real': loss_disc_real,
            'loss_mmd': loss_mmd, 'loss_noise': loss_noise, 'loss_fake': loss_fake}
    return StepOutput({'ae': ae, 'critic': critic}, logs, e)

  def variable_groups(self):
    return {**super().variable_groups(),
            'interp': [v for m in (self.r_encoder, self.r_decoder, self.r_alpha)
                       for v in m.trainable_variables],
            'interp_critic': self.latent_critic.trainable_variables}

  def extra_networks(self):
    return [self.critic, self.r_encoder, self.r_decoder, self.r_alpha, self.latent_critic]
