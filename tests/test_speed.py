"""Speed work keeps the maths: fused calls equal the straightforward step; precision and bench."""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from acai_tf import conv_layers, errors, nets, rundir, schedule, throughput, trainer
from acai_tf.data import get_dataset
from acai_tf.models import MODELS
from acai_tf.models.acai import ACAI
from acai_tf.models.acai_config import ACAIConfig
from acai_tf.optimizer import FusedAdam
from helpers import run_module

TINY = dict(depth=4, latent=4, latent_width=4)


@pytest.mark.parametrize('precision', ['mixed_float16', 'mixed_bfloat16'])
def test_mixed_precision_acai_steps_are_finite_with_float32_outputs(precision):
  dataset = get_dataset('lines32')
  model = ACAI(ACAIConfig(**TINY), dataset.image_shape, dataset.nclass, precision=precision)
  model.compile()
  half = precision.split('_')[1]
  conv = next(l for l in model.decoder.layers if isinstance(l, keras.layers.Conv2D))
  assert conv.compute_dtype == half and conv.kernel.dtype == 'float32'
  assert isinstance(model.group_optimizers['ae'], keras.optimizers.LossScaleOptimizer) == (
      precision == 'mixed_float16')
  history = model.fit(dataset.train(8, seed=0), epochs=1, steps_per_epoch=3, verbose=0,
                      shuffle=False)
  for name in ACAI.logged + ('classify_latent',):
    assert np.isfinite(history.history[name][-1]), name
  x = next(iter(dataset.train(8, seed=1)))[0]
  assert model.encode(x).dtype == tf.float32 and model.decode(model.encode(x)).dtype == tf.float32
  assert model.critic(x).dtype == tf.float32
  assert int(model.step) == 3


@pytest.mark.slow
def test_every_model_runs_a_mixed_bfloat16_step():
  dataset = get_dataset('lines32')
  for name, cls in MODELS.items():
    model = cls(cls.config_class(**TINY), dataset.image_shape, dataset.nclass,
                precision='mixed_bfloat16')
    model.compile()
    logs = model.fit(dataset.train(8, seed=0), epochs=1, steps_per_epoch=1, verbose=0,
                     shuffle=False).history
    assert logs and all(np.isfinite(v[-1]) for v in logs.values()), (name, logs)


def test_unknown_precision_is_refused():
  with pytest.raises(ValueError, match='mixed_bfloat16'):
    ACAI(ACAIConfig(**TINY), precision='float16')


@pytest.mark.slow
def test_every_registered_model_can_be_benchmarked():
  for name, cls in MODELS.items():
    result = throughput.benchmark(name, cls.config_class(**TINY), 'lines32', batch=8, warmup=1,
                                  window=2, windows=1, steps_per_execution=2, log=lambda s: None)
    for key in ('train_step_img_s', 'pipeline_img_s', 'end_to_end_img_s', 'gflops',
                'gflops_nominal', 'peak_rss_mb'):
      assert result[key] > 0, (name, key, result)
    assert result['gflops'] == pytest.approx(
        result['end_to_end_img_s'] * result['mflop_per_image'] / 1e3, rel=0.02)
    assert result['gflops_nominal'] == pytest.approx(
        result['end_to_end_img_s'] * result['mflop_per_image_nominal'] / 1e3, rel=0.02)
    # Padding taps and pruned gradients: the work done is less than the nominal count.
    assert result['mflop_per_image'] < result['mflop_per_image_nominal'], (name, result)
    assert result['conv_paths'] == 'measured'  # 'auto' on this CPU-only machine


@pytest.mark.slow
def test_bench_cli_prints_json_last(tmp_path):
  out = run_module('acai_tf.bench', '--model=baseline', '--dataset=lines32', '--depth=4',
                   '--latent=4', '--batch=8', '--warmup=1', '--steps=2', '--windows=2',
                   '--no-xla', '--precision=mixed_bfloat16', '--steps_per_execution=2',
                   '--conv_paths=plain')
  assert out.returncode == 0, out.stderr[-2000:]
  lines = out.stdout.strip().splitlines()
  result = json.loads(lines[-1])
  assert result['xla'] is False and result['precision'] == 'mixed_bfloat16'
  assert result['steps_per_execution'] == 2 and result['conv_paths'] == 'plain'
  assert result['batch'] == 8 and result['end_to_end_img_s'] > 0
  assert any('end to end' in line and 'GFLOP/s work done' in line and 'nominal' in line
             for line in lines)
  bad = run_module('acai_tf.bench', '--model=baseline', '--precision=float8')
  assert bad.returncode != 0 and 'float8' in bad.stderr
  bad = run_module('acai_tf.bench', '--model=baseline', '--conv_paths=gpu')
  assert bad.returncode != 0 and 'conv_paths' in bad.stderr


# ---- FLOPs of the work a training step does (throughput.work_done_flops) -------------------

class _TwoConvsAndDense:
  """A training step on 2x2 one-channel images: 3x3 conv to 1 channel, 3x3 conv to 2, dense to 5.

  Multiply-adds per image, by hand (each output pixel of a 3x3 conv on 2x2 sees 4 pixels):
  forward 16 + 32 + 40, weight gradients 16 + 32 + 40, input gradients 32 + 40 (the first
  conv's, with respect to the images, is not needed): 248, so 496 FLOPs. The nominal count
  (every tap, forward x 3) would be 3 x (36 + 72 + 40) = 444 MACs.
  """

  def __init__(self):
    self.kernels = [tf.Variable(tf.ones([3, 3, 1, 1])), tf.Variable(tf.ones([3, 3, 1, 2])),
                    tf.Variable(tf.ones([8, 5]))]

  def train_step(self, data):
    x, _ = data
    with tf.GradientTape() as tape:
      y = tf.nn.conv2d(tf.nn.conv2d(x, self.kernels[0], 1, 'SAME'), self.kernels[1], 1, 'SAME')
      loss = tf.reduce_sum(tf.square(tf.reshape(y, [-1, 8]) @ self.kernels[2]))
    for kernel, grad in zip(self.kernels, tape.gradient(loss, self.kernels)):
      kernel.assign_sub(0.1 * grad)
    return loss


def test_work_done_flops_of_a_hand_counted_step():
  spec = (tf.TensorSpec([3, 2, 2, 1]), tf.TensorSpec([3], tf.int64))
  assert throughput.work_done_flops(_TwoConvsAndDense(), spec) == 496


@pytest.mark.parametrize('mode', ['fast', 'plain'])
def test_work_done_flops_of_lines32_models(mode, monkeypatch):
  """Per image, from the layer counts of tests/test_nets.py (E = 13_811_712 and D = 7_039_040
  MACs on image pixels, E1 = 16_384 for the encoder's first layer, probe P = 64 x 10 = 640).

  Baseline and dropout: forward and weight gradients of both networks and input gradients of
  all but E1, probe forward and weights: 2 x (3E - E1 + 3D + 2P) = 125_074_304 FLOPs.
  Denoising: + the clean encoder pass, 2E = 27_623_424. ACAI: the AE backward also runs the
  input gradients of the critic on x_mix (C = E, with its first layer) and the decoder twice;
  the critic's backward both critic calls' weights and inputs but their first layer:
  2 x (3E - E1 + 6D + 7C - 2 E1 + 2P) = 360_606_976.
  """
  monkeypatch.setattr(conv_layers, '_conv_paths', mode)
  dataset = get_dataset('lines32')
  spec = (tf.TensorSpec([4, 32, 32, 1]), tf.TensorSpec([4], tf.int64))
  expected = {'baseline': 125_074_304, 'dropout': 125_074_304, 'denoising': 152_697_728,
              'acai': 360_606_976}
  for name, flops in expected.items():
    model = MODELS[name](MODELS[name].config_class(), dataset.image_shape, dataset.nclass)
    model.compile(jit_compile=False)
    assert throughput.work_done_flops(model, spec) == flops, name


@pytest.mark.slow
def test_training_under_mixed_bfloat16_reports_and_exports(tmp_path):
  config = trainer.TrainConfig(train_dir=str(tmp_path), total_kimg=16 * 8 / 1024,
                                report_kimg=16 * 8 / 1024, batch=8, eval_pairs=4,
                                precision='mixed_bfloat16')
  run = trainer.train('acai', ACAIConfig(**TINY), config, log=lambda s: None)
  [report] = rundir.read_metrics(run.dir)
  assert report['step'] == 16 and np.isfinite(report['loss_ae'])
  exported = tf.saved_model.load(os.path.join(run.dir, 'export'))
  z = exported.encode(tf.zeros([2, 32, 32, 1]))
  assert z.dtype == tf.float32 and exported.decode(z).dtype == tf.float32
  # The precision is part of what a run is: resuming it as float32 is refused.
  with pytest.raises(errors.UsageError, match='precision'):
    trainer.train('acai', ACAIConfig(**TINY), dataclasses.replace(config, precision='float32'),
                   log=lambda s: None)


def test_train_config_checks_xla_and_precision():
  with pytest.raises(ValueError, match='precision'):
    trainer.TrainConfig(precision='bfloat16')
  with pytest.raises(ValueError, match='xla'):
    trainer.TrainConfig(xla='auto')
  assert trainer.jit_compile(None) == 'auto' and trainer.jit_compile(False) is False


def test_fused_adam_equals_keras_adam():
  rng = np.random.default_rng(0)
  shapes = [(3, 3, 2, 4), (4,), (7, 5)]
  fused_vars = [keras.Variable(rng.normal(size=s).astype('float32')) for s in shapes]
  keras_vars = [keras.Variable(v.numpy()) for v in fused_vars]
  fused = FusedAdam(1e-2, epsilon=1e-8)
  reference = keras.optimizers.Adam(1e-2, epsilon=1e-8)
  for _ in range(5):
    grads = [tf.constant(rng.normal(size=s).astype('float32')) for s in shapes]
    fused.apply(grads, fused_vars)
    reference.apply(grads, keras_vars)
  for a, b in zip(fused_vars, keras_vars):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
  for a, b in zip(fused.variables, reference.variables):  # iterations, m, v
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
  assert int(fused.iterations) == 5


# ---- fast conv paths and LeakyReLU (acai_tf.nets) against plain Keras layers ---------------

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
  """Every path `conv_layers.layer_path` may pick is one PATH_CASES checks against Keras' layer."""
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
def test_every_model_with_fast_layers_has_the_straightforward_losses_and_gradients(
    name, monkeypatch):
  """The whole step: same losses and gradients as the same model built from plain Keras layers."""
  monkeypatch.setattr(conv_layers, '_conv_paths', 'fast')
  cls = MODELS[name]
  config = cls.config_class(depth=4, latent=4, latent_width=2)  # reaches every fast path
  fast = cls(config)
  with conv_layers.straightforward():
    plain = cls(config)
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
    # Float32 rounding differs with the summation order; measure it against the group's scale.
    scale = max(float(tf.reduce_max(tf.abs(g))) for g in plain_grads if g is not None)
    assert scale > 0
    for a, b in zip(grads, plain_grads):
      assert (a is None) == (b is None)
      if a is not None:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4 * scale)


def test_fast_paths_run_in_half_precision():
  for precision in ('mixed_float16', 'mixed_bfloat16'):
    model = ACAI(ACAIConfig(depth=4, latent=4, latent_width=2), precision=precision)
    x = tf.zeros([2, 32, 32, 1])
    assert model.decode(model.encode(x)).dtype == tf.float32
    assert np.isfinite(model.critic(x).numpy()).all()


# ---- steps per execution --------------------------------------------------------------------

def test_execution_size_divides_every_fit():
  assert schedule.execution_size(1024, 16) == 16
  assert schedule.execution_size(1000, 16) == 10
  assert schedule.execution_size(17, 16) == 1
  assert schedule.execution_size(3, 16) == 3
  assert schedule.execution_size(12, 1) == 1
  with pytest.raises(ValueError, match='steps_per_execution'):
    trainer.TrainConfig(steps_per_execution=0)


@pytest.mark.slow
def test_several_steps_per_execution_keep_reports_and_resume_exact(tmp_path):
  """Reports land on their steps whatever the execution size, also after resuming mid-way."""
  kimg = lambda steps: steps * 8 / 1024  # noqa: E731
  config = trainer.TrainConfig(train_dir=str(tmp_path), total_kimg=kimg(5), report_kimg=kimg(5),
                                batch=8, eval_pairs=4, steps_per_execution=4)
  trainer.train('baseline', MODELS['baseline'].config_class(**TINY), config, log=lambda s: None)
  # Resume from step 5 to 12, reporting every 4: fits of 3 and 4 steps.
  config = dataclasses.replace(config, total_kimg=kimg(12), report_kimg=kimg(4))
  run = trainer.train('baseline', MODELS['baseline'].config_class(**TINY), config,
                       log=lambda s: None)
  assert [r['step'] for r in rundir.read_metrics(run.dir)] == [5, 8, 12]
  assert int(run.model.step) == 12 and run.model.steps_per_execution == 4


@pytest.mark.slow
def test_interleaved_script_times_models_side_by_side():
  script = os.path.join(os.path.dirname(__file__), '..', 'runs', 'interleaved.py')
  out = subprocess.run([sys.executable, script, '--models=baseline,dropout', '--rounds=1',
                        '--steps=16', '--batch=8'], capture_output=True, text=True)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'round 1: baseline' in out.stdout and '1.00x baseline' in out.stdout
  assert 'x baseline' in out.stdout.splitlines()[-1]  # dropout's ratio
  bad = subprocess.run([sys.executable, script, '--models=resnet'], capture_output=True, text=True)
  assert bad.returncode != 0 and 'resnet' in bad.stderr
