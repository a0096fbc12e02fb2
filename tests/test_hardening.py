"""A careless or hostile user cannot make a run lose work, lie about finishing, or crash noisily."""

import errno
import glob
import json
import os
import shutil
import time

import numpy as np
import pytest
import tensorflow as tf

from acai_tf import cli, errors, rundir, schedule, trainer
from acai_tf import export
from acai_tf.data import labelled_splits
from helpers import (TINY_FLAGS, all_finite, checkpoint_values, copy_run, only_run_dir,
                     run_module, run_program, tiny_config, tiny_train)


@pytest.mark.slow
def test_diverged_run_saves_nothing_non_finite_and_refuses_reruns(tmp_path):
  args = ['--model=baseline', f'--train_dir={tmp_path}', *TINY_FLAGS, '--total_kimg=1',
          '--lr=1000', '--checkpoint_minutes=0.0005', '--steps_per_execution=4']
  first = run_program('acai_tf.train', *args)
  assert first.returncode == errors.EXIT_DIVERGED, first.stderr
  assert first.stderr.startswith('error: ') and 'diverged at step' in first.stderr
  assert first.stderr.count('\n') == 1
  run_dir = only_run_dir(tmp_path)
  saved = glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-*.index'))
  if saved:
    assert all_finite(checkpoint_values(run_dir))
  assert not os.path.lexists(os.path.join(run_dir, 'export'))
  again = run_program('acai_tf.train', *args)  # a rerun says so and trains nothing
  assert again.returncode == errors.EXIT_DIVERGED
  assert again.stderr == first.stderr
  assert 'nothing to do' not in again.stdout and 'starting at step' not in again.stdout


@pytest.mark.slow
def test_rerun_repairs_an_export_lost_to_a_kill(tiny_run, tmp_path):
  run = copy_run(tiny_run, tmp_path)
  # What a kill during the final export leaves: no export, only its temp folder.
  os.remove(run.path('export'))
  shutil.rmtree(run.path('exports'))
  os.makedirs(run.path('exports', '.tmp-step_000000032-99999'))
  log = []
  tiny_train(tmp_path, log=log)
  assert any('export is missing' in line for line in log)
  with open(run.path('export', 'acai_tf.json')) as f:
    assert json.load(f)['step'] == 32
  assert tf.saved_model.load(run.path('export')).encode(np.zeros((2, 32, 32, 1), np.float32)) \
      .shape == (2, 2, 2, 4)
  assert not glob.glob(run.path('exports', '.tmp-*'))


@pytest.mark.slow
def test_a_report_is_written_before_its_checkpoint(tmp_path, monkeypatch):
  real_append = rundir.append_metrics

  def killed_at_step_16(run_dir, report):
    if report['step'] == 16:
      raise SystemExit('killed')  # stands for a kill between evaluation and metrics.jsonl
    real_append(run_dir, report)

  monkeypatch.setattr(rundir, 'append_metrics', killed_at_step_16)
  settings = dict(checkpoint_minutes=1e-6, steps_per_execution=4, total_kimg=0.125)  # 16 steps
  with pytest.raises(SystemExit):  # periodic checkpoints after every execution of 4 steps
    tiny_train(tmp_path, **settings)
  run_dir = only_run_dir(tmp_path)
  newest = tf.train.latest_checkpoint(os.path.join(run_dir, 'checkpoints'))
  assert 4 <= int(newest.rsplit('-', 1)[1]) < 16  # none got ahead of the missing report
  monkeypatch.setattr(rundir, 'append_metrics', real_append)
  tiny_train(tmp_path, **settings)  # the resume makes the report the kill lost
  assert [r['step'] for r in rundir.read_metrics(run_dir)] == [16]


@pytest.mark.slow
def test_orphans_of_dead_processes_are_removed_at_start(tiny_run, tmp_path):
  run = copy_run(tiny_run, tmp_path)
  orphans = [run.path('checkpoints', 'ckpt-48_temp'), run.path('exports', '.tmp-step_48-4242'),
             run.path('config.json.tmp-4242'), run.path('metrics.jsonl.tmp-4242')]
  os.makedirs(orphans[0])
  with open(os.path.join(orphans[0], 'part-00000-of-00001.data-00000-of-00001'), 'wb') as f:
    f.write(b'\0' * 1000)
  os.makedirs(orphans[1])
  for path in orphans[2:]:
    with open(path, 'w') as f:
      f.write('{"half')
  os.symlink('exports/step_000000016', run.path('.export-4242'))
  log = []
  tiny_train(tmp_path, total_kimg=0.375, log=log)
  for path in orphans + [run.path('.export-4242')]:
    assert not os.path.lexists(path), path
    assert any(path in line for line in log)
  assert [r['step'] for r in rundir.read_metrics(run.dir)] == [16, 32, 48]


@pytest.mark.slow
def test_damaged_run_files_do_not_block_a_resume(tiny_run, tmp_path):
  run = copy_run(tiny_run, tmp_path)  # checkpoints at steps 16 and 32
  with open(run.path('metrics.jsonl'), 'a') as f:
    f.write('{"step": 48, "kimg": 0.3')  # torn by a kill
  with open(run.path('config.json'), 'r+') as f:
    f.truncate(20)
  (data,) = glob.glob(run.path('checkpoints', 'ckpt-32.data-*'))
  with open(data, 'r+b') as f:
    f.truncate(os.path.getsize(data) // 2)
  log = []
  with pytest.warns(UserWarning):
    tiny_train(tmp_path, total_kimg=0.375, log=log)
  assert any('ckpt-32 is unreadable' in line for line in log)
  assert any('resuming at step 16' in line for line in log)
  assert os.path.exists(run.path('checkpoints', 'unreadable', 'ckpt-32.index'))
  assert [r['step'] for r in rundir.read_metrics(run.dir)] == [16, 32, 48]
  with open(run.path('config.json')) as f:
    assert json.load(f)['model'] == 'baseline'  # rewritten whole

  os.remove(run.path('checkpoints', 'checkpoint'))  # the index, deleted
  log = []
  tiny_train(tmp_path, total_kimg=0.5, log=log)
  assert any('resuming at step 48' in line for line in log)
  assert [r['step'] for r in rundir.read_metrics(run.dir)] == [16, 32, 48, 64]


@pytest.mark.slow
def test_no_readable_checkpoint_is_an_error_not_a_silent_restart(tiny_run, tmp_path):
  run = copy_run(tiny_run, tmp_path)
  for data in glob.glob(run.path('checkpoints', 'ckpt-*.data-*')):
    with open(data, 'r+b') as f:
      f.truncate(10)
  with pytest.raises(errors.UsageError, match='no checkpoint of .* is readable'):
    tiny_train(tmp_path, total_kimg=0.375)
  assert [r['step'] for r in rundir.read_metrics(run.dir)] == [16, 32]


@pytest.mark.slow
def test_storage_failures_are_one_line_with_the_fix(tmp_path, monkeypatch):
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  result = run_program('acai_tf.train', f'--train_dir={a_file}', *TINY_FLAGS, '--total_kimg=0.25')
  assert result.returncode == errors.EXIT_IO
  assert result.stderr.startswith('error: cannot write to ') and result.stderr.count('\n') == 1

  monkeypatch.setattr(shutil, 'disk_usage',
                      lambda path: shutil._ntuple_diskusage(3 << 20, 3 << 20, 100))
  with pytest.raises(errors.StorageError, match='MB free; a checkpoint and an export'):
    trainer.train('acai', trainer.model_config('acai', 'lines32'),
                   tiny_config(tmp_path / 'full'), log=lambda line: None)
  assert not glob.glob(str(tmp_path / 'full' / 'lines32' / '*' / 'checkpoints'))

  message, code = cli.describe_failure(OSError(errno.ENOSPC, 'No space left on device', 'x'))
  assert code == errors.EXIT_IO and message.startswith('disk full writing x')
  message, code = cli.describe_failure(tf.errors.ResourceExhaustedError(
      None, None, 'ckpt-16_temp; No space left on device'))
  assert code == errors.EXIT_IO and 'resumes from the newest complete checkpoint' in message
  message, code = cli.describe_failure(ZeroDivisionError('boom'))
  assert code == errors.EXIT_BUG and '--debug' in message


@pytest.mark.slow
def test_values_are_checked_before_anything_is_written(tmp_path):
  bad = {'seed': -1, 'total_kimg': float('inf'), 'report_kimg': float('nan'), 'train_dir': '',
         'batch': 10_000_000, 'eval_pairs': 0, 'checkpoint_minutes': 0, 'strategy': 'nope'}
  for name, value in bad.items():
    with pytest.raises(ValueError, match=name):
      trainer.TrainConfig(**{name: value})
  start = time.perf_counter()
  segments = schedule.segments(5, trainer.TrainConfig(total_kimg=1e9).steps(1e9), 1024, (2048,))
  assert time.perf_counter() - start < 0.1  # 1e9 kimg used to take 49 s to plan
  assert sum(e * s for e, s in segments) == 16_000_000_000 - 5

  result = run_module('acai_tf.train', f'--train_dir={tmp_path}/runs', '--seed=-1')
  assert result.returncode == errors.EXIT_USAGE
  assert result.stderr == 'error: seed=-1 must be in [0, 2147483647].\n'  # and no TF start-up lines
  assert not os.path.exists(tmp_path / 'runs')


@pytest.mark.slow
def test_eval_programs_refuse_bad_inputs_in_one_line(tmp_path):
  missing = run_program('acai_tf.eval.probe', f'--export={tmp_path}/nope')
  assert missing.returncode == errors.EXIT_USAGE
  assert missing.stderr == f'error: {tmp_path}/nope does not exist; pass <run_dir>/export of a ' \
                           'trained run.\n'
  meta = {'dataset': 'lines32', 'image_shape': [32, 32, 1]}
  with pytest.raises(errors.UsageError, match=r'shape \(32, 32, 1\).*svhn32 has \(32, 32, 3\)'):
    export.check_dataset(meta, 'svhn32')
  with pytest.raises(errors.UsageError, match='trained on lines32, not mnist32'):
    export.check_dataset(meta, 'mnist32')
  export.check_dataset(meta, 'mnist32', any_dataset=True)
  for limit in (0, -5):
    with pytest.raises(errors.UsageError, match=f'train_limit={limit}'):
      labelled_splits('lines32', None, limit)


def test_batch_larger_than_the_training_set_is_refused_early(tmp_path, monkeypatch):
  from acai_tf.data import lines32
  monkeypatch.setattr(lines32.Lines32, 'train_size', 6)
  with pytest.raises(errors.UsageError, match='6 training images, fewer than --batch=8'):
    tiny_train(tmp_path)
  assert not os.path.exists(tmp_path / 'lines32')


def test_a_damaged_test_split_is_found_before_training(tmp_path):
  from acai_tf.data import get_dataset
  from acai_tf.data.records import DataFormatError
  image = tf.io.encode_png(tf.zeros((28, 28, 1), tf.uint8)).numpy()
  example = tf.train.Example(features=tf.train.Features(feature={
      'image': tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
      'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[3]))}))
  with tf.io.TFRecordWriter(str(tmp_path / 'mnist-train.tfrecord')) as writer:
    for _ in range(16):
      writer.write(example.SerializeToString())
  (tmp_path / 'mnist-test.tfrecord').write_bytes(b'not a tfrecord at all' * 10)
  with pytest.raises(DataFormatError, match='mnist-test.tfrecord'):
    get_dataset('mnist32', str(tmp_path)).check()
