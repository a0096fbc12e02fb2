"""Training throughput: python -m acai_tf.bench --model=acai --dataset=lines32

  python -m acai_tf.bench --model=M --dataset=D [--batch=64] [--steps=50]
      [--xla | --no-xla] [--precision=float32|mixed_float16|mixed_bfloat16]
      [--steps_per_execution=16]

Times the same `fit` path training uses, after warm-up, as the median of
several windows:
  - train step alone (a fixed batch repeated, so no input work),
  - input pipeline alone (batches pulled from the dataset, no training),
  - end to end (the dataset feeding the train step, as in training),
and converts them to GFLOP/s with the model's analytic conv FLOPs per image.
The last line printed is one JSON object for scripts.
"""

import json
import resource
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from acai_tf import training
from acai_tf.data import get_dataset
from acai_tf.data.records import DataFormatError, MissingDataError
from acai_tf.models import MODELS

FLAGS = flags.FLAGS


def define_flags():
  """The bench's flags; the training binary's (--model, --dataset, --batch, --xla,
  --precision, --data_dir, hyperparameters) come with importing acai_tf.train."""
  flags.DEFINE_integer('warmup', 20, 'Untimed steps first (tracing, caches).')
  flags.DEFINE_integer('steps', 50, 'Steps per timed window.')
  flags.DEFINE_integer('windows', 3, 'Timed windows; the median is reported.')


class _StepClock(keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.times = []

  def on_train_batch_end(self, batch, logs=None):
    self.times.append(time.perf_counter())


def time_fit(model, data, warmup, window, windows):
  """Median steps/s of `fit` on `data`, over `windows` windows of `window` executions.

  Keras calls back once per execution (`model.steps_per_execution` steps), so
  warm-up and windows count executions.
  """
  clock = _StepClock()
  model.fit(data, epochs=1, callbacks=[clock], verbose=0, shuffle=False,
            steps_per_epoch=(warmup + window * windows) * model.steps_per_execution)
  t = clock.times[warmup - 1:]
  steps = window * model.steps_per_execution
  return statistics.median(steps / (t[(i + 1) * window] - t[i * window]) for i in range(windows))


def time_pipeline(data, warmup, window, windows):
  """Median batches/s pulled from `data` alone."""
  it = iter(data)
  for _ in range(warmup):
    next(it)
  rates = []
  for _ in range(windows):
    start = time.perf_counter()
    for _ in range(window):
      batch = next(it)
    np.asarray(batch[0][:1])  # make sure the last batch really arrived
    rates.append(window / (time.perf_counter() - start))
  return statistics.median(rates)


def benchmark(model_name, model_config, dataset_name, batch, xla=None, precision='float32',
              warmup=20, window=50, windows=3, data_dir=None,
              steps_per_execution=training.STEPS_PER_EXECUTION, log=print):
  """Measures one model; returns the dict printed as the last JSON line.

  `warmup` and `window` are in steps, rounded up to whole executions.
  """
  dataset = get_dataset(dataset_name, data_dir)
  dataset.check()
  model = MODELS[model_name](model_config, dataset.image_shape, dataset.nclass,
                             precision=precision)
  model.compile(jit_compile=training.jit_compile(xla))
  model.enter_phase(step=1 << 62, batch=batch)  # time the main (last) training phase
  model.set_steps_per_execution(steps_per_execution)
  executions = lambda steps: -(-steps // steps_per_execution)  # noqa: E731 - rounded up
  data = dataset.train(batch, seed=0)
  fixed = tf.data.Dataset.from_tensors(next(iter(data))).repeat()
  flops = model.train_flops_per_image()
  xla_text = {None: 'auto (off on CPU)', True: 'on', False: 'off'}[xla]
  log(f'{model_name} on {dataset_name}, batch {batch}, {precision}, XLA {xla_text}, '
      f'{steps_per_execution} steps per execution: '
      f'{flops / 1e6:.1f} MFLOP per training image (analytic, convs and dense layers)')
  timing = (executions(warmup), executions(window), windows)
  step = time_fit(model, fixed, *timing) * batch
  log(f'  train step alone   {step:8.1f} img/s  ({step * flops / 1e9:6.1f} GFLOP/s)')
  pipeline = time_pipeline(data, warmup, window, windows) * batch
  log(f'  input pipeline     {pipeline:8.1f} img/s')
  end_to_end = time_fit(model, data, *timing) * batch
  log(f'  end to end         {end_to_end:8.1f} img/s  ({end_to_end * flops / 1e9:6.1f} GFLOP/s)')
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  log(f'  peak resident memory {rss:.0f} MB')
  return {'model': model_name, 'dataset': dataset_name, 'batch': batch, 'xla': xla,
          'precision': precision, 'steps_per_execution': steps_per_execution,
          'train_step_img_s': round(step, 1), 'pipeline_img_s': round(pipeline, 1),
          'end_to_end_img_s': round(end_to_end, 1),
          'gflops': round(end_to_end * flops / 1e9, 2),
          'train_step_gflops': round(step * flops / 1e9, 2),
          'mflop_per_image': round(flops / 1e6, 1), 'peak_rss_mb': round(rss)}


def main(argv):
  logging.set_verbosity(logging.WARNING)
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if min(FLAGS.warmup, FLAGS.steps, FLAGS.windows, FLAGS.batch, FLAGS.steps_per_execution) < 1:
    raise app.UsageError('--warmup, --steps, --windows, --batch and --steps_per_execution must '
                         'be >= 1.')
  try:
    model_config = train.model_config_from_flags(FLAGS.model, FLAGS.dataset)
    result = benchmark(FLAGS.model, model_config, FLAGS.dataset, FLAGS.batch, FLAGS.xla,
                       FLAGS.precision, FLAGS.warmup, FLAGS.steps, FLAGS.windows, FLAGS.data_dir,
                       FLAGS.steps_per_execution)
  except (ValueError, MissingDataError, DataFormatError) as e:
    train.fail(e)
  print(json.dumps(result), flush=True)


if __name__ == '__main__':
  # Flags are defined only when run as a binary, so tests can import `benchmark`.
  from acai_tf import train
  define_flags()
  app.run(main, flags_parser=train.parse_flags)
