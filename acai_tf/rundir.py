"""A run directory on disk: its file names, atomic writes, the lock, and reading it back.

TensorFlow-free, so reports and notebooks can read runs cheaply. Layout:

    <train_dir>/<dataset>/<run name>/
      config.json        the model, its config and the training config
      metrics.jsonl      one JSON line per report
      diverged.json      present once training produced non-finite values
      checkpoints/       tf.train.CheckpointManager's files
      exports/step_N/    SavedModels (with acai_tf.json); `export` links to the newest
      tensorboard/       event files
      eval_*.json        results of the evaluation programs
      .lock              held (flock) by the process training the run

The run name is the model and its sorted hyperparameters, as the original's, with the batch
and the seed; a name longer than a file name may be (255 bytes) keeps its first part and ends in
a hash of the whole (the settings themselves are in config.json). This module is the one place
that knows these names.

The records' shapes, their format version and the table of renamed settings are in
acai_tf.schema; the readers here skip (with a warning) what the report cannot use, and
`read_config(..., resuming=True)` refuses to train over a config.json of the wrong shape.
"""

import errno
import fcntl
import glob
import hashlib
import json
import os
import shutil
import socket
import time
import warnings

from acai_tf.errors import BusyError, StorageError, UsageError
from acai_tf.schema import (RECORD_FORMAT, RENAMED, REPORT_FIELDS, config_problem, parse,
                            read_eval, read_export_meta, shape_problem)
from acai_tf.tempfiles import temp_path

CONFIG_FILE = 'config.json'
METRICS_FILE = 'metrics.jsonl'
DIVERGED_FILE = 'diverged.json'
LOCK_FILE = '.lock'
CHECKPOINTS = 'checkpoints'
EXPORTS = 'exports'
EXPORT_LINK = 'export'
EXPORT_META = 'acai_tf.json'  # inside an export: the model, its configs, the step
TENSORBOARD = 'tensorboard'
EVAL_PREFIX = 'eval_'

NAME_LIMIT = 255  # bytes in a file name (ext4, XFS, NFS, ...)
HASH_LENGTH = 12  # hex digits of the hash that ends a shortened run name


def _name(model_name, params):
  """The run name of `params`; one over NAME_LIMIT bytes keeps its start and ends in a hash
  of the whole, so the same settings always give the same, distinct, name. (Names within the
  limit are as before: no run made by an earlier release moves.)"""
  name = '_'.join([model_name] + [f'{k}{v}' for k, v in sorted(params.items())])
  whole = name.encode()
  if len(whole) <= NAME_LIMIT:
    return name
  start = whole[:NAME_LIMIT - HASH_LENGTH - 1].decode(errors='ignore')
  return f'{start}_{hashlib.sha256(whole).hexdigest()[:HASH_LENGTH]}'


def run_name(model_name, model_config, batch, seed):
  """Directory name from the model and its sorted hyperparameters (as the original), with the
  batch and the seed (so reruns with other seeds sit side by side)."""
  return _name(model_name, {**model_config.to_dict(), 'batch': batch, 'seed': seed})


def run_dir(train_dir, dataset, model_name, model_config, batch, seed):
  """Where a run lives: <train_dir>/<dataset>/<run name>, computed from the settings; a run
  an earlier release made under its old hyperparameter names (`RENAMED`) is found there."""
  folder = os.path.join(train_dir, dataset, run_name(model_name, model_config, batch, seed))
  old_names = {new: old for old, new in RENAMED.get(model_name, {}).items()}
  if old_names and not os.path.exists(folder):
    params = {old_names.get(k, k): v for k, v in model_config.to_dict().items()}
    old = os.path.join(train_dir, dataset, _name(model_name, {**params, 'batch': batch,
                                                                'seed': seed}))
    if os.path.exists(old):
      return old
  return folder


def read_config(folder, resuming=False):
  """A run's config.json in this release's terms (`RENAMED` applied), or None if it is
  missing, unreadable or not a run record (with a warning: a rerun rewrites it).

  With `resuming` (training is about to take `folder` over), valid JSON that is not a run
  record is a UsageError instead: some other program's file, not to be written over.
  """
  path = os.path.join(folder, CONFIG_FILE)
  record = read_json(path)
  if record is None:
    return None
  problem = config_problem(record)
  if problem and resuming:
    raise UsageError(f'{path} is not a run record ({problem}), so {folder} cannot be resumed. '
                     'Move that folder away, or choose another --train_dir.')
  if problem:
    warnings.warn(f'{path} is not a run record ({problem}); ignoring it.', stacklevel=2)
    return None
  if record.get('format', 1) > RECORD_FORMAT:
    warnings.warn(f'{path} has format {record["format"]}, newer than this release\'s '
                  f'{RECORD_FORMAT}; reading it as {RECORD_FORMAT}. Upgrade acai_tf.',
                  stacklevel=2)
  renamed = RENAMED.get(record['model'], {})
  return {**record, 'format': RECORD_FORMAT,
          'model_config': {renamed.get(k, k): v for k, v in record['model_config'].items()}}


def find_runs(train_dir):
  """Every run below `train_dir` (a folder holding config.json), in sorted order."""
  found = []
  for folder, dirs, files in os.walk(train_dir):
    dirs[:] = sorted(d for d in dirs if d not in (EXPORTS, CHECKPOINTS, TENSORBOARD, EXPORT_LINK))
    if CONFIG_FILE in files:
      found.append(folder)
  return found


def read_evals(folder, start=''):
  """{name: result} of the eval_<name>.json files in `folder` whose name begins `start`; each
  is read as its name's program wrote it (eval_<program>_..., `read_eval`), and one that is
  unreadable or of the wrong shape is skipped with a warning."""
  results = {}
  for file_name in sorted(os.listdir(folder)):
    name = file_name[len(EVAL_PREFIX):-len('.json')]
    if file_name.startswith(EVAL_PREFIX + start) and file_name.endswith('.json'):
      try:
        results[name] = read_eval(os.path.join(folder, file_name), name.split('_')[0])
      except UsageError as e:
        warnings.warn(f'{e} Skipping it for now.', stacklevel=2)
  return results


def export_meta(export_dir):
  """The acai_tf.json of the export folder `export_dir` (acai_tf.schema checks it); a
  UsageError if the folder or its record is missing or of the wrong shape."""
  if not os.path.exists(export_dir):
    raise UsageError(f'{export_dir} does not exist; pass <run_dir>/export of a trained run.')
  return read_export_meta(os.path.join(export_dir, EXPORT_META))


def eval_path(export_dir, name):
  """Where an evaluation program's JSON goes: in the run directory that holds the export.

  An export outside any run directory gets its record beside it, named after it, so exports
  that share a folder (the shipped ones in acai_tf/pretrained) keep one record each.
  """
  export_dir = os.path.abspath(export_dir.rstrip('/'))
  here = os.path.dirname(export_dir)
  for folder in (here, os.path.dirname(here)):
    if os.path.exists(os.path.join(folder, CONFIG_FILE)):
      return os.path.join(folder, f'{EVAL_PREFIX}{name}.json')
  return os.path.join(here, f'{EVAL_PREFIX}{name}_{os.path.basename(export_dir)}.json')


def write_eval(path, record):
  write_atomic(path, json.dumps(record, indent=2, sort_keys=True))
  print(f'wrote {path}', flush=True)


def write_atomic(path, text):
  """Writes a text file through a temp file and a rename: readers see old or new, never half."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  tmp = temp_path(path)
  try:
    with open(tmp, 'w') as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def read_json(path):
  """A JSON file's content, or None if it is missing or unreadable (with a warning)."""
  content, problem = parse(path)
  if problem:
    warnings.warn(f'{path} is {problem}; ignoring it.', stacklevel=2)
  return content


def read_metrics(run_dir):
  """Every report of a run, as a list of dicts (one per metrics.jsonl line).

  A torn last line (a write cut short by a kill or a full disk) is skipped with a warning; a
  damaged line elsewhere is skipped the same way.
  """
  path = os.path.join(run_dir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  reports = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        report = json.loads(line)
      except ValueError:
        warnings.warn(f'{path}:{number} is not a complete JSON line; skipping it.', stacklevel=2)
        continue
      problem = shape_problem(report, REPORT_FIELDS)
      if problem:
        warnings.warn(f'{path}:{number} is not a report ({problem}); skipping it.', stacklevel=2)
        continue
      reports.append(report)
  return reports


def write_metrics(run_dir, reports):
  write_atomic(os.path.join(run_dir, METRICS_FILE), ''.join(json.dumps(r) + '\n' for r in reports))


def append_metrics(run_dir, report):
  """Appends one report; a torn previous last line is repaired first."""
  path = os.path.join(run_dir, METRICS_FILE)
  if os.path.exists(path) and os.path.getsize(path):
    with open(path, 'rb') as f:
      f.seek(-1, os.SEEK_END)
      torn = f.read(1) != b'\n'
    if torn:
      write_metrics(run_dir, read_metrics(run_dir))
  with open(path, 'a') as f:
    f.write(json.dumps(report) + '\n')
    f.flush()
    os.fsync(f.fileno())


class Lock:
  """An exclusive lock on a run directory (flock on `<run_dir>/.lock`), held until `release`.

  The kernel drops the lock when its process dies, however it dies, so a lock left by a dead
  process is taken over with no stale-lock guesswork. Works on local file systems and on NFS
  (Linux maps flock to NFS byte-range locks).
  """

  def __init__(self, run_dir):
    self.path = os.path.join(run_dir, LOCK_FILE)
    self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(self.fd, 200, 0).decode(errors='replace').strip() or 'another process'
      os.close(self.fd)
      raise BusyError(f'{run_dir} is being trained by {holder}. Wait for it to finish or stop '
                      'it; two processes must not train one run.') from None
    os.ftruncate(self.fd, 0)
    os.pwrite(self.fd, f'pid {os.getpid()} on {socket.gethostname()} since '
                       f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode(), 0)

  def release(self):
    if self.fd is not None:
      fcntl.flock(self.fd, fcntl.LOCK_UN)
      os.close(self.fd)
      self.fd = None


# What a process killed while writing leaves behind (removed at start, under the lock).
_TEMP_PATTERNS = ('*.tmp-*', '.export-*', f'{EXPORTS}/.tmp-*', f'{CHECKPOINTS}/*_temp*',
                  f'{CHECKPOINTS}/*.tmp*')


def remove_orphans(run_dir):
  """Deletes temp files of earlier, dead writers of `run_dir`; returns their paths.

  Only safe with the run's lock held: no other process is writing there then.
  """
  found = sorted({p for pattern in _TEMP_PATTERNS for p in glob.glob(os.path.join(run_dir, pattern))
                  if os.path.basename(p) != LOCK_FILE})
  for path in found:
    if os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path, ignore_errors=True)
    else:
      os.remove(path)
  return found


def check_writable(folder):
  """Creates `folder` if needed and proves it takes a file; StorageError / BusyError otherwise."""
  try:
    os.makedirs(folder, exist_ok=True)
    probe = os.path.join(folder, f'.write-test-{os.getpid()}')
    with open(probe, 'w') as f:
      f.write('ok')
    os.remove(probe)
  except OSError as e:
    raise storage_error(e, f'cannot write to {folder}') from None


def storage_error(error, doing):
  """A StorageError with the fix for an OSError met while `doing` something."""
  reason = os.strerror(error.errno) if error.errno else str(error)
  fixes = {errno.ENOSPC: 'free some space or choose another --train_dir; the run resumes from '
                         'its newest complete checkpoint',
           errno.EDQUOT: 'free some space or raise the quota; the run resumes from its newest '
                         'complete checkpoint',
           errno.EROFS: 'choose a writable --train_dir',
           errno.EACCES: 'choose a --train_dir you can write to',
           errno.ENOTDIR: 'a path component is a file; choose another --train_dir',
           errno.EEXIST: 'a path component is a file; choose another --train_dir'}
  fix = fixes.get(error.errno, 'check the file system')
  return StorageError(error.errno, f'{doing}: {reason}. Fix: {fix}.')

