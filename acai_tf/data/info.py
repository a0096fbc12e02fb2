"""What a dataset is, without its data (TensorFlow-free): the registry's entries, and the
descriptions data_prep.build writes of datasets of your own.

The tables, the grid and the model settings read a `DatasetInfo`; a `Dataset`
(acai_tf/data/dataset.py), made from one by `acai_tf.data.get_dataset`, serves the data.
"""

import dataclasses
import json
import os

from acai_tf.config import default_data_dir
from acai_tf.errors import UsageError

RECORDS = 'acai_tf.data.records.RecordDataset'  # the Dataset of data_prep's TFRecords
# Every model's defaults on datasets of your own follow the paper's real-data runs (SVHN,
# CIFAR-10, CelebA).
USER_DEFAULTS = {'depth': 64, 'latent': 16, 'latent_width': 4}


class MissingDataError(UsageError):
  """A TFRecord file the dataset needs is not there."""


RECORD_SUFFIX = '.tfrecord'


def record_path(data_dir, stem, split):
  """<data_dir>/<stem>-<split>.tfrecord: the file data_prep writes and RecordDataset reads."""
  return os.path.join(data_dir, f'{stem}-{split}{RECORD_SUFFIX}')


class DataFormatError(UsageError):
  """A file is not what data_prep writes."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """A dataset's description; its fields are also attributes of its `Dataset`.

  Attributes:
    name: registry name (--dataset).
    dataset_class: 'package.module.Class' of its Dataset, imported when first used.
    image_shape: (height, width, colours).
    nclass: number of labels (1 = unlabelled: the probe is skipped).
    defaults: model hyperparameters the paper used on this dataset.
    display_name: its name in tables (default: `name`).
    grid_latents: the latent sizes (channels) of the paper's runs on it, in order (acai_tf.grid);
      none for a dataset the paper did not use.
    line_metrics: whether Mean Distance / Smoothness apply.
    stem: a dataset read from data_prep's TFRecords (acai_tf.data.records): the file stem
      data_prep writes ('mnist' -> mnist-train.tfrecord); None for any other.
    splits: with `stem`, {'train': [split names], 'test': [...]} of files to concatenate.
    prepare: with `stem`, the name of its preprocessing in `records.PREPARE` (None: none).
  """
  name: str
  dataset_class: str
  image_shape: tuple
  nclass: int
  defaults: dict
  display_name: str = None
  grid_latents: tuple = ()
  line_metrics: bool = False
  stem: str = None
  splits: dict = None
  prepare: str = None

  def __post_init__(self):
    if self.display_name is None:
      object.__setattr__(self, 'display_name', self.name)


def description_path(data_dir, name):
  """<data_dir>/<name>.json: what data_prep.build writes last, after the records."""
  return os.path.join(data_dir or default_data_dir(), f'{name}.json')


def user_info(name, data_dir=None):
  """The DatasetInfo of the dataset `python -m data_prep.build --dataset=NAME` described in
  `data_dir`, or None if there is no description."""
  path = description_path(data_dir, name)
  try:
    with open(path) as f:
      info = json.load(f)
    test = 'test' if 'test' in info['splits'] else next(k for k in info['splits'] if k != 'train')
    size = int(info['size'])
    return DatasetInfo(name, RECORDS, (size, size, int(info['channels'])),
                       max(1, len(info['classes'])), USER_DEFAULTS, stem=name,
                       splits={'train': ['train'], 'test': [test]})
  except FileNotFoundError:
    return None
  except (OSError, ValueError, KeyError, TypeError, StopIteration) as e:
    raise DataFormatError(f'{path} is not a dataset description written by data_prep.build '
                          f'({type(e).__name__}: {e}); rebuild the dataset.') from None
