"""A training stopped by any signal, on one device or mirrored on two, resumes where its
checkpoint left it and ends as an uninterrupted run would: every report once, a complete export."""

import glob
import json
import os
import signal

import pytest
import tensorflow as tf

from acai_tf import errors, rundir
from helpers import (TINY_FLAGS, first_report, run_program, start_train, stop, tiny_train,
                     wait_for)

REPORT = 16  # steps between reports (TINY_FLAGS: --report_kimg=0.125 at --batch=8)
SETTINGS = {'checkpoint_minutes': 0.005, 'steps_per_execution': 4}  # checkpoints every 0.3 s
CASES = {  # signal, strategy flags of the run stopped (ACAI on two replicas: test_distribute.py)
    'sigkill': (signal.SIGKILL, []),
    'sigterm': (signal.SIGTERM, []),
    'sigint-mirrored': (signal.SIGINT, ['--strategy=mirrored', '--cpu_devices=2']),
}


def newest_checkpoint_step(run_dir):
  newest = tf.train.latest_checkpoint(os.path.join(run_dir, 'checkpoints'))
  return int(newest.rsplit('-', 1)[1]) if newest else None


@pytest.mark.slow
@pytest.mark.parametrize('case', CASES)
def test_a_stopped_run_resumes_where_it_stopped(tmp_path, case, mirrored):
  number, strategy = CASES[case]
  args = ['--model=baseline', *strategy, f'--train_dir={tmp_path}', *TINY_FLAGS,
          *[f'--{k}={v}' for k, v in SETTINGS.items()]]
  proc = start_train(*args, '--total_kimg=50')  # stopped long before its end
  try:
    run_dir = wait_for(lambda: first_report(tmp_path))
    wait_for(lambda: newest_checkpoint_step(run_dir))
    if number == signal.SIGTERM:  # meanwhile, a second process on the run is refused
      second = run_program('acai_tf.train', *args, '--total_kimg=50')
      assert second.returncode == errors.EXIT_BUSY
      assert second.stderr.startswith('error: ') and f'pid {proc.pid}' in second.stderr
      assert second.stderr.count('\n') == 1
    code, _, err = stop(proc, number)
  finally:
    if proc.poll() is None:
      proc.kill()

  saved = newest_checkpoint_step(run_dir)
  assert saved >= 4
  if number == signal.SIGKILL:
    assert code == -signal.SIGKILL
  else:  # a graceful stop: one line, and a checkpoint at the very step it stopped
    assert code == errors.EXIT_RETRY, err
    name = signal.Signals(number).name
    assert err.startswith(f'error: stopped by {name} at step ') and err.count('\n') == 1, err
    assert int(err.split('at step ')[1].split(';')[0]) == saved
    assert saved >= rundir.read_metrics(run_dir)[-1]['step']
  if os.path.lexists(os.path.join(run_dir, 'export')):  # published exports are complete
    assert os.path.isfile(os.path.join(run_dir, 'export', 'saved_model.pb'))
    assert os.path.isfile(os.path.join(run_dir, 'export', 'acai_tf.json'))
  assert not glob.glob(os.path.join(run_dir, 'exports', '.tmp-*')) or number == signal.SIGKILL

  end = (saved // REPORT + 1) * REPORT  # the resume makes the next report (the end is no setting)
  if strategy:  # on this process's two devices, under its one MirroredStrategy
    log = []
    tiny_train(tmp_path, strategy=mirrored, log=log, total_kimg=end * 8 / 1024, **SETTINGS,
               progress_seconds=1)
    assert f'resuming at step {saved}' in '\n'.join(log)
    assert any(line.split() == ['replicas', '2'] for line in log)
  else:
    resumed = run_program('acai_tf.train', *args, f'--total_kimg={end * 8 / 1024}')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f'resuming at step {saved}' in resumed.stdout
  steps = [r['step'] for r in rundir.read_metrics(run_dir)]
  assert steps == list(range(REPORT, end + 1, REPORT))  # every report once, none lost or repeated
  with open(os.path.join(run_dir, 'export', 'acai_tf.json')) as f:
    assert json.load(f)['step'] == end
