"""The dataset registry: `--dataset` name -> Dataset.

A Dataset knows its image shape, its number of classes, the paper's model
hyperparameters for it (`defaults`, from the original's run grid), and how to
produce an infinite shuffled training stream and a fixed test split.
"""

from acai_tf.data.base import Dataset
from acai_tf.data.lines32 import Lines32

DATASETS = {
    'lines32': Lines32(),
}


def get_dataset(name):
  try:
    return DATASETS[name]
  except KeyError:
    raise ValueError(f'Unknown dataset {name!r}; choose one of: {", ".join(DATASETS)}.') from None
