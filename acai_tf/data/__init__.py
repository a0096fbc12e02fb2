"""The dataset registry: `--dataset` name -> Dataset factory.

A Dataset knows its image shape, its number of classes, the paper's model
hyperparameters for it (`defaults`, from the original's run grid), and how to
produce an infinite shuffled training stream and a fixed test split.
"""

import functools

from acai_tf.data.base import Dataset
from acai_tf.data.lines32 import Lines32
from acai_tf.data.records import (REAL_DATASETS, MissingDataError, RecordDataset,
                                  default_data_dir, description_path, user_dataset)

__all__ = ['DATASETS', 'Dataset', 'Lines32', 'MissingDataError', 'RecordDataset', 'get_dataset']

DATASETS = {
    'lines32': lambda data_dir=None: Lines32(),
    **{name: functools.partial(RecordDataset, name, **spec) for name, spec in REAL_DATASETS.items()},
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
