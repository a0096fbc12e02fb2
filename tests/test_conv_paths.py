"""Convolution paths (acai_tf.conv_layers): every path computes what Keras' layers compute, and
which layers networks get: chosen once at start-up (`choose`), handed to the builders, never
timed while a network is built."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from acai_tf import autotune, conv_layers, nets
from acai_tf.models import MODELS
from acai_tf.models.acai import ACAI
from acai_tf.models.acai_config import ACAIConfig

FAST = conv_layers.ConvPaths('fast')
SMALL = dict(depth=4, latent=4, latent_width=2)  # a latent width of 2 reaches every rewrite

# ---- fast conv paths and LeakyReLU (acai_tf.conv_layers) against plain Keras layers --------

PATH_CASES = [
    ((32, 32, 1), 16, 1, 'pointwise'),  # the encoder's first layer
    ((2, 2, 8), 12, 3, 'dense'),        # bottleneck layers
    ((1, 1, 8), 6, 3, 'dense'),         # latent_width=1
    ((1, 4, 5), 3, 3, 'dense'),
    ((2, 2, 3), 4, 2, 'dense'),         # an even kernel: TensorFlow pads it after the image
    ((8, 8, 6), 1, 3, 'depthwise'),     # the decoder's last layer
    ((4, 4, 6), 5, 3, 'conv'),
]


def test_the_autotuner_chooses_only_among_paths_checked_here():
  """Every path a ConvPaths may give a layer is one PATH_CASES checks against Keras' layer."""
  assert {case[-1] for case in PATH_CASES} | {'keras'} == set(conv_layers.LAYER_PATHS)
  for shape, filters, kernel, path in PATH_CASES:
    assert conv_layers.layer_paths((None, *shape), filters, (kernel, kernel))[-1] == path


@pytest.mark.parametrize('shape, filters, kernel, path', PATH_CASES)
def test_each_fast_conv_path_equals_keras_conv2d(shape, filters, kernel, path):
  rng = np.random.default_rng(1)
  fast = conv_layers.PathConv2D(filters, kernel, padding='same', bias_initializer='random_normal',
                            conv_path=path)
  plain = keras.layers.Conv2D(filters, kernel, padding='same')
  x = tf.constant(rng.normal(size=(5, *shape)).astype('float32'))
  fast(x), plain(x)
  assert path in conv_layers.layer_paths((None, *shape), filters, (kernel, kernel))
  plain.set_weights(fast.get_weights())
  upstream = tf.constant(rng.normal(size=(5, *shape[:2], filters)).astype('float32'))
  results = []
  for layer in (fast, plain):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(y * upstream)
    results.append([y, *tape.gradient(loss, [x, layer.kernel, layer.bias])])
  for a, b in zip(*results):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5,
                               atol=1e-5 * float(tf.reduce_max(tf.abs(b))))


def test_leaky_relu_gradient_from_its_output_equals_keras():
  x = tf.constant([[-2.0, -0.5, 0.0, 0.3, 4.0]])
  grads = []
  for layer in (conv_layers.OutputLeakyReLU(conv_layers.LEAK),
                keras.layers.LeakyReLU(conv_layers.LEAK)):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0, 4.0, 5.0]]))
    grads.append((y, tape.gradient(loss, x)))
  for a, b in zip(*grads):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize('name', sorted(MODELS))
def test_every_model_with_fast_layers_has_the_straightforward_losses_and_gradients(name):
  """The whole step: same losses and gradients as the same model built from plain Keras layers."""
  cls = MODELS[name]
  config = cls.config_class(**SMALL)
  keras.utils.set_random_seed(0)  # the same weights every run: a failure can be replayed
  fast = cls(config, conv_paths=FAST)
  plain = cls(config, conv_paths=conv_layers.PLAIN)
  plain.set_weights(fast.get_weights())
  paths = {getattr(l, 'conv_path', 'keras') for l in nets._leaf_layers(fast)}
  assert {'pointwise', 'dense', 'depthwise', 'conv'} <= paths
  assert not any(isinstance(l, conv_layers.PathConv2D) for l in nets._leaf_layers(plain))
  x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)).astype('float32'))
  seed = tf.constant([3, 7], tf.int64)
  results = []
  for model in (fast, plain):
    groups = model.variable_groups()
    with tf.GradientTape(persistent=True) as tape:
      losses = model.compute_losses(x, seed).losses
    results.append({g: (float(loss), tape.gradient(loss, groups[g])) for g, loss in losses.items()})
  assert results[0].keys() == results[1].keys()
  for group, (loss, grads) in results[0].items():
    plain_loss, plain_grads = results[1][group]
    assert loss == pytest.approx(plain_loss, rel=1e-5), group
    # Float32 rounding differs with the summation order; measure it against the group's scale
    # (a wrong path is off by the scale itself; rounding moved a dropout gradient by 1.2e-4 of it).
    scale = max(float(tf.reduce_max(tf.abs(g))) for g in plain_grads if g is not None)
    assert scale > 0
    for a, b in zip(grads, plain_grads):
      assert (a is None) == (b is None)
      if a is not None:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-3 * scale)


def test_fast_paths_run_in_half_precision():
  for precision in ('mixed_float16', 'mixed_bfloat16'):
    model = ACAI(ACAIConfig(**SMALL), precision=precision, conv_paths=FAST)
    x = tf.zeros([2, 32, 32, 1])
    assert model.decode(model.encode(x)).dtype == tf.float32
    assert np.isfinite(model.critic(x).numpy()).all()


# ---- which layers networks get: chosen once at start-up (conv_layers.choose) ----------------

def _simulate_gpu(monkeypatch):
  listing = tf.config.list_logical_devices
  monkeypatch.setattr(tf.config, 'list_logical_devices',
                      lambda kind=None: ['/device:GPU:0'] if kind == 'GPU' else listing(kind))


def _fast_layers(model):
  return [layer for layer in nets._leaf_layers(model)
          if isinstance(layer, (conv_layers.PathConv2D, conv_layers.OutputLeakyReLU))]


def _paths(model):
  return [l.conv_path for l in nets._leaf_layers(model) if isinstance(l, conv_layers.PathConv2D)]


def _never(*args, **kwargs):
  pytest.fail('called')


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
  """An empty autotune cache and no choice made yet in this process."""
  monkeypatch.setenv('ACAI_CACHE', str(tmp_path))
  monkeypatch.setattr(autotune, '_decisions', {})


def test_auto_conv_paths_are_measured_on_this_cpu_only_machine(fresh_cache, monkeypatch):
  assert not tf.config.list_logical_devices('GPU') and not tf.config.list_logical_devices('TPU')

  def build(conv_paths):
    return nets.encoder((32, 32, 1), 4, 4, 4, conv_paths=conv_paths)

  paths = conv_layers.choose('auto', build)
  assert paths.mode == 'measured'
  timings = autotune.entry()['layers']
  assert len(timings) == 3  # the shapes a rewrite fits: 1x1 on one channel, two at 2x2 pixels
  for signature, timing in timings.items():
    fastest = min(timing['ms'].values())
    assert timing['ms'][timing['choice']] <= fastest * (1 + autotune.TIE), signature
  assert sorted(sorted(t['ms']) for t in timings.values()) == [
      ['conv', 'dense'], ['conv', 'dense'], ['conv', 'pointwise']]
  assert dict(paths.chosen) == {signature: t['choice'] for signature, t in timings.items()}
  encoder = build(paths)
  chosen = _paths(encoder)
  assert len(chosen) == 11 and set(chosen) - {'conv'} <= {t['choice'] for t in timings.values()}
  assert all(isinstance(l, conv_layers.OutputLeakyReLU) for l in nets._leaf_layers(encoder)
             if isinstance(l, keras.layers.LeakyReLU))
  # The next start-up, in this process or the next, reads the choices instead of timing again.
  monkeypatch.setattr(autotune, '_decisions', {})
  monkeypatch.setattr(conv_layers, '_seconds', _never)
  assert conv_layers.choose('auto', build) == paths


def test_auto_times_each_shape_once_at_start_up_and_the_model_takes_the_choice(fresh_cache,
                                                                              monkeypatch):
  """ACAI's critic has the encoder's shapes: each is timed once, before the model is built."""
  timed = []

  def seconds(path, **shape):
    timed.append((path, tuple(sorted(shape.items()))))
    return {'conv': 1.0, 'dense': 0.5}.get(path, 2.0)  # only 'dense' beats 'conv'

  monkeypatch.setattr(conv_layers, '_seconds', seconds)
  builds = []
  paths = conv_layers.choose('auto', lambda p: builds.append(ACAI(ACAIConfig(**SMALL),
                                                                  conv_paths=p)))
  assert len(builds) == 1 and paths.mode == 'measured'
  assert len(timed) == len(set(timed)) == 2 * len(paths.chosen) == 12  # 6 shapes, 2 paths each
  assert sorted(set(dict(paths.chosen).values())) == ['conv', 'dense']
  monkeypatch.setattr(autotune, 'fastest', _never)  # building times nothing
  model = ACAI(ACAIConfig(**SMALL), conv_paths=paths)
  assert model.conv_paths is paths
  # The 2x2 layers are 'dense', the 1x1 and 1-channel ones (faster as 'conv' here) are not.
  for network, dense in ((model.encoder, 2), (model.decoder, 2), (model.critic, 2)):
    assert _paths(network).count('dense') == dense, network.name
    assert set(_paths(network)) == {'conv', 'dense'}, network.name
  assert set(_paths(builds[0])) == {'pointwise', 'dense', 'depthwise', 'conv'}  # the trial: fast


@pytest.mark.parametrize('mode', ['plain', 'fast', 'measured'])
def test_building_networks_under_given_conv_paths_times_nothing(mode, fresh_cache, monkeypatch):
  monkeypatch.setattr(conv_layers, '_seconds', lambda path, **shape: 1.0)
  if mode == 'measured':
    paths = conv_layers.choose('auto', lambda p: MODELS['acai'](MODELS['acai'].config_class(
        **SMALL), conv_paths=p))
  else:
    paths = conv_layers.ConvPaths(mode)
  monkeypatch.setattr(autotune, 'fastest', _never)
  monkeypatch.setattr(conv_layers, '_seconds', _never)
  model = MODELS['acai'](MODELS['acai'].config_class(**SMALL), conv_paths=paths)
  assert model.conv_paths.mode == mode
  assert bool(_fast_layers(model)) == (mode != 'plain')


def test_measured_conv_paths_refuse_a_shape_choose_did_not_see(fresh_cache, monkeypatch):
  monkeypatch.setattr(conv_layers, '_seconds', lambda path, **shape: 1.0)
  paths = conv_layers.choose('auto', lambda p: nets.encoder((32, 32, 1), 4, 4, 4, conv_paths=p))
  nets.encoder((32, 32, 1), 4, 4, 4, conv_paths=paths)
  with pytest.raises(ValueError, match=r'32x32x1->8 k1x1 .*conv_layers.choose'):
    nets.encoder((32, 32, 1), 4, 8, 4, conv_paths=paths)


def test_auto_conv_paths_are_plain_when_a_gpu_is_visible(monkeypatch):
  _simulate_gpu(monkeypatch)
  assert conv_layers.choose('auto', _never) == conv_layers.PLAIN  # nothing built or timed
  model = MODELS['acai'](MODELS['acai'].config_class(**SMALL),
                         conv_paths=conv_layers.choose('auto', _never))
  assert not _fast_layers(model)
  assert conv_layers.choose('fast', _never) == FAST  # a forced mode wins over the devices


def test_networks_and_models_built_without_conv_paths_are_plain():
  assert not _fast_layers(nets.decoder((2, 2, 4), 2, 4, 1))
  model = MODELS['acai'](MODELS['acai'].config_class(**SMALL))
  assert model.conv_paths == conv_layers.PLAIN and not _fast_layers(model)


@pytest.mark.parametrize('name', ['baseline', 'acai'])
def test_forced_plain_conv_paths_build_only_keras_layers(name):
  paths = conv_layers.choose('plain', _never)
  assert paths == conv_layers.PLAIN
  model = MODELS[name](MODELS[name].config_class(**SMALL), conv_paths=paths)
  layers = list(nets._leaf_layers(model.encoder)) + list(nets._leaf_layers(model.decoder))
  assert not _fast_layers(model) and not any(hasattr(l, 'conv_path') for l in layers)
  assert sum(type(l) is keras.layers.Conv2D for l in layers) == 21  # 11 encoder + 10 decoder
  assert sum(type(l) is keras.layers.LeakyReLU for l in layers) == 21 - 3  # 3 linear convs
  fast = MODELS[name](MODELS[name].config_class(**SMALL), conv_paths=conv_layers.choose(
      'fast', _never))
  assert set(_paths(fast)) == {'pointwise', 'dense', 'depthwise', 'conv'}


def test_checkpoints_move_between_fast_and_plain_layers(tmp_path):
  """A run started on a GPU (plain under 'auto') resumes on a CPU (fast), and back."""
  config = MODELS['acai'].config_class(**SMALL)
  fast = MODELS['acai'](config, conv_paths=FAST)
  plain = MODELS['acai'](config, conv_paths=conv_layers.PLAIN)
  assert not all(np.array_equal(a, b) for a, b in zip(fast.get_weights(), plain.get_weights()))
  saved = tf.train.Checkpoint(model=fast).save(str(tmp_path / 'ckpt'))
  tf.train.Checkpoint(model=plain).restore(saved).assert_existing_objects_matched()
  assert len(plain.get_weights()) == len(fast.get_weights())
  for a, b in zip(fast.get_weights(), plain.get_weights()):
    np.testing.assert_array_equal(a, b)


def test_unknown_conv_paths_are_refused():
  with pytest.raises(ValueError, match='auto, fast, plain'):
    conv_layers.choose('gpu', _never)
  assert conv_layers.CONV_PATHS == ('auto', 'fast', 'plain')
  with pytest.raises(ValueError, match='plain, fast, measured'):
    conv_layers.ConvPaths('auto')  # resolved by choose(), never a ConvPaths of its own
  with pytest.raises(ValueError, match="only 'measured'"):
    conv_layers.ConvPaths('fast', (('conv 2x2x4->4 ...', 'dense'),))
