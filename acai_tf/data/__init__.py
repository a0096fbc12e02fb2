"""The dataset registry: `--dataset` name -> Dataset factory.

A Dataset knows its image shape, its number of classes, the paper's model
hyperparameters for it (`defaults`, from the original's run grid), and how to
produce an infinite shuffled training stream and a fixed test split.
"""

import functools

from acai_tf.data.base import Dataset
from acai_tf.data.lines32 import Lines32
from acai_tf.data.records import REAL_DATASETS, MissingDataError, RecordDataset

__all__ = ['DATASETS', 'Dataset', 'Lines32', 'MissingDataError', 'RecordDataset', 'get_dataset']

DATASETS = {
    'lines32': lambda data_dir=None: Lines32(),
    **{name: functools.partial(RecordDataset, name, **spec) for name, spec in REAL_DATASETS.items()},
}


def get_dataset(name, data_dir=None):
  """The dataset called `name`; real datasets read their TFRecords from `data_dir`."""
  try:
    factory = DATASETS[name]
  except KeyError:
    raise ValueError(f'Unknown dataset {name!r}; choose one of: {", ".join(DATASETS)}.') from None
  return factory(data_dir=data_dir)
