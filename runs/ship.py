"""Adds a finished run's export to the trained models that ship (acai_tf/pretrained).

    python runs/ship.py RUN_DIR [RUN_DIR ...] [--data_dir=DIR]

Copies <RUN_DIR>/export to acai_tf/pretrained/<dataset>_<model>/ (replacing an older one),
scores the copy as the evaluation programs do (lines32: `acai_tf.eval.lines`, seeded; a
labelled dataset: `acai_tf.eval.probe` on its latents, which needs --data_dir) and writes its
entry in acai_tf/pretrained/manifest.json: the model, the dataset, kimg, seed, the command
that trained it (the flags that differ from the defaults and the dataset's paper settings),
the command that scores it, the scores, and a fingerprint that needs no data: statistics of
its codes and decodes of a seeded batch of noise images, which tests/test_pretrained.py checks
wherever the dataset is missing (MNIST in CI). The copied acai_tf.json drops the folders of
the machine that trained it (train_dir, data_dir).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from acai_tf import export, pretrained, rundir, schema, trainer
from acai_tf.config import TrainConfig

# Not in the command's tail: the machine's folders, what it names first, where reports go.
DERIVED = ('train_dir', 'data_dir', 'dataset', 'total_kimg', 'log_to')
MACHINE = ('train_dir', 'data_dir')  # folders of the machine that trained it: not shipped
REPO = os.path.dirname(os.path.dirname(pretrained.HERE))
NOISE_IMAGES = 16  # the fingerprint's batch


def train_command(record):
  """The `python -m acai_tf.train` command that makes a run of `record` (its config.json)."""
  model, train_config = record['model'], record['train_config']
  flags = [f'--model={model}', f'--dataset={train_config["dataset"]}',
           f'--total_kimg={train_config["total_kimg"]:g}']
  defaults = TrainConfig(total_kimg=train_config['total_kimg'])  # report_kimg: its derived one
  for key, value in train_config.items():
    if key not in DERIVED and value != getattr(defaults, key, value):
      flags.append(f'--{key}={value:g}' if isinstance(value, float) else f'--{key}={value}')
  paper = trainer.model_config(model, train_config['dataset']).to_dict()
  flags += [f'--{k}={v}' for k, v in record['model_config'].items() if paper.get(k) != v]
  return 'python -m acai_tf.train ' + ' '.join(flags)


def scores(path, meta, data_dir):
  """(scores, the command that makes them) of the export at `path`: the command is run, so the
  manifest holds exactly what it prints (its CPU kernels chosen as every program's are)."""
  relative = os.path.relpath(path, REPO)
  if meta['dataset'] == 'lines32':
    program, command = 'lines', f'python -m acai_tf.eval.lines --export={relative}'
    keys = {'mean_distance': 'mean_distance', 'mean_smoothness': 'mean_smoothness'}
  else:
    program = 'probe'
    command = f'python -m acai_tf.eval.probe --export={relative} --data_dir=DATA_DIR'
    keys = {'probe_accuracy': 'accuracy'}
  with tempfile.TemporaryDirectory() as tmp:
    output = os.path.join(tmp, 'scores.json')
    argv = command.replace('DATA_DIR', data_dir or 'DATA_DIR').split()[1:]
    subprocess.run([sys.executable, *argv, f'--output={output}'], cwd=REPO, check=True)
    result = schema.read_eval(output, program)
  return {name: result[key] for name, key in keys.items()}, command


def fingerprint(module, image_shape):
  """Means of the codes and decodes, and of their absolute values, of NOISE_IMAGES seeded
  uniform noise images in [-1, 1]: what the export computes, checked without any dataset."""
  images = np.random.default_rng(0).uniform(-1, 1, (NOISE_IMAGES, *image_shape))
  codes = module.encode(tf.constant(images, tf.float32))
  decoded = module.decode(codes).numpy()
  codes = codes.numpy()
  return {'code_mean': float(codes.mean()), 'code_abs_mean': float(np.abs(codes).mean()),
          'decoded_mean': float(decoded.mean()),
          'decoded_abs_mean': float(np.abs(decoded).mean())}


def ship(run_dir, data_dir):
  record = rundir.read_config(run_dir)
  source = os.path.realpath(os.path.join(run_dir, rundir.EXPORT_LINK))
  meta = export.load(source)[1] if record else None
  if meta is None or meta['kimg'] < record['train_config']['total_kimg']:
    raise SystemExit(f'error: {run_dir} is not a finished run (trained and exported).')
  name = pretrained.name(record['model'], meta['dataset'])
  target = os.path.join(pretrained.HERE, name)
  shutil.rmtree(target, ignore_errors=True)
  shutil.copytree(source, target)
  meta['train_config'] = {k: v for k, v in meta['train_config'].items() if k not in MACHINE}
  rundir.write_atomic(os.path.join(target, rundir.EXPORT_META), json.dumps(meta, indent=1,
                                                                     sort_keys=True))
  entry = {'model': record['model'], 'dataset': meta['dataset'], 'kimg': meta['kimg'],
           'seed': record['train_config']['seed'], 'command': train_command(record)}
  entry['scores'], entry['scored_with'] = scores(target, meta, data_dir)
  entry['fingerprint'] = fingerprint(tf.saved_model.load(target), meta['image_shape'])
  shipped = pretrained.manifest()
  shipped[name] = entry
  rundir.write_atomic(pretrained.MANIFEST, json.dumps(
      {'format': 1, 'exports': dict(sorted(shipped.items()))}, indent=2) + '\n')
  print(f'shipped {name}: {entry["scores"]}')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('runs', nargs='+', help='Run directories of finished runs.')
  parser.add_argument('--data_dir', default=None, help='TFRecords of a labelled dataset.')
  args = parser.parse_args()
  for run_dir in args.runs:
    ship(run_dir, args.data_dir)


if __name__ == '__main__':
  sys.exit(main())
