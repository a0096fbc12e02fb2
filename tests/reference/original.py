"""The original TF1 training graphs, restated op for op, for differential tests.

Sources: brain-research/acai (baseline.py, dropout.py, denoising.py, vae.py,
aae.py, vqvae.py, acai.py; lib/layers.py, lib/classifiers.py,
lib/discretization.py) and guanyuelee/AdvAI-Official (AdvAI_AE.py;
lib/layers.py, lib/mmd.py), written for TensorFlow 1.8. Each builder makes one
model's training graph in a fresh `tf.Graph` with `tf.compat.v1`: the same
networks, losses and TF1 Adams (one per `minimize` of the original, run as its
`tf.group`), with three departures that leave the maths alone:

- every random draw is a placeholder, fed the raw U(0, 1) or N(0, 1) numbers
  the original's op would have drawn (or, for AdvAI, what its numpy feeds);
- every Adam applies its update only after all gradients and logged losses of
  the step exist (the original's `tf.group` left that order open);
- variables are named `<original scope>/layer<i>/kernel|bias`, start at zero
  (tests load the port's values) and are listed per scope in `nets`; ops only
  evaluation needs (`decode` of a fed latent, `encode` outputs, VQ-VAE's bit
  codes, AdvAI's EMA of R, off by default) are left out.
"""

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

v1 = tf.compat.v1
LEAK = 0.2  # tf.nn.leaky_relu's default alpha, which every network used
ADVAI_WIDTH = 1200  # hidden width of AdvAI's MLPs, a constant in AdvAI_AE.py
ADVAI_SIGMAS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)  # lib/mmd.py mmd2's default sigma_list


class Original:
  """One model's graph and session: placeholders, logged losses, one train op."""

  def __init__(self):
    self.graph = tf.Graph()
    self.inputs = {}  # placeholder name -> tensor
    self.nets = {}  # original scope -> [variable], in creation (= layer) order
    self.logs = {}  # the port's log name -> scalar
    self.objectives = {}  # optimizer (port groups it trains, '+'-joined) -> its loss
    self.grads = {}  # variable name -> gradient in the step
    self.train_op = None
    self.session = None
    self._variables = {}
    self._loaders = {}

  def placeholder(self, name, shape):
    self.inputs[name] = v1.placeholder(tf.float32, shape, name)
    return self.inputs[name]

  def variable(self, scope, name, shape, trainable=True):
    """The variable `scope/name`, made on first use (the original's AUTO_REUSE)."""
    full = f'{scope}/{name}' if name else scope
    if full not in self._variables:
      self._variables[full] = v1.get_variable(full, shape, tf.float32, v1.zeros_initializer(),
                                              trainable=trainable)
      self.nets.setdefault(scope, []).append(self._variables[full])
    return self._variables[full]

  def train(self, optimizers):
    """One TF1 Adam (epsilon 1e-8) per optimizer, run together as one op.

    Args:
      optimizers: name -> (loss, variables or None for every trainable one, learning rate).
    """
    adams, pairs = {}, {}
    for name, (loss, variables, lr) in optimizers.items():
      adams[name] = v1.train.AdamOptimizer(lr)
      pairs[name] = [(g, v) for g, v in adams[name].compute_gradients(loss, variables)
                     if g is not None]
      self.objectives[name] = loss
      self.grads.update({v.name: g for g, v in pairs[name]})
    barrier = list(self.grads.values()) + list(self.logs.values()) + list(self.objectives.values())
    updates = []
    for name, adam in adams.items():
      with tf.control_dependencies(barrier):
        gated = [(tf.identity(g), v) for g, v in pairs[name]]
      updates.append(adam.apply_gradients(gated))
    self.train_op = tf.group(*updates)
    self._start()

  def _start(self):
    for variables in self.nets.values():
      for v in variables:
        value = v1.placeholder(tf.float32, v.shape)
        self._loaders[v.name] = (value, v.assign(value))
    init = v1.global_variables_initializer()
    self.graph.finalize()
    # Grappler's remapper fails on conv + bias + leaky ReLU under that ReLU's gradient and
    # logs an error each time; it only fuses ops (no change to the maths), so it stays off.
    rewrites = rewriter_config_pb2.RewriterConfig(remapping=rewriter_config_pb2.RewriterConfig.OFF)
    config = v1.ConfigProto(graph_options=v1.GraphOptions(rewrite_options=rewrites))
    self.session = v1.Session(graph=self.graph, config=config)
    self.session.run(init)

  def load(self, values):
    """Sets variables: {variable name: array of its shape}."""
    ops = [self._loaders[name][1] for name in values]
    self.session.run(ops, {self._loaders[name][0]: value for name, value in values.items()})

  def values(self):
    """{variable name: array} of every variable in `nets`."""
    variables = [v for vs in self.nets.values() for v in vs]
    return dict(zip([v.name for v in variables], self.session.run(variables)))

  def close(self):
    self.session.close()

  def step(self, feeds):
    """One training step; returns the step's logs, objectives and gradients (before updates)."""
    fetch = {'logs': self.logs, 'objectives': self.objectives, 'grads': self.grads,
             'train': self.train_op}
    out = self.session.run(fetch, {self.inputs[k]: v for k, v in feeds.items()})
    del out['train']
    return out


# ---- lib/layers.py ---------------------------------------------------------------------

class _Layers:
  """Numbers one network call's layers, so that a second call reuses their variables."""

  def __init__(self, g, scope):
    self.g, self.scope, self.count = g, scope, 0

  def _weights(self, kernel_shape, units):
    name = f'layer{self.count}'
    self.count += 1
    return (self.g.variable(self.scope, name + '/kernel', kernel_shape),
            self.g.variable(self.scope, name + '/bias', [units]))

  def conv(self, x, filters, size, leaky=False):
    """tf.layers.conv2d(x, filters, size, padding='same'[, activation=tf.nn.leaky_relu])."""
    kernel, bias = self._weights([size, size, x.shape[-1], filters], filters)
    y = tf.nn.bias_add(tf.nn.conv2d(x, kernel, [1, 1, 1, 1], 'SAME'), bias)
    return tf.nn.leaky_relu(y, LEAK) if leaky else y

  def dense(self, x, units, leaky=False):
    """tf.layers.dense: a matmul, or a tensordot on the last axis for rank > 2."""
    kernel, bias = self._weights([x.shape[-1], units], units)
    rank = x.shape.rank
    y = tf.matmul(x, kernel) if rank == 2 else tf.tensordot(x, kernel, [[rank - 1], [0]])
    y = tf.nn.bias_add(y, bias)
    return tf.nn.leaky_relu(y, LEAK) if leaky else y


def downscale2d(x):
  return tf.nn.avg_pool2d(x, [1, 2, 2, 1], [1, 2, 2, 1], 'VALID')


def upscale2d(x):
  """Nearest-neighbour 2x: the batch tiled 4 times, then batch_to_space."""
  return v1.batch_to_space(tf.tile(x, [4, 1, 1, 1]), [[0, 0], [0, 0]], 2)


def encoder(g, scope, x, scales, depth, latent):
  layer = _Layers(g, scope)
  y = layer.conv(x, depth, 1)
  for scale in range(scales):
    y = layer.conv(y, depth << scale, 3, leaky=True)
    y = layer.conv(y, depth << scale, 3, leaky=True)
    y = downscale2d(y)
  y = layer.conv(y, depth << scales, 3, leaky=True)
  return layer.conv(y, latent, 3)


def decoder(g, scope, x, scales, depth, colors):
  layer = _Layers(g, scope)
  y = x
  for scale in range(scales - 1, -1, -1):
    y = layer.conv(y, depth << scale, 3, leaky=True)
    y = layer.conv(y, depth << scale, 3, leaky=True)
    y = upscale2d(y)
  y = layer.conv(y, depth, 3, leaky=True)
  return layer.conv(y, colors, 3)


def fully_connected(g, scope, x, widths):
  """AdvAI's lib/layers.py: dense layers, leaky ReLU on all but the last."""
  layer = _Layers(g, scope)
  for i, units in enumerate(widths):
    x = layer.dense(x, units, leaky=i < len(widths) - 1)
  return x


def flatten(x):
  """tf.layers.flatten: [B, ...] -> [B, rest], with the static shape set."""
  y = tf.reshape(x, [tf.shape(x)[0], -1])
  y.set_shape([x.shape[0], int(np.prod(x.shape[1:]))])
  return y


# ---- shared pieces of every model --------------------------------------------------------

def _data(g, image_shape, nclass):
  return g.placeholder('x', [None, *image_shape]), g.placeholder('label', [None, nclass])


def _mse(labels, predictions):
  """tf.losses.mean_squared_error: sum of squared differences / their count."""
  squared = tf.math.squared_difference(predictions, labels)
  return tf.reduce_sum(squared) / tf.cast(tf.size(squared), tf.float32)


def _rmse(loss):
  return tf.sqrt(loss) * 127.5


def _classifier(g, h, label, nclass):
  """lib/classifiers.py single_layer_classifier on stop_gradient(h); the batch-mean loss."""
  logits = _Layers(g, 'single_layer_classifier').dense(flatten(tf.stop_gradient(h)), nclass)
  return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=label, logits=logits))


def _networks(g, hp, image_shape, names):
  """(encoder, decoder) functions with the model's scopes, widths and scales."""
  enc = lambda x: encoder(g, names[0], x, hp['scales'], hp['depth'], hp['latent'])  # noqa: E731
  dec = lambda h: decoder(g, names[1], h, hp['scales'], hp['depth'], image_shape[-1])  # noqa: E731
  return enc, dec


def _plain(g, hp, image_shape, nclass, latent_transform=None, noise=None):
  """baseline.py, dropout.py and denoising.py: MSE + probe under one Adam on every variable."""
  x, label = _data(g, image_shape, nclass)
  enc, dec = _networks(g, hp, image_shape, ('ae_encoder', 'ae_decoder'))
  encode = enc(x)
  if noise is not None:  # denoising: x + tf.random_normal(tf.shape(x), stddev=noise)
    train_in = enc(x + g.placeholder('noise', [None, *image_shape]) * noise)
  else:
    train_in = latent_transform(encode) if latent_transform else encode
  loss = _mse(x, dec(train_in))
  xloss = _classifier(g, encode, label, nclass)
  g.logs.update(loss_ae=loss, rmse=_rmse(loss), classify_latent=xloss)
  g.train({'ae+classifier': (loss + xloss, None, hp['lr'])})


# ---- the paper's models ------------------------------------------------------------------

def baseline(g, hp, image_shape, nclass):
  _plain(g, hp, image_shape, nclass)


def dropout(g, hp, image_shape, nclass):
  """tf.nn.dropout(flatten(encode), keep_prob) of TF 1.8: x / keep * floor(keep + U)."""
  keep = hp['dropout']

  def drop(encode):
    flat = flatten(encode)
    uniform = g.placeholder('uniform', flat.shape)
    dropped = tf.math.divide(flat, keep) * tf.floor(keep + uniform)
    return tf.reshape(dropped, tf.shape(encode))
  _plain(g, hp, image_shape, nclass, latent_transform=drop)


def denoising(g, hp, image_shape, nclass):
  _plain(g, hp, image_shape, nclass, noise=hp['noise'])


def vae(g, hp, image_shape, nclass):
  x, label = _data(g, image_shape, nclass)
  enc, dec = _networks(g, hp, image_shape, ('ae_enc', 'ae_dec'))
  encode = enc(x)
  flat = flatten(encode)
  dim = flat.shape[-1]
  layer = _Layers(g, 'ae_latent')
  q_mu, log_q_sigma_sq = layer.dense(flat, dim), layer.dense(flat, dim)
  q_sigma = tf.sqrt(tf.exp(log_q_sigma_sq))
  # tf.distributions.Normal(q_mu, q_sigma).sample(): N(0, 1) * scale + loc.
  sample = g.placeholder('epsilon', [None, dim]) * q_sigma + q_mu
  logits = dec(tf.reshape(sample, tf.shape(encode)))
  batch = tf.cast(tf.shape(x)[0], tf.float32)
  loss_kl = 0.5 * tf.reduce_sum(-log_q_sigma_sq - 1 + tf.exp(log_q_sigma_sq) + q_mu**2) / batch
  # Bernoulli(logits).log_prob(0.5 * (x + 1)) is -sigmoid_cross_entropy_with_logits.
  log_prob = -tf.nn.sigmoid_cross_entropy_with_logits(labels=0.5 * (x + 1), logits=logits)
  loss_ll = tf.reduce_sum(log_prob) / batch
  elbo = loss_ll - hp['beta'] * loss_kl
  xloss = _classifier(g, encode, label, nclass)
  loss_ae = _mse(x, 2 * tf.sigmoid(logits) - 1)  # of the original's `ae` op (not logged there)
  g.logs.update(loss_kl=loss_kl, loss_ll=loss_ll, elbo=elbo, classify_latent=xloss,
                loss_ae=loss_ae, rmse=_rmse(loss_ae))
  g.train({'ae': (-elbo, v1.global_variables('ae_'), hp['lr']),
           'classifier': (xloss, v1.global_variables('single_layer_classifier'), hp['lr'])})


def aae(g, hp, image_shape, nclass):
  x, label = _data(g, image_shape, nclass)
  enc, dec = _networks(g, hp, image_shape, ('ae_enc', 'ae_dec'))

  def discriminator(h):
    layer = _Layers(g, 'disc')
    h = flatten(h)
    for size in [int(s) for s in hp['disc_layer_sizes'].split(',')]:
      h = layer.dense(h, size, leaky=True)
    return layer.dense(h, 1)

  def xent(logits, label):
    labels = tf.ones_like(logits) if label else tf.zeros_like(logits)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))

  def accuracy(logits, label):
    correct = tf.equal(tf.greater(logits, 0), tf.logical_and(label, tf.ones_like(logits, bool)))
    return tf.reduce_mean(tf.cast(correct, tf.float32))

  encode = enc(x)
  loss_ae = _mse(x, dec(encode))
  prior = g.placeholder('prior', encode.shape)  # tf.random_normal(tf.shape(encode))
  logit_latent, logit_prior = discriminator(encode), discriminator(prior)
  loss_latents, loss_prior = xent(logit_latent, False), xent(logit_prior, True)
  loss_ae_latents = xent(logit_latent, True)
  xloss = _classifier(g, encode, label, nclass)
  g.logs.update(loss_ae=loss_ae, loss_adv_latent=loss_latents, loss_adv_prior=loss_prior,
                loss_ae_latent=loss_ae_latents, classify_latent=xloss,
                adversary_accuracy=(accuracy(logit_latent, False)
                                    + accuracy(logit_prior, True)) / 2)
  g.train({'ae': (loss_ae + loss_ae_latents, v1.global_variables('ae_'), hp['lr']),
           'critic': (loss_prior + loss_latents, v1.global_variables('disc'), hp['adversary_lr']),
           'classifier': (xloss, v1.global_variables('single_layer_classifier'), hp['lr'])})


def _discrete_bottleneck(g, hp, x, size):
  """lib/discretization.py DiscreteBottleneck with vqvae.py's hparams: one residual, one
  block, EMA codebook, nearest neighbour (no soft EM, top-1).

  Args:
    x: [B, 1, size * num_latents].
    size: hidden_size, the dimension of one code.

  Returns:
    (dense [B, 1, size], the commitment loss beta * e_loss, which runs the EMA update).
  """
  entries = 2**hp['z_log_size']
  means = g.variable('means', '', [1, 1, entries, size])  # trainable, as get_variable's default
  ema_count = g.variable('ema_count_0', '', [1, entries], trainable=False)
  ema_means = g.variable('ema_means_0', '', [1, entries, size], trainable=False)
  x_reshaped = tf.reshape(x, [-1, 1, size])  # slice_hidden: [N, num_blocks, block_dim]
  codebook = means[0]  # one read of means[0], [1, K, size]: every use below precedes its update
  # nearest_neighbor
  x_norm_sq = tf.reduce_sum(tf.square(x_reshaped), axis=-1, keepdims=True)
  means_norm_sq = tf.reduce_sum(tf.square(codebook), axis=-1, keepdims=True)
  scalar_prod = tf.matmul(tf.transpose(x_reshaped, [1, 0, 2]), tf.transpose(codebook, [0, 2, 1]))
  scalar_prod = tf.transpose(scalar_prod, [1, 0, 2])
  dist = x_norm_sq + tf.transpose(means_norm_sq, [2, 0, 1]) - 2 * scalar_prod
  hot = tf.one_hot(tf.argmax(-dist, axis=-1), entries)  # [N, 1, K]
  # embedding_lookup
  x_means = tf.transpose(tf.matmul(tf.transpose(hot, [1, 0, 2]), codebook), [1, 0, 2])
  e_loss = tf.reduce_mean((x_reshaped - tf.stop_gradient(x_means))**2)
  # moving_averages.assign_moving_average(v, value, decay, zero_debias=False)
  ema = lambda v, value: v1.assign_sub(v, (v - value) * (1.0 - hp['decay']))  # noqa: E731
  count = ema(ema_count, tf.reduce_sum(hot, axis=0))
  dw = tf.matmul(tf.transpose(hot, [1, 2, 0]), tf.transpose(x_reshaped, [1, 0, 2]))
  sums = ema(ema_means, dw)
  n = tf.reduce_sum(count, axis=-1, keepdims=True)
  count = (count + hp['epsilon']) / (n + entries * hp['epsilon']) * n
  with tf.control_dependencies([e_loss]):
    update = means[0].assign(sums / tf.expand_dims(count, -1))
  with tf.control_dependencies([update]):
    loss = hp['beta'] * e_loss
  h1 = x + tf.stop_gradient(tf.reshape(x_means, tf.shape(x)) - x)
  layer = _Layers(g, 'vqvae/bottleneck')
  h2 = layer.dense(tf.nn.relu(h1), hp['filter_size'])  # vch2
  return layer.dense(tf.nn.relu(h2), size), loss  # vcfin


def vqvae(g, hp, image_shape, nclass):
  x, label = _data(g, image_shape, nclass)
  size = (image_shape[0] >> hp['scales']) * (image_shape[1] >> hp['scales']) * hp['latent']
  encode = encoder(g, 'ae_encoder', x, hp['scales'], hp['depth'], hp['latent'])
  h2 = tf.expand_dims(flatten(encode), axis=1)
  h2 = _Layers(g, 'vqvae/dense').dense(h2, size * hp['num_latents'])
  dense, vq_loss = _discrete_bottleneck(g, hp, h2, size)
  ae = decoder(g, 'vqvae/ae_decoder', tf.reshape(dense, tf.shape(encode)), hp['scales'],
               hp['depth'], image_shape[-1])
  loss_ae = _mse(x, ae)
  xloss = _classifier(g, dense, label, nclass)
  g.logs.update(loss_ae=loss_ae, rmse=_rmse(loss_ae), vqvae_loss=vq_loss, classify_latent=xloss)
  g.train({'ae+classifier': (loss_ae + xloss + vq_loss, None, hp['lr'])})


def acai(g, hp, image_shape, nclass):
  x, label = _data(g, image_shape, nclass)
  enc, dec = _networks(g, hp, image_shape, ('ae_enc', 'ae_dec'))
  disc = lambda t: tf.reduce_mean(  # noqa: E731
      encoder(g, 'disc', t, hp['scales'], hp['advdepth'] or hp['depth'], hp['latent']), [1, 2, 3])
  encode = enc(x)
  ae = dec(encode)
  loss_ae = _mse(x, ae)
  alpha = g.placeholder('alpha', [None, 1, 1, 1])  # tf.random_uniform([B, 1, 1, 1], 0, 1)
  alpha = 0.5 - tf.abs(alpha - 0.5)
  decode_mix = dec(alpha * encode + (1 - alpha) * encode[::-1])
  loss_disc = tf.reduce_mean(tf.square(disc(decode_mix) - alpha[:, 0, 0, 0]))
  loss_disc_real = tf.reduce_mean(tf.square(disc(ae + hp['reg'] * (x - ae))))
  loss_ae_disc = tf.reduce_mean(tf.square(disc(decode_mix)))
  xloss = _classifier(g, encode, label, nclass)
  g.logs.update(loss_ae=loss_ae, rmse=_rmse(loss_ae), loss_disc=loss_disc,
                loss_ae_disc=loss_ae_disc, loss_disc_real=loss_disc_real, classify_latent=xloss)
  g.train({'ae': (loss_ae + hp['advweight'] * loss_ae_disc, v1.global_variables('ae_'), hp['lr']),
           'critic': (loss_disc + loss_disc_real, v1.global_variables('disc'), hp['lr']),
           'classifier': (xloss, v1.global_variables('single_layer_classifier'), hp['lr'])})


# ---- AdvAI (guanyuelee/AdvAI-Official, AdvAI_AE.py) ---------------------------------------

def mmd2(x, y, sigmas=ADVAI_SIGMAS):
  """lib/mmd.py mmd2: unbiased MMD^2 with a sum of RBF kernels (weights 1)."""
  xx, xy, yy = (tf.matmul(a, b, transpose_b=True) for a, b in ((x, x), (x, y), (y, y)))
  x_sq, y_sq = tf.linalg.diag_part(xx), tf.linalg.diag_part(yy)
  row, col = (lambda t: tf.expand_dims(t, 0)), (lambda t: tf.expand_dims(t, 1))

  def kernel(dot, a_sq, b_sq):
    d2 = -2 * dot + col(a_sq) + row(b_sq)
    return sum(tf.exp(-(1 / (2 * s**2)) * d2) for s in sigmas)
  k_xx, k_xy, k_yy = kernel(xx, x_sq, x_sq), kernel(xy, x_sq, y_sq), kernel(yy, y_sq, y_sq)
  m = tf.cast(tf.shape(k_xx)[0], tf.float32)
  n = tf.cast(tf.shape(k_yy)[0], tf.float32)
  return ((tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (m * (m - 1))
          + (tf.reduce_sum(k_yy) - tf.linalg.trace(k_yy)) / (n * (n - 1))
          - 2 * tf.reduce_sum(k_xy) / (m * n))


def advai_feeds(phase, normal, uniform, n_scale):
  """What the official training loop feeds, from standard N(0, 1) and U(0, 1) draws.

  train_int_step (phase 'interpolator') feeds h = n_scale * N(0, 1); train_step
  ('autoencoder') h = N(0, 1); both alpha_h = get_alpha() = 0.5 * U(0, 1), [B, 1, 1, 1].
  (h_b is only fed when drawing the free-interpolation grid.)
  """
  h = n_scale * normal if phase == 'interpolator' else normal
  return {'h': h, 'alpha_h': 0.5 * np.reshape(uniform, [-1, 1, 1, 1])}


def advai(g, hp, image_shape, nclass, phase):
  """AdvAI_AE.py GIDRAE2.model; `phase` picks train_int_op ('interpolator', the first
  train_int_kimg) or train_op ('autoencoder')."""
  scales, depth, latent, n = hp['scales'], hp['depth'], hp['latent'], hp['n_scale']
  width = hp.get('int_width', ADVAI_WIDTH)
  dim = latent * hp['latent_width']**2
  x, label = _data(g, image_shape, nclass)
  latent_shape = [None, image_shape[0] >> scales, image_shape[1] >> scales, latent]
  h = g.placeholder('h', latent_shape)
  alpha_h = g.placeholder('alpha_h', [None, 1, 1, 1])
  enc, dec = _networks(g, hp, image_shape, ('ae_enc', 'ae_dec'))

  def interpolate(h_a, h_b, alpha):
    alpha_flat = tf.reshape(alpha, [tf.shape(alpha)[0], 1])
    in_a = tf.concat((tf.reshape(h_a, [tf.shape(h_a)[0], dim]), alpha_flat), axis=1)
    in_b = tf.concat((tf.reshape(h_b, [tf.shape(h_b)[0], dim]), 1 - alpha_flat), axis=1)
    hidden = [width] * hp['int_hidden_layers']
    h_mix = (fully_connected(g, 'int_enc', in_a, hidden + [hp['int_hidden_units']])
             + fully_connected(g, 'int_enc', in_b, hidden + [hp['int_hidden_units']]))
    code_a = tf.reshape(fully_connected(g, 'int_alpha', alpha_flat, hidden + [1]), [-1, 1, 1, 1])
    code_b = tf.reshape(fully_connected(g, 'int_alpha', 1 - alpha_flat, hidden + [1]),
                        [-1, 1, 1, 1])
    bias = tf.reshape(fully_connected(g, 'int_dec', h_mix, hidden + [dim]),
                      [tf.shape(h_mix)[0], hp['latent_width'], hp['latent_width'], latent])
    return ((alpha + alpha * (1 - alpha) * code_a) * h_a
            + ((1 - alpha) + alpha * (1 - alpha) * code_b) * h_b
            + alpha * (1 - alpha) * bias)

  def disc(t):  # the image critic: always `depth` wide (advdepth is not used)
    return tf.reduce_mean(encoder(g, 'disc_img', t, scales, depth, latent), axis=[1, 2, 3])

  def disc_interpolate(z):
    z = tf.reshape(z, [tf.shape(z)[0], dim])
    widths = [width] * hp['disc_hidden_layers'] + [dim]
    return tf.reduce_mean(fully_connected(g, 'disc_int', z, widths), axis=[1])

  encode = enc(x)
  decode = dec(h)
  ae = dec(encode)
  loss_rec = _mse(x, ae)
  encode_mix = interpolate(encode * n, encode[::-1] * n, alpha_h) / n
  h_encode_mix = interpolate(h, h[::-1], alpha_h)
  decode_mix = dec(encode_mix)
  loss_disc_real = tf.reduce_mean(tf.square(disc(ae + hp['reg'] * (x - ae))))
  # [B] - [B, 1, 1, 1] broadcasts to [B, 1, 1, B]: the mean of (d_j - alpha_i)^2 over i, j.
  loss_disc_mix = tf.reduce_mean(tf.square(disc(decode_mix) - alpha_h))
  loss_disc = loss_disc_real + loss_disc_mix
  alpha_noise = g.placeholder('alpha_noise', [None, 1, 1, 1])  # tf.random_uniform in the graph
  decode_mix_noise = dec(interpolate(h * n, encode * n, alpha_noise) / n)
  loss_disc_noise = tf.reduce_mean(tf.square(disc(decode_mix_noise) - alpha_noise))  # [B,1,1,B]
  loss_ae_disc_noise = tf.reduce_mean(tf.square(disc(decode_mix_noise)))
  loss_disc_fake = tf.reduce_mean(tf.square(disc(decode) - 0.5))
  loss_ae_disc_fake = tf.reduce_mean(tf.square(disc(decode)))
  loss_disc_interpolate = (tf.reduce_mean(tf.square(disc_interpolate(h)))
                           + tf.reduce_mean(tf.square(disc_interpolate(h_encode_mix) - alpha_h)))
  loss_int_disc = tf.reduce_mean(tf.square(disc_interpolate(h_encode_mix)))
  loss_ae_disc = tf.reduce_mean(tf.square(disc(decode_mix)))
  loss_mmd = tf.nn.relu(mmd2(flatten(encode), flatten(h)))
  xloss = _classifier(g, encode, label, nclass)
  if phase == 'interpolator':  # train_int_op = tf.group(train_d_int, train_int)
    # (HookReport also logs loss_rec and the probe's loss; neither network trains here.)
    g.logs.update(loss_interp=loss_int_disc, loss_interp_disc=loss_disc_interpolate)
    g.train({'interp_critic': (loss_disc_interpolate, v1.global_variables('disc_int'), hp['lr']),
             'interp': (loss_int_disc, v1.global_variables('int'), hp['lr'])})
    return
  # train_op = tf.group(train_ae, train_d, train_xl)
  g.logs.update(loss_ae=loss_rec, loss_ae_disc=loss_ae_disc, loss_disc_real=loss_disc_real,
                loss_disc=loss_disc_mix, loss_mmd=loss_mmd, loss_noise=loss_ae_disc_noise,
                loss_fake=loss_ae_disc_fake, classify_latent=xloss)
  loss_ae = (loss_rec + hp['advweight'] * loss_ae_disc + hp['wgt_mmd'] * loss_mmd
             + hp['wgt_noise'] * loss_ae_disc_noise + hp['wgt_fake'] * loss_ae_disc_fake)
  g.train({'ae': (loss_ae, v1.global_variables('ae_'), hp['lr']),
           'critic': (loss_disc + loss_disc_noise + loss_disc_fake,
                      v1.global_variables('disc_img'), hp['lr']),
           'classifier': (xloss, v1.global_variables('single_layer_classifier'), hp['lr'])})


BUILDERS = {'baseline': baseline, 'dropout': dropout, 'denoising': denoising, 'vae': vae,
            'aae': aae, 'vqvae': vqvae, 'acai': acai, 'advai': advai}


def build(model, hp, image_shape, nclass, **kwargs):
  """The original's training graph of `model`, in a fresh graph with its session started.

  Args:
    model: one of BUILDERS.
    hp: the original's flags (depth, latent, latent_width, scales, lr and the model's own;
      vqvae also filter_size, decay, epsilon; advai optionally int_width, else 1200).
    image_shape: (height, width, colors).
    nclass: classes of the probe's one-hot labels.
    **kwargs: advai's `phase`.
  """
  g = Original()
  with g.graph.as_default():
    BUILDERS[model](g, hp, tuple(image_shape), nclass, **kwargs)
  return g
