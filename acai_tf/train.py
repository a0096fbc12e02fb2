"""Train an autoencoder: python -m acai_tf.train --model=acai --dataset=lines32

Model hyperparameter flags left unset take the paper's setting for the chosen
dataset (its run grid), then the model's default. Re-running the same command
resumes from the last checkpoint. Exit codes: acai_tf/errors.py (0 done, 2 bad
settings or data, 3 diverged, 4 run busy, 74 disk, 75 interrupted: rerun resumes).
"""

import dataclasses

from acai_tf import cli  # first: quiets TensorFlow's start-up lines

from absl import flags  # noqa: I001 - after cli on purpose

from acai_tf import autotune, distribute, nets, training
from acai_tf.config import TrainConfig
from acai_tf.data import get_dataset
from acai_tf.models import MODELS

FLAGS = flags.FLAGS

flags.DEFINE_enum('model', 'acai', list(MODELS), 'Autoencoder to train.')
cli.define_config_flags(TrainConfig)
flags.DEFINE_integer('cpu_devices', None, 'Split the host CPU into this many logical devices '
                     '(stand-ins for GPUs: --strategy=mirrored then runs one replica on each).')
flags.DEFINE_enum('conv_paths', 'auto', nets.CONV_PATHS, 'Convolution layers: plain (Keras '
                  'layers), fast (every CPU rewrite that fits), auto: per layer shape, the faster '
                  'of the two as timed on this CPU (cached; plain when a GPU or TPU is visible). '
                  'The same maths either way.')
flags.DEFINE_enum('onednn', 'auto', autotune.ONEDNN, "TensorFlow's oneDNN CPU kernels: on, off, "
                  'or auto: whichever ran the training step faster on this CPU (timed once per '
                  'machine, cached). TF_ENABLE_ONEDNN_OPTS, if set, wins.')
flags.DEFINE_string('tpu', None, 'With --strategy=tpu: the TPU name or grpc:// address (untested '
                    'here; see docs/scaling.md).')


def _model_fields():
  """Every hyperparameter of every registered model: name -> (field, {model: default})."""
  fields = {}
  for name, cls in MODELS.items():
    for field in dataclasses.fields(cls.config_class):
      fields.setdefault(field.name, (field, {}))[1][name] = field.default
  return fields


def _help(field, defaults):
  values = set(defaults.values())
  if field.name in ('depth', 'latent', 'latent_width'):
    return (f'{field.metadata["help"]} [unset: the paper\'s setting for --dataset, e.g. '
            f'lines32 {get_dataset("lines32").defaults[field.name]}, mnist32 '
            f'{get_dataset("mnist32").defaults[field.name]}]')
  if len(defaults) == len(MODELS) and len(values) == 1:
    return f'{field.metadata["help"]} [default {field.default}]'
  if len(values) == 1:
    return f'{field.metadata["help"]} [{", ".join(defaults)}; default {field.default}]'
  return f'{field.metadata["help"]} [defaults: ' + ', '.join(
      f'{m} {v}' for m, v in defaults.items()) + ']'


for _field, _defaults in _model_fields().values():
  cli.DEFINE[_field.type](_field.name, None, _help(_field, _defaults))


def model_config_from_flags(model, dataset, data_dir=None):
  """Builds the model's config: explicit flags > the dataset's paper setting > default."""
  given = {name: FLAGS[name].value for name in _model_fields() if FLAGS[name].present}
  return training.model_config(model, dataset, data_dir, **given)


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  config = cli.config_from_flags(TrainConfig)
  model_config = model_config_from_flags(FLAGS.model, FLAGS.dataset, config.data_dir)
  if FLAGS.cpu_devices:
    distribute.split_cpu(FLAGS.cpu_devices)
  strategy = distribute.make_strategy(config.strategy, tpu=FLAGS.tpu)
  nets.set_conv_paths(FLAGS.conv_paths)  # after the devices are set up: 'auto' looks at them
  training.train(FLAGS.model, model_config, config, strategy=strategy,
                 log=lambda s: print(s, flush=True))


if __name__ == '__main__':
  cli.run(main)
