"""Where reports go besides metrics.jsonl (--log_to): TensorBoard, MLflow, Weights & Biases.

A sink takes the run's settings once (`log_params`, config.json's content), then at every
report its scalars (`log_scalars`, at the report's step, with its kimg) and image grids
(`log_images`), and is closed when training ends, saying how (`close`: FINISHED, KILLED or
FAILED, MLflow's words). MLflow and W&B are optional extras, imported only when asked for. Each
keeps the id of its run in the run folder (trackers.json), so a resumed run continues it.
"""

import importlib
import json
import os
import pathlib
import time
import uuid

import tensorflow as tf

from acai_tf import rundir
from acai_tf.config import tracker_names
from acai_tf.errors import UsageError

IDS_FILE = 'trackers.json'  # in the run folder: tracker name -> the id of its run
PROJECT = 'acai_tf'  # MLflow's experiment and W&B's project, unless their environment says
MLFLOW_STORE = 'mlruns'  # the file store in --train_dir when MLFLOW_TRACKING_URI is unset


def _library(name):
  """The tracker library `name` (its pip extra has the same name), or a UsageError saying how
  to install it."""
  try:
    return importlib.import_module(name)
  except ImportError:
    message = f'--log_to={name} needs the {name} package: pip install -e ".[{name}]"'
    raise UsageError(message) from None


def _stored_id(run_dir, name):
  return (rundir.read_json(os.path.join(run_dir, IDS_FILE)) or {}).get(name)


def _store_id(run_dir, name, run_id):
  path = os.path.join(run_dir, IDS_FILE)
  ids = rundir.read_json(path) or {}
  rundir.write_atomic(path, json.dumps({**ids, name: run_id}, indent=2) + '\n')


def flatten(record):
  """config.json's content as flat names: model, model_config.depth, train_config.batch, ..."""
  flat = {}
  for key, value in record.items():
    if isinstance(value, dict):
      flat.update({f'{key}.{k}': v for k, v in value.items()})
    else:
      flat[key] = value
  return flat


class TensorBoard:
  """Event files in <run>/tensorboard (`tensorboard --logdir` reads them)."""

  def __init__(self, run_dir, config):
    del config
    self.writer = tf.summary.create_file_writer(os.path.join(run_dir, rundir.TENSORBOARD))

  def log_params(self, record):
    del record  # config.json sits next to the event files

  def log_scalars(self, step, kimg, scalars):
    del kimg  # TensorBoard's x-axis is the step, as in the original
    with self.writer.as_default(step=step):
      for name, value in scalars.items():
        tf.summary.scalar(name, value)
    self.writer.flush()

  def log_images(self, step, grids):
    with self.writer.as_default(step=step):
      for name, grid in grids.items():
        tf.summary.image(name, grid[None])
    self.writer.flush()

  def close(self, status):
    del status
    self.writer.close()


class MLflow:
  """A run in $MLFLOW_TRACKING_URI, else in the file store <train_dir>/mlruns (offline)."""

  def __init__(self, run_dir, config):
    self.mlflow = mlflow = _library('mlflow')
    uri = os.environ.get('MLFLOW_TRACKING_URI')
    if not uri:  # MLflow 3 asks for a database; mlflow-skinny has none, its file store works
      os.environ.setdefault('MLFLOW_ALLOW_FILE_STORE', 'true')
      uri = pathlib.Path(config.train_dir, MLFLOW_STORE).resolve().as_uri()
    self.client = mlflow.MlflowClient(uri)
    run_id = _stored_id(run_dir, 'mlflow')
    try:
      run = self.client.get_run(run_id) if run_id else None
    except mlflow.exceptions.MlflowException:  # not in this store (another tracking URI)
      run = None
    if run is None:
      run = self.client.create_run(self._experiment(), run_name=os.path.basename(run_dir))
      _store_id(run_dir, 'mlflow', run.info.run_id)
    else:
      self.client.update_run(run_id, status='RUNNING')
    self.run_id, self.params = run.info.run_id, run.data.params
    # A report made again after a kill (before its checkpoint) was logged already; MLflow cannot
    # replace a value, so it keeps the first.
    metrics = list(run.data.metrics)
    history = self.client.get_metric_history(self.run_id, metrics[0]) if metrics else []
    self.logged = max((m.step for m in history), default=-1)

  def _experiment(self):
    name = os.environ.get('MLFLOW_EXPERIMENT_NAME', PROJECT)
    found = self.client.get_experiment_by_name(name)
    if found:
      return found.experiment_id
    try:
      return self.client.create_experiment(name)
    except self.mlflow.exceptions.MlflowException:  # another run made it meanwhile
      return self.client.get_experiment_by_name(name).experiment_id

  def log_params(self, record):
    # Params cannot change: a resumed run adds new names; settings.json holds today's values.
    params = [self.mlflow.entities.Param(name, str(value))
              for name, value in flatten(record).items() if name not in self.params]
    self.client.log_batch(self.run_id, params=params)
    self.client.log_dict(self.run_id, record, 'settings.json')

  def log_scalars(self, step, kimg, scalars):
    if step <= self.logged:
      return
    now = int(time.time() * 1000)
    self.client.log_batch(self.run_id, metrics=[
        self.mlflow.entities.Metric(name, float(value), now, step)
        for name, value in {'kimg': kimg, **scalars}.items()])

  def log_images(self, step, grids):
    if step <= self.logged:
      return
    for name, grid in grids.items():
      self.client.log_image(self.run_id, grid, key=name, step=step)

  def close(self, status):
    self.client.set_terminated(self.run_id, status)


class WandB:
  """A Weights & Biases run, its files in <run>/wandb: online with an API key, else offline
  (WANDB_MODE decides if set); `wandb sync <run>/wandb/offline-run-*` uploads offline runs."""

  def __init__(self, run_dir, config):
    self.wandb = wandb = _library('wandb')
    run_id = _stored_id(run_dir, 'wandb')
    if not run_id:
      run_id = uuid.uuid4().hex
      _store_id(run_dir, 'wandb', run_id)
    # WANDB_MODE decides if set; else online if an API key is set up (looked up, no prompt).
    decided = os.environ.get('WANDB_MODE') or wandb.login(prompt=False, verify=False)
    self.run = wandb.init(
        project=os.environ.get('WANDB_PROJECT', PROJECT), dir=run_dir, id=run_id,
        resume='allow', name=os.path.basename(run_dir), group=config.dataset,
        mode=None if decided else 'offline',
        reinit='create_new',  # this run only: another one in the process is left alone
        settings=wandb.Settings(console='off'))  # the program's output stays its own

  def log_params(self, record):
    self.run.config.update(record, allow_val_change=True)

  def log_scalars(self, step, kimg, scalars):
    self.run.log({'kimg': kimg, **scalars}, step=step)

  def log_images(self, step, grids):
    self.run.log({name: self.wandb.Image(grid) for name, grid in grids.items()}, step=step)

  def close(self, status):
    self.run.finish(exit_code=0 if status == 'FINISHED' else 1)


SINKS = {'tensorboard': TensorBoard, 'mlflow': MLflow, 'wandb': WandB}


def open_sinks(run_dir, config):
  """The sinks `config.log_to` (a TrainConfig's) names, open on the run in `run_dir`."""
  return [SINKS[name](run_dir, config) for name in tracker_names(config.log_to)]
