"""Real datasets (mnist32, svhn32, cifar10, celeba32) read from data_prep's TFRecords.

Their descriptions (file stem, splits, preprocessing) are the registry's
(acai_tf/data/__init__.py) or, for a dataset of your own, the one data_prep wrote
(acai_tf/data/info.py).

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
import os
import threading

import numpy as np
import tensorflow as tf

from acai_tf.data.dataset import Dataset, share, step_batches
from acai_tf.data.info import DataFormatError, MissingDataError, record_path

SHUFFLE_BUFFER = 1024  # the original's tf.data shuffle buffer, in images
FEATURES = {'image': tf.io.FixedLenFeature([], tf.string),
            'label': tf.io.FixedLenFeature([], tf.int64)}


def _pad_mnist(image, size):
  margin = (size - 28) // 2  # the 28x28 digits in the middle
  return tf.pad(image, [[margin, margin], [margin, margin], [0, 0]])  # uint8 0 -> -1 after scaling


def _crop_resize_celeba(image, size):
  image = tf.image.crop_to_bounding_box(image, 36, 16, 146, 146)
  x = tf.cast(image, tf.float32) / 127.5 - 1
  x = tf.compat.v1.image.resize_bicubic(x[None], [size, size], half_pixel_centers=False)[0]
  return tf.cast(tf.round(tf.clip_by_value(x, -1, 1) * 127.5 + 127.5), tf.uint8)


# The preprocessing a description names (`DatasetInfo.prepare`): uint8 [h, w, c] and the image
# size -> uint8 [size, size, c], in TF ops.
PREPARE = {'pad_mnist': _pad_mnist, 'crop_celeba': _crop_resize_celeba}


class RecordDataset(Dataset):
  """One dataset built by `python -m data_prep.build`, read from `data_dir`: the files
  <data_dir>/<stem>-<split>.tfrecord of its description's `stem` and `splits`."""

  def files(self, split):
    paths = [record_path(self.data_dir, self.stem, s) for s in self.splits[split]]
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
      image = PREPARE[self.prepare](image, self.image_shape[0])
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
