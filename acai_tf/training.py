"""Training runs: run directory, resume, reports, TensorBoard, metrics.jsonl, export.

`train()` is what `python -m acai_tf.train` calls; it takes configs, never flags.
Progress is counted in steps (one batch each) and kimg (1024 images), as in the
original. Every `report_kimg` the run evaluates the probe on the test split,
scores interpolations (lines32), logs scalars and image grids, appends a line
to metrics.jsonl, writes a checkpoint and re-exports the model.
"""

import dataclasses
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from acai_tf import export, grids
from acai_tf.data import get_dataset
from acai_tf.evaluation.lines import evaluate_interpolations
from acai_tf.models import get_model_class
from acai_tf.models.base import PRECISIONS

CONFIG_FILE = 'config.json'
METRICS_FILE = 'metrics.jsonl'


class RunError(ValueError):
  """The run directory cannot be used with these settings."""

# Train steps per call into TensorFlow: amortises Keras' per-call cost (docs/performance.md).
STEPS_PER_EXECUTION = 16


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How long and on what to train; the model's own hyperparameters live in its config."""
  dataset: str = 'lines32'
  data_dir: str = None
  train_dir: str = './experiments'
  total_kimg: float = 16384
  report_kimg: float = 64
  batch: int = 64
  seed: int = 0
  strategy: str = 'auto'
  xla: bool = None  # None: Keras' choice (on with a GPU, off on CPUs, where it measured slower)
  precision: str = 'float32'
  steps_per_execution: int = 16  # train steps per call into TensorFlow (see `execution_sizes`)
  checkpoint_minutes: float = 10.0
  eval_pairs: int = 256
  progress_seconds: float = 30.0

  def __post_init__(self):
    if self.batch < 2:
      raise ValueError(f'batch={self.batch} must be at least 2 (ACAI pairs images in a batch).')
    if not (self.total_kimg > 0 and self.report_kimg > 0):
      raise ValueError('total_kimg and report_kimg must be positive.')
    if self.strategy not in STRATEGIES:
      raise ValueError(f'strategy={self.strategy!r}; choose one of: {", ".join(STRATEGIES)}.')
    if self.xla not in (None, True, False):
      raise ValueError(f'xla={self.xla!r}; choose None (auto), True or False.')
    if self.precision not in PRECISIONS:
      raise ValueError(f'precision={self.precision!r}; choose one of: {", ".join(PRECISIONS)}.')
    if self.steps_per_execution < 1:
      raise ValueError(f'steps_per_execution={self.steps_per_execution} must be >= 1.')
    if self.eval_pairs < 1 or self.checkpoint_minutes <= 0:
      raise ValueError('eval_pairs must be >= 1 and checkpoint_minutes > 0.')

  def steps(self, kimg):
    return max(1, int(round(kimg * 1024 / self.batch)))

  def kimg(self, step):
    return step * self.batch / 1024


def jit_compile(xla):
  """Keras' `jit_compile` for an --xla value (None = Keras' own choice)."""
  return 'auto' if xla is None else xla


def _mirrored():
  gpus = tf.config.list_logical_devices('GPU')
  return tf.distribute.MirroredStrategy([d.name for d in gpus] or None)


STRATEGIES = {
    'auto': lambda: _mirrored() if len(tf.config.list_logical_devices('GPU')) > 1
            else tf.distribute.get_strategy(),
    'default': tf.distribute.get_strategy,
    'mirrored': _mirrored,
}


def model_config(model_name, dataset, **values):
  """A model's config: `values` > the dataset's paper setting > the model's default.

  Example: model_config('acai', 'mnist32', latent=2) gives depth 16, latent_width 4.
  """
  config_class = get_model_class(model_name).config_class
  own = {f.name for f in dataclasses.fields(config_class)}
  unknown = sorted(set(values) - own)
  if unknown:
    raise ValueError(f'--{", --".join(unknown)} do(es) not apply to --model={model_name}; '
                     f'its hyperparameters are: {", ".join(sorted(own))}.')
  merged = {k: v for k, v in get_dataset(dataset).defaults.items() if k in own}
  merged.update(getattr(get_model_class(model_name), 'dataset_defaults', {}).get(dataset, {}))
  merged.update(values)
  return config_class(**merged)


def run_name(model_name, model_config, batch):
  """Directory name from the model and its sorted hyperparameters (as the original)."""
  params = {**model_config.to_dict(), 'batch': batch}
  return '_'.join([model_name] + [f'{k}{v}' for k, v in sorted(params.items())])


def read_metrics(run_dir):
  """Every report of a run, as a list of dicts (one per metrics.jsonl line)."""
  path = os.path.join(run_dir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


class Run:
  """A run directory: config, checkpoints, metrics.jsonl, TensorBoard logs, export."""

  def __init__(self, model_name, model_config, config, strategy=None):
    self.model_name = model_name
    self.model_config = model_config
    self.config = config
    self.dataset = get_dataset(config.dataset, config.data_dir)
    self.dir = os.path.join(config.train_dir, config.dataset,
                            run_name(model_name, model_config, config.batch))
    self.strategy = strategy or STRATEGIES[config.strategy]()
    self.record = {'model': model_name, 'model_config': model_config.to_dict(),
                   'train_config': dataclasses.asdict(config)}

  def check_config(self):
    """Refuses to resume a run directory that was made with other settings."""
    path = os.path.join(self.dir, CONFIG_FILE)
    if not os.path.exists(path):
      return
    with open(path) as f:
      saved = json.load(f)
    fixed = ('dataset', 'batch', 'seed', 'precision')
    saved['train_config'].setdefault('precision', 'float32')  # runs made before the flag
    old = {'model': saved['model'], 'model_config': saved['model_config'],
           **{k: saved['train_config'][k] for k in fixed}}
    new = {'model': self.model_name, 'model_config': self.model_config.to_dict(),
           **{k: getattr(self.config, k) for k in fixed}}
    if old != new:
      raise RunError(f'{self.dir} holds a run with other settings:\n  saved:   {old}\n'
                       f'  current: {new}\nUse another --train_dir or remove that directory.')

  def build(self):
    cls = get_model_class(self.model_name)
    with self.strategy.scope():
      model = cls(self.model_config, self.dataset.image_shape, self.dataset.nclass,
                  seed=self.config.seed, precision=self.config.precision)
      model.compile(jit_compile=jit_compile(self.config.xla))
      self.checkpoint = tf.train.Checkpoint(
          model=model, **{f'optimizer_{g}': o for g, o in model.group_optimizers.items()})
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, os.path.join(self.dir, 'checkpoints'), max_to_keep=2,
        step_counter=model.step)
    self.model = model
    return model

  def restore(self):
    """Restores the newest checkpoint, if any; returns the step it holds."""
    latest = self.manager.latest_checkpoint
    if latest:
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    return int(self.model.step)

  def save_checkpoint(self):
    self.manager.save(checkpoint_number=int(self.model.step))

  def truncate_metrics(self, step):
    """Drops reports newer than the restored checkpoint (they will be made again)."""
    kept = [m for m in read_metrics(self.dir) if m['step'] <= step]
    export.write_atomic(os.path.join(self.dir, METRICS_FILE),
                  ''.join(json.dumps(m) + '\n' for m in kept))

  def export(self, step):
    meta = {**self.record, 'step': step, 'kimg': self.config.kimg(step),
            'dataset': self.config.dataset, 'image_shape': list(self.model.image_shape),
            'latent_shape': list(self.model.latent_shape)}
    return export.save(self.model, self.dir, meta)


class Reporter(keras.callbacks.Callback):
  """At every epoch end (= every report): evaluate, log, checkpoint, export."""

  def __init__(self, run, every, total, log):
    super().__init__()
    self.run, self.every, self.total, self.log = run, every, total, log
    self.writer = tf.summary.create_file_writer(os.path.join(run.dir, 'tensorboard'))
    self.evaluator = Evaluator(run.model, run.dataset, run.config)
    self.last = (time.perf_counter(), int(run.model.step))

  def on_epoch_end(self, epoch, logs=None):
    run, model = self.run, self.run.model
    step = int(model.step)
    if step % self.every and step != self.total:
      return  # an epoch cut at a phase boundary, not a report
    now = time.perf_counter()
    img_s = (step - self.last[1]) * run.config.batch / max(now - self.last[0], 1e-9)
    scalars = {k: float(v) for k, v in (logs or {}).items()}
    bad = [k for k, v in scalars.items() if not math.isfinite(v)]
    if bad:
      raise FloatingPointError(f'Training diverged at step {step}: {bad} are not finite. '
                               'Try a smaller --lr; the last checkpoint is kept.')
    scalars['img_s'] = img_s
    scalars.update(self.evaluator.scalars(step))
    record = {'step': step, 'kimg': run.config.kimg(step), **scalars}
    with self.writer.as_default(step=step):
      for name, value in scalars.items():
        tf.summary.scalar(name, value)
      for name, grid in self.evaluator.grids(step).items():
        tf.summary.image(name, grids.to_uint8(grid)[None])
    self.writer.flush()
    with open(os.path.join(run.dir, METRICS_FILE), 'a') as f:
      f.write(json.dumps(record) + '\n')
    run.save_checkpoint()
    run.export(step)
    self.log(_format_report(record))
    self.last = (time.perf_counter(), step)


class PeriodicCheckpoint(keras.callbacks.Callback):
  """Saves a checkpoint whenever `minutes` have passed since the last one."""

  def __init__(self, run, minutes):
    super().__init__()
    self.run, self.seconds = run, 60 * minutes
    self.last = time.monotonic()

  def on_train_batch_end(self, batch, logs=None):
    if time.monotonic() - self.last >= self.seconds:
      self.run.save_checkpoint()
      self.last = time.monotonic()

  def on_epoch_end(self, epoch, logs=None):
    self.last = time.monotonic()  # the Reporter has just saved one


class Progress(keras.callbacks.Callback):
  """Prints kimg, img/s and the running losses every `seconds`."""

  def __init__(self, run, total_steps, seconds, log):
    super().__init__()
    self.run, self.total, self.seconds, self.log = run, total_steps, seconds, log
    self.last = None

  def on_train_batch_end(self, batch, logs=None):
    now = time.perf_counter()
    if self.last is None:
      self.last = (now, int(self.run.model.step))
      return
    if now - self.last[0] < self.seconds:
      return
    step = int(self.run.model.step)
    img_s = (step - self.last[1]) * self.run.config.batch / (now - self.last[0])
    eta = (self.total - step) * self.run.config.batch / max(img_s, 1e-9)
    losses = '  '.join(f'{k} {float(v):.4g}' for k, v in (logs or {}).items())
    kimg = self.run.config.kimg
    self.log(f'kimg {kimg(step):8.1f}/{kimg(self.total):.0f}  img/s {img_s:6.1f}  '
             f'eta {eta / 60:5.1f} min  {losses}')
    self.last = (now, step)


def _format_report(record):
  parts = [f'{k} {v:.4g}' for k, v in record.items() if k not in ('step', 'kimg')]
  return f'[report] kimg {record["kimg"]:.1f} step {record["step"]}  ' + '  '.join(parts)


class Evaluator:
  """Report-time figures from a live model, through numpy endpoints traced once."""

  def __init__(self, model, dataset, config):
    self.model, self.dataset, self.config = model, dataset, config
    wrap = lambda fn: export.numpy_endpoint(tf.function(fn, reduce_retracing=True))  # noqa: E731
    self.encode, self.decode = wrap(model.encode), wrap(model.decode)
    self.interpolate = wrap(model.interpolate)
    self.classify = wrap(model.classify) if model.classifier is not None else None

  def scalars(self, step):
    """Probe accuracy on the test split; Mean Distance / Smoothness on lines32."""
    results = {}
    if self.classify is not None:
      images, labels = self.dataset.test()
      results['latent_accuracy'] = 100 * float(np.mean(self.classify(images).argmax(1) == labels))
    if self.dataset.line_metrics:
      rng = np.random.default_rng([self.config.seed, step])  # fresh lines at every report
      results.update(evaluate_interpolations(self.encode, self.decode, self.interpolate, rng,
                                             pairs=self.config.eval_pairs))
    return results

  def grids(self, step):
    rng = np.random.default_rng([self.config.seed, step, 1])
    return grids.monitoring_grids(self.encode, self.decode, self.interpolate,
                                  self.dataset.eval_pool(), self.model.latent_shape, rng)


def execution_size(steps, most):
  """Steps per execution for a `fit` of `steps` steps: the largest divisor of `steps` <= `most`.

  Keras runs whole executions, so a divisor keeps every report, phase boundary
  and the end of training exact.
  """
  return max(k for k in range(1, min(most, steps) + 1) if steps % k == 0)


def _segments(step, total, every, boundaries=()):
  """Splits [step, total) at multiples of `every` and at `boundaries`.

  Returns:
    [(epochs, steps_per_epoch), ...]: runs of equal epochs, one `fit` call each.
  """
  segments = []
  while step < total:
    end = min([(step // every + 1) * every, total] + [b for b in boundaries if b > step])
    if end - step == every and segments and segments[-1][1] == every:
      segments[-1] = (segments[-1][0] + 1, every)
    else:
      segments.append((1, end - step))
    step = end
  return segments


def describe(run, model, log):
  log(f'run directory: {run.dir}')
  rows = [('model', run.model_name), *run.model_config.to_dict().items(),
          *dataclasses.asdict(run.config).items(), ('replicas', run.strategy.num_replicas_in_sync)]
  width = max(len(k) for k, _ in rows)
  for key, value in rows:
    log(f'  {key:<{width}}  {value}')
  for net in [model.encoder, model.decoder, *model.extra_networks()]:
    log(f'  {net.name:<{width}}  {net.count_params():,} parameters')


def train(model_name, model_config, config, strategy=None, log=print):
  """Trains (or resumes) one run to `config.total_kimg`.

  Args:
    model_name: a key of `acai_tf.models.MODELS`.
    model_config: that model's config dataclass.
    config: TrainConfig.
    strategy: optional tf.distribute.Strategy overriding `config.strategy`.
    log: where progress lines go.

  Returns:
    The Run (its `dir` holds everything; `read_metrics(run.dir)` the reports).
  """
  run = Run(model_name, model_config, config, strategy)
  run.check_config()
  run.dataset.check()
  os.makedirs(run.dir, exist_ok=True)
  model = run.build()
  step = run.restore()
  total = config.steps(config.total_kimg)
  every = config.steps(config.report_kimg)
  if step >= total:
    log(f'{run.dir} is already trained to step {step} (kimg {config.kimg(step):.1f}) >= '
        f'total_kimg {config.total_kimg}; nothing to do. Raise --total_kimg to train further.')
    return run
  export.write_atomic(os.path.join(run.dir, CONFIG_FILE), json.dumps(run.record, indent=2) + '\n')
  run.truncate_metrics(step)
  describe(run, model, log)
  log(('resuming at' if step else 'starting at') + f' step {step} (kimg {config.kimg(step):.1f});'
      f' training to step {total} (kimg {config.kimg(total):.1f}), reporting every {every} steps')
  callbacks = [PeriodicCheckpoint(run, config.checkpoint_minutes),
               Progress(run, total, config.progress_seconds, log), Reporter(run, every, total, log)]
  for epochs, steps in _segments(step, total, every, model.phase_boundaries(config.batch)):
    model.enter_phase(int(model.step), config.batch)
    model.set_steps_per_execution(execution_size(steps, config.steps_per_execution))
    data = run.dataset.train(config.batch, config.seed, start_step=int(model.step))
    model.fit(data, epochs=epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=0,
              shuffle=False)
  log(f'done: {run.dir} (export: {os.path.join(run.dir, "export")})')
  return run
