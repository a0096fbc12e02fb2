"""Training runs: one run directory, trained, reported, exported and checkpointed safely.

`train()` is what `python -m acai_tf.train` calls; it takes configs, never flags. Progress is
counted in steps (one batch each) and kimg (1024 images), as in the original. Every
`report_kimg` the run evaluates, logs, exports and then checkpoints (acai_tf.callbacks).

What a run guarantees: one process trains a run directory at a time (a lock); a run killed
anywhere resumes from its newest readable checkpoint and loses no report; no checkpoint or
export holds non-finite weights, and a diverged run says so on every rerun; a run is finished
when it is trained and exported (a rerun repairs a missing export); SIGTERM and SIGINT save a
checkpoint at the next step boundary.
"""

import dataclasses
import glob
import json
import os
import re
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from acai_tf import autotune, distribute, export, nets, rundir
from acai_tf.callbacks import Progress, Reporter, StopSignals
from acai_tf.config import STEPS_PER_EXECUTION, TrainConfig  # noqa: F401 (the trainer's API)
from acai_tf.data import get_dataset
from acai_tf.errors import DivergedError, Interrupted, StorageError, UsageError
from acai_tf.models import get_model_class
from acai_tf.models.base import scales


def jit_compile(xla):
  """Keras' `jit_compile` for an --xla value (None = Keras' own choice)."""
  return 'auto' if xla is None else xla


def model_config(model_name, dataset, data_dir=None, **values):
  """A model's config: `values` > the dataset's paper setting > the model's default.

  Example: model_config('acai', 'mnist32', latent=2) gives depth 16, latent_width 4.
  `data_dir` is where a dataset of your own is described.
  """
  config_class = get_model_class(model_name).config_class
  own = {f.name for f in dataclasses.fields(config_class)}
  unknown = sorted(set(values) - own)
  if unknown:
    raise UsageError(f'--{", --".join(unknown)} do(es) not apply to --model={model_name}; '
                     f'its hyperparameters are: {", ".join(sorted(own))}.')
  data = get_dataset(dataset, data_dir)
  merged = {k: v for k, v in data.defaults.items() if k in own}
  merged.update(get_model_class(model_name).dataset_defaults.get(dataset, {}))
  merged.update(values)
  try:
    config = config_class(**merged)
    scales(data.image_shape[0], config.latent_width)  # fits this dataset's image size
    return config
  except ValueError as e:
    raise UsageError(str(e)) from None


class Run:
  """A run directory and the model trained in it.

  Under several workers every worker makes a Run; only the chief (`chief`) writes the run
  directory, the others save their checkpoints and exports into a scratch folder they delete.
  """

  def __init__(self, model_name, model_config, config, strategy=None, log=print):
    self.model_name, self.model_config, self.config, self.log = (
        model_name, model_config, config, log)
    self.dataset = get_dataset(config.dataset, config.data_dir)
    self.dir = rundir.run_dir(config.train_dir, config.dataset, model_name, model_config,
                              config.batch, config.seed)
    self.strategy = strategy or distribute.make_strategy(config.strategy)
    self.chief = distribute.is_chief(self.strategy)
    self.scratch = None if self.chief else tempfile.mkdtemp(prefix='acai_tf-worker-')
    self.record = {'model': model_name, 'model_config': model_config.to_dict(),
                   'train_config': dataclasses.asdict(config)}
    self.lock = None

  def path(self, *parts):
    return os.path.join(self.dir, *parts)

  def check_config(self):
    """Refuses to resume a run directory that was made with other settings."""
    saved = rundir.read_json(self.path(rundir.CONFIG_FILE))
    if saved is None:
      return
    fixed = ('dataset', 'batch', 'seed', 'precision', 'shuffle')
    saved['train_config'].setdefault('precision', 'float32')  # runs made before the flags
    saved['train_config'].setdefault('shuffle', 'epoch')
    old = {'model': saved['model'], 'model_config': saved['model_config'],
           **{k: saved['train_config'][k] for k in fixed}}
    new = {'model': self.model_name, 'model_config': self.model_config.to_dict(),
           **{k: getattr(self.config, k) for k in fixed}}
    if old != new:
      raise UsageError(f'{self.dir} holds a run with other settings:\n  saved:   {old}\n'
                       f'  current: {new}\nUse another --train_dir or remove that directory.')

  def check_diverged(self):
    marker = rundir.read_json(self.path(rundir.DIVERGED_FILE))
    if marker is not None:
      start = (f'its last finite checkpoint (step {marker["checkpoint"]})'
               if marker['checkpoint'] else 'the start')
      raise DivergedError(
          f'{self.dir} diverged at step {marker["step"]} ({marker["reason"]}) and would diverge '
          'again: training is deterministic. Change a setting (e.g. a smaller --lr gives a new '
          f'run directory), or delete {rundir.DIVERGED_FILE} there to retry from {start}.')

  def open(self):
    """Takes the run directory: lock, orphan clean-up, room check (the chief only)."""
    if not self.chief:
      return
    rundir.check_writable(self.dir)
    self.lock = rundir.Lock(self.dir)
    for path in rundir.remove_orphans(self.dir):
      self.log(f'removed {path}, left by an interrupted earlier process')

  def close(self):
    if self.lock:
      self.lock.release()
    if self.scratch:
      shutil.rmtree(self.scratch, ignore_errors=True)

  def build(self):
    cls = get_model_class(self.model_name)
    keras.utils.set_random_seed(self.config.seed)  # initial weights follow --seed
    with self.strategy.scope():
      model = cls(self.model_config, self.dataset.image_shape, self.dataset.nclass,
                  seed=self.config.seed, precision=self.config.precision)
      model.compile(jit_compile=jit_compile(self.config.xla))
      self.checkpoint = tf.train.Checkpoint(
          model=model, **{f'optimizer_{g}': o for g, o in model.group_optimizers.items()})
    self.model = model
    self.manager = self._manager()
    return model

  def _manager(self):
    folder = self.path(rundir.CHECKPOINTS) if self.chief else self.scratch
    if self.chief:
      _write_index(folder, self.checkpoints())
    return tf.train.CheckpointManager(self.checkpoint, folder, max_to_keep=2)

  def checkpoints(self):
    """Checkpoint prefixes found on disk (whatever the index says), newest first."""
    found = glob.glob(self.path(rundir.CHECKPOINTS, 'ckpt-*.index'))
    prefixes = [p[:-len('.index')] for p in found if re.fullmatch(r'ckpt-\d+', os.path.basename(
        p[:-len('.index')]))]
    return sorted(prefixes, key=lambda p: int(p.rsplit('-', 1)[1]), reverse=True)

  def restore(self):
    """Restores the newest readable, finite checkpoint, if any; returns the step it holds.

    An unreadable checkpoint (truncated, half-copied) is moved to checkpoints/unreadable/ and
    the one before it is tried.
    """
    tried = []
    for prefix in self.checkpoints():
      try:
        self.checkpoint.restore(prefix).assert_existing_objects_matched()
      except (tf.errors.OpError, ValueError, AssertionError, IndexError) as e:
        reason = str(getattr(e, 'message', e)).strip().splitlines()[0][:200]
        tried.append(f'{prefix} ({reason})')
        self.log(f'warning: {prefix} is unreadable ({reason}); trying the checkpoint before it')
        self._set_aside(prefix)
        continue
      bad = self.nonfinite()
      if bad:
        tried.append(f'{prefix} (non-finite {bad[0]})')
        self.log(f'warning: {prefix} holds non-finite weights ({bad[0]}); trying the one before it')
        self._set_aside(prefix)
        continue
      if tried:
        self.manager = self._manager()
      return self.model.steps_done()
    if tried:
      raise UsageError(f'no checkpoint of {self.dir} is readable: {"; ".join(tried)}. Move the '
                       'run directory aside to train it again from scratch.')
    return 0

  def _set_aside(self, prefix):
    if not self.chief:
      return
    aside = self.path(rundir.CHECKPOINTS, 'unreadable')
    os.makedirs(aside, exist_ok=True)
    for path in glob.glob(prefix + '.*'):
      os.replace(path, os.path.join(aside, os.path.basename(path)))

  def nonfinite(self):
    """Paths of the model's float variables holding NaN or infinity."""
    return [v.path for v in self.model.weights
            if v.dtype.startswith('float') and not np.isfinite(np.asarray(v.numpy())).all()]

  def diverged(self, step, reason):
    """Records the divergence (so reruns refuse) and raises DivergedError."""
    last = self.checkpoints()
    marker = {'step': step, 'reason': reason, 'time': time.strftime('%Y-%m-%d %H:%M:%S'),
              'checkpoint': int(last[0].rsplit('-', 1)[1]) if last else 0}
    if self.chief:
      rundir.write_atomic(self.path(rundir.DIVERGED_FILE), json.dumps(marker, indent=2) + '\n')
    self.check_diverged()

  def _check_finite(self, step):
    bad = self.nonfinite()
    if bad:
      self.diverged(step, f'{len(bad)} weight tensors not finite, e.g. {bad[0]}')

  def save_checkpoint(self):
    step = self.model.steps_done()
    self._check_finite(step)
    try:
      self.manager.save(checkpoint_number=step)
    except BaseException:  # e.g. a full disk: give the space of the partial write back
      for partial in glob.glob(os.path.join(self.manager.directory, f'ckpt-{step}_temp*')):
        shutil.rmtree(partial, ignore_errors=True)
      raise

  def export(self, step):
    """Exports the model (the chief into exports/, the others into their scratch folder)."""
    self._check_finite(step)
    meta = {**self.record, 'step': step, 'kimg': self.config.kimg(step),
            'dataset': self.config.dataset, 'image_shape': list(self.model.image_shape),
            'latent_shape': list(self.model.latent_shape)}
    path = export.save(self.model, self.dir if self.chief else self.scratch, meta)
    if not self.chief:
      shutil.rmtree(path, ignore_errors=True)
    return path

  def export_is_current(self, step):
    meta = rundir.read_json(self.path(rundir.EXPORT_LINK, export.META_FILE))
    return meta is not None and meta.get('step') == step

  def truncate_metrics(self, step):
    """Drops reports newer than the restored checkpoint (they will be made again)."""
    rundir.write_metrics(self.dir, [m for m in rundir.read_metrics(self.dir) if m['step'] <= step])

  def check_room(self):
    """Fails before training if the disk cannot hold a checkpoint and an export."""
    weights = sum(int(np.prod(v.shape)) * 4 for v in self.model.weights)
    needed = 4 * weights + (2 << 20)  # weights, Adam's two moments, the export; graph and logs
    free = shutil.disk_usage(self.dir).free
    if free < needed:
      raise StorageError(28, f'{self.dir} has {free / 2**20:.1f} MB free; a checkpoint and an '
                             f'export of this model need about {needed / 2**20:.1f} MB. Free some '
                             'space or choose another --train_dir.')


def _write_index(folder, prefixes):
  """Rewrites the checkpoint index if it is missing or names files that are not there."""
  if not prefixes:
    return
  state = tf.train.get_checkpoint_state(folder)
  listed = list(state.all_model_checkpoint_paths) if state else []
  if not state or not all(os.path.exists(p + '.index') for p in listed) or (
      os.path.basename(state.model_checkpoint_path) != os.path.basename(prefixes[0])):
    tf.compat.v1.train.update_checkpoint_state(
        folder, prefixes[0], all_model_checkpoint_paths=list(reversed(prefixes[:2])))


def execution_size(steps, most):
  """Steps per execution for a `fit` of `steps` steps: the largest divisor of `steps` <= `most`.

  Keras runs whole executions, so a divisor keeps every report, phase boundary
  and the end of training exact.
  """
  return max(k for k in range(1, min(most, steps) + 1) if steps % k == 0)


def _segments(step, total, every, boundaries=()):
  """Splits [step, total) at multiples of `every` and at `boundaries`, in closed form.

  Returns:
    [(epochs, steps_per_epoch), ...]: runs of equal epochs, one `fit` call each.
  """
  segments = []
  phase_start = 0  # segments of an earlier phase are never merged with this one's

  def add(epochs, steps):
    if steps == every and len(segments) > phase_start and segments[-1][1] == every:
      segments[-1] = (segments[-1][0] + epochs, every)
    else:
      segments.append((epochs, steps))

  for end in sorted({b for b in boundaries if step < b < total} | {total}):
    phase_start = len(segments)
    first = min((step // every + 1) * every, end)  # up to the next report
    if first > step:
      add(1, first - step)
      step = first
    whole = (end - step) // every
    if whole:
      add(whole, every)
      step += whole * every
    if end > step:
      add(1, end - step)
      step = end
  return segments


def describe(run, model, log):
  workers = distribute.worker(run.strategy)
  log(f'run directory: {run.dir}')
  rows = [('model', run.model_name), *run.model_config.to_dict().items(),
          *dataclasses.asdict(run.config).items(),
          ('replicas', run.strategy.num_replicas_in_sync), ('workers', workers[1]),
          ('conv_paths', nets.resolved_conv_paths()), ('kernels', autotune.summary()),
          ('cpu', autotune.cpu_line())]
  width = max(len(k) for k, _ in rows)
  for key, value in rows:
    log(f'  {key:<{width}}  {value}')
  for net in [model.encoder, model.decoder, *model.extra_networks()]:
    log(f'  {net.name:<{width}}  {net.count_params():,} parameters')


def train(model_name, model_config, config, strategy=None, log=print):
  """Trains (or resumes) one run to `config.total_kimg` and exports it.

  Args:
    model_name: a key of `acai_tf.models.MODELS`.
    model_config: that model's config dataclass.
    config: TrainConfig.
    strategy: optional tf.distribute.Strategy overriding `config.strategy`.
    log: where progress lines go (only the chief worker logs).

  Returns:
    The Run (its `dir` holds everything; `rundir.read_metrics(run.dir)` the reports).

  Raises:
    acai_tf.errors.AcaiError subclasses: UsageError (settings or data), DivergedError,
    BusyError (another process trains this run), StorageError, Interrupted (by a signal; a
    checkpoint was saved).
  """
  with StopSignals() as signals:
    run = Run(model_name, model_config, config, strategy, log)
    if not run.chief:
      log = run.log = lambda line: None  # noqa: E731 - the chief speaks for the cluster
    try:
      _train(run, signals, log)
    finally:
      run.close()
  return run


def _train(run, signals, log):
  config = run.config
  run.check_config()
  run.dataset.check()
  if run.dataset.train_size is not None and run.dataset.train_size < config.batch:
    raise UsageError(f'{config.dataset} has {run.dataset.train_size} training images, fewer '
                     f'than --batch={config.batch}.')
  run.open()
  run.check_diverged()
  model = run.build()
  if run.chief:
    run.check_room()
  step = run.restore()
  goal = config.total_kimg + model.kimg_before_total()  # e.g. AdvAI's phase 1 comes first
  total = config.steps(goal)
  every = config.steps(config.report_kimg)
  if step >= total:
    if distribute.agree(run.strategy, run.chief and not run.export_is_current(step)):
      log(f'{run.dir} is trained to step {step} but its export is missing; exporting it')
      run.export(step)
    log(f'{run.dir} is already trained to step {step} (kimg {config.kimg(step):.1f}) >= '
        f'{goal:g} kimg; nothing to do. Raise --total_kimg to train further.')
    distribute.barrier(run.strategy)
    return
  if run.chief:
    rundir.write_atomic(run.path(rundir.CONFIG_FILE), json.dumps(run.record, indent=2) + '\n')
    run.truncate_metrics(step)
  describe(run, model, log)
  log(('resuming at' if step else 'starting at') + f' step {step} (kimg {config.kimg(step):.1f});'
      f' training to step {total} (kimg {config.kimg(total):.1f}), reporting every {every} steps')
  reporter = Reporter(run, every, total, config.checkpoint_minutes, signals, log)
  callbacks = [reporter] + ([Progress(run, total, config.progress_seconds, log)] if run.chief else [])
  for epochs, steps in _segments(step, total, every, model.phase_boundaries(config.batch)):
    if distribute.agree(run.strategy, signals.requested):
      reporter.stopped = True
      if model.steps_done() > step:  # stopped at a phase boundary, between two reports
        run.save_checkpoint()
      break
    model.enter_phase(model.steps_done(), config.batch)
    model.set_steps_per_execution(execution_size(steps, config.steps_per_execution))
    start = model.steps_done()
    data = distribute.distribute_batches(
        run.strategy, lambda rows, start=start: run.dataset.train(config.batch, config.seed,
                                                                  start, rows, config.shuffle),
        config.batch)
    model.fit(data, epochs=epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=0,
              shuffle=False)
    if reporter.stopped:
      break
  distribute.barrier(run.strategy)
  if model.steps_done() < total:  # stopped by a signal (agreed between workers)
    raise Interrupted(f'stopped by {signals.requested or "a peer worker"} at step '
                      f'{model.steps_done()}; a checkpoint is saved. Rerun the same command to '
                      'resume.')
  log(f'done: {run.dir} (export: {run.path(rundir.EXPORT_LINK)})')
