"""What every dataset provides to training and evaluation."""

import numpy as np
import tensorflow as tf

from acai_tf.config import default_data_dir


class Dataset:
  """Base of the classes the registry's descriptions name (`DatasetInfo.dataset_class`).

  A Dataset has its description's fields as attributes: `name`, `display_name`, `image_shape`,
  `nclass`, `defaults`, `line_metrics`, ... (acai_tf/data/info.py).
  """
  train_size = None  # images in the training split; None: an endless generator

  def __init__(self, info, data_dir=None):
    """`info`: its DatasetInfo; `data_dir`: where its files are (default: $ACAI_DATA, else
    ./data)."""
    vars(self).update(vars(info))
    self.data_dir = data_dir or default_data_dir()

  def train(self, batch, seed, start_step=0, rows=None, shuffle='buffer'):
    """Infinite tf.data stream of (images float32 [-1, 1], labels int64) batches.

    `shuffle` (acai_tf.config.SHUFFLES) orders a finite split: 'buffer', the original's 1024-image
    shuffle buffer over the files in order, or 'epoch', a fresh permutation every epoch.

    Batch i depends only on (seed, i), so a resumed run passing the step it
    resumes from as `start_step` sees the data an uninterrupted run would.
    `rows` (a slice of range(batch)) keeps only those rows of every batch:
    one replica's or one worker's share.
    """
    raise NotImplementedError

  def test(self):
    """The fixed test split as numpy (images [N, H, W, C], labels [N])."""
    raise NotImplementedError

  def train_once(self, limit=60000):
    """The first `limit` training images, in a fixed order (for probes and clustering)."""
    raise NotImplementedError

  def check(self):
    """Raises if the data is not there (called before training starts)."""

  def eval_pool(self, n=96):
    """The first `n` test images (repeated if there are fewer): the pool of the image grids."""
    images = self.test()[0]
    return np.resize(images, (n,) + images.shape[1:]) if len(images) < n else images[:n]


def share(batch, rows):
  """The row indices `rows` (a slice, or None for all) selects of a batch of `batch` rows."""
  return range(batch)[rows or slice(None)]


def step_batches(take, rows, start_step, image_shape, dtype=tf.float32):
  """tf.data stream of `take(step) -> (images, labels)` for step = start_step, start_step + 1, ...

  `take` returns `rows` rows. Batch i depends only on i, so a resumed run continues the stream
  exactly. uint8 images are scaled to [-1, 1] in the graph (cheaper than in numpy).
  """
  batch = len(rows)

  def load(step):
    images, labels = tf.numpy_function(take, [step], (dtype, tf.int64), stateful=False)
    images = tf.ensure_shape(images, (batch,) + tuple(image_shape))
    if dtype == tf.uint8:
      images = tf.cast(images, tf.float32) / 127.5 - 1
    return images, tf.ensure_shape(labels, [batch])

  return (tf.data.Dataset.counter(start_step)
          .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .prefetch(tf.data.AUTOTUNE))
