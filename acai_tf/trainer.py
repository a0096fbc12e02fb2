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

import bisect
import dataclasses
import json
import os
import shutil
import tempfile
import time

import keras
import numpy as np

from acai_tf import autotune, conv_layers, distribute, export, models, rundir, schema
from acai_tf.callbacks import Progress, Reporter
from acai_tf.checkpoints import Checkpoints, nonfinite, step_of
from acai_tf.config import STEPS_PER_EXECUTION, TrainConfig  # noqa: F401 (the trainer's API)
from acai_tf.data import get_dataset
from acai_tf.errors import DivergedError, Interrupted, StorageError, UsageError
from acai_tf.schedule import execution_size, segments
from acai_tf.signals import StopSignals

model_config = models.model_config  # the trainer's API too (notebooks, runs/ship.py)


def jit_compile(xla):
  """Keras' `jit_compile` for an --xla value (None = Keras' own choice)."""
  return 'auto' if xla is None else xla


class Run:
  """A run directory and the model trained in it.

  Under several workers every worker makes a Run; only the chief (`chief`) writes the run
  directory, the others save their checkpoints and exports into a scratch folder they delete.
  `conv_paths` is the --conv_paths mode; `build` chooses the networks' layer paths from it
  (conv_layers.choose) and builds the model with them.
  """

  def __init__(self, model_name, model_config, config, strategy=None, log=print,
               conv_paths='auto'):
    self.model_name, self.model_config, self.config, self.log = (
        model_name, model_config, config, log)
    self.conv_paths_mode = conv_paths
    self.dataset = get_dataset(config.dataset, config.data_dir)
    self.dir = rundir.run_dir(config.train_dir, config.dataset, model_name, model_config,
                              config.batch, config.seed)
    self.strategy = strategy or distribute.make_strategy(config.strategy)
    self.chief = distribute.is_chief(self.strategy)
    self.scratch = None if self.chief else tempfile.mkdtemp(prefix='acai_tf-worker-')
    self.record = {'format': schema.RECORD_FORMAT, 'model': model_name,
                   'model_config': model_config.to_dict(),
                   'train_config': dataclasses.asdict(config)}
    self.lock = None

  def path(self, *parts):
    return os.path.join(self.dir, *parts)

  def check_config(self):
    """Refuses to resume a run directory that was made with other settings."""
    saved = rundir.read_config(self.dir, resuming=True)
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
    marker = schema.read_diverged(self.path(rundir.DIVERGED_FILE))
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
    cls = models.get_model_class(self.model_name)

    def make(conv_paths):
      return cls(self.model_config, self.dataset.image_shape, self.dataset.nclass,
                 seed=self.config.seed, precision=self.config.precision, conv_paths=conv_paths)

    # Before seeding: the trial build of 'auto' then leaves the initial weights as they were.
    conv_paths = conv_layers.choose(self.conv_paths_mode, make)
    keras.utils.set_random_seed(self.config.seed)  # initial weights follow --seed
    with self.strategy.scope():
      model = make(conv_paths)
      model.compile(jit_compile=jit_compile(self.config.xla))
      self.checkpoints = Checkpoints(model, self.dir, self.scratch, self.log)
    self.model = model
    return model

  def diverged(self, step, reason):
    """Records the divergence (so reruns refuse) and raises DivergedError."""
    last = self.checkpoints.on_disk()
    marker = {'step': step, 'reason': reason, 'time': time.strftime('%Y-%m-%d %H:%M:%S'),
              'checkpoint': step_of(last[0]) if last else 0}
    if self.chief:
      rundir.write_atomic(self.path(rundir.DIVERGED_FILE), json.dumps(marker, indent=2) + '\n')
    self.check_diverged()

  def _check_finite(self, step):
    bad = nonfinite(self.model)
    if bad:
      self.diverged(step, f'{len(bad)} weight tensors not finite, e.g. {bad[0]}')

  def save_checkpoint(self):
    step = self.model.steps_done()
    self._check_finite(step)
    self.checkpoints.save(step)

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
    return isinstance(meta, dict) and meta.get('step') == step

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


def describe(run, model, log):
  workers = distribute.worker(run.strategy)
  log(f'run directory: {run.dir}')
  rows = [('model', run.model_name), *run.model_config.to_dict().items(),
          *dataclasses.asdict(run.config).items(),
          ('replicas', run.strategy.num_replicas_in_sync), ('workers', workers[1]),
          ('conv_paths', model.conv_paths.mode), ('kernels', autotune.summary()),
          ('cpu', autotune.cpu_line())]
  width = max(len(k) for k, _ in rows)
  for key, value in rows:
    log(f'  {key:<{width}}  {value}')
  for net in [model.encoder, model.decoder, *model.extra_networks()]:
    log(f'  {net.name:<{width}}  {net.count_params():,} parameters')


def train(model_name, model_config, config, strategy=None, log=print, conv_paths='auto'):
  """Trains (or resumes) one run to `config.total_kimg` and exports it.

  Args:
    model_name: a key of `acai_tf.models.MODELS`.
    model_config: that model's config dataclass.
    config: TrainConfig.
    strategy: optional tf.distribute.Strategy overriding `config.strategy`.
    log: where progress lines go (only the chief worker logs).
    conv_paths: --conv_paths, one of config.CONV_PATHS: the networks' layer paths, chosen
      when the model is built (conv_layers.choose).

  Returns:
    The Run (its `dir` holds everything; `rundir.read_metrics(run.dir)` the reports).

  Raises:
    acai_tf.errors.AcaiError subclasses: UsageError (settings or data), DivergedError,
    BusyError (another process trains this run), StorageError, Interrupted (by a signal; a
    checkpoint was saved).
  """
  with StopSignals() as signals:
    run = Run(model_name, model_config, config, strategy, log, conv_paths)
    if not run.chief:
      log = run.log = lambda line: None
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
  step = run.checkpoints.restore()
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
  progress = [Progress(run, total, config.progress_seconds, log)] if run.chief else []
  callbacks = [reporter] + progress
  boundaries = [config.steps(kimg) for kimg in model.phase_kimg()]
  for epochs, steps in segments(step, total, every, boundaries):
    if distribute.agree(run.strategy, signals.requested):
      reporter.stopped = True
      if model.steps_done() > step:  # stopped at a phase boundary, between two reports
        run.save_checkpoint()
      reporter.close('KILLED')  # no fit ran to end it: the trackers' runs end here
      break
    model.enter_phase(bisect.bisect_right(boundaries, model.steps_done()))
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
