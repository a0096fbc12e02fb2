"""What the evaluation programs share: loading an export, numpy endpoints, result files."""

import json
import os

import tensorflow as tf

from acai_tf.data import get_dataset
from acai_tf.errors import UsageError
from acai_tf.export import numpy_endpoint as batched  # noqa: F401 (used by the programs)
from acai_tf.rundir import write_atomic


def load_export(path):
  """(module, meta) of an export made by training; a clear error if it is not one."""
  if not os.path.exists(path):
    raise UsageError(f'{path} does not exist; pass <run_dir>/export of a trained run.')
  meta_path = os.path.join(path, 'acai_tf.json')
  if not os.path.exists(meta_path):
    raise UsageError(f'{path} is not an acai_tf export (no acai_tf.json); pass <run_dir>/export.')
  with open(meta_path) as f:
    meta = json.load(f)
  return tf.saved_model.load(path), meta


def check_dataset(meta, dataset, any_dataset=False, data_dir=None):
  """Refuses to score an export on a dataset it was not trained on (unless `any_dataset`)."""
  trained = meta.get('dataset')
  shape = tuple(meta.get('image_shape') or ())
  wanted = tuple(get_dataset(dataset, data_dir).image_shape)
  if shape and shape != wanted:
    raise UsageError(f'the export takes images of shape {shape} ({trained}); {dataset} has '
                     f'{wanted}. Pass --dataset={trained}.')
  if trained and trained != dataset and not any_dataset:
    raise UsageError(f'the export was trained on {trained}, not {dataset}. Pass '
                     f'--dataset={trained}, or --any_dataset to score it on {dataset} anyway.')


def features(module, images):
  """Flattened latents of `images` from an export's `encode`."""
  z = batched(module.encode)(images)
  return z.reshape(len(z), -1)


def labelled_splits(dataset_name, data_dir, train_limit):
  """(train images, labels, test images, labels) of a labelled dataset, floats in [-1, 1]."""
  if train_limit < 1:
    raise UsageError(f'train_limit={train_limit} must be >= 1.')
  dataset = get_dataset(dataset_name, data_dir)
  if dataset.nclass < 2:
    raise UsageError(f'{dataset_name} is unlabelled: probes and clustering need labels (for a '
                     'folder of your own: images in one sub-folder per class).')
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
