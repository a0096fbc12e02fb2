"""Readers of the official raw files of each dataset (no TensorFlow).

Each reader takes the folder holding the files the user downloaded and returns
{split: Split}; a Split yields (image, label) pairs, where image is a uint8
array [H, W, C] (written as PNG) or raw JPEG bytes (CelebA, kept as is).
Missing or malformed files raise `RawDataError` naming the file and what was
expected; every split is checked before the first image is written.
"""

import dataclasses
import gzip
import io
import math
import os
import pickle
import tarfile
import zipfile
import zlib

import numpy as np

try:
  from numpy._core import multiarray as _multiarray, numeric as _numeric  # numpy >= 2
except ImportError:
  from numpy.core import multiarray as _multiarray, numeric as _numeric  # numpy 1.26


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
  except (OSError, EOFError, zlib.error) as e:
    raise RawDataError(f'{path} is truncated or not gzip ({e}); expected an MNIST '
                       'idx-ubyte.gz file') from None
  found = int.from_bytes(data[:4], 'big') if len(data) >= 4 else None
  if found != magic:
    raise RawDataError(f'{path} has magic number {found}; expected {magic} (idx '
                       f'{"images" if magic == 2051 else "labels"})')
  if len(data) < 4 + 4 * dims:
    raise RawDataError(f'{path} ends inside its header ({len(data)} bytes); expected '
                       f'{4 + 4 * dims} header bytes, then the values')
  shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
  body = np.frombuffer(data, np.uint8, offset=4 + 4 * dims)
  if body.size != math.prod(shape):
    raise RawDataError(f'{path} holds {body.size} values; its header promises {shape}')
  return body.reshape(shape)


def _check_labels(path, labels, low, high, what):
  """Fails unless every label is an integer in [low, high] (.mat files may store doubles)."""
  if labels.dtype.kind not in 'iuf':
    raise RawDataError(f'{path} holds {labels.dtype} labels; expected {what} {low}-{high}')
  bad = labels[~np.isin(labels, np.arange(low, high + 1))]
  if bad.size:
    raise RawDataError(f'{path} has label {bad[0]}; expected {what} {low}-{high}')


def read_mnist(raw_dir):
  splits = {}
  for split, (images, labels) in MNIST_FILES.items():
    image_path, label_path = _need(raw_dir, images, labels)
    x = read_idx(image_path, 2051, 3)
    if x.shape[1:] != (28, 28):
      raise RawDataError(f'{image_path} holds {len(x)} images of {x.shape[1]}x{x.shape[2]} '
                         'pixels; expected MNIST digits of 28x28 pixels')
    if not len(x):
      raise RawDataError(f'{image_path} holds 0 images; expected MNIST digits of 28x28 pixels')
    y = read_idx(label_path, 2049, 1)
    _check_labels(label_path, y, 0, 9, 'digits')
    if len(x) != len(y):
      raise RawDataError(f'{image_path} has {len(x)} images but {label_path} {len(y)} labels')
    splits[split] = _arrays(x[..., None], y)
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
  if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y) or not len(y):
    raise RawDataError(f'{path}: X has shape {list(x.shape)} for {len(y)} labels; expected '
                       '[32, 32, 3, N] with N > 0 images and N labels')
  if x.dtype != np.uint8:
    raise RawDataError(f'{path}: X holds {x.dtype} values; expected uint8 pixels')
  _check_labels(path, y, 0, 10, 'digit labels')  # 10 (and 0) mean the digit 0
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

# The only globals a pickled CIFAR-10 batch refers to: numpy arrays as numpy 1 (the official
# files, Python 2) and numpy 2 pickle them. Dicts, lists, bytes and ints need none.
PICKLE_GLOBALS = {
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
    ('numpy.core.multiarray', '_reconstruct'): _multiarray._reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _multiarray._reconstruct,
    ('numpy.core.numeric', '_frombuffer'): _numeric._frombuffer,
    ('numpy._core.numeric', '_frombuffer'): _numeric._frombuffer,
}


class _BatchUnpickler(pickle.Unpickler):
  """Unpickles a CIFAR-10 batch, refusing every global outside PICKLE_GLOBALS.

  A pickle may call any function it names (os.system, eval, ...); this one can only build
  dicts, lists, bytes, ints and numpy arrays.
  """

  def __init__(self, raw, where):
    super().__init__(io.BytesIO(raw), encoding='bytes')  # the official batches are Python 2's
    self.where = where

  def find_class(self, module, name):
    if (module, name) not in PICKLE_GLOBALS:
      raise RawDataError(
          f'{self.where} asks to load {module}.{name}, which a CIFAR-10 batch never does (it '
          'holds only dicts, lists, bytes, ints and numpy arrays); not unpickling it, as the '
          'file may be malicious')
    return PICKLE_GLOBALS[(module, name)]


def _unpickle_batch(raw, where):
  try:
    return _BatchUnpickler(raw, where).load()
  except RawDataError:
    raise
  except Exception as e:
    raise RawDataError(f'{where} is not a pickled CIFAR-10 batch ({type(e).__name__}: {e})'
                       ) from None


def _get(batch, key):
  """batch[key]: bytes keys in the official pickles, str keys in .mat files."""
  return batch.get(key, batch.get(key.decode()))


def _batch_arrays(batch, where):
  """(uint8 [N, 3072] rows, int [N] labels) of one loaded batch, checked."""
  if not isinstance(batch, dict):
    raise RawDataError(f'{where} holds a {type(batch).__name__}; expected a dict with the '
                       'keys data and labels')
  data, labels = _get(batch, b'data'), _get(batch, b'labels')
  if data is None or labels is None:
    raise RawDataError(f'{where} has the keys {sorted(map(str, batch))}; expected data and '
                       'labels')
  if not isinstance(data, np.ndarray):
    raise RawDataError(f'{where}: data is a {type(data).__name__}; expected a numpy array')
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or not len(data):
    raise RawDataError(f'{where}: data is {data.dtype} {list(data.shape)}; expected uint8 '
                       '[N, 3072] (N > 0 rows of 32x32 pixels, red then green then blue)')
  try:
    labels = np.asarray(labels).reshape(-1)
  except (ValueError, TypeError, OverflowError):  # e.g. lists of unequal lengths
    labels = np.asarray([None])
  _check_labels(where, labels, 0, 9, 'classes')
  if len(labels) != len(data):
    raise RawDataError(f'{where} has {len(data)} images but {len(labels)} labels')
  return data, labels


def _read_batch(raw, where):
  if where.endswith('.mat'):
    from scipy.io import loadmat
    try:
      batch = loadmat(io.BytesIO(raw))
    except Exception as e:
      raise RawDataError(f'{where} is not a readable MATLAB file ({type(e).__name__}: {e})'
                         ) from None
    return _batch_arrays({k: v for k, v in batch.items() if not k.startswith('__')}, where)
  return _batch_arrays(_unpickle_batch(raw, where), where)


# CIFAR-10's photos barely compress (its archive of 163 MiB holds 178 MiB), so an archive whose
# members declare far more bytes than it has is no CIFAR-10 but a decompression bomb. The floor
# lets tiny archives (tests, tar's padding) declare a little more.
CIFAR_MAX_EXPANSION = 16
CIFAR_MIN_ALLOWANCE = 1 << 20


def _check_declared(path, size, declared, member):
  """Fails if the members seen so far declare `declared` bytes, more than an archive of `size`
  bytes can hold; checked at each member's header, before its bytes are expanded."""
  if declared > CIFAR_MAX_EXPANSION * max(size, CIFAR_MIN_ALLOWANCE):
    raise RawDataError(f'{path} ({size:,} bytes) declares {declared:,} bytes of files by '
                       f'{member.name} ({member.size:,} bytes, room for {member.size // 3072:,} '
                       f'images); CIFAR-10 expands {CIFAR_MAX_EXPANSION} times at most, so this '
                       'is no CIFAR-10 archive: not expanding it')


def read_cifar10(raw_dir):
  archives = [os.path.join(raw_dir, n) for n in CIFAR_ARCHIVES]
  found = [a for a in archives if os.path.exists(a)]
  if not found:
    raise RawDataError(f'missing {" or ".join(archives)}')
  path = found[0]
  batches, size, declared = {}, os.path.getsize(path), 0
  try:
    with tarfile.open(path) as tar:
      for member in tar:
        declared += member.size
        _check_declared(path, size, declared, member)
        stem = os.path.basename(member.name).split('.')[0]
        if member.isfile() and (stem.startswith('data_batch_') or stem == 'test_batch'):
          batches[stem] = _read_batch(tar.extractfile(member).read(), f'{path}: {member.name}')
  except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
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

CELEBA_SIZE = (218, 178)  # height, width of the aligned faces (acai_tf crops them at 36, 16)
_ZIP_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error,
               NotImplementedError, RuntimeError)  # unsupported compression, encrypted member


def jpeg_size(data):
  """(height, width) from the frame header of JPEG bytes; None if they hold no JPEG header."""
  if data[:2] != b'\xff\xd8':
    return None
  i = 2
  while i + 9 <= len(data) and data[i] == 0xFF:
    marker = data[i + 1]
    if marker == 0xFF:  # fill byte
      i += 1
    elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
      return int.from_bytes(data[i + 5:i + 7], 'big'), int.from_bytes(data[i + 7:i + 9], 'big')
    elif marker == 0xDA:  # image data before any frame header
      return None
    else:  # another segment: skip it
      i += 2 + int.from_bytes(data[i + 2:i + 4], 'big')
  return None


def _celeba_images(source, names, size=-1):
  """Yields (where, bytes) of each image in the folder or zip `source`: its first `size` bytes,
  or all of them."""
  where = source
  try:
    if source.endswith('.zip'):
      with zipfile.ZipFile(source) as z:
        for name in names:
          where = f'{source}: {name}'
          with z.open(name) as f:
            yield where, f.read(size)
    else:
      for name in names:
        where = os.path.join(source, name)
        with open(where, 'rb') as f:
          yield where, f.read(size)
  except _ZIP_ERRORS as e:
    raise RawDataError(f'cannot read {where} ({type(e).__name__}: {e})') from None


def read_celeba(raw_dir):
  folder = os.path.join(raw_dir, 'img_align_celeba')
  archive = os.path.join(raw_dir, 'img_align_celeba.zip')
  if os.path.isdir(folder):
    source = folder
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith('.jpg') and os.path.isfile(os.path.join(folder, n)))
  elif os.path.exists(archive):
    source = archive
    try:
      with zipfile.ZipFile(archive) as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith('.jpg'))
    except _ZIP_ERRORS as e:
      raise RawDataError(f'{archive} is not a readable zip ({e})') from None
  else:
    raise RawDataError(f'missing {archive} (or the folder {folder})')
  if not names:
    raise RawDataError(f'no .jpg images in {source}')
  # Headers only (the frame header is within the first 64 KiB): every image is checked before
  # anything is written, without decoding 200,000 JPEGs.
  for where, head in _celeba_images(source, names, 1 << 16):
    size = jpeg_size(head)
    if size != CELEBA_SIZE:
      found = 'not a JPEG' if size is None else f'a {size[1]}x{size[0]} JPEG'
      raise RawDataError(f'{where} is {found}; expected the 178x218 (width x height) JPEGs of '
                         "CelebA's aligned faces (img_align_celeba)")
  return {'train': Split(len(names), ((data, 0) for _, data in _celeba_images(source, names)))}


@dataclasses.dataclass(frozen=True)
class Source:
  """A built-in dataset's raw data, under the stem of its record files (mnist-train.tfrecord).

  Attributes:
    read: raw_dir -> {split: Split}, from the official files (--source=dir).
    files: what to download, for the error messages.
    tfds_name: its tensorflow-datasets name (--source=tfds).
    tfds_splits: our split -> the tensorflow-datasets split it is made of.
    tfds_label: a tensorflow-datasets label -> the label the original's files give.
  """
  read: object
  files: str
  tfds_name: str
  tfds_splits: dict
  tfds_label: object = int


SOURCES = {
    'mnist': Source(read_mnist, 'train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, '
                    't10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz '
                    '(http://yann.lecun.com/exdb/mnist/)',
                    'mnist', {'train': 'train', 'test': 'test'}),
    # tfds labels digits 0-9; the original's .mat files label 0 as 10 and it read y - 1.
    'svhn': Source(read_svhn, 'train_32x32.mat, test_32x32.mat, extra_32x32.mat '
                   '(http://ufldl.stanford.edu/housenumbers/)',
                   'svhn_cropped', {'train': 'train', 'test': 'test', 'extra': 'extra'},
                   tfds_label=lambda label: (int(label) - 1) % 10),
    'cifar10': Source(read_cifar10, 'cifar-10-python.tar.gz or cifar-10-matlab.tar.gz '
                      '(https://www.cs.toronto.edu/~kriz/cifar.html)',
                      'cifar10', {'train': 'train', 'test': 'test'}),
    # Unlabelled, one split: the original's celeba-train.tfrecord holds every image.
    'celeba': Source(read_celeba, 'img_align_celeba.zip or its unzipped folder '
                     'img_align_celeba/ (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, '
                     '"Align&Cropped Images")',
                     'celeb_a', {'train': 'train+validation+test'}, tfds_label=lambda _: 0),
}
