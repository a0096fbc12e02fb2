"""Records of the wrong shape (issue 26.5): what a program cannot go on without ends in one
`error:` line, exit code 2, with nothing written; what the report reads is skipped with one
warning. One test per record: config.json, metrics.jsonl, diverged.json, acai_tf.json, the eval
JSONs, $TF_CONFIG, long run names, CIFAR-10 batches."""

import bz2
import glob
import json
import os
import shutil
import tarfile

import pytest

from acai_tf import errors, rundir, schema, trainer
from acai_tf.models import CONFIGS
from acai_tf.models.acai_config import ACAIConfig
from helpers import REPO, TINY_FLAGS, TINY_MODEL, run_build, run_program, tiny_config

TRAIN = ('acai_tf.train', '--model=baseline', *TINY_FLAGS, '--total_kimg=0.25')


def files(folder):
  """{path: bytes} of every file below `folder`: what a failed program must leave as it was."""
  found = {}
  for path in glob.glob(os.path.join(str(folder), '**'), recursive=True):
    if os.path.isfile(path):
      with open(path, 'rb') as f:
        found[path] = f.read()
  return found


def one_line(stderr, start, *fragments):
  """Checks stderr is a single line beginning `start` and holding every fragment."""
  assert stderr.startswith(start) and stderr.count('\n') == 1, stderr
  for fragment in fragments:
    assert fragment in stderr


def tiny_run(tmp_path, **files_in_it):
  """The run folder the TRAIN command uses, holding `files_in_it` ({name: JSON value}) and
  the lock file every trained run has."""
  run = trainer.Run('baseline', trainer.model_config('baseline', 'lines32', **TINY_MODEL),
                    tiny_config(tmp_path))
  os.makedirs(run.dir)
  files_in_it = {rundir.CONFIG_FILE: run.record, rundir.LOCK_FILE: '', **files_in_it}
  for name, value in files_in_it.items():
    with open(run.path(name), 'w') as f:
      f.write(value if isinstance(value, str) else json.dumps(value))
  return run.dir


@pytest.mark.parametrize('record,problem', [
    ({}, 'has no "model"'), ([], 'it is not a JSON object'),
    ({'model': 'baseline', 'model_config': {}, 'train_config': {'dataset': 'lines32'}},
     '"train_config" has no "total_kimg"'),
    ({'model': 'baseline', 'model_config': [], 'train_config': {}}, '"model_config" is not an '
     'object')], ids=['empty', 'list', 'no-total_kimg', 'model_config-list'])
def test_config_json_of_the_wrong_shape(tmp_path, record, problem):
  run_dir = tiny_run(tmp_path, **{rundir.CONFIG_FILE: record})
  before = files(tmp_path)
  result = run_program(*TRAIN, f'--train_dir={tmp_path}')
  assert result.returncode == errors.EXIT_USAGE
  one_line(result.stderr, 'error: ', f'{run_dir}/config.json is not a run record ({problem})',
           'Move that folder away, or choose another --train_dir.')
  assert files(tmp_path) == before
  # The report skips it, saying so once.
  result = run_program('acai_tf.report', f'--train_dir={tmp_path}')
  assert result.returncode == 0
  one_line(result.stderr, 'warning: ', f'{run_dir}/config.json is not a run record ({problem}); '
           'ignoring it.')


def test_metrics_lines_of_the_wrong_shape(tmp_path):
  run_dir = tiny_run(tmp_path, **{rundir.METRICS_FILE: (
      '{"step": 16, "kimg": 0.125}\n5\n{"step": "x", "kimg": 1}\n{"step": 32, "kimg": 0.25}\n'
      '{"step": 48, "kimg"')})
  result = run_program('acai_tf.report', f'--train_dir={tmp_path}')
  assert result.returncode == 0
  lines = result.stderr.splitlines()
  assert lines == [f'warning: {run_dir}/metrics.jsonl:2 is not a report (it is not a JSON '
                   'object); skipping it.',
                   f'warning: {run_dir}/metrics.jsonl:3 is not a report ("step" is not a whole '
                   'number); skipping it.',
                   f'warning: {run_dir}/metrics.jsonl:5 is not a complete JSON line; skipping it.']
  # A resume keeps the reports up to its checkpoint and drops the lines that are none.
  run = trainer.Run('baseline', trainer.model_config('baseline', 'lines32', **TINY_MODEL),
                    tiny_config(tmp_path))
  with pytest.warns(UserWarning, match='is not a report'):
    run.truncate_metrics(16)
  with open(os.path.join(run_dir, rundir.METRICS_FILE)) as f:
    assert f.read() == '{"step": 16, "kimg": 0.125}\n'


@pytest.mark.parametrize('marker,code,message', [
    ({}, errors.EXIT_USAGE, 'diverged.json is not a divergence record (has no "step"). Delete '
     'it to train that run again.'),
    ('{"step": 4', errors.EXIT_USAGE, 'diverged.json is not a divergence record (unreadable: '),
    ({'step': 40, 'reason': 'loss_ae is nan', 'checkpoint': 'x'}, errors.EXIT_USAGE,
     '"checkpoint" is not a whole number'),
    ({'step': 40, 'reason': 'loss_ae is nan', 'checkpoint': 32}, errors.EXIT_DIVERGED,
     'diverged at step 40 (loss_ae is nan)')], ids=['empty', 'torn', 'wrong-type', 'diverged'])
def test_diverged_json_of_the_wrong_shape(tmp_path, marker, code, message):
  tiny_run(tmp_path, **{rundir.DIVERGED_FILE: marker})
  before = files(tmp_path)
  result = run_program(*TRAIN, f'--train_dir={tmp_path}')
  assert result.returncode == code
  one_line(result.stderr, 'error: ', message)
  assert files(tmp_path) == before


@pytest.mark.parametrize('meta,problem', [
    ({'model': 'baseline', 'step': 32, 'kimg': 0.25, 'image_shape': [32, 32, 1]},
     'has no "dataset"'),
    ([], 'it is not a JSON object'),
    ({'model': 'baseline', 'dataset': 'lines32', 'step': 32, 'kimg': '0.25',
      'image_shape': [32, 32, 1]}, '"kimg" is not a number')],
    ids=['no-dataset', 'list', 'kimg-string'])
def test_acai_tf_json_of_the_wrong_shape(tmp_path, meta, problem):
  export = tmp_path / 'run' / 'export'
  os.makedirs(export)
  (export / rundir.EXPORT_META).write_text(json.dumps(meta))
  before = files(tmp_path)
  result = run_program('acai_tf.eval.lines', f'--export={export}')
  assert result.returncode == errors.EXIT_USAGE
  one_line(result.stderr, 'error: ', f'{export}/acai_tf.json is not an export record ({problem}). '
           'Rerun the training command of that run to export it again')
  assert files(tmp_path) == before


def test_eval_json_of_the_wrong_shape(tmp_path):
  run_dir = tiny_run(tmp_path, **{'eval_lines.json': {'program': 'lines', 'mean_distance': 0.01}})
  result = run_program('acai_tf.report', f'--train_dir={tmp_path}')
  assert result.returncode == 0
  one_line(result.stderr, 'warning: ', f'{run_dir}/eval_lines.json is not an evaluation record '
           '(has no "mean_smoothness"). Run its evaluation program again to rewrite it. '
           'Skipping it')
  # runs/ship.py reads the scores its command writes with the same reader, which raises.
  (tmp_path / 'scores.json').write_text('{"program": "probe", "dataset": "x", "accuracy": []}')
  with pytest.raises(errors.UsageError, match=r'"accuracy" is not a number'):
    schema.read_eval(str(tmp_path / 'scores.json'), 'probe')


@pytest.mark.parametrize('value,problem', [
    ('{"cluster": 5}', '("cluster" is not an object)'),
    ('workers: 2', 'not valid JSON'),
    ('{"cluster": {"worker": ["localhost:1"]}}', '(has no "task")'),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 1}}',
     "(no task 'worker' 1 in \"cluster\")")], ids=['cluster-5', 'not-json', 'no-task', 'index'])
def test_tf_config_of_the_wrong_shape(tmp_path, monkeypatch, value, problem):
  monkeypatch.setenv('TF_CONFIG', value)
  result = run_program(*TRAIN, '--strategy=multi_worker', f'--train_dir={tmp_path}')
  assert result.returncode == errors.EXIT_USAGE
  one_line(result.stderr, 'error: $TF_CONFIG is ', problem, '; expected {"cluster": {"worker": '
           '["host:port", ...]}, "task": {"type": "worker", "index": 0}}')
  assert not os.listdir(tmp_path)


def test_long_run_names_stay_under_the_file_name_limit(tmp_path):
  def aae(sizes):
    return trainer.model_config('aae', 'lines32', disc_layer_sizes=sizes)
  long_sizes = ','.join(['100'] * 80)
  name = rundir.run_name('aae', aae(long_sizes), 64, 0)
  assert len(long_sizes) > 255 and len(name.encode()) == rundir.NAME_LIMIT
  assert name.startswith('aae_adversary_lr0.0001_batch64_depth16_disc_layer_sizes100,100,')
  assert name == rundir.run_name('aae', aae(long_sizes), 64, 0)  # the same settings, one folder
  assert name != rundir.run_name('aae', aae(long_sizes + ',100'), 64, 0)
  assert name != rundir.run_name('aae', aae(long_sizes), 64, 1)
  # A name within the limit is as before.
  assert rundir.run_name('acai', ACAIConfig(), 64, 2) == (
      'acai_advdepth0_advweight0.5_batch64_depth16_latent16_latent_width2_lr0.0001_reg0.2_seed2')

  config = tiny_config(tmp_path)
  run = trainer.Run('aae', aae(long_sizes), config)
  run.open()  # what training does first: makes the folder and takes its lock
  run.close()
  assert os.path.basename(run.dir) == rundir.run_name('aae', aae(long_sizes), config.batch, 0)
  assert os.listdir(os.path.dirname(run.dir)) == [os.path.basename(run.dir)]


def test_recorded_runs_keep_their_folders():
  # Every run committed to results/ is found where it is from its own settings.
  for root in glob.glob(os.path.join(REPO, 'results', 'cpu*')):
    for folder in rundir.find_runs(root):
      record = rundir.read_config(folder)
      train = record['train_config']
      config = CONFIGS[record['model']](**record['model_config'])
      assert rundir.run_dir(root, train['dataset'], record['model'], config, train['batch'],
                            train['seed']) == folder


def _bz2_bomb(path, member, images):
  """A tarball (bz2, which tarfile opens whatever the name) whose `member` declares and holds
  `images` CIFAR images of zeros, written in a few KB: bz2 streams of zeros, concatenated."""
  chunk = 8 << 20
  info = tarfile.TarInfo(member)
  info.size = -(-images * 3072 // chunk) * chunk
  zeros = bz2.compress(bytes(chunk))
  with open(path, 'wb') as f:
    f.write(bz2.compress(info.tobuf()))
    for _ in range(info.size // chunk):
      f.write(zeros)
    f.write(bz2.compress(bytes(2 * tarfile.BLOCKSIZE)))
  return info.size


def test_cifar_batch_declaring_more_than_its_archive_holds(tmp_path):
  os.makedirs(tmp_path / 'raw')
  archive = tmp_path / 'raw' / 'cifar-10-python.tar.gz'
  declared = _bz2_bomb(archive, 'cifar-10-batches-py/data_batch_1', 300_000)
  assert os.path.getsize(archive) < 66_000
  result = run_build('--dataset=cifar10', f'--raw_dir={tmp_path / "raw"}',
                     f'--data_dir={tmp_path / "out"}')
  assert result.returncode == errors.EXIT_USAGE
  one_line(result.stderr, 'error: ', f'{archive} ({os.path.getsize(archive):,} bytes) declares '
           f'{declared:,} bytes of files by cifar-10-batches-py/data_batch_1',
           f'room for {declared // 3072:,} images', 'not expanding it')
  assert not (tmp_path / 'out').exists()
  shutil.rmtree(tmp_path / 'raw')
