"""The lines32 dataset: the synthetic benchmark of `acai_tf.line_renderer` (its description is
the registry's, acai_tf/data/__init__.py)."""

import functools

import numpy as np

from acai_tf.data.dataset import Dataset, share, step_batches
from acai_tf.line_renderer import random_lines


class Lines32(Dataset):
  """Lines at uniform random angles; 10 angle classes; a fixed 5000-line test set."""
  test_size = 5000
  test_seed = 20190506  # fixed: every run and every model is scored on the same lines

  def train(self, batch, seed, start_step=0, rows=None, shuffle='buffer'):
    del shuffle  # every line is new: there is no order to choose
    rows = share(batch, rows)

    def take(step):  # each batch from its own Generator seeded by (seed, step)
      images, labels, _ = random_lines(np.random.default_rng([seed, int(step)]), batch)
      return images[rows.start:rows.stop], labels[rows.start:rows.stop]
    return step_batches(take, rows, start_step, self.image_shape)

  def test(self):
    return _test_lines(self.test_seed, self.test_size)

  def train_once(self, limit=60000):
    """A fixed set of `limit` training lines (for probes and clustering)."""
    images, labels, _ = random_lines(np.random.default_rng(self.test_seed + 1), limit)
    return images, labels


@functools.lru_cache(maxsize=1)
def _test_lines(seed, size):
  images, labels, _ = random_lines(np.random.default_rng(seed), size)
  return images, labels
