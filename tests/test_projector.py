"""The latent space for TensorBoard's projector: written at the final report and by the probe."""

import os

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from acai_tf import export, projector, rundir
from acai_tf.data import get_dataset


def read_back(log_dir):
  """(config, latents, labels, sprite) as TensorBoard's projector would read them."""
  config = ProjectorConfig()
  with open(os.path.join(log_dir, projector.CONFIG)) as f:
    text_format.Parse(f.read(), config)
  [embedding] = config.embeddings
  here = lambda path: os.path.join(log_dir, path)  # noqa: E731 - relative to the config
  latents = np.loadtxt(here(embedding.tensor_path), delimiter='\t', ndmin=2)
  labels = np.loadtxt(here(embedding.metadata_path), dtype=int)
  sprite = np.asarray(Image.open(here(embedding.sprite.image_path)))
  return embedding, latents, labels, sprite


@pytest.mark.slow
def test_the_final_report_writes_the_test_latents_for_the_projector(tiny_run):
  run = tiny_run
  embedding, latents, labels, sprite = read_back(run.path(rundir.TENSORBOARD))
  test, test_labels = get_dataset('lines32').test()
  module, _ = export.load(run.path(rundir.EXPORT_LINK))
  n = min(len(test), projector.LIMIT)
  assert latents.shape == (n, 2 * 2 * 4) and list(embedding.tensor_shape) == [n, 16]
  np.testing.assert_allclose(latents, export.latents(module, test[:n]), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(labels, test_labels[:n])
  side = int(np.ceil(np.sqrt(n)))
  assert list(embedding.sprite.single_image_dim) == [32, 32]
  assert sprite.shape == (32 * side, 32 * side) and sprite.dtype == np.uint8
  # Thumbnail i sits at row i // side, column i % side: the first and the last image.
  np.testing.assert_array_equal(sprite[:32, :32], np.round(127.5 + 127.5 * test[0, ..., 0]))
  last = ((n - 1) // side * 32, (n - 1) % side * 32)
  np.testing.assert_array_equal(sprite[last[0]:last[0] + 32, last[1]:last[1] + 32],
                                np.round(127.5 + 127.5 * test[n - 1, ..., 0]))


def test_an_unlabelled_set_has_no_metadata_and_colour_sprites_keep_their_channels(tmp_path):
  rng = np.random.default_rng(0)
  pictures = rng.uniform(-1, 1, (5, 8, 6, 3)).astype(np.float32)
  path = projector.write(str(tmp_path), rng.normal(size=(5, 2, 2)), pictures)
  config = ProjectorConfig()
  text_format.Parse(open(path).read(), config)
  assert not config.embeddings[0].metadata_path
  assert list(config.embeddings[0].sprite.single_image_dim) == [6, 8]  # width, height
  sprite = np.asarray(Image.open(tmp_path / projector.SPRITE))
  assert sprite.shape == (3 * 8, 3 * 6, 3)
  assert (sprite[16:, 6:] == 0).all()  # the padding after the 5th of 9 cells is black
