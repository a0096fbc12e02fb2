"""The dataset registry (TensorFlow-free): `--dataset` name -> its description (DatasetInfo).

A description gives a dataset's image shape, its number of classes, the paper's model
hyperparameters for it (`defaults`, from the original's run grid) and the class that serves
its data: `get_dataset` imports that class (and TensorFlow) and makes the Dataset, an infinite
shuffled training stream and a fixed test split.
"""

from acai_tf.config import default_data_dir, import_class
from acai_tf.data.info import (RECORDS, DataFormatError, DatasetInfo, MissingDataError,
                               description_path, user_info)
from acai_tf.errors import UsageError
from acai_tf.line_renderer import NCLASS, SIZE

__all__ = ['DATASETS', 'DataFormatError', 'DatasetInfo', 'MissingDataError', 'dataset_info',
           'get_dataset', 'labelled_splits']

PAPER_REAL = {'depth': 64, 'latent': 16, 'latent_width': 4}  # svhn32, cifar10, celeba32
ONE_SPLIT = {'train': ['train'], 'test': ['test']}
# CelebA has no test split: as the original, "test" reads the training file. Unlabelled.
CELEBA_SPLITS = {'train': ['train'], 'test': ['train']}

# The paper's grid: lines32 depth 16 with a 2x2 latent; mnist32 depth 16 and svhn32 / cifar10 /
# celeba32 depth 64, all with a 4x4 latent; latent 16 is the default (d_z 256); the runs/
# scripts also cover 2 (and 64 on CIFAR). The real datasets read data_prep's TFRecords.
DATASETS = {info.name: info for info in (
    DatasetInfo('lines32', 'acai_tf.data.lines32.Lines32', (SIZE, SIZE, 1), NCLASS,
                {'depth': 16, 'latent': 16, 'latent_width': 2}, grid_latents=(16,),
                line_metrics=True),
    DatasetInfo('mnist32', RECORDS, (32, 32, 1), 10, {**PAPER_REAL, 'depth': 16},
                display_name='MNIST', grid_latents=(2, 16), stem='mnist', splits=ONE_SPLIT,
                prepare='pad_mnist'),
    DatasetInfo('svhn32', RECORDS, (32, 32, 3), 10, PAPER_REAL, display_name='SVHN',
                grid_latents=(2, 16), stem='svhn',
                splits={'train': ['train', 'extra'], 'test': ['test']}),
    DatasetInfo('celeba32', RECORDS, (32, 32, 3), 1, PAPER_REAL, display_name='CelebA',
                grid_latents=(2, 16), stem='celeba', splits=CELEBA_SPLITS,
                prepare='crop_celeba'),
    DatasetInfo('cifar10', RECORDS, (32, 32, 3), 10, PAPER_REAL, display_name='CIFAR-10',
                grid_latents=(16, 64), stem='cifar10', splits=ONE_SPLIT),
    # The same records at 64x64 (the original derives its scales from the size: one more).
    DatasetInfo('celeba64', RECORDS, (64, 64, 3), 1, PAPER_REAL, stem='celeba',
                splits=CELEBA_SPLITS, prepare='crop_celeba'),
)}


def dataset_info(name, data_dir=None):
  """The description of the dataset called `name`: a built-in one, or one of your own that
  `python -m data_prep.build --dataset=NAME --source=folder|tfds` described in `data_dir`
  (default: $ACAI_DATA or ./data)."""
  if name in DATASETS:
    return DATASETS[name]
  found = user_info(name, data_dir)
  if found is None:
    folder = data_dir or default_data_dir()
    raise MissingDataError(
        f'unknown dataset {name!r}: the built-in ones are {", ".join(DATASETS)}, and '
        f'{description_path(folder, name)} does not exist. Build your own with: python -m '
        f'data_prep.build --dataset={name} --source=folder --raw_dir=IMAGES --data_dir={folder} '
        '(then pass the same --data_dir).')
  return found


def get_dataset(name, data_dir=None):
  """The Dataset called `name` (see `dataset_info`), its class imported now; real datasets
  read their TFRecords from `data_dir` (default: $ACAI_DATA or ./data)."""
  info = dataset_info(name, data_dir)
  return import_class(info.dataset_class)(info, data_dir)


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
