"""The model registry (TensorFlow-free): `--model` name -> its config class, and its class.

`CONFIGS[name]` is the model's config class (acai_tf/models/<name>_config.py): its
hyperparameters and its description (display name, the paper's settings), read without
TensorFlow. `MODELS[name]` is its AutoEncoder subclass, imported when first asked for.
"""

import collections.abc
import dataclasses

from acai_tf.config import import_class
from acai_tf.data import dataset_info
from acai_tf.errors import UsageError
from acai_tf.models.aae_config import AAEConfig
from acai_tf.models.acai_config import ACAIConfig
from acai_tf.models.advai_config import AdvAIConfig
from acai_tf.models.baseline_config import BaselineConfig
from acai_tf.models.denoising_config import DenoisingConfig
from acai_tf.models.dropout_config import DropoutConfig
from acai_tf.models.vae_config import VAEConfig
from acai_tf.models.vqvae_config import VQVAEConfig

__all__ = ['CONFIGS', 'MODELS', 'get_config_class', 'get_model_class', 'model_config']

CONFIGS = {
    'baseline': BaselineConfig,
    'dropout': DropoutConfig,
    'denoising': DenoisingConfig,
    'vae': VAEConfig,
    'aae': AAEConfig,
    'vqvae': VQVAEConfig,
    'acai': ACAIConfig,
    'advai': AdvAIConfig,  # extension: Li et al., ICME 2021
}


class _Classes(collections.abc.Mapping):
  """name -> the AutoEncoder subclass `CONFIGS[name].model_class` names, imported (with
  TensorFlow) when first asked for; the names, in CONFIGS' order, need no import."""

  def __getitem__(self, name):
    return import_class(CONFIGS[name].model_class)

  def __contains__(self, name):
    return name in CONFIGS

  def __iter__(self):
    return iter(CONFIGS)

  def __len__(self):
    return len(CONFIGS)


MODELS = _Classes()


def get_config_class(name):
  try:
    return CONFIGS[name]
  except KeyError:
    raise ValueError(f'Unknown model {name!r}; choose one of: {", ".join(CONFIGS)}.') from None


def get_model_class(name):
  get_config_class(name)  # an unknown name's error
  return MODELS[name]


def model_config(model_name, dataset, data_dir=None, **values):
  """A model's config: `values` > the dataset's paper setting > the model's default.

  Example: model_config('acai', 'mnist32', latent=2) gives depth 16, latent_width 4.
  `data_dir` is where a dataset of your own is described.
  """
  config_class = get_config_class(model_name)
  own = {f.name for f in dataclasses.fields(config_class)}
  unknown = sorted(set(values) - own)
  if unknown:
    raise UsageError(f'--{", --".join(unknown)} do(es) not apply to --model={model_name}; '
                     f'its hyperparameters are: {", ".join(sorted(own))}.')
  data = dataset_info(dataset, data_dir)
  merged = {k: v for k, v in data.defaults.items() if k in own}
  merged.update(config_class.dataset_defaults.get(dataset, {}))
  merged.update(values)
  try:
    config = config_class(**merged)
    config.scales(data.image_shape[0])  # fits this dataset's image size
    return config
  except ValueError as e:
    raise UsageError(str(e)) from None
