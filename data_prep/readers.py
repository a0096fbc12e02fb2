"""Readers of the official raw files of each dataset (no TensorFlow).

Each reader takes the folder holding the files the user downloaded and returns
{split: Split}; a Split yields (image, label) pairs, where image is a uint8
array [H, W, C] (written as PNG) or raw JPEG bytes (CelebA, kept as is).
Missing or malformed files raise `RawDataError` naming the file and what was
expected.
"""

import dataclasses
import gzip
import io
import os
import pickle
import tarfile
import zipfile

import numpy as np


class RawDataError(ValueError):
  """A raw file is missing or is not in the expected format."""


@dataclasses.dataclass
class Split:
  count: int
  items: object  # iterable of (uint8 [H, W, C] array or JPEG bytes, int label)


def _arrays(images, labels):
  return Split(len(labels), zip(images, (int(v) for v in labels)))


def _need(raw_dir, *names):
  paths = [os.path.join(raw_dir, n) for n in names]
  missing = [p for p in paths if not os.path.exists(p)]
  if missing:
    raise RawDataError(f'missing {", ".join(missing)}')
  return paths


# ---- MNIST: train-images-idx3-ubyte.gz etc. ---------------------------------------------------

MNIST_FILES = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
               'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}


def read_idx(path, magic, dims):
  """Reads one gzipped idx file; checks its magic number, shape and length."""
  try:
    with gzip.open(path, 'rb') as f:
      data = f.read()
  except (OSError, EOFError) as e:
    raise RawDataError(f'{path} is truncated or not gzip ({e}); expected an MNIST '
                       'idx-ubyte.gz file') from None
  found = int.from_bytes(data[:4], 'big') if len(data) >= 4 else None
  if found != magic:
    raise RawDataError(f'{path} has magic number {found}; expected {magic} (idx '
                       f'{"images" if magic == 2051 else "labels"})')
  shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
  body = np.frombuffer(data, np.uint8, offset=4 + 4 * dims)
  if body.size != np.prod(shape):
    raise RawDataError(f'{path} holds {body.size} values; its header promises {shape}')
  return body.reshape(shape)


def read_mnist(raw_dir):
  splits = {}
  for split, (images, labels) in MNIST_FILES.items():
    image_path, label_path = _need(raw_dir, images, labels)
    x = read_idx(image_path, 2051, 3)[..., None]
    y = read_idx(label_path, 2049, 1)
    if len(x) != len(y):
      raise RawDataError(f'{image_path} has {len(x)} images but {label_path} {len(y)} labels')
    splits[split] = _arrays(x, y)
  return splits


# ---- SVHN: {train,test,extra}_32x32.mat --------------------------------------------------------

def read_svhn_mat(path):
  from scipy.io import loadmat
  try:
    data = loadmat(path)
  except Exception as e:  # scipy raises several types for non-.mat input
    raise RawDataError(f'{path} is not a readable MATLAB file ({e})') from None
  if 'X' not in data or 'y' not in data:
    keys = sorted(k for k in data if not k.startswith('__'))
    raise RawDataError(f'{path} has keys {keys}; expected "X" [32, 32, 3, N] and "y" [N, 1] '
                       '(SVHN *_32x32.mat)')
  x, y = data['X'], data['y'].reshape(-1)
  if x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
    raise RawDataError(f'{path}: X has shape {x.shape} for {len(y)} labels; expected '
                       '[32, 32, 3, N]')
  # As the original: labels y - 1, so digit 0 (stored as 10) becomes 9.
  return np.transpose(x, (3, 0, 1, 2)), (y.astype(np.int64) - 1) % 10


def read_svhn(raw_dir):
  splits = {}
  for split in ('train', 'test', 'extra'):
    (path,) = _need(raw_dir, f'{split}_32x32.mat')
    splits[split] = _arrays(*read_svhn_mat(path))
  return splits


# ---- CIFAR-10: cifar-10-python.tar.gz or cifar-10-matlab.tar.gz ---------------------------------

CIFAR_ARCHIVES = ('cifar-10-python.tar.gz', 'cifar-10-matlab.tar.gz')


def read_cifar10(raw_dir):
  archives = [os.path.join(raw_dir, n) for n in CIFAR_ARCHIVES]
  found = [a for a in archives if os.path.exists(a)]
  if not found:
    raise RawDataError(f'missing {" or ".join(archives)}')
  path = found[0]
  batches = {}
  try:
    with tarfile.open(path) as tar:
      for member in tar.getmembers():
        stem = os.path.basename(member.name).split('.')[0]
        if stem.startswith('data_batch_') or stem == 'test_batch':
          raw = tar.extractfile(member).read()
          if member.name.endswith('.mat'):
            from scipy.io import loadmat
            mat = loadmat(io.BytesIO(raw))
            batches[stem] = (mat['data'], mat['labels'].reshape(-1))
          else:
            batch = pickle.loads(raw, encoding='bytes')
            batches[stem] = (batch[b'data'], np.asarray(batch[b'labels']))
  except (tarfile.TarError, EOFError, OSError, KeyError, pickle.UnpicklingError) as e:
    raise RawDataError(f'{path} is not a readable CIFAR-10 tarball ({type(e).__name__}: {e})'
                       ) from None
  expected = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
  if sorted(batches) != sorted(expected):
    raise RawDataError(f'{path} holds batches {sorted(batches)}; expected {expected}')

  def images(names):
    data = np.concatenate([batches[n][0] for n in names]).reshape(-1, 3, 32, 32)
    return data.transpose(0, 2, 3, 1), np.concatenate([batches[n][1] for n in names])

  return {'train': _arrays(*images(expected[:5])), 'test': _arrays(*images(expected[5:]))}


# ---- CelebA: img_align_celeba.zip or img_align_celeba/ ---------------------------------------

def read_celeba(raw_dir):
  folder = os.path.join(raw_dir, 'img_align_celeba')
  archive = os.path.join(raw_dir, 'img_align_celeba.zip')
  if os.path.isdir(folder):
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith('.jpg'))

    def items():
      for name in names:
        with open(os.path.join(folder, name), 'rb') as f:
          yield f.read(), 0
  elif os.path.exists(archive):
    try:
      with zipfile.ZipFile(archive) as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith('.jpg'))
    except zipfile.BadZipFile as e:
      raise RawDataError(f'{archive} is not a readable zip ({e})') from None

    def items():
      with zipfile.ZipFile(archive) as z:
        for name in names:
          yield z.read(name), 0
  else:
    raise RawDataError(f'missing {archive} (or the folder {folder})')
  if not names:
    raise RawDataError(f'no .jpg images in {folder if os.path.isdir(folder) else archive}')
  return {'train': Split(len(names), items())}


READERS = {'mnist': read_mnist, 'svhn': read_svhn, 'cifar10': read_cifar10,
           'celeba': read_celeba}

# What to download, for the error messages and the README.
RAW_FILES = {
    'mnist': 'train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, '
             't10k-labels-idx1-ubyte.gz (http://yann.lecun.com/exdb/mnist/)',
    'svhn': 'train_32x32.mat, test_32x32.mat, extra_32x32.mat '
            '(http://ufldl.stanford.edu/housenumbers/)',
    'cifar10': 'cifar-10-python.tar.gz or cifar-10-matlab.tar.gz '
               '(https://www.cs.toronto.edu/~kriz/cifar.html)',
    'celeba': 'img_align_celeba.zip or its unzipped folder img_align_celeba/ '
              '(https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, "Align&Cropped Images")',
}
