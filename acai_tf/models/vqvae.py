"""VQ-VAE with the original's discrete bottleneck.

van den Oord et al., "Neural Discrete Representation Learning"
(https://arxiv.org/abs/1711.00937), in the non-textbook form the ACAI code used
(Berthelot et al., ICLR 2019, appendix B):

- the continuous latent (d_z values, flattened) goes through a dense layer to
  `num_latents` vectors of size d_z;
- each vector is replaced by its nearest entry of one codebook of
  2^`z_log_size` entries (straight-through gradient);
- the quantised vectors, concatenated, pass through relu -> dense 512 -> relu
  -> dense d_z, are reshaped to the latent shape and decoded;
- the codebook follows exponential moving averages of the counts and sums of
  the vectors assigned to each entry (decay 0.999, Laplace smoothing eps 1e-5);
  the loss adds `commitment` x the commitment term mean((e - sg(q))^2).

Codebook use is logged each step: `codes_used`, the distinct codes of the
(global) batch, and `code_perplexity`, exp of the entropy of their frequencies.
As released, the EMA counts start at 0 with no zero-debias, so after the
first step every unused code's norm is about 1e4 and decays as 0.999^step:
unused codes come back into reach only after some 600 kimg (docs/vqvae_codebook.png).

`encode` returns the continuous latent; `decode` quantises, so interpolations
mix continuous latents and then quantise, as in the original. The probe reads
the output of the post-quantisation MLP. Distances are computed as
|e|^2 + |c|^2 - 2 e.c with one matrix product ([B * num_latents, codebook]
floats, 42 MB at batch 64), never as a [B, num_latents, codebook, d_z] tensor.
The EMA state lives in non-trainable variables; under MirroredStrategy the
per-replica counts and sums are all-reduced first, so every replica assigns
the same values.
"""

import math

import keras
import tensorflow as tf

from acai_tf import distribute
from acai_tf.models.base import AutoEncoder, StepOutput, mse
from acai_tf.models.vqvae_config import VQVAEConfig


def nearest(vectors, codebook):
  """Index of the nearest codebook row (squared L2) of each vector: [N, d], [K, d] -> [N]."""
  distance = (tf.reduce_sum(tf.square(vectors), 1, keepdims=True)
              - 2 * tf.matmul(vectors, codebook, transpose_b=True)
              + tf.reduce_sum(tf.square(codebook), 1)[None])
  return tf.argmin(distance, axis=1, output_type=tf.int32)


def ema_update(count, sums_ema, assigned_count, assigned_sum, decay, epsilon):
  """New (count, sums, codebook) after one batch's assignment statistics.

  Args:
    count: [K] EMA of the number of vectors assigned to each entry.
    sums_ema: [K, d] EMA of the sum of the vectors assigned to each entry.
    assigned_count, assigned_sum: this batch's [K] counts and [K, d] sums.
    decay: EMA decay.
    epsilon: Laplace smoothing.

  Returns:
    (count, sums, codebook) with codebook = sums / smoothed count.
  """
  count = decay * count + (1 - decay) * assigned_count
  sums_ema = decay * sums_ema + (1 - decay) * assigned_sum
  n = tf.reduce_sum(count)
  size = tf.cast(tf.shape(count)[0], count.dtype)
  smoothed = (count + epsilon) / (n + size * epsilon) * n
  return count, sums_ema, sums_ema / smoothed[:, None]


def codebook_use(count):
  """How much of the codebook a batch used, from its [K] assignment counts: the number of
  distinct codes, and the perplexity exp(entropy) of their frequencies (= the number of codes
  if all were used equally)."""
  p = count / tf.reduce_sum(count)
  entropy = -tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(p), p))
  return {'codes_used': tf.cast(tf.math.count_nonzero(count), tf.float32),
          'code_perplexity': tf.exp(entropy)}


class VQVAE(AutoEncoder):
  config_class = VQVAEConfig
  logged = ('loss_ae', 'vqvae_loss', 'codes_used', 'code_perplexity')

  def build_networks(self):
    config = self.config
    size, entries = math.prod(self.latent_shape), 1 << config.z_log_size
    self.to_codes = keras.layers.Dense(size * config.num_latents, name='vq_codes')
    self.to_codes.build((None, size))
    self.filter = keras.layers.Dense(config.filter_size, activation='relu', name='vq_filter')
    self.filter.build((None, size * config.num_latents))
    self.to_latent = keras.layers.Dense(size, name='vq_latent')
    self.to_latent.build((None, config.filter_size))
    limit = math.sqrt(3 / entries)  # TF1 uniform_unit_scaling of the [1, 1, K, d] codebook
    state = dict(trainable=False, aggregation='only_first_replica')
    self.codebook = self.add_weight(shape=(entries, size), name='codebook', **state,
                                    initializer=keras.initializers.RandomUniform(-limit, limit))
    self.ema_count = self.add_weight(shape=(entries,), initializer='zeros', name='ema_count',
                                     **state)
    self.ema_sums = self.add_weight(shape=(entries, size), initializer='zeros', name='ema_sums',
                                    **state)
    self.ema_sums.assign(self.codebook)

  def bottleneck(self, z):
    """Continuous latent -> (decoder input, pre-quantisation vectors, codes, indices)."""
    size = math.prod(self.latent_shape)
    vectors = tf.reshape(self.to_codes(tf.reshape(z, [-1, size])), [-1, size])
    index = nearest(vectors, self.codebook)
    codes = tf.gather(self.codebook, index)
    straight = vectors + tf.stop_gradient(codes - vectors)
    flat = tf.reshape(tf.nn.relu(straight), [-1, size * self.config.num_latents])
    out = self.to_latent(self.filter(flat))
    return tf.reshape(out, (-1,) + self.latent_shape), vectors, codes, index

  def compute_losses(self, x, seed):
    del seed
    h, vectors, codes, index = self.bottleneck(self.encoder(x, training=True))
    loss_ae = mse(x, self.decoder(h, training=True))
    vq_loss = self.config.commitment * mse(vectors, tf.stop_gradient(codes))
    entries = self.codebook.shape[0]
    assigned_count = tf.math.unsorted_segment_sum(tf.ones_like(index, tf.float32), index, entries)
    assigned_sum = tf.math.unsorted_segment_sum(tf.stop_gradient(vectors), index, entries)
    assigned_count, assigned_sum = distribute.sum_over_replicas(assigned_count, assigned_sum)
    new = ema_update(self.ema_count, self.ema_sums, assigned_count, assigned_sum,
                     self.config.decay, self.config.epsilon)
    logs = {'loss_ae': loss_ae, 'vqvae_loss': vq_loss,
            **codebook_use(assigned_count)}
    updates = tuple(zip((self.ema_count, self.ema_sums, self.codebook), new))
    return StepOutput({'ae': loss_ae + vq_loss}, logs, h, updates)

  def variable_groups(self):
    groups = super().variable_groups()
    groups['ae'] = groups['ae'] + [v for layer in (self.to_codes, self.filter, self.to_latent)
                                   for v in layer.trainable_variables]
    return groups

  def decode(self, z):
    return self.decoder(self.bottleneck(z)[0], training=False)

  def probe_features(self, x):
    return self.bottleneck(self.encode(x))[0]
