"""What the evaluation programs share: loading an export, numpy endpoints, result files."""

import json
import os

import tensorflow as tf

from acai_tf.data import get_dataset
from acai_tf.export import numpy_endpoint as batched  # noqa: F401 (used by the programs)
from acai_tf.export import write_atomic


def load_export(path):
  """(module, meta) of an export made by training; a clear error if it is not one."""
  meta_path = os.path.join(path, 'acai_tf.json')
  if not os.path.exists(meta_path):
    raise FileNotFoundError(f'{path} is not an acai_tf export (no acai_tf.json); pass '
                            '<run_dir>/export.')
  with open(meta_path) as f:
    meta = json.load(f)
  return tf.saved_model.load(path), meta


def features(module, images):
  """Flattened latents of `images` from an export's `encode`."""
  z = batched(module.encode)(images)
  return z.reshape(len(z), -1)


def labelled_splits(dataset_name, data_dir, train_limit):
  """(train images, labels, test images, labels) of a labelled dataset, floats in [-1, 1]."""
  dataset = get_dataset(dataset_name, data_dir)
  if dataset.nclass < 2:
    raise ValueError(f'{dataset_name} is unlabelled: probes and clustering need labels.')
  dataset.check()
  train, train_labels = dataset.train_once(train_limit)
  test, test_labels = dataset.test()
  return dataset, train, train_labels, test, test_labels


def result_path(export_dir, name):
  """Where a program's JSON goes: in the run directory that holds the export."""
  here = os.path.dirname(os.path.abspath(export_dir.rstrip('/')))
  for folder in (here, os.path.dirname(here)):
    if os.path.exists(os.path.join(folder, 'config.json')):
      return os.path.join(folder, f'eval_{name}.json')
  return os.path.join(here, f'eval_{name}.json')


def write_result(path, record):
  write_atomic(path, json.dumps(record, indent=2, sort_keys=True))
  print(f'wrote {path}', flush=True)
