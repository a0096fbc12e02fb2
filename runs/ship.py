"""Adds a finished run's export to the trained models that ship (acai_tf/pretrained).

    python runs/ship.py RUN_DIR [RUN_DIR ...] [--data_dir=DIR]

Copies <RUN_DIR>/export to acai_tf/pretrained/<dataset>_<model>/ (replacing an older one),
scores the copy as the evaluation programs do (lines32: `acai_tf.eval.lines`, seeded; a
labelled dataset: `acai_tf.eval.probe` on its latents, which needs --data_dir) and writes its
entry in acai_tf/pretrained/manifest.json: the model, the dataset, kimg, seed, the command
that trained it (the flags that differ from the defaults and the dataset's paper settings),
the command that scores it and the scores.
"""

import argparse
import json
import os
import shutil
import sys

from acai_tf import cli  # noqa: F401 - first: quiets TensorFlow's start-up lines

import tensorflow as tf  # noqa: I001

from acai_tf import export, pretrained, rundir, trainer
from acai_tf.config import TrainConfig
from acai_tf.data import labelled_splits
from acai_tf.eval import lines, probe

DERIVED = ('train_dir', 'data_dir', 'dataset', 'total_kimg')  # the machine's, or given above


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
  """(scores, the command that makes them) of the export at `path`."""
  module = tf.saved_model.load(path)
  relative = os.path.relpath(path, os.path.dirname(os.path.dirname(pretrained.HERE)))  # repo
  if meta['dataset'] == 'lines32':
    result = lines.score(module)
    return ({k: result[k] for k in ('mean_distance', 'mean_smoothness')},
            f'python -m acai_tf.eval.lines --export={relative}')
  accuracy, _, _ = probe.score(module, labelled_splits(meta['dataset'], data_dir))
  return ({'probe_accuracy': accuracy},
          f'python -m acai_tf.eval.probe --export={relative} --data_dir=DATA_DIR')


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
  entry = {'model': record['model'], 'dataset': meta['dataset'], 'kimg': meta['kimg'],
           'seed': record['train_config']['seed'], 'command': train_command(record)}
  entry['scores'], entry['scored_with'] = scores(target, meta, data_dir)
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
