"""The trained models that ship (acai_tf/pretrained): each one scores as its manifest says."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from acai_tf import pretrained, rundir
from helpers import MNIST_DIR, REPO, run_program

sys.path.insert(0, os.path.join(REPO, 'runs'))
import ship

SHIPPED = pretrained.manifest()


def test_the_manifest_describes_every_shipped_export():
  folders = sorted(d for d in os.listdir(pretrained.HERE)
                   if os.path.isdir(os.path.join(pretrained.HERE, d)) and d != '__pycache__')
  assert folders == pretrained.names()
  for name, entry in SHIPPED.items():
    assert name == pretrained.name(entry['model'], entry['dataset'])
    assert entry['command'].startswith(f'python -m acai_tf.train --model={entry["model"]} '
                                       f'--dataset={entry["dataset"]}')
    assert pretrained.export_dir(entry['model'], entry['dataset']) == os.path.join(
        pretrained.HERE, name)
  assert pretrained.export_dir('acai', 'no_such_dataset') is None


@pytest.mark.slow
@pytest.mark.parametrize('name', [n for n in SHIPPED if SHIPPED[n]['dataset'] == 'lines32'])
def test_a_shipped_lines32_export_scores_as_its_manifest_says(name, tmp_path):
  # The manifest's own command, in this process (its CPU kernels as the program picks them:
  # conftest.py).
  command = SHIPPED[name]['scored_with'].split()
  assert command[:3] == ['python', '-m', 'acai_tf.eval.lines']
  result = run_program(*command[2:], f'--output={tmp_path / "lines.json"}')
  assert result.returncode == 0, result.stderr[-2000:]
  scores = json.loads((tmp_path / 'lines.json').read_text())
  expected = SHIPPED[name]['scores']
  assert {k: scores[k] for k in expected} == expected


@pytest.mark.parametrize('name', list(SHIPPED))
def test_a_shipped_export_computes_what_it_computed_when_shipped(name):
  """No data needed (MNIST is not in CI): the codes and decodes of seeded noise images."""
  entry = SHIPPED[name]
  path = pretrained.export_dir(entry['model'], entry['dataset'])
  with open(os.path.join(path, 'acai_tf.json')) as f:
    meta = json.load(f)
  assert not {'train_dir', 'data_dir'} & set(meta['train_config'])  # no folder of our machine
  found = ship.fingerprint(tf.saved_model.load(path), meta['image_shape'])
  # Other CPU kernels round differently: close, not equal (the scores below are exact).
  np.testing.assert_allclose(list(found.values()), list(entry['fingerprint'].values()),
                             rtol=1e-4, atol=1e-6)
  assert list(found) == list(entry['fingerprint'])


@pytest.mark.skipif(not MNIST_DIR, reason='the probe needs the MNIST digits the export was '
                    'scored on: set ACAI_MNIST_DIR (the fingerprint test checks it without)')
@pytest.mark.parametrize('name', [n for n in SHIPPED if SHIPPED[n]['dataset'] != 'lines32'])
def test_a_shipped_mnist32_export_probes_as_its_manifest_says(name, tmp_path):
  from helpers import run_build
  assert run_build('--dataset=mnist32', '--source=dir', f'--raw_dir={MNIST_DIR}',
                   f'--data_dir={tmp_path}').returncode == 0
  command = SHIPPED[name]['scored_with'].replace('DATA_DIR', str(tmp_path)).split()
  result = run_program(*command[2:], f'--output={tmp_path / "probe.json"}')
  assert result.returncode == 0, result.stderr[-2000:]
  accuracy = json.loads((tmp_path / 'probe.json').read_text())['accuracy']
  assert accuracy == SHIPPED[name]['scores']['probe_accuracy']


def test_shipped_exports_keep_one_evaluation_record_each(tmp_path):
  # They share a folder, so a record named only after the program would be overwritten by the
  # next export's; an export in a run directory keeps the plain name there.
  paths = [rundir.eval_path(pretrained.export_dir(e['model'], e['dataset']), 'cluster_mnist32')
           for e in SHIPPED.values()]
  assert len(set(paths)) == len(SHIPPED)
  assert {os.path.dirname(p) for p in paths} == {pretrained.HERE}
  (tmp_path / 'config.json').write_text('{}')
  (tmp_path / 'export').mkdir()
  assert rundir.eval_path(f'{tmp_path}/export/', 'lines') == str(tmp_path / 'eval_lines.json')


def test_the_shipped_command_names_only_what_differs_from_the_defaults():
  record = {'model': 'acai', 'model_config': {'depth': 16, 'latent': 16, 'latent_width': 2,
                                              'lr': 0.0001, 'advweight': 0.5, 'reg': 0.3,
                                              'advdepth': 0},
            'train_config': {'dataset': 'lines32', 'train_dir': '/x', 'data_dir': '/y',
                             'total_kimg': 1024.0, 'report_kimg': 4.0, 'batch': 64, 'seed': 1}}
  assert ship.train_command(record) == (
      'python -m acai_tf.train --model=acai --dataset=lines32 --total_kimg=1024 --seed=1 '
      '--reg=0.3')
