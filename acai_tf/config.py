"""Configs: frozen dataclasses whose fields carry their flag help (see `hparam`).

The training program generates one flag per field, with the field's default and help, so a
setting is written once: here (training) or in its model's config class (hyperparameters).
Every value is checked when a config is made, before anything is written to disk.
"""

import dataclasses
import math
import os

IMAGE_SIZE = 32  # the paper's images; datasets may have others (e.g. 64): scales follow the size
DATA_ENV = 'ACAI_DATA'  # where TFRecords are, unless --data_dir says


def default_data_dir():
  """Where data_prep writes TFRecords and datasets read them, unless told: $ACAI_DATA, else
  ./data."""
  return os.environ.get(DATA_ENV, './data')


# Keras dtype policies of the conv networks; outputs, losses and metrics stay float32.
PRECISIONS = ('float32', 'mixed_float16', 'mixed_bfloat16')
# tf.distribute strategies (acai_tf.distribute makes them).
STRATEGIES = ('auto', 'default', 'mirrored', 'multi_worker', 'tpu')
# Orders of a finite training split (acai_tf.data): the original's shuffle buffer, or per epoch.
SHUFFLES = ('buffer', 'epoch')
# Train steps per call into TensorFlow: amortises Keras' per-call cost (docs/performance.md).
STEPS_PER_EXECUTION = 16
MAX_BATCH = 1 << 16
MAX_KIMG = 1e12
MAX_SEED = (1 << 31) - 1


def hparam(default, help, **metadata):  # noqa: A002 - mirrors absl's argument name
  """A config field whose help text becomes its flag's help (`choices` makes an enum flag)."""
  return dataclasses.field(default=default, metadata={'help': help, **metadata})


def _require(condition, message):
  if not condition:
    raise ValueError(message)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How long and on what to train; the model's own hyperparameters live in its config."""
  dataset: str = hparam('lines32', 'Training data: lines32, mnist32, svhn32, cifar10, celeba32, '
                        'or a dataset of your own built by data_prep.build into --data_dir.')
  data_dir: str = hparam(None, 'Folder of the TFRecords built by data_prep (real datasets); '
                         'default: $ACAI_DATA, else ./data.')
  train_dir: str = hparam('./experiments', 'Runs go to <train_dir>/<dataset>/<run name>.')
  total_kimg: float = hparam(16384, 'Training length in thousands (1024) of images.')
  report_kimg: float = hparam(64, 'Evaluate, log, export and checkpoint every this many kimg.')
  batch: int = hparam(64, 'Global batch size (split evenly over replicas; ACAI pairs images '
                      "within each replica's share).")
  seed: int = hparam(0, 'Seed of the initial weights, the data stream and every random draw.')
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
                                    'signals are handled between calls).')
  checkpoint_minutes: float = hparam(10.0, 'Also checkpoint whenever this much time passed.')
  eval_pairs: int = hparam(256, 'Line pairs scored at each lines32 report (paper: 256).')
  progress_seconds: float = hparam(30.0, 'Print a progress line this often.')

  def __post_init__(self):
    _require(isinstance(self.train_dir, str) and self.train_dir.strip(),
             'train_dir is empty; name the folder runs go to, e.g. --train_dir=./experiments.')
    _require(2 <= self.batch <= MAX_BATCH,
             f'batch={self.batch} must be in [2, {MAX_BATCH}] (ACAI pairs images in a batch).')
    for name in ('total_kimg', 'report_kimg'):
      value = getattr(self, name)
      _require(math.isfinite(value) and 0 < value <= MAX_KIMG,
               f'{name}={value:g} must be positive and at most {MAX_KIMG:g}.')
    _require(0 <= self.seed <= MAX_SEED, f'seed={self.seed} must be in [0, {MAX_SEED}].')
    _require(self.shuffle in SHUFFLES,
             f'shuffle={self.shuffle!r}; choose one of: {", ".join(SHUFFLES)}.')
    _require(self.strategy in STRATEGIES,
             f'strategy={self.strategy!r}; choose one of: {", ".join(STRATEGIES)}.')
    _require(self.xla in (None, True, False),
             f'xla={self.xla!r}; choose None (auto), True or False.')
    _require(self.precision in PRECISIONS,
             f'precision={self.precision!r}; choose one of: {", ".join(PRECISIONS)}.')
    _require(1 <= self.steps_per_execution <= 10000,
             f'steps_per_execution={self.steps_per_execution} must be in [1, 10000].')
    _require(1 <= self.eval_pairs <= 100000,
             f'eval_pairs={self.eval_pairs} must be in [1, 100000].')
    for name in ('checkpoint_minutes', 'progress_seconds'):
      value = getattr(self, name)
      _require(math.isfinite(value) and value > 0, f'{name}={value} must be positive.')

  def steps(self, kimg):
    return max(1, int(round(kimg * 1024 / self.batch)))

  def kimg(self, step):
    return step * self.batch / 1024
