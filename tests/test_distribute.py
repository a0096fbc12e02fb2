"""Past one device: mirrored replicas from the CLI, several workers, seeds, the data split."""

import glob
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from acai_tf import distribute, errors, rundir
from acai_tf.data import get_dataset
from helpers import (REPO, TINY_FLAGS, checkpoint_values, first_report, only_run_dir, start_train,
                     tiny_train, wait_for)


def test_each_replica_gets_its_slice_of_the_global_batch(mirrored):
  dataset = get_dataset('lines32')
  whole = next(iter(dataset.train(8, seed=5, start_step=3)))
  strategy = mirrored
  data = distribute.distribute_batches(
      strategy, lambda rows: dataset.train(8, 5, 3, rows), 8)
  first = next(iter(data))
  parts = [strategy.experimental_local_results(first[i]) for i in range(2)]
  for replica in range(2):
    np.testing.assert_array_equal(parts[0][replica], whole[0][4 * replica:4 * replica + 4])
    np.testing.assert_array_equal(parts[1][replica], whole[1][4 * replica:4 * replica + 4])
  with pytest.raises(errors.UsageError, match='divisible by the 2 replicas'):
    distribute.distribute_batches(strategy, lambda rows: None, 7)


@pytest.mark.slow
def test_same_seed_gives_the_same_weights(tmp_path):
  runs = [tiny_train(tmp_path / name, seed=seed, model='acai', total_kimg=0.125)  # one report
          for name, seed in (('a', 3), ('b', 3), ('c', 4))]
  a, b, c = (checkpoint_values(run.dir) for run in runs)
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)
  assert any(not np.array_equal(a[k], c[k]) for k in a)


@pytest.mark.slow
def test_several_steps_per_execution_on_two_replicas_match_one(tmp_path, mirrored):
  one = tiny_train(tmp_path / 'one', model='acai', strategy=mirrored, steps_per_execution=1)
  sixteen = tiny_train(tmp_path / 'sixteen', model='acai', strategy=mirrored,
                       steps_per_execution=16)
  a, b = checkpoint_values(one.dir), checkpoint_values(sixteen.dir)
  for key in a:
    np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-6, err_msg=key)
  assert ([r['step'] for r in rundir.read_metrics(sixteen.dir)] == [16, 32])


@pytest.mark.slow
def test_two_workers_train_what_one_process_with_two_devices_trains(tmp_path):
  flags = ['--model=acai', *TINY_FLAGS, '--total_kimg=0.25', '--seed=7']
  launched = subprocess.run(
      [sys.executable, '-m', 'acai_tf.launch', '--workers=2', '--',
       f'--train_dir={tmp_path}/workers', *flags],
      cwd=REPO, capture_output=True, text=True, timeout=600)
  assert launched.returncode == 0, launched.stdout[-3000:]
  assert launched.stdout.count('[report]') == 2  # the chief reports; worker 1 stays quiet
  assert '[worker 1] [report]' not in launched.stdout
  single = subprocess.run(
      [sys.executable, '-m', 'acai_tf.train', '--strategy=mirrored', '--cpu_devices=2',
       f'--train_dir={tmp_path}/single', *flags],
      cwd=REPO, capture_output=True, text=True, timeout=600)
  assert single.returncode == 0, single.stderr
  workers, one = only_run_dir(tmp_path / 'workers'), only_run_dir(tmp_path / 'single')
  a, b = checkpoint_values(workers), checkpoint_values(one)
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)
  assert [r['step'] for r in rundir.read_metrics(workers)] == [16, 32]
  assert sorted(os.listdir(os.path.join(workers, 'exports'))) == ['step_000000016',
                                                                 'step_000000032']
  assert not glob.glob(os.path.join(str(tmp_path), 'workers', '**', '*worker*'), recursive=True)


@pytest.mark.slow
def test_launcher_passes_on_a_failure_and_multi_worker_needs_a_cluster(tmp_path):
  failed = subprocess.run(
      [sys.executable, '-m', 'acai_tf.launch', '--workers=2', '--', f'--train_dir={tmp_path}',
       '--seed=-1'], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert failed.returncode == errors.EXIT_USAGE
  assert failed.stdout.count('error: seed=-1') == 2
  with pytest.raises(errors.UsageError, match='TF_CONFIG'):
    env = os.environ.pop('TF_CONFIG', None)
    try:
      distribute.make_strategy('multi_worker')
    finally:
      if env is not None:
        os.environ['TF_CONFIG'] = env


@pytest.mark.slow
def test_a_lost_worker_stops_the_others_with_a_retry_code(tmp_path):
  from acai_tf import launch
  args = ['--strategy=multi_worker', '--model=baseline', f'--train_dir={tmp_path}', *TINY_FLAGS,
          '--total_kimg=50']
  chief, other = (start_train(*args, env={'TF_CONFIG': config})
                  for config in launch.tf_configs(2, '127.0.0.1'))
  try:
    wait_for(lambda: first_report(tmp_path))
    other.send_signal(signal.SIGKILL)
    other.communicate(timeout=60)
    _, err = chief.communicate(timeout=180)  # bounded: a lost peer is noticed within seconds
  finally:
    for proc in (chief, other):
      if proc.poll() is None:
        proc.kill()
  assert chief.returncode == errors.EXIT_RETRY, err[-2000:]
  assert err.splitlines()[-1].startswith('error: a peer worker or the coordination service '
                                         'stopped')
  assert 'Relaunch every worker' in err.splitlines()[-1]
