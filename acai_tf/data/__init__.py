"""The dataset registry: `--dataset` name -> Dataset factory.

A Dataset knows its image shape, its number of classes, the paper's model
hyperparameters for it (`defaults`, from the original's run grid), and how to
produce an infinite shuffled training stream and a fixed test split.
"""

import functools

from acai_tf.data.dataset import Dataset
from acai_tf.data.lines32 import Lines32
from acai_tf.data.records import (REAL_DATASETS, MissingDataError, RecordDataset,
                                  default_data_dir, description_path, user_dataset)
from acai_tf.errors import UsageError

__all__ = ['DATASETS', 'Dataset', 'Lines32', 'MissingDataError', 'RecordDataset', 'get_dataset',
           'labelled_splits']

DATASETS = {
    'lines32': lambda data_dir=None: Lines32(),
    **{name: functools.partial(RecordDataset, name, **spec)
       for name, spec in REAL_DATASETS.items()},
}


def get_dataset(name, data_dir=None):
  """The dataset called `name`: a built-in one, or one of your own that `python -m
  data_prep.build --dataset=NAME --source=folder|tfds` wrote to `data_dir`.

  Real datasets read their TFRecords from `data_dir` (default: $ACAI_DATA or ./data).
  """
  if name in DATASETS:
    return DATASETS[name](data_dir=data_dir)
  found = user_dataset(name, data_dir)
  if found is None:
    folder = data_dir or default_data_dir()
    raise MissingDataError(
        f'unknown dataset {name!r}: the built-in ones are {", ".join(DATASETS)}, and '
        f'{description_path(folder, name)} does not exist. Build your own with: python -m '
        f'data_prep.build --dataset={name} --source=folder --raw_dir=IMAGES --data_dir={folder} '
        '(then pass the same --data_dir).')
  return found


def labelled_splits(name, data_dir=None, train_limit=60000):
  """(dataset, train images, labels, test images, labels) of a labelled dataset, as floats in
  [-1, 1]: its first `train_limit` training images in a fixed order, and its test split."""
  if train_limit < 1:
    raise UsageError(f'train_limit={train_limit} must be >= 1.')
  dataset = get_dataset(name, data_dir)
  if dataset.nclass < 2:
    raise UsageError(f'{name} is unlabelled: probes and clustering need labels (for a folder of '
                     'your own: images in one sub-folder per class).')
  dataset.check()
  train, train_labels = dataset.train_once(train_limit)
  test, test_labels = dataset.test()
  return dataset, train, train_labels, test, test_labels
