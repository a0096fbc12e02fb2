"""Train an autoencoder: python -m acai_tf.train --model=acai --dataset=lines32

Model hyperparameter flags left unset take the paper's setting for the chosen
dataset (its run grid), then the model's default. Re-running the same command
resumes from the last checkpoint.
"""

import dataclasses
import sys

from absl import app, flags, logging

from acai_tf import training
from acai_tf.data import DATASETS, get_dataset
from acai_tf.data.records import DataFormatError, MissingDataError
from acai_tf.models import MODELS
from acai_tf.models.base import PRECISIONS

FLAGS = flags.FLAGS

flags.DEFINE_enum('model', 'acai', list(MODELS), 'Autoencoder to train.')
flags.DEFINE_enum('dataset', 'lines32', list(DATASETS), 'Training data.')
flags.DEFINE_string('train_dir', './experiments', 'Runs go to <train_dir>/<dataset>/<run name>.')
flags.DEFINE_string('data_dir', None, 'Folder of the TFRecords built by data_prep (real datasets); '
                    'default: $ACAI_DATA, else ./data.')
flags.DEFINE_float('total_kimg', 16384, 'Training length in thousands (1024) of images.')
flags.DEFINE_float('report_kimg', 64, 'Evaluate, log, checkpoint and export every this many kimg.')
flags.DEFINE_integer('batch', 64, 'Global batch size (split over replicas).')
flags.DEFINE_integer('seed', 0, 'Seed of the data stream, initial weights and noise.')
flags.DEFINE_enum('strategy', 'auto', list(training.STRATEGIES),
                  'auto: MirroredStrategy if more than one GPU is visible, else default.')
flags.DEFINE_boolean('xla', None, 'XLA-compile the train step (--xla / --noxla); unset: Keras\' '
                     'choice, on with a GPU, off on CPUs (where it measured 2x slower).')
flags.DEFINE_enum('precision', 'float32', list(PRECISIONS),
                  'Dtype policy of the conv networks: mixed_float16 (GPUs, with loss scaling) or '
                  'mixed_bfloat16 (TPUs, recent GPUs and CPUs) compute in half precision with '
                  'float32 weights, outputs and losses.')
flags.DEFINE_integer('steps_per_execution', training.STEPS_PER_EXECUTION,
                     "Train steps per call into TensorFlow (amortises Keras' per-call cost; "
                     'progress and checkpoints happen between calls).')
flags.DEFINE_float('checkpoint_minutes', 10, 'Also checkpoint whenever this much time passed.')
flags.DEFINE_integer('eval_pairs', 256, 'Line pairs scored at each lines32 report (paper: 256).')
flags.DEFINE_float('progress_seconds', 30, 'Print a progress line this often.')


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


_DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string,
           bool: flags.DEFINE_bool}
for _field, _defaults in _model_fields().values():
  _type = _field.type if isinstance(_field.type, type) else eval(_field.type)  # noqa: S307
  _DEFINE[_type](_field.name, None, _help(_field, _defaults))


def model_config_from_flags(model, dataset):
  """Builds the model's config: explicit flags > the dataset's paper setting > default."""
  given = {name: FLAGS[name].value for name in _model_fields() if FLAGS[name].present}
  return training.model_config(model, dataset, **given)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)
  try:
    model_config = model_config_from_flags(FLAGS.model, FLAGS.dataset)
    config = training.TrainConfig(
        dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, train_dir=FLAGS.train_dir, total_kimg=FLAGS.total_kimg,
        report_kimg=FLAGS.report_kimg, batch=FLAGS.batch, seed=FLAGS.seed,
        strategy=FLAGS.strategy, xla=FLAGS.xla, precision=FLAGS.precision,
        steps_per_execution=FLAGS.steps_per_execution, checkpoint_minutes=FLAGS.checkpoint_minutes, eval_pairs=FLAGS.eval_pairs,
        progress_seconds=FLAGS.progress_seconds)
  except ValueError as e:
    fail(e)
  try:
    training.train(FLAGS.model, model_config, config, log=lambda s: print(s, flush=True))
  except (training.RunError, MissingDataError, DataFormatError) as e:
    fail(e)


def fail(error):
  print(f'error: {error}', file=sys.stderr)
  sys.exit(2)


def parse_flags(argv):
  """absl parsing that also takes GNU-style negations: --no-xla means --noxla."""
  return app.parse_flags_with_usage(
      [f'--no{arg[5:]}' if arg.startswith('--no-') else arg for arg in argv])


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
