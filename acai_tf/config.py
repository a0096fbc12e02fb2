"""Configs: frozen dataclasses whose fields carry their flag help (see `hparam`).

The training program generates one flag per field, with the field's default and help, so a
setting is written once: here (training) or in its model's config class (hyperparameters).
Every value is checked when a config is made, before anything is written to disk.
"""

import dataclasses
import importlib
import math
import operator
import os

from acai_tf import paper

IMAGE_SIZE = 32  # the paper's images; datasets may have others (e.g. 64): scales follow the size
DATA_ENV = 'ACAI_DATA'  # where TFRecords are, unless --data_dir says


def default_data_dir():
  """Where data_prep writes TFRecords and datasets read them, unless told: $ACAI_DATA, else
  ./data."""
  return os.environ.get(DATA_ENV, './data')


def import_class(path):
  """The class 'package.module.Name' names, its module imported now: the registries name the
  classes of their entries so, and read the entries without importing them."""
  module, _, name = path.rpartition('.')
  return getattr(importlib.import_module(module), name)


# Keras dtype policies of the conv networks; outputs, losses and metrics stay float32.
PRECISIONS = ('float32', 'mixed_float16', 'mixed_bfloat16')
# tf.distribute strategies (acai_tf.distribute makes them).
STRATEGIES = ('auto', 'default', 'mirrored', 'multi_worker', 'tpu')
# Orders of a finite training split (acai_tf.data): the original's shuffle buffer, or per epoch.
SHUFFLES = ('buffer', 'epoch')
# Convolution layers of the networks (acai_tf.conv_layers): per shape the faster, every rewrite
# that fits, or Keras' own.
CONV_PATHS = ('auto', 'fast', 'plain')
# Where reports go besides metrics.jsonl (acai_tf.trackers); MLflow and W&B are optional extras.
TRACKERS = ('tensorboard', 'mlflow', 'wandb')
# Train steps per call into TensorFlow: amortises Keras' per-call cost (docs/performance.md).
STEPS_PER_EXECUTION = 16
MAX_BATCH = 1 << 16
MAX_KIMG = 1e12
MAX_SEED = (1 << 31) - 1


def hparam(default, help, *, choices=None, at_least=None, above=None, at_most=None,
           below=None):
  """A config field whose help text becomes its flag's help; `choices` makes an enum flag.

  The bounds (`at_least`/`above` below, `at_most`/`below` above) and `choices` are checked by
  `check_fields` when a config is made; None passes only where the default is None (unset).
  """
  limits = {'>=': at_least, '>': above, '<=': at_most, '<': below}
  metadata = {'help': help, 'choices': choices,
              'limits': {op: bound for op, bound in limits.items() if bound is not None}}
  return dataclasses.field(default=default, metadata=metadata)


def tracker_names(log_to):
  """The trackers a --log_to value names, in its order, each once ('' names none); a ValueError
  for a name that is not in TRACKERS."""
  names = tuple(dict.fromkeys(name.strip() for name in log_to.split(',') if name.strip()))
  unknown = [name for name in names if name not in TRACKERS]
  if unknown:
    raise ValueError(f'log_to={log_to!r}: {unknown[0]!r} is no tracker; choose from '
                     f'{", ".join(TRACKERS)} (a comma list).')
  return names


_HOLDS = {'>=': operator.ge, '>': operator.gt, '<=': operator.le, '<': operator.lt}


def _number(value):
  return f'{value:g}' if isinstance(value, float) else str(value)


def requirement(field):
  """'>= 0', 'in (0, 1]', ...: what the bounds of an `hparam` field ask of its value ('' if
  none)."""
  limits = field.metadata.get('limits') or {}
  low = [(op, b) for op, b in limits.items() if op[0] == '>']
  high = [(op, b) for op, b in limits.items() if op[0] == '<']
  if low and high:
    (low_op, low_bound), (high_op, high_bound) = low[0], high[0]
    return (f'in {"[" if low_op == ">=" else "("}{_number(low_bound)}, '
            f'{_number(high_bound)}{"]" if high_op == "<=" else ")"}')
  return ' and '.join(f'{op} {_number(bound)}' for op, bound in low + high)


def check_fields(config):
  """A ValueError naming the first field of `config` outside its `hparam` choices or bounds,
  unset (None) where its default is set, or an infinite or NaN number."""
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    choices, limits = field.metadata.get('choices'), field.metadata.get('limits')
    if value is None:
      if field.default is None:
        continue
      raise ValueError(f'{field.name} is unset (None); its default is {field.default!r}.')
    if choices and value not in choices:
      raise ValueError(f'{field.name}={value!r}; choose one of: {", ".join(choices)}.')
    if isinstance(value, float) and not math.isfinite(value):
      raise ValueError(f'{field.name}={value!r} must be a finite number.')
    if limits and not all(_HOLDS[op](value, bound) for op, bound in limits.items()):
      raise ValueError(f'{field.name}={value!r} must be {requirement(field)}.')


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How long and on what to train; the model's own hyperparameters live in its config."""
  dataset: str = hparam('lines32', 'Training data: lines32, mnist32, svhn32, cifar10, celeba32, '
                        'or a dataset of your own built by data_prep.build into --data_dir.')
  data_dir: str = hparam(None, 'Folder of the TFRecords built by data_prep (real datasets); '
                         'default: $ACAI_DATA, else ./data.')
  train_dir: str = hparam('./experiments', 'Runs go to <train_dir>/<dataset>/<run name>.')
  total_kimg: float = hparam(paper.BUDGET_KIMG, 'Training length in thousands (1024) of images.',
                              above=0, at_most=MAX_KIMG)
  report_kimg: float = hparam(None, 'Evaluate, log, export and checkpoint every this many kimg; '
                               f'unset: total_kimg / {paper.REPORTS}, the paper\'s '
                               f'{paper.REPORTS} reports per run at any budget.',
                               above=0, at_most=MAX_KIMG)
  batch: int = hparam(64, 'Global batch size (split evenly over replicas; ACAI pairs images '
                      "within each replica's share).", at_least=2, at_most=MAX_BATCH)
  seed: int = hparam(0, 'Seed of the initial weights, the data stream and every random draw.',
                      at_least=0, at_most=MAX_SEED)
  shuffle: str = hparam('buffer', 'Order of a finite training split: buffer, the original\'s '
                        '(the files in order through a 1024-image shuffle buffer, so SVHN streams '
                        'train, then extra), or epoch, a fresh permutation of the whole split '
                        'every epoch.', choices=SHUFFLES)
  strategy: str = hparam('auto', 'auto: mirrored if more than one GPU is visible, else default; '
                         'default: one device; mirrored: every local GPU (or --cpu_devices); '
                         'multi_worker: the machines of $TF_CONFIG; tpu: --tpu.',
                         choices=STRATEGIES)
  xla: bool = hparam(None, "XLA-compile the train step (--xla / --noxla); unset: Keras' choice, "
                     'on with a GPU, off on CPUs (where it measured 2x slower).')
  precision: str = hparam('float32', 'Dtype policy of the conv networks: mixed_float16 (GPUs, '
                          'with loss scaling) or mixed_bfloat16 (TPUs, recent GPUs and CPUs) '
                          'compute in half precision with float32 weights, outputs and losses.',
                          choices=PRECISIONS)
  steps_per_execution: int = hparam(STEPS_PER_EXECUTION, "Train steps per call into TensorFlow "
                                    "(amortises Keras' per-call cost; progress, checkpoints and "
                                    'signals are handled between calls).',
                                    at_least=1, at_most=10000)
  checkpoint_minutes: float = hparam(10.0, 'Also checkpoint whenever this much time passed.',
                                      above=0)
  eval_pairs: int = hparam(256, 'Line pairs scored at each lines32 report (paper: 256).',
                            at_least=1, at_most=100000)
  progress_seconds: float = hparam(30.0, 'Print a progress line this often.', above=0)
  log_to: str = hparam('tensorboard', "Where every report also goes, a comma list of "
                       f"{', '.join(TRACKERS)}: its scalars and image grids, and the run's "
                       'settings (mlflow, wandb). mlflow (pip install -e ".[mlflow]"): a run in '
                       '$MLFLOW_TRACKING_URI, else in the file store <train_dir>/mlruns. wandb '
                       '(pip install -e ".[wandb]"): offline without an API key or with '
                       'WANDB_MODE=offline, its files in <run>/wandb; `wandb sync '
                       "<run>/wandb/offline-run-*` uploads them later. A resumed run continues "
                       'its tracker runs.')

  def __post_init__(self):
    if not (isinstance(self.train_dir, str) and self.train_dir.strip()):
      raise ValueError('train_dir is empty; name the folder runs go to, e.g. '
                       '--train_dir=./experiments.')
    if self.report_kimg is None and isinstance(self.total_kimg, (int, float)):
      object.__setattr__(self, 'report_kimg', self.total_kimg / paper.REPORTS)
    if isinstance(self.log_to, str):
      object.__setattr__(self, 'log_to', ','.join(tracker_names(self.log_to)))
    if self.xla not in (None, True, False):
      raise ValueError(f'xla={self.xla!r}; choose None (auto), True or False.')
    check_fields(self)

  def steps(self, kimg):
    return max(1, int(round(kimg * 1024 / self.batch)))

  def kimg(self, step):
    return step * self.batch / 1024
