"""Runs from the command line: outputs, errors and the export."""

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from acai_tf import rundir, schedule, trainer
from acai_tf.models.acai_config import ACAIConfig
from acai_tf.models.base_config import AEConfig
from helpers import REPO, run_module, run_program


def only_run_dir(train_dir):
  (path,) = glob.glob(os.path.join(str(train_dir), 'lines32', '*'))
  return path


def test_segments_split_at_report_boundaries():
  assert schedule.segments(0, 64, 16) == [(4, 16)]
  assert schedule.segments(5, 64, 16) == [(1, 11), (3, 16)]
  assert schedule.segments(5, 60, 16) == [(1, 11), (2, 16), (1, 12)]
  assert schedule.segments(64, 64, 16) == []
  # A phase boundary on a report boundary still ends a fit call (AdvAI re-traces there).
  assert schedule.segments(0, 48, 16, (16,)) == [(1, 16), (2, 16)]
  assert schedule.segments(0, 64, 16, (24,)) == [(1, 16), (1, 8), (1, 8), (2, 16)]


def test_run_name_and_config_checks(tmp_path):
  assert rundir.run_name('acai', ACAIConfig(), 64, 2) == (
      'acai_advdepth0_advweight0.5_batch64_depth16_latent16_latent_width2_lr0.0001_reg0.2_seed2')
  with pytest.raises(ValueError, match='batch'):
    trainer.TrainConfig(batch=1)
  with pytest.raises(ValueError, match='strategy'):
    trainer.TrainConfig(strategy='nope')
  config = trainer.TrainConfig(train_dir=str(tmp_path))
  run = trainer.Run('baseline', AEConfig(), config)
  os.makedirs(run.dir)
  with open(os.path.join(run.dir, rundir.CONFIG_FILE), 'w') as f:
    json.dump({**run.record, 'model_config': AEConfig(depth=8).to_dict()}, f)
  with pytest.raises(ValueError, match='other settings'):
    run.check_config()


def test_records_of_earlier_releases_read_as_todays_setting(tmp_path):
  # The committed 128-kimg VQ-VAE runs: seed 0 was written with `beta`/`hidden`, seeds 1 and 2
  # with `commitment`/`filter_size`; read back they are one setting.
  found = glob.glob(os.path.join(REPO, 'results', 'cpu128', 'lines32', 'vqvae_*'))
  configs = {rundir.read_config(f)['train_config']['seed']: rundir.read_config(f) for f in found}
  [seed0] = [f for f in found if f.endswith('_seed0_z_log_size14')]
  assert 'beta' in json.load(open(os.path.join(seed0, rundir.CONFIG_FILE)))['model_config']
  assert configs[0]['model_config'] == configs[1]['model_config'] == configs[2]['model_config']
  assert configs[0]['model_config']['commitment'] == 10 and configs[0]['format'] == 2
  # A run directory of the old name is the one a rerun of today's settings resumes.
  old = os.path.join(str(tmp_path), 'lines32', os.path.basename(seed0))
  shutil.copytree(seed0, old)
  vqvae = trainer.model_config('vqvae', 'lines32', latent_width=4)
  run = trainer.Run('vqvae', vqvae, trainer.TrainConfig(train_dir=str(tmp_path), total_kimg=128))
  assert run.dir == old and '_beta10.0_' in old
  run.check_config()  # the same setting: no "other settings" error


@pytest.mark.parametrize('args,message', [
    (['--model=nope'], 'nope'),
    (['--dataset=mnist99'], 'mnist99'),
    (['--latent_width=3'], 'latent_width=3 must be a power of two'),
    (['--latent_width=64'], 'latent_width=64 must divide the image size 32'),
    (['--model=baseline', '--reg=0.3'], '--reg do(es) not apply to --model=baseline'),
    (['--total_kimg=0'], 'total_kimg=0.0 must be in (0, '),
])
def test_cli_rejects_bad_input(tmp_path, args, message):
  result = run_program('acai_tf.train', f'--train_dir={tmp_path}', *args)
  assert result.returncode == 2  # a bad flag value (absl) and a bad setting (ours) alike
  assert result.stderr.startswith('error: ') and result.stderr.count('\n') == 1
  assert message in result.stderr
  if 'nope' in args[0]:
    assert 'acai' in result.stderr and 'baseline' in result.stderr  # lists the choices
  assert not os.listdir(tmp_path)


@pytest.mark.slow
def test_help_lists_model_flags():
  result = run_module('acai_tf.train', '--helpshort')
  for flag in ('--model', '--dataset', '--advweight', '--reg', '--latent_width', '--total_kimg'):
    assert flag in result.stdout


LOAD_WITHOUT_PACKAGE = textwrap.dedent('''
    import importlib.abc, json, sys
    class NoAcaiTf(importlib.abc.MetaPathFinder):
      def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'acai_tf':
          raise ImportError('acai_tf must not be needed to load an export')
    sys.meta_path.insert(0, NoAcaiTf())
    import numpy as np
    import tensorflow as tf
    obj = tf.saved_model.load(sys.argv[1])
    x = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 1)).astype(np.float32)
    z = obj.encode(x)
    y = obj.decode(z)
    mid = obj.interpolate(z, z[::-1], tf.constant([0.0, 0.5, 1.0]))
    signature = obj.signatures['encode'](x=tf.constant(x))['latent']
    np.testing.assert_allclose(obj.reconstruct(x), y, atol=1e-5)
    np.testing.assert_allclose(signature, z, atol=1e-6)
    np.testing.assert_allclose(mid[0], z[0], atol=1e-6)
    np.testing.assert_allclose(mid[2], z[0], atol=1e-6)
    big = obj.encode(np.zeros((17, 32, 32, 1), np.float32))  # any batch size
    print(json.dumps({'z': list(z.shape), 'y': list(y.shape), 'big': list(big.shape),
                      'y_min': float(tf.reduce_min(y)), 'y_max': float(tf.reduce_max(y)),
                      'acai_tf_loaded': any(m.startswith('acai_tf') for m in sys.modules)}))
''')


@pytest.mark.slow
def test_cli_run_outputs_and_export(tmp_path, tiny_train_args):
  result = run_program('acai_tf.train', '--model=acai', *tiny_train_args)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'starting at step 0' in result.stdout and '[report]' in result.stdout
  run_dir = only_run_dir(tmp_path)
  reports = rundir.read_metrics(run_dir)
  assert [r['step'] for r in reports] == [16, 32]
  for key in ('loss_ae', 'loss_disc', 'loss_ae_disc', 'loss_disc_real', 'rmse',
              'classify_latent', 'latent_accuracy', 'mean_distance', 'mean_smoothness', 'img_s'):
    assert key in reports[-1], key
  assert 0 <= reports[-1]['latent_accuracy'] <= 100 and reports[-1]['mean_distance'] > 0
  with open(os.path.join(run_dir, 'config.json')) as f:
    saved = json.load(f)
  assert saved['model'] == 'acai' and saved['model_config']['depth'] == 4

  tags = set()
  import tensorflow as tf
  for path in glob.glob(os.path.join(run_dir, 'tensorboard', 'events.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      tags.update(v.tag for v in event.summary.value)
  assert {'reconstruction', 'lerp', 'slerp', 'samples', 'mean_distance', 'mean_smoothness',
          'latent_accuracy', 'loss_disc', 'img_s'} <= tags

  export_dir = os.path.join(run_dir, 'export')
  assert os.path.islink(export_dir) and os.path.isfile(os.path.join(export_dir, 'saved_model.pb'))
  with open(os.path.join(export_dir, 'acai_tf.json')) as f:
    meta = json.load(f)
  assert meta['step'] == 32 and meta['latent_shape'] == [2, 2, 4]
  loaded = subprocess.run([sys.executable, '-c', LOAD_WITHOUT_PACKAGE, export_dir],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
  assert loaded.returncode == 0, loaded.stderr[-3000:]
  shapes = json.loads(loaded.stdout.strip().splitlines()[-1])
  assert shapes['z'] == [3, 2, 2, 4] and shapes['y'] == [3, 32, 32, 1] and shapes['big'][0] == 17
  assert not shapes['acai_tf_loaded']

  again = run_program('acai_tf.train', '--model=acai', *tiny_train_args)
  assert again.returncode == 0 and 'nothing to do' in again.stdout
  assert len(rundir.read_metrics(run_dir)) == 2


@pytest.mark.slow
def test_advai_trains_its_interpolator_phase_before_total_kimg(tmp_path):
  """As the official code: train_int_kimg of phase 1, then total_kimg of autoencoder training,
  even when the phase boundary falls on a report."""
  config = trainer.model_config('advai', 'lines32', depth=4, latent=4, int_width=16,
                                 train_int_kimg=0.125)
  run = trainer.train('advai', config, trainer.TrainConfig(
      train_dir=str(tmp_path), total_kimg=0.125, report_kimg=0.125, batch=8, eval_pairs=8),
      log=lambda line: None)
  reports = rundir.read_metrics(run.dir)
  assert [r['step'] for r in reports] == [16, 32]  # (0.125 + 0.125) kimg at batch 8
  assert 'loss_interp' in reports[0] and 'loss_ae' not in reports[0]
  assert all('loss_ae' in r and 'loss_interp' not in r for r in reports[1:])
