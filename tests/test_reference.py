"""Differential test: every model of the port trains step for step as the original graph did.

tests/reference/original.py restates the originals' TF1 graphs with each random draw as a
placeholder. Here the port's model is built small with plain Keras layers, its initial weights
are copied into the graph, and both sides take three training steps on one fixed batch (random
images in [-1, 1] with labels) with the same draws: the port's own, recorded while its
`train_step` runs eagerly (the stateless samplers it calls are wrapped by `monkeypatch`).
Every logged loss and optimizer objective of every step, every gradient of the first step and
every variable after the last (Adam's moments act through the weights; VQ-VAE's codebook and
EMA state included) must agree to float32 rounding.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from acai_tf import conv_layers
from acai_tf.models import MODELS
from acai_tf.trainer import model_config
from reference import original

STEPS = 3
BATCH = 16
# float32 rounding: two graphs summing in different orders agree to ~1e-6 relative; Adam's
# first steps move each weight by about lr = 1e-4, so an absolute 1e-5 is a tenth of a step.
# A gradient's entries are sums of many terms of about the tensor's largest magnitude, which
# cancel to small values for some entries: gradients are held to RTOL of their tensor's largest
# magnitude (with the VAE's per-image sums of 1024 pixels, an entry 1e-3 of the largest one
# differs by 1e-6 relative to that largest one, 1e-3 relative to itself).
RTOL, ATOL = 1e-4, 1e-5
# The port's (and the original's) init, std 1/sqrt(1.04 fan_in), halves the signal's variance
# at each conv: at this size images decode to ~1e-6 and ACAI's adversarial loss starts near
# 1e-17, so no weight of such a term could show in three steps. Both sides start from the
# port's initial conv kernels times this, which keeps activations of order 0.1 to 1.
KERNEL_SCALE = 1.8

# test id -> (model, config values besides depth 4 / latent 4, AdvAI phase, conv paths).
# 'plain' builds Keras' own layers; 'fast' every rewrite of conv_layers.PathConv2D that fits (at
# latent width 2 all three: the encoders' 1x1 first layer, the 2x2 bottleneck, the 1-channel
# output).
CASES = {
    'baseline': ('baseline', {}, None, 'plain'),
    'dropout': ('dropout', {}, None, 'plain'),
    'denoising': ('denoising', {}, None, 'plain'),
    'vae': ('vae', {}, None, 'plain'),
    'aae': ('aae', {'adversary_lr': 3e-4}, None, 'plain'),  # its own learning rate
    'vqvae': ('vqvae', {'z_log_size': 6}, None, 'plain'),
    'acai': ('acai', {}, None, 'plain'),
    'acai-fast': ('acai', {'advdepth': 8}, None, 'fast'),  # and a critic of its own width
    'advai-interpolator': ('advai', {'int_width': 32, 'train_int_kimg': 1}, 'interpolator',
                           'plain'),
    'advai-autoencoder': ('advai', {'int_width': 32, 'train_int_kimg': 0}, 'autoencoder',
                          'plain'),
}

# The original's placeholders fed by the port's draws, in the order the port draws them.
DRAWS = {
    'dropout': ('uniform',),  # behind tf.nn.dropout's mask
    'denoising': ('noise',),
    'vae': ('epsilon',),
    'aae': ('prior',),
    'acai': ('alpha',),
    'acai-fast': ('alpha',),
    'advai-interpolator': ('normal', 'uniform'),  # -> h, alpha_h (advai_feeds)
    'advai-autoencoder': ('normal', 'uniform', 'alpha_noise'),
}


def port_scopes(name, model):
  """The port's variables under each scope of the original, layer by layer."""
  enc, dec = model.encoder.weights, model.decoder.weights
  probe = {'single_layer_classifier': model.classifier.weights}
  if name in ('baseline', 'dropout', 'denoising'):
    return {'ae_encoder': enc, 'ae_decoder': dec, **probe}
  if name == 'vae':
    return {'ae_enc': enc, 'ae_dec': dec, 'ae_latent': model.mu.weights + model.log_var.weights,
            **probe}
  if name == 'aae':
    return {'ae_enc': enc, 'ae_dec': dec, 'disc': model.discriminator.weights, **probe}
  if name == 'vqvae':
    return {'ae_encoder': enc, 'vqvae/dense': model.to_codes.weights,
            'vqvae/bottleneck': model.filter.weights + model.to_latent.weights,  # vch2, vcfin
            'vqvae/ae_decoder': dec, 'means': [model.codebook], 'ema_count_0': [model.ema_count],
            'ema_means_0': [model.ema_sums], **probe}
  if name == 'acai':
    return {'ae_enc': enc, 'ae_dec': dec, 'disc': model.critic.weights, **probe}
  return {'ae_enc': enc, 'ae_dec': dec, 'disc_img': model.critic.weights,
          'int_enc': model.r_encoder.weights, 'int_alpha': model.r_alpha.weights,
          'int_dec': model.r_decoder.weights, 'disc_int': model.latent_critic.weights, **probe}


def original_flags(model):
  """The original's flags for the port's config: the same names, and scales."""
  hp = {**dataclasses.asdict(model.config), 'scales': model.scales}
  if 'commitment' in hp:  # vqvae: the original's --beta
    hp['beta'] = hp.pop('commitment')
  return hp


def build_port(name, values, paths):
  config = model_config(name, 'lines32', depth=4, latent=4, **values)
  keras.utils.set_random_seed(0)
  model = MODELS[name](config, image_shape=(32, 32, 1), nclass=10, seed=0,
                       conv_paths=conv_layers.ConvPaths(paths))
  model.compile(jit_compile=False, steps_per_execution=1)
  layers = [layer for net in (model.encoder, model.decoder) for layer in net.layers]
  used = {getattr(layer, 'conv_path', 'keras') for layer in layers
          if isinstance(layer, keras.layers.Conv2D)}
  assert used == {'keras'} if paths == 'plain' else {'pointwise', 'dense', 'depthwise'} <= used
  return model


def leaf_layers(network):
  for layer in network.layers:
    yield from leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]


def amplify(model):
  """Multiplies every conv kernel of the port's networks by KERNEL_SCALE."""
  for network in [model.encoder, model.decoder, *model.extra_networks()]:
    for layer in leaf_layers(network):
      if isinstance(layer, keras.layers.Conv2D):
        layer.kernel.assign(layer.kernel * KERNEL_SCALE)


def pair_variables(scopes, ref):
  """[(port variable, original variable name)] after checking that both list the same layers."""
  assert sorted(scopes) == sorted(ref.nets)
  pairs = []
  for scope, variables in scopes.items():
    theirs = ref.nets[scope]
    assert len(variables) == len(theirs), scope
    for mine, their in zip(variables, theirs):
      # Only VQ-VAE's state has other shapes: [K, d] there is [1, 1, K, d] (one block, residual).
      assert np.squeeze(np.zeros(mine.shape)).shape == np.squeeze(np.zeros(their.shape)).shape
      pairs.append((mine, their.name, tuple(their.shape)))
  return pairs


class Recorder:
  """Records, in call order, the port's draws and each step's objectives and gradients."""

  def __init__(self, model, monkeypatch):
    self.draws, self.objectives, self.grads = [], [], {}
    uniform, normal = tf.random.stateless_uniform, tf.random.stateless_normal
    dropout = tf.nn.experimental.stateless_dropout

    def record(sample):
      def recorded(*args, **kwargs):
        out = sample(*args, **kwargs)
        self.draws.append(out.numpy())
        return out
      return recorded

    def recorded_dropout(x, rate, seed, **kwargs):
      out = dropout(x, rate, seed, **kwargs)
      u = uniform(tf.shape(x), seed, dtype=x.dtype).numpy()
      # The draw behind the mask, checked: TF keeps x / (1 - rate) where U >= rate.
      kept = np.asarray(x) * np.float32(1 / (1 - rate))
      np.testing.assert_array_equal(out, np.where(u >= rate, kept, 0))
      self.draws.append(u)
      return out

    monkeypatch.setattr(tf.random, 'stateless_uniform', record(uniform))
    monkeypatch.setattr(tf.random, 'stateless_normal', record(normal))
    monkeypatch.setattr(tf.nn.experimental, 'stateless_dropout', recorded_dropout)
    compute = model.compute_losses

    def compute_losses(x, seed):
      step = compute(x, seed)
      self.objectives.append({k: float(v) for k, v in step.losses.items()})
      return step
    monkeypatch.setattr(model, 'compute_losses', compute_losses)
    for optimizer in model.group_optimizers.values():
      def apply(grads, variables, _apply=optimizer.apply):
        self.grads.update({id(v): np.array(g) for g, v in zip(grads, variables)})
        return _apply(grads, variables)
      monkeypatch.setattr(optimizer, 'apply', apply)


def feeds(case, model, ref, draws):
  """The original's placeholders fed from the port's draws of one step."""
  assert len(draws) == len(DRAWS.get(case, ())), f'{len(draws)} draws'
  values = dict(zip(DRAWS.get(case, ()), draws))
  if case.startswith('advai'):
    phase = CASES[case][2]
    extra = {k: v for k, v in values.items() if k not in ('normal', 'uniform')}
    values = {**original.advai_feeds(phase, values['normal'], values['uniform'],
                                     model.config.n_scale), **extra}
  return {k: np.reshape(v, [-1, *ref.inputs[k].shape[1:]]) for k, v in values.items()}


class Differences:
  """Collects every disagreement (to report them all) and the largest differences."""

  def __init__(self):
    self.problems, self.largest = [], {}

  def check(self, kind, name, port, ref, whole=False):
    """Port and original agree within ATOL + RTOL |ref|, or RTOL max |ref| if `whole`."""
    port, ref = np.asarray(port, np.float64), np.asarray(ref, np.float64)
    diff = np.abs(port - ref)
    share = diff / (ATOL + RTOL * (np.abs(ref).max() if whole else np.abs(ref)))  # 1: at the limit
    worst = self.largest.get(kind, (0.0, 0.0, 0))
    self.largest[kind] = (max(worst[0], diff.max()), max(worst[1], share.max()), worst[2] + 1)
    if not share.max() <= 1:  # NaN (a value the port lacks) fails too
      i = np.nanargmax(share) if np.isfinite(share).any() else 0
      self.problems.append(f'{kind} {name}: max |diff| {diff.max():.3g} '
                           f'(port {port.flat[i]:.7g}, original {ref.flat[i]:.7g})')

  def summary(self):
    return '; '.join(f'{kind}: {n} checks, max |diff| {d:.1e} ({s:.2f} of the tolerance)'
                     for kind, (d, s, n) in self.largest.items())


@pytest.mark.slow
@pytest.mark.parametrize('case', CASES)
def test_trains_step_for_step_as_the_original(case, monkeypatch):
  name, values, phase, paths = CASES[case]
  model = build_port(name, values, paths)
  amplify(model)
  ref = original.build(name, original_flags(model), model.image_shape, model.nclass,
                       **({'phase': phase} if phase else {}))
  pairs = pair_variables(port_scopes(name, model), ref)
  ref.load({their: np.reshape(mine.numpy(), shape) for mine, their, shape in pairs})
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (BATCH, 32, 32, 1)).astype(np.float32)
  labels = rng.integers(0, model.nclass, BATCH)
  x, y = tf.constant(images), tf.constant(labels)
  data = {'x': images, 'label': np.eye(model.nclass, dtype=np.float32)[labels]}
  recorder = Recorder(model, monkeypatch)
  found = Differences()
  for step in range(STEPS):
    recorder.draws.clear()
    model.reset_metrics()  # the logs train_step returns are then this step's
    logs = {k: float(v) for k, v in model.train_step((x, y)).items()}
    out = ref.step({**data, **feeds(case, model, ref, recorder.draws)})
    objectives = dict(recorder.objectives[-1])
    if 'classify_latent' in logs:  # the probe's loss, added by the port's train_step
      objectives['classifier'] = logs['classify_latent']
    groups = {group for optimizer in out['objectives'] for group in optimizer.split('+')}
    if set(objectives) != groups:
      found.problems.append(f'step {step + 1}: the port optimizes {sorted(objectives)}, '
                            f'the original {sorted(groups)}')
    for optimizer, value in out['objectives'].items():
      mine = sum(objectives.get(group, np.nan) for group in optimizer.split('+'))
      found.check('loss', f'{optimizer} (step {step + 1})', mine, value)
    for key, value in out['logs'].items():
      found.check('loss', f'{key} (step {step + 1})', logs.get(key, np.nan), value)
    if step == 0:
      for mine, their, _ in pairs:
        if (id(mine) in recorder.grads) != (their in out['grads']):
          found.problems.append(f'gradient {their}: only in the '
                                f'{"port" if id(mine) in recorder.grads else "original"}')
        elif their in out['grads']:
          found.check('gradient', their, np.reshape(recorder.grads[id(mine)], out['grads'][
              their].shape), out['grads'][their], whole=True)
  theirs = ref.values()
  ref.close()
  for mine, their, shape in pairs:
    found.check('weight', their, np.reshape(mine.numpy(), shape), theirs[their])
  print(f'\n{case}: largest differences: {found.summary()}')
  assert not found.problems, f'{len(found.problems)} disagreements:\n' + '\n'.join(
      found.problems[:40])
