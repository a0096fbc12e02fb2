"""--log_to: reports, image grids and settings in MLflow and W&B, read back from their stores."""

import glob
import json
import os
import pathlib
import struct
import sys

import numpy as np
import pytest
from PIL import Image

from acai_tf import config, rundir, trackers
from helpers import TINY_FLAGS, run_program, tiny_train

GRIDS = ('reconstruction', 'lerp', 'slerp', 'samples')  # what every report draws
# No network: W&B offline and without error reports, MLflow without telemetry.
OFFLINE = {'WANDB_MODE': 'offline', 'WANDB_SILENT': 'true', 'WANDB_ERROR_REPORTING': 'false',
           'MLFLOW_DISABLE_TELEMETRY': 'true'}
KILLED_AT = 32  # the second report: logged to the trackers, then the process dies
TOTAL_KIMG = 0.375  # three 16-step reports at batch 8


@pytest.fixture(autouse=True)
def offline(monkeypatch):
  for name, value in OFFLINE.items():
    monkeypatch.setenv(name, value)
  monkeypatch.setenv('MLFLOW_ALLOW_FILE_STORE', 'true')  # MLflow 3 reads a file store only so


@pytest.fixture(scope='module')
def tracked(tmp_path_factory):
  """A tiny run logging to every tracker, killed in its second report after the trackers had
  it (before metrics.jsonl), then rerun to the end: the rerun resumes from the first report's
  checkpoint and makes the second again. Returns the run directory."""
  train_dir = tmp_path_factory.mktemp('tracked')
  real_append = rundir.append_metrics

  def killed(run_dir, report):
    if report['step'] == KILLED_AT:
      raise SystemExit('killed')
    real_append(run_dir, report)

  with pytest.MonkeyPatch.context() as patch:
    for name, value in OFFLINE.items():
      patch.setenv(name, value)
    for name in ('MLFLOW_TRACKING_URI', 'MLFLOW_ALLOW_FILE_STORE', 'MLFLOW_EXPERIMENT_NAME',
                 'WANDB_PROJECT'):  # the trackers' own defaults
      patch.delenv(name, raising=False)
    patch.setattr(rundir, 'append_metrics', killed)
    with pytest.raises(SystemExit):
      tiny_train(train_dir, total_kimg=TOTAL_KIMG, log_to='tensorboard,mlflow,wandb')
    patch.setattr(rundir, 'append_metrics', real_append)
    run = tiny_train(train_dir, total_kimg=TOTAL_KIMG, log_to='tensorboard,mlflow,wandb')
  yield run.dir
  import wandb
  wandb.teardown()  # its service process ends with the tests


def run_ids(run_dir):
  with open(os.path.join(run_dir, trackers.IDS_FILE)) as f:
    return json.load(f)


def assert_same(found, report, names):
  """`found` holds `report`'s values of `names`, NaN (an undefined Smoothness) as NaN."""
  np.testing.assert_equal({k: found[k] for k in names}, {k: report[k] for k in names})


# ---- MLflow -----------------------------------------------------------------------------------

def mlflow_client(run_dir):
  from mlflow import MlflowClient
  train_dir = os.path.dirname(os.path.dirname(run_dir))
  return MlflowClient(pathlib.Path(train_dir, trackers.MLFLOW_STORE).as_uri())


@pytest.mark.slow  # two tiny trainings, the first killed
def test_mlflow_run_holds_every_report_once_the_settings_and_the_grids(tracked, tmp_path):
  client = mlflow_client(tracked)
  (experiment,) = [e for e in client.search_experiments() if e.name == trackers.PROJECT]
  (run,) = client.search_runs([experiment.experiment_id])  # the rerun continued the same run
  assert run.info.run_id == run_ids(tracked)['mlflow']
  assert run.info.status == 'FINISHED' and run.info.run_name == os.path.basename(tracked)

  reports = rundir.read_metrics(tracked)
  assert [r['step'] for r in reports] == [16, KILLED_AT, 48]
  values = {}
  for name in reports[0]:
    if name != 'step':
      history = client.get_metric_history(run.info.run_id, name)
      assert sorted(m.step for m in history) == [r['step'] for r in reports], name  # each once
      for metric in history:
        values.setdefault(metric.step, {})[name] = metric.value
  for report in reports:
    names = [k for k in report if k != 'step']
    if report['step'] == KILLED_AT:  # made twice; MLflow keeps the first, timed differently
      names.remove('img_s')
    assert_same(values[report['step']], report, names)

  with open(os.path.join(tracked, rundir.CONFIG_FILE)) as f:
    settings = json.load(f)
  assert run.data.params['model'] == settings['model'] == 'baseline'
  for section in ('model_config', 'train_config'):
    for name, value in settings[section].items():
      assert run.data.params[f'{section}.{name}'] == str(value), name
  with open(client.download_artifacts(run.info.run_id, 'settings.json', str(tmp_path))) as f:
    assert json.load(f) == settings

  pngs = [a.path for a in client.list_artifacts(run.info.run_id, 'images')
          if a.path.endswith('.png')]
  for report in reports:
    for grid in GRIDS:
      assert sum(f'/{grid}+step+{report["step"]}+' in path for path in pngs) == 1, grid


# ---- Weights & Biases ---------------------------------------------------------------------------

# A .wandb file is a LevelDB log (github.com/google/leveldb/blob/main/doc/log_format.md) of
# wandb's protobuf Records: a 7-byte file header, then 32 KiB blocks of chunks, each a 7-byte
# header (checksum, length, kind) and data; a record too long for a block spans FIRST, MIDDLE
# and LAST chunks. wandb 0.31 ships the Record message but no reader.
HEADER, BLOCK = 7, 32768
FULL, LAST = 1, 4


def wandb_records(path):
  from wandb.proto import wandb_internal_pb2
  with open(path, 'rb') as f:
    data = f.read()
  assert data[:4] == b':W&B', path
  position, pending = HEADER, b''
  while position + HEADER <= len(data):
    if BLOCK - position % BLOCK < HEADER:  # a block's tail too short for a header: padding
      position += BLOCK - position % BLOCK
      continue
    _, length, kind = struct.unpack('<IHB', data[position:position + HEADER])
    pending += data[position + HEADER:position + HEADER + length]
    position += HEADER + length
    if kind in (FULL, LAST):
      record = wandb_internal_pb2.Record()
      record.ParseFromString(pending)
      pending = b''
      yield record


def _items(items):
  """{name: value} of history or config items (a nested name joined by '/')."""
  return {item.key or '/'.join(item.nested_key): json.loads(item.value_json) for item in items}


def read_wandb(folder):
  """(history rows by step, config, exit code) of one offline-run folder."""
  (path,) = glob.glob(os.path.join(folder, 'run-*.wandb'))
  rows, settings, exit_code = {}, {}, None
  for record in wandb_records(path):
    kind = record.WhichOneof('record_type')
    if kind == 'history':
      row = _items(record.history.item)
      rows[row['_step']] = row
    elif kind == 'run':
      settings.update(_items(record.run.config.update))
    elif kind == 'config':
      settings.update(_items(record.config.update))
    elif kind == 'exit':
      exit_code = record.exit.exit_code
  return rows, settings, exit_code


@pytest.mark.slow
def test_wandb_offline_runs_hold_the_reports_the_settings_and_the_grids(tracked):
  folders = sorted(glob.glob(os.path.join(tracked, 'wandb', 'offline-run-*')))  # by start time
  wandb_id = run_ids(tracked)['wandb']
  assert len(folders) == 2 and all(f.endswith(f'-{wandb_id}') for f in folders)  # a process each
  rows, exit_codes = {}, []
  for folder in folders:  # `wandb sync` uploads them in this order: a later row wins
    found, settings, exit_code = read_wandb(folder)
    rows.update(found)
    exit_codes.append(exit_code)
    with open(os.path.join(tracked, rundir.CONFIG_FILE)) as f:
      assert {k: settings[k] for k in ('model', 'model_config', 'train_config')} == {
          k: v for k, v in json.load(f).items() if k != 'format'}

  assert exit_codes == [1, 0]  # killed in a report (the trackers closed as failed), then done
  reports = rundir.read_metrics(tracked)
  assert sorted(rows) == [r['step'] for r in reports]
  for report in reports:
    row = rows[report['step']]
    assert_same(row, report, [k for k in report if k != 'step'])
    for grid in GRIDS:
      assert row[f'{grid}/_type'] == 'image-file'
      assert any(os.path.exists(os.path.join(folder, 'files', row[f'{grid}/path']))
                 for folder in folders), grid


@pytest.mark.slow
def test_both_trackers_got_the_same_image_grids(tracked, tmp_path):
  client = mlflow_client(tracked)
  step = 16
  (mlflow_png,) = [a.path for a in client.list_artifacts(run_ids(tracked)['mlflow'], 'images')
                   if a.path.startswith(f'images/reconstruction+step+{step}+')
                   and a.path.endswith('.png')]
  mlflow_png = client.download_artifacts(run_ids(tracked)['mlflow'], mlflow_png, str(tmp_path))
  (wandb_png,) = glob.glob(os.path.join(tracked, 'wandb', 'offline-run-*', 'files', 'media',
                                        'images', f'reconstruction_{step}_*.png'))
  grids = [np.asarray(Image.open(path)) for path in (mlflow_png, wandb_png)]
  assert grids[0].size > 0
  np.testing.assert_array_equal(np.squeeze(grids[0]), np.squeeze(grids[1]))


# ---- settings and missing libraries -------------------------------------------------------------

def test_log_to_names_trackers_and_rejects_others(tmp_path):
  assert set(trackers.SINKS) == set(config.TRACKERS)
  made = config.TrainConfig(train_dir=str(tmp_path), log_to=' wandb, tensorboard,wandb ')
  assert made.log_to == 'wandb,tensorboard'
  assert config.TrainConfig(train_dir=str(tmp_path), log_to='').log_to == ''
  assert config.TrainConfig(train_dir=str(tmp_path)).log_to == 'tensorboard'
  with pytest.raises(ValueError, match="'comet' is no tracker; choose from tensorboard, mlflow"):
    config.TrainConfig(train_dir=str(tmp_path), log_to='tensorboard,comet')


@pytest.mark.parametrize('library', ['mlflow', 'wandb'])
def test_a_missing_tracker_library_is_one_line_naming_its_extra(tmp_path, monkeypatch, library):
  monkeypatch.setitem(sys.modules, library, None)  # what `import` meets when it is not installed
  result = run_program('acai_tf.train', *TINY_FLAGS, f'--train_dir={tmp_path}',
                       f'--log_to=tensorboard,{library}')
  assert result.returncode == 2
  assert result.stderr == (f'error: --log_to={library} needs the {library} package: '
                    f'pip install -e ".[{library}]"\n')
