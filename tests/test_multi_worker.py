"""Several workers (acai_tf.launch, MultiWorkerMirroredStrategy on local processes): they train
what one process with as many devices trains, and a failure or a lost worker ends them all."""

import glob
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from acai_tf import distribute, errors, rundir
from helpers import (REPO, TINY_FLAGS, checkpoint_values, first_report, only_run_dir, start_train,
                     tiny_train, wait_for)


@pytest.mark.slow
def test_two_workers_train_what_one_process_with_two_devices_trains(tmp_path, mirrored):
  # The denoising model draws noise per step and replica, as ACAI draws its mixing weights (ACAI
  # itself on two replicas: tests/test_distribute.py), with two networks less to build.
  model, total_kimg, seed = 'denoising', 0.125, 7  # one report
  flags = [f'--model={model}', *TINY_FLAGS, f'--total_kimg={total_kimg}', f'--seed={seed}']
  launched = subprocess.run(
      [sys.executable, '-m', 'acai_tf.launch', '--workers=2', '--',
       f'--train_dir={tmp_path}/workers', *flags],
      cwd=REPO, capture_output=True, text=True, timeout=600)
  assert launched.returncode == 0, launched.stdout[-3000:]
  assert launched.stdout.count('[report]') == 1  # the chief reports; worker 1 stays quiet
  assert '[worker 1] [report]' not in launched.stdout
  # The same run in this process (the workers' oneDNN and convolution choices: conftest.py), on
  # its two devices under its one MirroredStrategy.
  tiny_train(tmp_path / 'single', model, strategy=mirrored, total_kimg=total_kimg, seed=seed)
  workers, one = only_run_dir(tmp_path / 'workers'), only_run_dir(tmp_path / 'single')
  a, b = checkpoint_values(workers), checkpoint_values(one)
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)
  assert [r['step'] for r in rundir.read_metrics(workers)] == [16]
  assert os.listdir(os.path.join(workers, 'exports')) == ['step_000000016']
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
