"""The model registry: `--model` name -> AutoEncoder subclass."""

from acai_tf.models.acai import ACAI
from acai_tf.models.base import AEConfig, AutoEncoder
from acai_tf.models.baseline import Baseline

MODELS = {
    'baseline': Baseline,
    'acai': ACAI,
}

for _name, _cls in MODELS.items():
  _cls.registry_name = _name


def get_model_class(name):
  try:
    return MODELS[name]
  except KeyError:
    raise ValueError(f'Unknown model {name!r}; choose one of: {", ".join(MODELS)}.') from None
