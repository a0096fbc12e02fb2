"""What every model's config shares (TensorFlow-free): the hyperparameters of appendix B and
the class attributes that describe a model to the registry, the grid and the report.

A model is two modules: `<name>_config.py`, its config (a subclass of `AEConfig`), read without
TensorFlow by flags, run names, the grid and the report; and `<name>.py`, its `AutoEncoder`
subclass (acai_tf.models.base), imported only when a model is built.
"""

import dataclasses
import math

from acai_tf.config import check_fields, hparam


@dataclasses.dataclass(frozen=True)
class AEConfig:
  """Hyperparameters every autoencoder shares (appendix B of the paper).

  Class attributes (not fields) describe the model the config belongs to; a subclass sets
  `model_class` and `display_name`, and may set the others.
  """
  model_class = None  # 'package.module.Class' of its AutoEncoder, imported when first used
  display_name = None  # its name in tables and figures
  in_paper = True  # one of the paper's seven (the grid and the report's column order)
  # {dataset: {hyperparameter: value}}: the paper's settings of this model on a dataset, which
  # take precedence over the dataset's own defaults (flags given still win).
  dataset_defaults = {}

  depth: int = hparam(16, 'Channels of the first conv scale; doubled at each further scale.',
                      at_least=1)
  latent: int = hparam(16, 'Channels of the latent tensor.', at_least=1)
  latent_width: int = hparam(2, 'Spatial size of the latent; image size / latent_width must be '
                             'a power of 2 (>= 2).')
  lr: float = hparam(1e-4, 'Adam learning rate of every optimizer.', above=0)

  def __post_init__(self):
    if self.latent_width <= 0 or self.latent_width & (self.latent_width - 1):
      raise ValueError(f'latent_width={self.latent_width} must be a power of two (1, 2, 4, ...).')
    check_fields(self)

  def to_dict(self):
    return dataclasses.asdict(self)

  def scales(self, image_size):
    """The number of 2x downsamplings from `image_size` to `latent_width` (the original's
    log2(width / latent_width)); a ValueError if that is not a whole number >= 1."""
    width = self.latent_width
    ratio = image_size // width
    if image_size % width or ratio < 2 or ratio & (ratio - 1):
      choices = ', '.join(str(image_size >> k) for k in range(1, int(math.log2(image_size)) + 1))
      raise ValueError(f'latent_width={width} must divide the image size {image_size} into a '
                       f'power of two >= 2: choose one of {choices}.')
    return int(round(math.log2(ratio)))

  @classmethod
  def grid_settings(cls, total_kimg):
    """Hyperparameters the paper's grid sets from its training length (acai_tf.grid)."""
    del total_kimg
    return {}
