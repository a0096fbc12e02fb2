"""The failures the programs report as one `error:` line, each with its exit code.

| code | meaning                                                         | retry?               |
|------|-----------------------------------------------------------------|----------------------|
| 0    | done (a training run: trained and exported)                     |                      |
| 1    | unexpected failure (a bug: rerun with --debug for the traceback)| no                   |
| 2    | bad settings or data: the message says what to change           | no                   |
| 3    | the run diverged (non-finite weights or losses)                 | no: change settings  |
| 4    | the run directory is in use by another live process             | no: a duplicate      |
| 74   | an I/O failure of the machine (disk full, lost file system)     | after freeing space  |
| 75   | interrupted (SIGTERM/SIGINT, or a peer worker was lost); a rerun resumes | yes          |
| 141  | the reader of its output stopped early (`... | head`), as a shell reports SIGPIPE |   |
"""

EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_BUSY = 4
EXIT_IO = 74  # sysexits' EX_IOERR
EXIT_RETRY = 75  # sysexits' EX_TEMPFAIL: schedulers may requeue
EXIT_PIPE = 128 + 13  # SIGPIPE's, as a shell reports a program its pipe's reader left


class AcaiError(Exception):
  """A failure with a message meant for the user; `exit_code` is what the program exits with."""
  exit_code = EXIT_BUG


class UsageError(AcaiError, ValueError):
  """The settings or the data cannot be used; the message says what to change."""
  exit_code = EXIT_USAGE


class DivergedError(AcaiError, RuntimeError):
  """Training produced non-finite losses or weights."""
  exit_code = EXIT_DIVERGED


class BusyError(AcaiError, RuntimeError):
  """Another live process holds the run directory."""
  exit_code = EXIT_BUSY


class StorageError(AcaiError, OSError):
  """The machine could not store what the run writes (disk full, read-only, gone)."""
  exit_code = EXIT_IO

  def __str__(self):
    return self.strerror or super().__str__()


class Interrupted(AcaiError):
  """Training stopped early on purpose or by a peer's loss; rerunning resumes."""
  exit_code = EXIT_RETRY
