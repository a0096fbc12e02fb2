"""The model registry: `--model` name -> AutoEncoder subclass."""

from acai_tf.models.aae import AAE
from acai_tf.models.acai import ACAI
from acai_tf.models.advai import AdvAI
from acai_tf.models.base import AEConfig, AutoEncoder, StepOutput
from acai_tf.models.baseline import Baseline
from acai_tf.models.denoising import Denoising
from acai_tf.models.dropout import Dropout
from acai_tf.models.vae import VAE
from acai_tf.models.vqvae import VQVAE

__all__ = ['MODELS', 'AEConfig', 'AutoEncoder', 'StepOutput', 'get_model_class', 'AAE', 'ACAI',
           'AdvAI', 'Baseline', 'Denoising', 'Dropout', 'VAE', 'VQVAE']

MODELS = {
    'baseline': Baseline,
    'dropout': Dropout,
    'denoising': Denoising,
    'vae': VAE,
    'aae': AAE,
    'vqvae': VQVAE,
    'acai': ACAI,
    'advai': AdvAI,  # extension: Li et al., ICME 2021
}


def get_model_class(name):
  try:
    return MODELS[name]
  except KeyError:
    raise ValueError(f'Unknown model {name!r}; choose one of: {", ".join(MODELS)}.') from None
