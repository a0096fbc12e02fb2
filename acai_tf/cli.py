"""What every command-line program shares: start-up, flags from configs, one-line errors.

TensorFlow-free. A program is `define_flags(); cli.run(main)`: `run` defines the common flags,
parses the command line, and for a program that needs TensorFlow chooses oneDNN from the
parsed --onednn (acai_tf.autotune) and imports TensorFlow without its C++ start-up lines
(acai_tf.quiet; --verbose shows them) before calling `main(argv)`; such a program imports its
TensorFlow modules in `main`, and checks what it can beforehand in `settings(argv)`
(`cli.run(main, settings=settings)`), so that a mistake costs no TensorFlow start-up. Every
failure is one `error:` line on stderr with the exit codes of `acai_tf.errors`; --debug (or
ACAI_DEBUG=1) shows the traceback instead.
"""

import contextlib
import dataclasses
import errno
import os
import sys
import warnings

from absl import app, flags, logging

from acai_tf import autotune, config, errors, quiet
from acai_tf.data import DATASETS
from acai_tf.models import CONFIGS, model_config

FLAGS = flags.FLAGS
DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string,
          bool: flags.DEFINE_bool}


def _absl_module(name):
  """absl's name of the module called `name` (a program's is its path), so that --helpshort
  lists the flags defined for it."""
  return sys.argv[0] if name == '__main__' else name


def _caller_module(depth=2):
  """absl's name of the module calling the caller."""
  return _absl_module(sys._getframe(depth).f_globals['__name__'])


def define_config_flags(config_class, choices=None, skip=(), module=None):
  """One flag per field of `config_class`, with the field's default and help.

  Args:
    config_class: a dataclass whose fields were made by `config.hparam`.
    choices: field name -> allowed values, for enums known only at run time (registries).
    skip: field names not to define.
    module: the flags' module name (default: the caller's).
  """
  module = module or _caller_module()
  for field in dataclasses.fields(config_class):
    if field.name in skip:
      continue
    options = (choices or {}).get(field.name) or field.metadata.get('choices')
    if options:
      flags.DEFINE_enum(field.name, field.default, list(options), _help(field),
                        module_name=module)
    else:
      DEFINE[field.type](field.name, field.default, _help(field), module_name=module)


def define_training_flags():
  """The flags of a training run, for acai_tf.train and acai_tf.bench: --model, TrainConfig's
  fields, every registered model's hyperparameters (unset: the paper's setting for the
  dataset, then the model's default), the devices and the convolution layers."""
  if 'model' in FLAGS:  # defined already (by another program's module in this process)
    return
  module = _caller_module()
  flags.DEFINE_enum('model', 'acai', list(CONFIGS), 'Autoencoder to train.', module_name=module)
  define_config_flags(config.TrainConfig, module=module)
  for field, defaults in _model_fields().values():
    DEFINE[field.type](field.name, None, _model_help(field, defaults), module_name=module)
  flags.DEFINE_integer('cpu_devices', None, 'Split the host CPU into this many logical devices '
                       '(stand-ins for GPUs: --strategy=mirrored then runs one replica on each).',
                       module_name=module)
  flags.DEFINE_enum('conv_paths', 'auto', config.CONV_PATHS, 'Convolution layers: plain '
                    '(Keras '
                    'layers), fast (every CPU rewrite that fits), auto: per layer shape, the '
                    'faster of the two as timed on this CPU (cached; plain when a GPU or TPU is '
                    'visible). The same maths either way.', module_name=module)
  flags.DEFINE_string('tpu', None, 'With --strategy=tpu: the TPU name or grpc:// address '
                      '(untested here; see docs/scaling.md).', module_name=module)


def _model_fields():
  """Every hyperparameter of every registered model: name -> (field, {model: default})."""
  fields = {}
  for name, config_class in CONFIGS.items():
    for field in dataclasses.fields(config_class):
      fields.setdefault(field.name, (field, {}))[1][name] = field.default
  return fields


def _help(field):
  """A config field's help, with its bounds."""
  bounds = config.requirement(field)
  return field.metadata['help'] + (f' Must be {bounds}.' if bounds else '')


def _model_help(field, defaults):
  text = _help(field)
  if field.name in ('depth', 'latent', 'latent_width'):
    return (f"{text} [unset: the paper's setting for --dataset, e.g. lines32 "
            f'{DATASETS["lines32"].defaults[field.name]}, mnist32 '
            f'{DATASETS["mnist32"].defaults[field.name]}]')
  if len(defaults) == len(CONFIGS) and len(set(defaults.values())) == 1:
    return f'{text} [default {field.default}]'
  return f'{text} [' + ', '.join(f'{m}: {v}' for m, v in defaults.items()) + ']'


def model_config_from_flags(model, dataset, data_dir=None):
  """The model's config: the hyperparameter flags given > the dataset's paper setting > the
  model's default."""
  given = {name: FLAGS[name].value for name in _model_fields() if FLAGS[name].present}
  return model_config(model, dataset, data_dir, **given)


def define_export_flag(help, required=True):
  """--export, the run's export folder an evaluation program reads."""
  flags.DEFINE_string('export', None, help, module_name=_caller_module())
  if required:
    flags.mark_flag_as_required('export')


def define_output_flag(record, otherwise=''):
  """--output, where an evaluation program writes its JSON record (else rundir.eval_path)."""
  flags.DEFINE_string('output', None, f'JSON file (default: {record} in the run directory that '
                      'holds the export; beside an export outside one, named after it'
                      f'{otherwise}).', module_name=_caller_module())


def define_dataset_flags(verb):
  """--dataset, --data_dir and --any_dataset of the programs that score an export on data."""
  module = _caller_module()
  flags.DEFINE_string('dataset', None, f'Dataset to {verb} (default: the one the export trained '
                      'on).', module_name=module)
  flags.DEFINE_string('data_dir', None, 'TFRecord folder (default: $ACAI_DATA, else ./data).',
                      module_name=module)
  flags.DEFINE_bool('any_dataset', False, "Allow --dataset to differ from the export's training "
                    'set (same image shape).', module_name=module)


def config_from_flags(config_class, skip=(), **values):
  """`config_class` made from its flags (and `values`); a bad value raises UsageError."""
  given = {f.name: FLAGS[f.name].value for f in dataclasses.fields(config_class)
           if f.name not in skip}
  try:
    return config_class(**{**given, **values})
  except ValueError as e:
    raise errors.UsageError(str(e)) from None


def parse_flags(argv):
  """absl parsing that also takes GNU-style negations (--no-xla means --noxla); a bad flag is
  one `error:` line with exit code 2."""
  try:
    return FLAGS([f'--no{arg[5:]}' if arg.startswith('--no-') else arg for arg in argv])
  except flags.Error as error:
    fail(f'{error}. Run with --helpshort to list the flags.', errors.EXIT_USAGE)


def fail(message, code):
  print(f'error: {message}', file=sys.stderr, flush=True)
  sys.exit(code)


def _storage_message(error):
  if getattr(error, 'errno', None) in (errno.ENOSPC, errno.EDQUOT):
    return (f'disk full writing {error.filename or "a file"}: free some space; rerunning the '
            'same command resumes from the newest complete checkpoint.')
  return None


def describe_failure(error):
  """(message, exit code) of an exception raised by a program."""
  tf = sys.modules.get('tensorflow')  # a TensorFlow error comes only after its import
  if isinstance(error, errors.AcaiError):
    return str(error), error.exit_code
  if isinstance(error, app.UsageError):
    return str(error), errors.EXIT_USAGE
  if isinstance(error, BrokenPipeError):
    # Nothing more can reach the closed output; Python would complain flushing it at exit.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 'the output was closed before the program finished (e.g. `| head`).', errors.EXIT_PIPE
  if isinstance(error, OSError) and _storage_message(error):
    return _storage_message(error), errors.EXIT_IO
  if tf and isinstance(error, tf.errors.OpError) and 'No space left on device' in error.message:
    return ('disk full: free some space; rerunning the same command resumes from the newest '
            'complete checkpoint.'), errors.EXIT_IO
  if tf and isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)):
    return (f'a peer worker or the coordination service stopped ({error.message.splitlines()[0]}'
            '). Relaunch every worker; they resume from the newest checkpoint.'), errors.EXIT_RETRY
  if isinstance(error, FileNotFoundError):
    return f'{error.filename or error}: no such file or folder.', errors.EXIT_USAGE
  if isinstance(error, KeyboardInterrupt):
    return 'interrupted.', 128 + 2
  first = (str(error).strip().splitlines() or [''])[0][:300]
  return (f'unexpected {type(error).__name__}: {first}. This is a bug; rerun with --debug for '
          'the traceback and report it.'), errors.EXIT_BUG


@contextlib.contextmanager
def one_line_errors(debug, describe=describe_failure):
  """A failure inside becomes one `error:` line and the exit code `describe(error)` gives
  (message, code); with `debug`, the traceback instead."""
  try:
    yield
  except (Exception, KeyboardInterrupt) as error:
    if debug:
      raise
    fail(*describe(error))


def _show_warning(message, category, filename, lineno, file=None, line=None):
  del category, filename, lineno, line
  print(f'warning: {message}', file=file or sys.stderr, flush=True)


def define_common_flags(tensorflow, module):
  """--debug and --verbose of every program, and --onednn of those that need TensorFlow
  (listed with the flags of `module`); each once per process."""
  if 'debug' not in FLAGS:
    flags.DEFINE_bool('debug', os.environ.get('ACAI_DEBUG') == '1',
                      'Show the full traceback of a failure (also: ACAI_DEBUG=1).')
    flags.DEFINE_bool('verbose', quiet.verbose_default(), "Show TensorFlow's start-up and C++ "
                      'log lines (also: ACAI_VERBOSE=1 or TF_CPP_MIN_LOG_LEVEL=0).')
  if tensorflow and 'onednn' not in FLAGS:
    flags.DEFINE_enum('onednn', 'auto', autotune.ONEDNN, "TensorFlow's oneDNN CPU kernels: on, "
                      'off, or auto: whichever ran the training step faster on this CPU (timed '
                      'once per machine, cached). TF_ENABLE_ONEDNN_OPTS, if set, wins.',
                      module_name=module)


def start_tensorflow(onednn='auto', verbose=None):
  """Chooses oneDNN (`onednn`: auto, on or off; acai_tf.autotune), then imports TensorFlow
  quietly unless `verbose` (acai_tf.quiet): what `run` does before a TensorFlow program's main."""
  autotune.choose_onednn(onednn)
  quiet.import_tensorflow(verbose)


def run(main, tensorflow=True, settings=None):
  """Runs the program `main(argv)`: defines the common flags and parses the command line (GNU
  negations too; a bad flag is one `error:` line, exit code 2), then, if it needs
  `tensorflow`, starts it (`start_tensorflow`, from --onednn and --verbose) and calls `main`;
  warnings are one line, failures one `error:` line (`one_line_errors`).

  `settings(argv)`, if given, checks the command line before TensorFlow starts (so a bad value
  costs no TensorFlow start-up) and returns what `main` is called with instead of argv."""
  define_common_flags(tensorflow, _absl_module(main.__module__))

  def started(argv):
    logging.set_verbosity(logging.INFO if FLAGS.verbose else logging.WARNING)
    if not FLAGS.debug:
      warnings.showwarning = _show_warning
    with one_line_errors(FLAGS.debug):
      checked = settings(argv) if settings else argv
      if tensorflow:
        start_tensorflow(FLAGS.onednn, FLAGS.verbose)
      return main(checked)

  app.run(started, flags_parser=parse_flags)
