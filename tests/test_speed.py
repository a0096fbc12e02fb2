"""Speed work keeps the maths: mixed precision, the bench and its FLOP counts, fused Adam and
steps per execution (the conv paths: tests/test_conv_paths.py)."""

import dataclasses
import json
import os
import runpy
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from acai_tf import conv_layers, errors, rundir, schedule, throughput, trainer
from acai_tf.data import get_dataset
from acai_tf.models import MODELS
from acai_tf.models.acai import ACAI
from acai_tf.models.acai_config import ACAIConfig
from acai_tf.optimizer import FusedAdam
from helpers import run_program

TINY = dict(depth=4, latent=4, latent_width=4)


def _check_half_precision(model, precision, dataset, steps):
  """`model` (compiled) trains `steps` steps in `precision`, its logs finite, computing in half
  precision with float32 weights, and gives float32 latents, images and critic scores.
  Returns the logs."""
  half = precision.split('_')[1]
  conv = next(l for l in model.decoder.layers if isinstance(l, keras.layers.Conv2D))
  assert conv.compute_dtype == half and conv.kernel.dtype == 'float32'
  assert isinstance(model.group_optimizers['ae'], keras.optimizers.LossScaleOptimizer) == (
      precision == 'mixed_float16')
  logs = model.fit(dataset.train(8, seed=0), epochs=1, steps_per_epoch=steps, verbose=0,
                   shuffle=False).history
  assert logs and all(np.isfinite(v[-1]) for v in logs.values()), logs
  x = next(iter(dataset.train(8, seed=1)))[0]
  assert model.encode(x).dtype == tf.float32 and model.decode(model.encode(x)).dtype == tf.float32
  if hasattr(model, 'critic'):
    assert model.critic(x).dtype == tf.float32
  assert int(model.step) == steps
  return logs


@pytest.mark.slow
def test_mixed_float16_acai_steps_are_finite_with_float32_outputs():
  dataset = get_dataset('lines32')
  model = ACAI(ACAIConfig(**TINY), dataset.image_shape, dataset.nclass, precision='mixed_float16',
               conv_paths=conv_layers.ConvPaths('fast'))  # the CPU rewrites in half precision too
  model.compile()
  logs = _check_half_precision(model, 'mixed_float16', dataset, steps=3)
  assert set(logs) >= {*ACAI.logged, 'classify_latent'}


@pytest.mark.slow
def test_every_model_runs_mixed_bfloat16_steps_with_float32_outputs():
  dataset = get_dataset('lines32')
  for name, cls in MODELS.items():
    model = cls(cls.config_class(**TINY), dataset.image_shape, dataset.nclass,
                precision='mixed_bfloat16', conv_paths=conv_layers.ConvPaths('fast'))
    model.compile()
    logs = _check_half_precision(model, 'mixed_bfloat16', dataset, steps=2)
    assert set(logs) >= {*ACAI.logged, 'classify_latent'} or name != 'acai'


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
  out = run_program('acai_tf.bench', '--model=baseline', '--dataset=lines32', '--depth=4',
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
  bad = run_program('acai_tf.bench', '--model=baseline', '--precision=float8')
  assert bad.returncode != 0 and 'float8' in bad.stderr
  bad = run_program('acai_tf.bench', '--model=baseline', '--conv_paths=gpu')
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
  assert throughput.work_done_flops(tf.function(_TwoConvsAndDense().train_step), spec) == 496


@pytest.mark.slow
@pytest.mark.parametrize('mode', ['fast', 'plain'])
def test_work_done_flops_of_lines32_models(mode):
  """Per image, from the layer counts of tests/test_nets.py (E = 13_811_712 and D = 7_039_040
  MACs on image pixels, E1 = 16_384 for the encoder's first layer, probe P = 64 x 10 = 640).

  Baseline and dropout: forward and weight gradients of both networks and input gradients of
  all but E1, probe forward and weights: 2 x (3E - E1 + 3D + 2P) = 125_074_304 FLOPs.
  Denoising: + the clean encoder pass, 2E = 27_623_424. ACAI: the AE backward also runs the
  input gradients of the critic on x_mix (C = E, with its first layer) and the decoder twice;
  the critic's backward both critic calls' weights and inputs but their first layer:
  2 x (3E - E1 + 6D + 7C - 2 E1 + 2P) = 360_606_976.
  """
  dataset = get_dataset('lines32')
  spec = (tf.TensorSpec([4, 32, 32, 1]), tf.TensorSpec([4], tf.int64))
  expected = {'baseline': 125_074_304, 'dropout': 125_074_304, 'denoising': 152_697_728,
              'acai': 360_606_976}
  for name, flops in expected.items():
    model = MODELS[name](MODELS[name].config_class(), dataset.image_shape, dataset.nclass,
                         conv_paths=conv_layers.ConvPaths(mode))
    model.compile(jit_compile=False)
    assert throughput.work_done_flops(model.traced_train_step(), spec) == flops, name


@pytest.mark.slow
def test_training_under_mixed_bfloat16_reports_and_exports(tmp_path):
  config = trainer.TrainConfig(train_dir=str(tmp_path), total_kimg=16 * 8 / 1024,
                                report_kimg=16 * 8 / 1024, batch=8, eval_pairs=4,
                                precision='mixed_bfloat16')
  baseline = MODELS['baseline'].config_class(**TINY)  # every model's bf16 steps: above
  run = trainer.train('baseline', baseline, config, log=lambda s: None)
  [report] = rundir.read_metrics(run.dir)
  assert report['step'] == 16 and np.isfinite(report['loss_ae'])
  exported = tf.saved_model.load(os.path.join(run.dir, 'export'))
  z = exported.encode(tf.zeros([2, 32, 32, 1]))
  assert z.dtype == tf.float32 and exported.decode(z).dtype == tf.float32
  # The precision is part of what a run is: resuming it as float32 is refused.
  with pytest.raises(errors.UsageError, match='precision'):
    trainer.train('baseline', baseline, dataclasses.replace(config, precision='float32'),
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
def test_interleaved_script_times_models_side_by_side(capsys, monkeypatch):
  """runs/interleaved.py, run in this process as `python runs/interleaved.py` would run it."""
  script = os.path.join(os.path.dirname(__file__), '..', 'runs', 'interleaved.py')

  def interleaved(*args):
    monkeypatch.setattr(sys, 'argv', [script, *args])
    try:
      runpy.run_path(script, run_name='__main__')
      code = 0
    except SystemExit as e:
      code = e.code
    out, err = capsys.readouterr()
    return code, out, err

  code, out, err = interleaved('--models=baseline,dropout', '--rounds=1', '--steps=16',
                               '--batch=8')
  assert code == 0, err[-2000:]
  assert 'round 1: baseline' in out and '1.00x baseline' in out
  assert 'x baseline' in out.splitlines()[-1]  # dropout's ratio
  code, _, err = interleaved('--models=resnet')
  assert code == 2 and 'resnet' in err
