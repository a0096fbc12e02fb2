"""What tests share: running programs, tiny models and batches, tiny training runs on lines32."""

import contextlib
import dataclasses
import glob
import importlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback

import keras
import numpy as np
import tensorflow as tf

from acai_tf import rundir, trainer
from acai_tf.models import get_model_class

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The official MNIST files (or the 10,000-digit subset in their format), if you have them:
# tests that need real digits read them from here and are skipped (saying so) without.
MNIST_DIR = os.environ.get('ACAI_MNIST_DIR')
TINY_MODEL = {'depth': 4, 'latent': 4}
TINY_FLAGS = ['--dataset=lines32', '--depth=4', '--latent=4', '--batch=8', '--report_kimg=0.125',
              '--eval_pairs=8', '--progress_seconds=1']


def tiny_config(train_dir, **values):
  """A TrainConfig of 16-step reports at batch 8 (2 reports unless `total_kimg` says more)."""
  settings = dict(dataset='lines32', train_dir=str(train_dir), batch=8, report_kimg=0.125,
                  total_kimg=0.25, eval_pairs=8, progress_seconds=1000)
  return trainer.TrainConfig(**{**settings, **values})


def tiny_settings(train_dir, model='baseline', **values):
  """(model name, model config, TrainConfig) of a tiny run: `tiny_train`'s arguments."""
  return model, trainer.model_config(model, 'lines32', **TINY_MODEL), tiny_config(train_dir,
                                                                                 **values)


def tiny_train(train_dir, model='baseline', log=None, strategy=None, **values):
  """Trains a tiny run in this process; returns the Run. `log` collects its lines if a list."""
  lines = log if log is not None else []
  return trainer.train(*tiny_settings(train_dir, model, **values), strategy=strategy,
                       log=lines.append)


def copy_run(run, train_dir):
  """A copy of `run` (a trainer.Run) under `train_dir`, as the same settings would find it there:
  the Run of the copy (not trained further)."""
  config = dataclasses.replace(run.config, train_dir=str(train_dir))
  copy = trainer.Run(run.model_name, run.model_config, config)
  shutil.copytree(run.dir, copy.dir, symlinks=True)
  return copy


def checkpoint_values(run_dir):
  """{variable key: value} of the newest checkpoint of a run: weights, optimizer state, step."""
  prefix = tf.train.latest_checkpoint(os.path.join(run_dir, 'checkpoints'))
  reader = tf.train.load_checkpoint(prefix)
  return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
          if not key.startswith(('_CHECKPOINTABLE_OBJECT_GRAPH', 'save_counter'))}


def only_run_dir(train_dir, dataset='lines32'):
  (path,) = glob.glob(os.path.join(str(train_dir), dataset, '*'))
  return path


def start_train(*args, env=None):
  """`python -m acai_tf.train <args>` in the background (output in the returned Popen)."""
  return subprocess.Popen([sys.executable, '-m', 'acai_tf.train', *args], cwd=REPO,
                          env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout=300, every=0.2):
  """Polls `condition()` until it is truthy (returns its value) or `timeout` s pass (fails)."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    value = condition()
    if value:
      return value
    time.sleep(every)
  raise AssertionError(f'timed out after {timeout} s waiting for {condition}')


def first_report(train_dir):
  """The run directory of `train_dir`'s run once it has reported at least once, else None."""
  found = glob.glob(os.path.join(str(train_dir), 'lines32', '*', 'metrics.jsonl'))
  return os.path.dirname(found[0]) if found and rundir.read_metrics(
      os.path.dirname(found[0])) else None


def stop(proc, number=signal.SIGTERM, timeout=120):
  """Sends `number` to `proc` and returns (exit code, stdout, stderr)."""
  proc.send_signal(number)
  out, err = proc.communicate(timeout=timeout)
  return proc.returncode, out, err


def all_finite(values):
  return all(np.isfinite(v).all() for v in values.values() if np.asarray(v).dtype.kind == 'f')


def run_program(module_name, *args):
  """Runs a program as `python -m module_name args` would, inside this process (no start-up
  cost): its `define_flags()` (unless its flags are defined already) and `cli.run(main)`, with
  its `settings` if it has them; the flags defined here are taken away after. Returns a
  CompletedProcess (exit code, stdout, stderr), as `run_module` does."""
  from absl import flags

  from acai_tf import cli
  module = importlib.import_module(module_name)
  before = set(flags.FLAGS)
  stdout, stderr, argv = io.StringIO(), io.StringIO(), [module_name, *args]
  with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
      _replaced(sys, 'argv', argv):
    try:
      if not flags.FLAGS.flags_by_module_dict().get(module_name):
        module.define_flags()
      flags.FLAGS.unparse_flags()
      cli.run(module.main, settings=getattr(module, 'settings', None))
      code = 0
    except SystemExit as e:
      code = e.code or 0
    finally:
      for name in set(flags.FLAGS) - before:
        delattr(flags.FLAGS, name)
  return subprocess.CompletedProcess(argv, code, stdout.getvalue(), stderr.getvalue())


@contextlib.contextmanager
def _replaced(owner, name, value):
  saved = getattr(owner, name)
  setattr(owner, name, value)
  try:
    yield
  finally:
    setattr(owner, name, saved)


def run_build(*args):
  """Runs `python -m data_prep.build args` inside this process, on flags of its own (its names
  clash with acai_tf's): a CompletedProcess with the exit code, stdout and stderr."""
  from absl import flags, logging

  from data_prep import build
  flag_values = flags.FlagValues()
  build.define_flags(flag_values)
  out, err, verbosity = io.StringIO(), io.StringIO(), logging.get_verbosity()
  with _replaced(build, 'FLAGS', flag_values), contextlib.redirect_stdout(out), \
      contextlib.redirect_stderr(err):
    try:
      build.main(flag_values(['data_prep.build', *args]))
      code = 0
    except SystemExit as e:
      code = e.code or 0
    except Exception:
      traceback.print_exc()
      code = 1
    finally:
      logging.set_verbosity(verbosity)
  return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def run_module(*args, cwd=None, timeout=600):
  """Runs `python -m <args>` in a fresh process; returns the CompletedProcess."""
  env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'}
  return subprocess.run([sys.executable, '-m', *args], cwd=cwd or REPO, env=env,
                        capture_output=True, text=True, timeout=timeout)


# The environment settings of the runs/ scripts: tests give them explicitly.
RUNS_SETTINGS = ('TRAIN_DIR', 'DATA_DIR', 'ACAI_DATA', 'RAW_DIR', 'TOTAL_KIMG', 'REPORT_KIMG',
                 'DATASETS', 'MODELS', 'N_INIT', 'TRAIN_FLAGS', 'DRY_RUN', 'STAGES', 'LIMIT',
                 'EVAL_LIMIT', 'LOG_DIR')


def run_command(command, env=None, timeout=900, cwd=REPO, **kwargs):
  """Runs a command (a list; a runs/ script, say) with this repository's code and Python first,
  none of the caller's runs/ settings, and `env` on top; returns the CompletedProcess."""
  base = {k: v for k, v in os.environ.items() if k not in RUNS_SETTINGS}
  base.update(PYTHONPATH=REPO, PATH=os.path.dirname(sys.executable) + os.pathsep + base['PATH'])
  return subprocess.run(command, cwd=cwd, env={**base, **(env or {})}, capture_output=True,
                        text=True, timeout=timeout, **kwargs)


# Small settings so every model trains in seconds; AdvAI starts in its autoencoder phase.
# The VAE encodes to its mean here, so exports and resumed models can be compared exactly.
SMALL = {'vae': {'encode_with': 'mean'}, 'vqvae': {'z_log_size': 8},
         'advai': {'int_width': 32, 'train_int_kimg': 0}}


def make(name, **overrides):
  cls = get_model_class(name)
  config = cls.config_class(**{'depth': 4, 'latent': 4, 'latent_width': 4,
                               **SMALL.get(name, {}), **overrides})
  keras.utils.set_random_seed(0)
  return cls(config, image_shape=(32, 32, 1), nclass=10, seed=3)


def batch(n=8, seed=0):
  from acai_tf.line_renderer import random_lines
  images, labels, _ = random_lines(np.random.default_rng(seed), n)
  return tf.constant(images), tf.constant(labels)


def weights(variables):
  return [np.array(v) for v in variables]


def fit_from(name, init, data, steps, strategy=None, steps_per_execution=1):
  """`make(name)` built under `strategy` (default: none) with the weights `init`, then trained
  `steps` steps on `data` (a dataset, distributed or not) in executions of
  `steps_per_execution` steps. Returns the model."""
  with (strategy or tf.distribute.get_strategy()).scope():
    model = make(name)
    model.compile(steps_per_execution=steps_per_execution)
    model.set_weights(init)
  model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
  return model


def fit_steps(model, data, steps):
  dataset = tf.data.Dataset.from_tensors(data).repeat()
  return model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False).history
