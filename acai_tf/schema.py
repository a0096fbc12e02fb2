"""What each record of a run holds, its format version, and the readers that refuse a record of
the wrong shape (TensorFlow-free, no acai_tf imports but errors).

config.json is `{"format": 2, "model": name, "model_config": {...}, "train_config": {...}}`;
records of earlier releases (no "format") are read through `RENAMED`, the one mapping of the
hyperparameters renamed since, so they count as the same setting as today's records: the
report groups them with today's runs, and training resumes a run in its old-named directory.

The readers here take a path and raise a UsageError (exit code 2) naming the file, what is
wrong and what to do: a program cannot go on without these records. acai_tf.rundir reads
config.json, metrics.jsonl and the eval JSONs for the report, which skips bad ones with a
warning; training refuses to resume over a config.json of the wrong shape.
"""

import json
import os

from acai_tf.errors import UsageError

RECORD_FORMAT = 2  # of the config.json this release writes; 1: earlier ones (no "format" key)
# Hyperparameters renamed since earlier releases: {model: {old name: new name}}.
RENAMED = {'vqvae': {'beta': 'commitment', 'hidden': 'filter_size'}}

NUMBER = (int, float)
_KINDS = {str: 'a string', dict: 'an object', list: 'a list', int: 'a whole number',
          NUMBER: 'a number'}
# What each record must hold: {key: type}; records may hold more.
CONFIG_FIELDS = {'model': str, 'model_config': dict, 'train_config': dict}
TRAIN_FIELDS = {'dataset': str, 'total_kimg': NUMBER, 'batch': int, 'seed': int}
REPORT_FIELDS = {'step': int, 'kimg': NUMBER}  # a line of metrics.jsonl
DIVERGED_FIELDS = {'step': int, 'reason': str, 'checkpoint': int}
EXPORT_FIELDS = {'model': str, 'dataset': str, 'step': int, 'kimg': NUMBER, 'image_shape': list}
# An evaluation program's result (eval_<program>_....json), by its program.
EVAL_FIELDS = {'lines': {'mean_distance': NUMBER, 'mean_smoothness': NUMBER},
               'probe': {'accuracy': NUMBER}, 'cluster': {'accuracy': NUMBER}}


def shape_problem(record, fields, within=''):
  """What keeps `record` (parsed JSON) from being an object holding `fields` ({key: type}), or
  None. `within` names the record in the message (e.g. '"train_config" ')."""
  if not isinstance(record, dict):
    return f'{within or "it "}is not a JSON object'
  for key, kind in fields.items():
    if key not in record:
      return f'{within}has no "{key}"'
    if isinstance(record[key], bool) or not isinstance(record[key], kind):
      return f'"{key}" is not {_KINDS[kind]}'
  return None


def config_problem(record):
  """What makes `record` (parsed JSON) no config.json of a run, or None."""
  problem = shape_problem(record, CONFIG_FIELDS)
  if problem is None:
    problem = shape_problem(record['train_config'], TRAIN_FIELDS, '"train_config" ')
  if problem is None and not isinstance(record.get('format', 1), int):
    problem = '"format" is not a whole number'
  return problem


def parse(path):
  """(content, None) of a JSON file; (None, None) if it is missing; (None, what is wrong) if it
  cannot be read."""
  try:
    with open(path) as f:
      return json.load(f), None
  except (FileNotFoundError, NotADirectoryError):
    return None, None
  except (OSError, ValueError) as e:
    return None, f'unreadable: {e}'


def read_checked(path, fields, what, fix):
  """The JSON file `path`, which must be an object holding `fields`; otherwise (missing too) a
  UsageError saying it is not `what`, then `fix`."""
  record, problem = parse(path) if os.path.exists(path) else (None, 'missing')
  problem = problem or shape_problem(record, fields)
  if problem:
    raise UsageError(f'{path} is not {what} ({problem}). {fix}')
  return record


def read_diverged(path):
  """A run's divergence marker (DIVERGED_FIELDS), or None if there is none; one that is
  unreadable or of the wrong shape is a UsageError (deleting it lets the run train again)."""
  if not os.path.exists(path):
    return None
  return read_checked(path, DIVERGED_FIELDS, 'a divergence record',
                      'Delete it to train that run again.')


def read_export_meta(path):
  """The acai_tf.json of an export (EXPORT_FIELDS and more); a UsageError if it is missing,
  unreadable or of the wrong shape."""
  if not os.path.exists(path):
    raise UsageError(f'{os.path.dirname(path)} is not an acai_tf export (it has no '
                     f'{os.path.basename(path)}); pass <run_dir>/export.')
  return read_checked(path, EXPORT_FIELDS, 'an export record', 'Rerun the training command of '
                      'that run to export it again, or pass another export.')


def read_eval(path, program):
  """The result `program` (lines, probe, cluster: EVAL_FIELDS) wrote to `path`; a UsageError if
  it is missing, unreadable or of the wrong shape."""
  return read_checked(path, EVAL_FIELDS.get(program, {}), 'an evaluation record',
                      'Run its evaluation program again to rewrite it.')
