"""The latent space in TensorBoard's projector: `tensorboard --logdir RUN/tensorboard`.

`write` puts beside a run's event files what the projector tab reads: the latents (a TSV
file), their labels, a sprite of their images, and projector_config.pbtxt tying them together
with paths relative to it (so the run directory can move). TensorBoard then shows them with
PCA, t-SNE or UMAP, coloured or labelled by class, each point as its image. Training writes
them at its final report (the test split's latents); `acai_tf.eval.probe --projector` writes
them for any export. No TensorFlow needed.
"""

import math
import os

import numpy as np
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from acai_tf import images as image_utils

CONFIG = 'projector_config.pbtxt'  # the name the projector looks for beside the event files
TENSOR = 'projector/latents.tsv'  # paths in the config are relative to its folder
METADATA = 'projector/labels.tsv'
SPRITE = 'projector/sprite.png'
LIMIT = 5000  # points written: the first ones (t-SNE and UMAP sample 10000 at most anyway)


def sprite(pictures):
  """One image of `pictures` ([N, H, W, C] in [-1, 1]) on a square grid, row by row, padded
  with black: what the projector cuts back into its points' thumbnails."""
  n, h, w, c = pictures.shape
  side = math.ceil(math.sqrt(n))
  padded = np.full((side * side, h, w, c), -1.0, np.float32)
  padded[:n] = pictures
  grid = image_utils.to_uint8(image_utils.image_grid(padded.reshape(side, side, h, w, c)))
  return grid[..., 0] if c == 1 else grid


def write(log_dir, latents, pictures, labels=None, name='latents'):
  """Writes the projector's files for `latents` [N, ...] of `pictures` [N, H, W, C] (in
  [-1, 1]) with optional integer `labels` [N] into `log_dir` (a run's tensorboard folder);
  returns the config's path. At most LIMIT points, the first ones."""
  latents = np.asarray(latents, np.float32).reshape(len(latents), -1)[:LIMIT]
  pictures = np.asarray(pictures)[:LIMIT]
  os.makedirs(os.path.join(log_dir, os.path.dirname(TENSOR)), exist_ok=True)
  np.savetxt(os.path.join(log_dir, TENSOR), latents, fmt='%.6g', delimiter='\t')
  Image.fromarray(sprite(pictures)).save(os.path.join(log_dir, SPRITE))
  config = ProjectorConfig()
  embedding = config.embeddings.add(tensor_name=name, tensor_path=TENSOR)
  embedding.tensor_shape.extend(latents.shape)
  embedding.sprite.image_path = SPRITE
  embedding.sprite.single_image_dim.extend(pictures.shape[2:0:-1])  # width, height
  if labels is not None:
    np.savetxt(os.path.join(log_dir, METADATA), np.asarray(labels)[:LIMIT], fmt='%d')
    embedding.metadata_path = METADATA
  path = os.path.join(log_dir, CONFIG)
  with open(path, 'w') as f:
    f.write(text_format.MessageToString(config))
  return path
