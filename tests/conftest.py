"""Test set-up: quiet TF logs, the programs' oneDNN choice, and two logical CPUs so
MirroredStrategy can be tested."""

import json
import os
import types

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest

from acai_tf import autotune


def _start_tensorflow():
  """oneDNN on or off as the programs choose it on this machine (timed once per machine, about
  15 s, then cached), so that a run in this process computes what a program's run computes,
  then TensorFlow, on two logical CPUs. The programs the tests start inherit the choice
  (TF_ENABLE_ONEDNN_OPTS); tests of the choice itself take it out of their programs' env."""
  autotune.choose_onednn()
  import tensorflow as tf
  cpu = tf.config.list_physical_devices('CPU')[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


_start_tensorflow()

DURATIONS = os.path.join(os.path.dirname(__file__), 'durations.json')


def pytest_addoption(parser):
  parser.addoption('--record-durations', action='store_true',
                   help=f'write the seconds each test file took to {DURATIONS}: workers are '
                        'handed the longest files first (pytest.ini: --no-loadscope-reorder)')


def pytest_collection_modifyitems(config, items):
  """Longest files first, by their recorded seconds (files not recorded yet lead): every worker
  ends close to the same time instead of one waiting for a long file handed out last."""
  del config
  try:
    with open(DURATIONS) as f:
      seconds = json.load(f)
  except (OSError, ValueError):
    return
  items.sort(key=lambda item: -seconds.get(item.nodeid.split('::')[0], float('inf')))


def pytest_runtest_logreport(report):  # setup, call and teardown of every test
  path = report.nodeid.split('::')[0]
  _file_seconds[path] = _file_seconds.get(path, 0.0) + report.duration


def pytest_sessionfinish(session):
  if session.config.getoption('record_durations') and not hasattr(session.config, 'workerinput'):
    with open(DURATIONS, 'w') as f:
      json.dump({k: round(v, 1) for k, v in sorted(_file_seconds.items())}, f, indent=1)
      f.write('\n')


_file_seconds = {}


@pytest.fixture(scope='session')
def mirrored():
  """The process's one MirroredStrategy over the two logical CPUs.

  Separate MirroredStrategy objects in one process share collective keys, so a second one
  breaks the first's all-reduces: every test uses this one.
  """
  import tensorflow as tf
  return tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory, worker_id):
  """A tiny baseline run on lines32 (`helpers.tiny_train`'s defaults: reports, checkpoints and
  exports at steps 16 and 32), trained once per test session: the first worker to need it
  trains it under a lock, the others take the finished run as it is (touching nothing in it
  while another worker's tests read it). Read it; a test that changes a run works on
  `helpers.copy_run(tiny_run, tmp_path)`."""
  from filelock import FileLock

  from acai_tf import trainer
  from helpers import tiny_settings, tiny_train
  shared = tmp_path_factory.getbasetemp()
  if worker_id != 'master':  # pytest-xdist: the workers' folders share a parent
    shared = shared.parent
  with FileLock(str(shared / 'tiny_run.lock')):
    if not (shared / 'tiny_run.done').exists():
      tiny_train(shared / 'tiny_run')
      (shared / 'tiny_run.done').touch()
  return trainer.Run(*tiny_settings(shared / 'tiny_run'))


@pytest.fixture
def tiny_train_args(tmp_path):
  """Flags of a training run that takes seconds: depth 4, batch 8, 16-step reports."""
  return ['--dataset=lines32', f'--train_dir={tmp_path}', '--depth=4', '--latent=4', '--batch=8',
          '--report_kimg=0.125', '--total_kimg=0.25', '--eval_pairs=8', '--progress_seconds=1']


@pytest.fixture
def raw_files():
  """Writers of tiny official raw files (idx, mat, cifar tarball, celeba zip) and a reader of
  the TFRecords data_prep writes."""
  import raw_files as files
  return types.SimpleNamespace(idx=files.write_idx, mnist=files.make_mnist, svhn=files.make_svhn,
                               tar=files.write_tar, cifar=files.make_cifar,
                               celeba=files.make_celeba, records=files.read_records)
