"""A run's checkpoints: saved between reports, restored from the newest one that is usable.

Checkpoints live in <run_dir>/checkpoints/ (tf.train.CheckpointManager, the two newest kept).
The files on disk, not the index, say which exist: a deleted or stale index is rewritten. An
unreadable checkpoint (truncated, half-copied) or one holding non-finite weights is moved to
checkpoints/unreadable/ and the one before it is tried. Workers other than the chief save into
a scratch folder of their own (the chief's files are the run's).
"""

import glob
import os
import re
import shutil

import numpy as np
import tensorflow as tf

from acai_tf import rundir
from acai_tf.errors import UsageError

KEEP = 2


def nonfinite(model):
  """Paths of the model's float variables holding NaN or infinity."""
  return [v.path for v in model.weights
          if v.dtype.startswith('float') and not np.isfinite(np.asarray(v.numpy())).all()]


class Checkpoints:
  """The checkpoints of one model (and its optimizers) in `run_dir` (or `scratch`)."""

  def __init__(self, model, run_dir, scratch=None, log=print):
    self.model, self.dir, self.scratch, self.log = model, run_dir, scratch, log
    self.checkpoint = tf.train.Checkpoint(
        model=model, **{f'optimizer_{g}': o for g, o in model.group_optimizers.items()})
    self.manager = self._manager()

  @property
  def folder(self):
    return os.path.join(self.dir, rundir.CHECKPOINTS)

  def _manager(self):
    if self.scratch:
      return tf.train.CheckpointManager(self.checkpoint, self.scratch, max_to_keep=KEEP)
    _write_index(self.folder, self.on_disk())
    return tf.train.CheckpointManager(self.checkpoint, self.folder, max_to_keep=KEEP)

  def on_disk(self):
    """Checkpoint prefixes found on disk (whatever the index says), newest first."""
    prefixes = [p[:-len('.index')] for p in glob.glob(os.path.join(self.folder, 'ckpt-*.index'))]
    prefixes = [p for p in prefixes if re.fullmatch(r'ckpt-\d+', os.path.basename(p))]
    return sorted(prefixes, key=step_of, reverse=True)

  def restore(self):
    """Restores the newest readable, finite checkpoint, if any; returns the step it holds."""
    tried = []
    for prefix in self.on_disk():
      try:
        self.checkpoint.restore(prefix).assert_existing_objects_matched()
      except (tf.errors.OpError, ValueError, AssertionError, IndexError) as e:
        reason = str(getattr(e, 'message', e)).strip().splitlines()[0][:200]
        tried.append(f'{prefix} ({reason})')
        self.log(f'warning: {prefix} is unreadable ({reason}); trying the checkpoint before it')
        self._set_aside(prefix)
        continue
      bad = nonfinite(self.model)
      if bad:
        tried.append(f'{prefix} (non-finite {bad[0]})')
        self.log(f'warning: {prefix} holds non-finite weights ({bad[0]}); trying the one before it')
        self._set_aside(prefix)
        continue
      if tried:
        self.manager = self._manager()
      return self.model.steps_done()
    if tried:
      raise UsageError(f'no checkpoint of {self.dir} is readable: {"; ".join(tried)}. Move the '
                       'run directory aside to train it again from scratch.')
    return 0

  def _set_aside(self, prefix):
    if self.scratch:
      return
    aside = os.path.join(self.folder, 'unreadable')
    os.makedirs(aside, exist_ok=True)
    for path in glob.glob(prefix + '.*'):
      os.replace(path, os.path.join(aside, os.path.basename(path)))

  def save(self, step):
    try:
      self.manager.save(checkpoint_number=step)
    except BaseException:  # e.g. a full disk: give the space of the partial write back
      for partial in glob.glob(os.path.join(self.manager.directory, f'ckpt-{step}_temp*')):
        shutil.rmtree(partial, ignore_errors=True)
      raise


def step_of(prefix):
  return int(prefix.rsplit('-', 1)[1])


def _write_index(folder, prefixes):
  """Rewrites the checkpoint index if it is missing or names files that are not there."""
  if not prefixes:
    return
  state = tf.train.get_checkpoint_state(folder)
  listed = list(state.all_model_checkpoint_paths) if state else []
  if not state or not all(os.path.exists(p + '.index') for p in listed) or (
      os.path.basename(state.model_checkpoint_path) != os.path.basename(prefixes[0])):
    tf.compat.v1.train.update_checkpoint_state(
        folder, prefixes[0], all_model_checkpoint_paths=list(reversed(prefixes[:KEEP])))
