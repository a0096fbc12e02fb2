"""Real datasets (mnist32, svhn32, cifar10, celeba32) read from data_prep's TFRecords.

Each split is decoded once (parallel tf.data) into a uint8 array held in
memory (all four datasets fit: SVHN train+extra, the largest, is 1.9 GB) and
then served as [-1, 1] float batches. Preprocessing follows the original:
MNIST's 28x28 digits are padded to 32x32 with -1; CelebA is centre-cropped to
146x146 at (36, 16) and resized to 32x32 with TF1's bicubic resize
(half_pixel_centers=False).

The training stream is the original's order by default: the split's files
concatenated, repeated without end and passed through a 1024-image shuffle
buffer (tf.data's `repeat().shuffle(1024)`), which barely mixes file-ordered
data: SVHN streams train, then extra. `--shuffle=epoch` reshuffles the whole
split every epoch instead. Either way batch i depends only on (seed, i), so a
resumed run sees the batches an uninterrupted one would.

Deviation from the original, on purpose: CelebA's bicubic overshoot is clipped
to [-1, 1] when cached as 8 bits.
"""

import functools
import json
import os
import threading

import numpy as np
import tensorflow as tf

from acai_tf.config import IMAGE_SIZE, default_data_dir
from acai_tf.data.dataset import Dataset, share, step_batches
from acai_tf.errors import UsageError

SHUFFLE_BUFFER = 1024  # the original's tf.data shuffle buffer, in images
FEATURES = {'image': tf.io.FixedLenFeature([], tf.string),
            'label': tf.io.FixedLenFeature([], tf.int64)}


class MissingDataError(UsageError):
  """A TFRecord file the dataset needs is not there."""


class DataFormatError(UsageError):
  """A file is not what data_prep writes."""


def _pad_mnist(image):
  return tf.pad(image, [[2, 2], [2, 2], [0, 0]])  # uint8 0 -> -1 after scaling


def _crop_resize_celeba(image, size=32):
  image = tf.image.crop_to_bounding_box(image, 36, 16, 146, 146)
  x = tf.cast(image, tf.float32) / 127.5 - 1
  x = tf.compat.v1.image.resize_bicubic(x[None], [size, size], half_pixel_centers=False)[0]
  return tf.cast(tf.round(tf.clip_by_value(x, -1, 1) * 127.5 + 127.5), tf.uint8)


class RecordDataset(Dataset):
  """One dataset built by `python -m data_prep.build`.

  Args:
    name: registry name (e.g. 'mnist32').
    stem: file stem written by data_prep ('mnist' -> mnist-train.tfrecord).
    splits: {'train': [split names], 'test': [...]} of files to concatenate.
    colors: channels.
    nclass: labels (1 = unlabelled).
    defaults: the paper's model hyperparameters for this dataset.
    prepare: uint8 [h, w, c] -> uint8 [size, size, c] (TF ops), or None.
    data_dir: folder with the .tfrecord files (default: $ACAI_DATA or ./data).
    size: image height and width after `prepare`.
    display_name: its name in tables (default: `name`).
    grid_latents: the latent sizes (channels) of the paper's runs on it, in order (acai_tf.grid).
  """

  def __init__(self, name, stem, splits, colors, nclass, defaults, prepare=None, data_dir=None,
               size=IMAGE_SIZE, display_name=None, grid_latents=()):
    self.name, self.stem, self.splits = name, stem, splits
    self.display_name, self.grid_latents = display_name or name, tuple(grid_latents)
    self.image_shape = (size, size, colors)
    self.nclass, self.defaults, self.prepare = nclass, defaults, prepare
    self.data_dir = data_dir or default_data_dir()

  def files(self, split):
    paths = [os.path.join(self.data_dir, f'{self.stem}-{s}.tfrecord') for s in self.splits[split]]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
      raise MissingDataError(
          f'{self.name}: missing {", ".join(missing)}. Build it with\n  python -m data_prep.build '
          f'--dataset={self.name} --data_dir={self.data_dir} [--source=dir --raw_dir=FOLDER]\n'
          'or point --data_dir (or $ACAI_DATA) at the folder that holds it.')
    return paths

  def check(self):
    """Fails at once, before training starts, if a file is missing or unreadable.

    Decodes every split (kept in memory for training and the reports anyway), so a damaged
    test split is found now rather than at the first report.
    """
    for split in self.splits:
      self.files(split)
    for split in self.splits:
      self.arrays(split)

  def _decode(self, record):
    example = tf.io.parse_single_example(record, FEATURES)
    image = tf.io.decode_image(example['image'], channels=self.image_shape[-1],
                               expand_animations=False)
    if self.prepare is not None:
      image = self.prepare(image)
    return tf.ensure_shape(image, self.image_shape), example['label']

  @functools.lru_cache(maxsize=4)
  def arrays(self, split):
    """The whole split as (uint8 images [N, H, W, C], int64 labels [N]), file order."""
    images, labels = [], []
    for path in self.files(split):
      data = (tf.data.TFRecordDataset(path)
              .map(self._decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
              .batch(4096).prefetch(2))
      try:
        for x, y in data:
          images.append(x.numpy())
          labels.append(y.numpy())
      except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
        raise DataFormatError(f'{path} is not a data_prep TFRecord of {self.name} (expected '
                         f'features image: encoded image bytes, label: int64): '
                         f'{e.message.splitlines()[0]}') from None
    if not labels:
      raise DataFormatError(f'{self.name}: the {split} files hold no images: {self.files(split)}')
    return np.concatenate(images), np.concatenate(labels)

  @property
  def train_size(self):
    return len(self.arrays('train')[1])

  def train(self, batch, seed, start_step=0, rows=None, shuffle='buffer'):
    images, labels = self.arrays('train')
    rows = share(batch, rows)
    n = len(labels)
    if n < batch:
      raise ValueError(f'{self.name} has {n} training images, fewer than --batch={batch}.')
    if shuffle == 'buffer':
      order = ShuffleBuffer(n, seed, batch)
      global_rows = order.batch_indices
    else:
      @functools.lru_cache(maxsize=2)
      def permutation(epoch):
        return np.random.default_rng([seed, epoch]).permutation(n)

      def global_rows(step):
        epoch, offset = np.divmod(step * batch + np.arange(batch), n)
        index = np.empty(batch, np.int64)
        for e in np.unique(epoch):  # one or two epochs per batch
          index[epoch == e] = permutation(e)[offset[epoch == e]]
        return index

    def take(step):  # rows of batch `step` of the global stream
      index = global_rows(int(step))[rows.start:rows.stop]
      return images[index], labels[index]

    return step_batches(take, rows, start_step, self.image_shape, tf.uint8)

  def test(self):
    images, labels = self.arrays('test')
    return images.astype(np.float32) / 127.5 - 1, labels

  def train_once(self, limit=60000):
    """The first `limit` training images in file order (the original's clustering set)."""
    images, labels = self.arrays('train')
    return images[:limit].astype(np.float32) / 127.5 - 1, labels[:limit]


class ShuffleBuffer:
  """The original's training order, reproducibly: images 0..n-1 in file order, repeated without
  end, through a shuffle buffer of `size` images (tf.data's `repeat().shuffle(size)`: each
  output is a uniformly drawn slot of the buffer, which the next image then refills).

  `batch_indices(step)` gives the images of global batch `step`. Batches are made 256 at a time
  from the buffer's state after the block before, with slot draws seeded by (seed, block), so
  they depend only on (seed, step); asking for an earlier block than the ones kept replays the
  buffer from the start (about 1 s per 2M images). Thread-safe: tf.data asks from many threads.
  """
  BLOCK = 256  # batches per block

  def __init__(self, n, seed, batch, size=SHUFFLE_BUFFER):
    self.n, self.seed, self.batch, self.size = n, seed, batch, size
    self.lock = threading.Lock()
    self.blocks = {}
    self._restart()

  def _restart(self):
    self.buffer = [i % self.n for i in range(self.size)]
    self.next_block = 0

  def _advance(self):
    """Makes block `next_block` and moves the buffer past it."""
    count = self.BLOCK * self.batch
    incoming = self.next_block * count + self.size  # stream position of the next refill
    slots = np.random.default_rng([self.seed, self.next_block]).integers(0, self.size, count)
    buffer, n, out = self.buffer, self.n, [0] * count
    for k, slot in enumerate(slots.tolist()):
      out[k] = buffer[slot]
      buffer[slot] = (incoming + k) % n
    self.blocks = {b: v for b, v in self.blocks.items() if b >= self.next_block - 2}
    self.blocks[self.next_block] = np.array(out, np.int64).reshape(self.BLOCK, self.batch)
    self.next_block += 1

  def batch_indices(self, step):
    block, offset = divmod(step, self.BLOCK)
    with self.lock:
      if block not in self.blocks:
        if block < self.next_block:
          self._restart()
        while self.next_block <= block:
          self._advance()
      return self.blocks[block][offset]


# The paper's grid: mnist32 depth 16 and svhn32 / cifar10 / celeba32 depth 64, all with a 4x4
# latent; latent 16 is the default (d_z 256); the runs/ scripts also cover 2 (and 64 on CIFAR).
REAL_DATASETS = {
    'mnist32': dict(stem='mnist', splits={'train': ['train'], 'test': ['test']}, colors=1,
                    nclass=10, defaults={'depth': 16, 'latent': 16, 'latent_width': 4},
                    prepare=_pad_mnist, display_name='MNIST', grid_latents=(2, 16)),
    'svhn32': dict(stem='svhn', splits={'train': ['train', 'extra'], 'test': ['test']}, colors=3,
                   nclass=10, defaults={'depth': 64, 'latent': 16, 'latent_width': 4},
                   display_name='SVHN', grid_latents=(2, 16)),
    # No test split exists: as the original, "test" reads the training file. Unlabelled.
    'celeba32': dict(stem='celeba', splits={'train': ['train'], 'test': ['train']}, colors=3,
                     nclass=1, defaults={'depth': 64, 'latent': 16, 'latent_width': 4},
                     prepare=_crop_resize_celeba, display_name='CelebA', grid_latents=(2, 16)),
    'cifar10': dict(stem='cifar10', splits={'train': ['train'], 'test': ['test']}, colors=3,
                    nclass=10, defaults={'depth': 64, 'latent': 16, 'latent_width': 4},
                    display_name='CIFAR-10', grid_latents=(16, 64)),
    # The same records at 64x64 (the original derives its scales from the size: one more).
    'celeba64': dict(stem='celeba', splits={'train': ['train'], 'test': ['train']}, colors=3,
                     nclass=1, defaults={'depth': 64, 'latent': 16, 'latent_width': 4},
                     prepare=functools.partial(_crop_resize_celeba, size=64), size=64),
}


# ---- datasets of your own: built by `data_prep.build --source=folder|tfds`, described in JSON --

# Every model's defaults for them follow the paper's real-data runs (SVHN, CIFAR-10, CelebA).
USER_DEFAULTS = {'depth': 64, 'latent': 16, 'latent_width': 4}


def description_path(data_dir, name):
  """<data_dir>/<name>.json: what data_prep.build writes last, after the records."""
  return os.path.join(data_dir or default_data_dir(), f'{name}.json')


def user_dataset(name, data_dir=None):
  """The RecordDataset `python -m data_prep.build --dataset=NAME` described, or None if the
  description is not in `data_dir`."""
  path = description_path(data_dir, name)
  try:
    with open(path) as f:
      info = json.load(f)
    test = 'test' if 'test' in info['splits'] else next(k for k in info['splits'] if k != 'train')
    return RecordDataset(name, stem=name, splits={'train': ['train'], 'test': [test]},
                         colors=int(info['channels']), nclass=max(1, len(info['classes'])),
                         defaults=USER_DEFAULTS, data_dir=data_dir, size=int(info['size']))
  except FileNotFoundError:
    return None
  except (OSError, ValueError, KeyError, TypeError, StopIteration) as e:
    raise DataFormatError(f'{path} is not a dataset description written by data_prep.build '
                          f'({type(e).__name__}: {e}); rebuild the dataset.') from None
