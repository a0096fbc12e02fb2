"""Tiny official raw files (MNIST idx, SVHN mat, the CIFAR-10 tarball, the CelebA zip), for
data_prep, and a reader of the TFRecords it writes."""

import gzip
import io
import os
import pickle
import tarfile
import zipfile

import numpy as np
import tensorflow as tf


def write_idx(path, array, magic):
  """A gzipped idx-ubyte file (MNIST's format) holding `array`."""
  header = magic.to_bytes(4, 'big') + b''.join(d.to_bytes(4, 'big') for d in array.shape)
  with gzip.open(path, 'wb') as f:
    f.write(header + array.astype(np.uint8).tobytes())


def make_mnist(folder, train=12, test=5, rng=None):
  """The four MNIST idx files; returns {split: (images [N, 28, 28], labels [N])}."""
  rng = rng or np.random.default_rng(0)
  os.makedirs(folder, exist_ok=True)
  data = {}
  for split, n, (images, labels) in (('train', train, ('train-images-idx3-ubyte.gz',
                                                       'train-labels-idx1-ubyte.gz')),
                                     ('test', test, ('t10k-images-idx3-ubyte.gz',
                                                     't10k-labels-idx1-ubyte.gz'))):
    x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y = np.arange(n) % 10
    write_idx(os.path.join(folder, images), x, 2051)
    write_idx(os.path.join(folder, labels), y, 2049)
    data[split] = (x, y)
  return data


def make_svhn(folder, rng=None):
  from scipy.io import savemat
  rng = rng or np.random.default_rng(0)
  os.makedirs(folder, exist_ok=True)
  for split, n in (('train', 6), ('test', 4), ('extra', 3)):
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    savemat(os.path.join(folder, f'{split}_32x32.mat'),
            {'X': x, 'y': (np.arange(n) % 10 + 1).reshape(-1, 1)})


def write_tar(path, members):
  """A .tar.gz holding {member name: bytes}."""
  with tarfile.open(path, 'w:gz') as tar:
    for name, raw in members.items():
      info = tarfile.TarInfo(name)
      info.size = len(raw)
      tar.addfile(info, io.BytesIO(raw))


def make_cifar(folder, rng=None, dumps=pickle.dumps):
  """cifar-10-python.tar.gz with 5 x 2 train and 3 test images; returns {batch: dict}.

  `dumps` pickles each batch (a dict with bytes keys, as the official batches load with
  encoding='bytes').
  """
  rng = rng or np.random.default_rng(0)
  os.makedirs(folder, exist_ok=True)
  batches = {}
  for name, n in [(f'data_batch_{i}', 2) for i in range(1, 6)] + [('test_batch', 3)]:
    batches[name] = {b'batch_label': f'{name} of 6'.encode(),
                     b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                     b'labels': list(range(n)),
                     b'filenames': [f'image_{i}.png'.encode() for i in range(n)]}
  write_tar(os.path.join(folder, 'cifar-10-python.tar.gz'),
            {f'cifar-10-batches-py/{name}': dumps(batch) for name, batch in batches.items()})
  return batches


def make_celeba(folder, n=3, rng=None):
  rng = rng or np.random.default_rng(0)
  os.makedirs(folder, exist_ok=True)
  with zipfile.ZipFile(os.path.join(folder, 'img_align_celeba.zip'), 'w') as z:
    for i in range(n):
      image = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
      z.writestr(f'img_align_celeba/{i:06d}.jpg', tf.io.encode_jpeg(image).numpy())


def read_records(path):
  """[(image uint8 [H, W, C], label)] of a TFRecord written by data_prep."""
  out = []
  for record in tf.data.TFRecordDataset(str(path)):
    example = tf.io.parse_single_example(record, {'image': tf.io.FixedLenFeature([], tf.string),
                                                  'label': tf.io.FixedLenFeature([], tf.int64)})
    out.append((tf.io.decode_image(example['image']).numpy(), int(example['label'])))
  return out
