"""Adding a model or a dataset: the README's checklists, followed by a newcomer.

The toy model is what a newcomer would write in two files: its config (TensorFlow-free: its
hyperparameters, display name and the 'module.Class' of its model) and its AutoEncoder
subclass; the toy dataset is one Dataset subclass and its description. `monkeypatch.setitem`
stands for the one line each adds to its registry. Nothing else in the package is told about
them, yet they train, report, export and reach the report's tables.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from acai_tf import report, rundir, trainer
from acai_tf.config import hparam
from acai_tf.data import DATASETS, DatasetInfo
from acai_tf.data.dataset import Dataset, share, step_batches
from acai_tf.models import CONFIGS, MODELS
from acai_tf.models.base import AutoEncoder, StepOutput, mse
from acai_tf.models.base_config import AEConfig


@dataclasses.dataclass(frozen=True)
class ShrinkConfig(AEConfig):
  """An autoencoder whose latent is pulled towards 0 (in its own shrink_config.py)."""
  model_class = f'{__name__}.Shrink'
  display_name = 'Shrink AE'

  shrink: float = hparam(0.1, 'Weight of the latent L2 penalty.', at_least=0)


class Shrink(AutoEncoder):
  """ShrinkConfig's model, with a scale of its own (a new weight; in its own shrink.py)."""
  config_class = ShrinkConfig
  logged = ('loss_ae', 'loss_shrink')

  def build_networks(self):
    self.scale = self.add_weight(shape=(), initializer='ones', name='latent_scale')

  def compute_losses(self, x, seed):
    del seed
    z = self.encoder(x, training=True) * self.scale
    loss_ae = mse(x, self.decoder(z, training=True))
    loss_shrink = tf.reduce_mean(tf.square(z))
    return StepOutput({'ae': loss_ae + self.config.shrink * loss_shrink},
                      {'loss_ae': loss_ae, 'loss_shrink': loss_shrink}, z)

  def variable_groups(self):
    groups = super().variable_groups()
    return {**groups, 'ae': groups['ae'] + [self.scale]}


class Squares(Dataset):
  """16x16 images of a bright square, left half (class 0) or right half (class 1)."""

  @staticmethod
  def draw(rng, n):
    labels = rng.integers(0, 2, n)
    images = -np.ones((n, 16, 16, 1), np.float32)
    for image, label, row in zip(images, labels, rng.integers(0, 12, n)):
      image[row:row + 4, 8 * label + 2:8 * label + 6] = 1
    return images, labels

  def train(self, batch, seed, start_step=0, rows=None, shuffle='buffer'):
    del shuffle
    rows = share(batch, rows)

    def take(step):
      images, labels = self.draw(np.random.default_rng([seed, int(step)]), batch)
      return images[rows.start:rows.stop], labels[rows.start:rows.stop]
    return step_batches(take, rows, start_step, self.image_shape)

  def test(self):
    return self.draw(np.random.default_rng(1), 200)

  def train_once(self, limit=60000):
    return self.draw(np.random.default_rng(2), min(limit, 200))


SQUARES = DatasetInfo('squares16', f'{__name__}.Squares', image_shape=(16, 16, 1), nclass=2,
                      defaults={'depth': 4, 'latent': 2, 'latent_width': 2})


@pytest.mark.slow
def test_a_new_model_and_dataset_train_and_report(tmp_path, monkeypatch):
  monkeypatch.setitem(CONFIGS, 'shrink', ShrinkConfig)  # the one registry line of each
  monkeypatch.setitem(DATASETS, 'squares16', SQUARES)
  assert MODELS['shrink'] is Shrink
  config = trainer.model_config('shrink', 'squares16', shrink=0.5)
  assert (config.depth, config.latent, config.latent_width, config.shrink) == (4, 2, 2, 0.5)
  with pytest.raises(ValueError, match='shrink=-1 must be >= 0'):
    trainer.model_config('shrink', 'squares16', shrink=-1)
  run = trainer.train('shrink', config, trainer.TrainConfig(
      dataset='squares16', train_dir=str(tmp_path), batch=16, total_kimg=0.5, report_kimg=0.25,
      progress_seconds=1000), log=lambda line: None)

  reports = rundir.read_metrics(run.dir)
  assert [r['step'] for r in reports] == [16, 32]
  assert {'loss_ae', 'loss_shrink', 'rmse', 'latent_accuracy'} <= set(reports[-1])
  assert reports[-1]['loss_ae'] < reports[0]['loss_ae']
  assert run.model.scale.numpy() != 1  # its own weight trained with the autoencoder
  assert run.model.scales == 3  # 16 -> 2 in three halvings
  assert run.dir.startswith(str(tmp_path / 'squares16' / 'shrink_batch16_depth4'))
  table = report.report(str(tmp_path))
  assert 'Shrink AE' in table and '\nsquares16 | 8 |' in table  # d_z = 2 x 2 x 2
