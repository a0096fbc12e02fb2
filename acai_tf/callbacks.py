"""The Keras callbacks of a training run: reports, checkpoints between reports, progress lines.

A report step runs, in this order: the non-finite check, the evaluation, the trackers of
--log_to (acai_tf.trackers) and metrics.jsonl, the export, the checkpoint. A process killed
anywhere in between resumes from the previous checkpoint and makes that report again, so no
report or export is ever lost and none is written twice.
"""

import contextlib
import math
import time

import keras
import numpy as np
import tensorflow as tf

from acai_tf import distribute, export, images, projector, rundir, trackers
from acai_tf.metrics.interpolation import evaluate_interpolations


class Reporter(keras.callbacks.Callback):
  """Reports at every epoch end that is a report step; checkpoints and stops between them.

  Between reports (after every execution of `steps_per_execution` steps) it saves a checkpoint
  when `minutes` have passed, and stops training (after saving) when a signal asked for it;
  with several workers both decisions are agreed, so every worker takes them at the same step.
  The chief sends each report to the trackers of `config.log_to` and closes them when training
  ends: finished, stopped by a signal, or failed in a report.
  """

  def __init__(self, run, every, total, minutes, signals, log):
    super().__init__()
    self.run, self.every, self.total, self.log = run, every, total, log
    self.seconds, self.signals = 60 * minutes, signals
    self.last_checkpoint = time.monotonic()
    self.stopped = False
    self.sinks = []
    if run.chief:
      self.evaluator = Evaluator(run.model, run.dataset, run.config)
      self.sinks = trackers.open_sinks(run.dir, run.config)
      for sink in self.sinks:
        sink.log_params(run.record)
    self.last = (time.perf_counter(), run.model.steps_done())

  def is_report(self, step):
    return step % self.every == 0 or step == self.total

  def on_train_batch_end(self, batch, logs=None):
    step = self.run.model.steps_done()
    due = time.monotonic() - self.last_checkpoint >= self.seconds
    save, stop = (distribute.agree(self.run.strategy, flag)
                  for flag in (due, self.signals.requested))
    if stop:
      self.stopped = True
      self.model.stop_training = True
    if (save or stop) and not self.is_report(step):  # a report step saves after its report
      with self.closing_on_failure():
        self.run.save_checkpoint()
      self.last_checkpoint = time.monotonic()

  def on_epoch_end(self, epoch, logs=None):
    with self.closing_on_failure():
      self._end_epoch(logs)

  def on_train_end(self, logs=None):
    if self.stopped or self.run.model.steps_done() >= self.total:
      self.close('KILLED' if self.stopped else 'FINISHED')

  def close(self, status):
    for sink in self.sinks:
      sink.close(status)
    self.sinks = []

  @contextlib.contextmanager
  def closing_on_failure(self):
    """A failure inside (diverged, disk full, killed) closes the trackers' runs as FAILED."""
    try:
      yield
    except BaseException:
      self.close('FAILED')
      raise

  def _end_epoch(self, logs):
    run = self.run
    step = run.model.steps_done()
    if not self.is_report(step):
      return  # an epoch cut at a phase boundary, or a stop between reports
    scalars = {k: float(np.mean(v)) for k, v in (logs or {}).items()}
    bad = sorted(k for k, v in scalars.items() if not math.isfinite(v))
    if bad:
      run.diverged(step, f'{", ".join(bad)} not finite')
    if run.chief:
      self._report(step, scalars)
    run.export(step)
    run.save_checkpoint()
    self.last_checkpoint = time.monotonic()
    self.last = (time.perf_counter(), step)

  def _report(self, step, scalars):
    run = self.run
    now = time.perf_counter()
    scalars['img_s'] = (step - self.last[1]) * run.config.batch / max(now - self.last[0], 1e-9)
    scalars.update(self.evaluator.scalars(step))
    record = {'step': step, 'kimg': run.config.kimg(step), **scalars}
    grids = {name: images.to_uint8(grid) for name, grid in self.evaluator.grids(step).items()}
    for sink in self.sinks:
      sink.log_scalars(step, record['kimg'], scalars)
      sink.log_images(step, grids)
    if step == self.total:  # the final report: the test split's latents for the projector
      test, labels = run.dataset.test()
      projector.write(run.path(rundir.TENSORBOARD), self.evaluator.encode(test[:projector.LIMIT]),
                      test, labels if run.dataset.nclass > 1 else None)
    rundir.append_metrics(run.dir, record)
    self.log(_format_report(record))


class Progress(keras.callbacks.Callback):
  """Prints kimg, img/s and the running losses every `seconds`."""

  def __init__(self, run, total_steps, seconds, log):
    super().__init__()
    self.run, self.total, self.seconds, self.log = run, total_steps, seconds, log
    self.last = None

  def on_train_batch_end(self, batch, logs=None):
    now = time.perf_counter()
    step = self.run.model.steps_done()
    if self.last is None:
      self.last = (now, step)
      return
    if now - self.last[0] < self.seconds:
      return
    img_s = (step - self.last[1]) * self.run.config.batch / (now - self.last[0])
    eta = (self.total - step) * self.run.config.batch / max(img_s, 1e-9)
    losses = '  '.join(f'{k} {float(np.mean(v)):.4g}' for k, v in (logs or {}).items())
    kimg = self.run.config.kimg
    self.log(f'kimg {kimg(step):8.1f}/{kimg(self.total):g}  img/s {img_s:6.1f}  '
             f'eta {eta / 60:5.1f} min  {losses}')
    self.last = (now, step)


def _format_report(record):
  parts = [f'{k} {v:.4g}' for k, v in record.items() if k not in ('step', 'kimg')]
  return f'[report] kimg {record["kimg"]:.1f} step {record["step"]}  ' + '  '.join(parts)


class Evaluator:
  """Report-time figures from a live model, through numpy endpoints traced once."""

  def __init__(self, model, dataset, config):
    self.model, self.dataset, self.config = model, dataset, config
    traced = export.endpoints(model)  # the export's functions: traced once for both
    self.encode, self.decode, self.interpolate = (
        export.numpy_endpoint(fn) for fn in (traced.encode, traced.decode, traced.interpolate))
    self.classify = None
    if model.classifier is not None:  # the probe: a report's measure, not part of the export
      self.classify = export.numpy_endpoint(tf.function(
          model.classify, input_signature=traced.encode.input_signature, autograph=False))

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
    return images.monitoring_grids(self.encode, self.decode, self.interpolate,
                                  self.dataset.eval_pool(), self.model.latent_shape, rng)
