"""Temp files (TensorFlow-free): the name a file is written under before it is renamed into
place, and the removal of those whose writer died before renaming them.

The name carries the writer's process id, so a temp file of a live process (another build
writing now) is told from one a killed process left behind.
"""

import os
import re

_WRITER = re.compile(r'\.tmp-(\d+)$')  # the process id a temp name ends in


def temp_path(path):
  """<path>.tmp-<this process id>: where `path` is written before its rename."""
  return f'{path}.tmp-{os.getpid()}'


def process_alive(pid):
  """Whether a process `pid` runs on this machine."""
  try:
    os.kill(pid, 0)
  except (ProcessLookupError, OverflowError):  # no such process (or no such pid at all)
    return False
  except PermissionError:  # another user's process
    return True
  return True


def remove_dead(folder, suffix, log=print):
  """Removes the temp files (`temp_path`) of `<name><suffix>` files in `folder` whose writer no
  longer runs, and logs each."""
  for name in sorted(os.listdir(folder)):
    match = _WRITER.search(name)
    if match and name[:match.start()].endswith(suffix) and not process_alive(int(match[1])):
      path = os.path.join(folder, name)
      try:
        os.remove(path)
      except FileNotFoundError:  # another writer starting now removed it
        continue
      log(f'removed {path}: left by process {match[1]}, which no longer runs (killed before '
          'renaming it)')
