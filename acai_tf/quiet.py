"""Importing TensorFlow without its start-up lines (oneDNN, CUDA stubs, CPU features, cuInit).

TensorFlow 2.21 writes them through absl before its own log level applies, so
TF_CPP_MIN_LOG_LEVEL does not hide them. `import_tensorflow()` holds stderr back while
TensorFlow loads and lists its devices, and shows what was held only if that fails. Nothing is
hidden when verbose (--verbose, ACAI_VERBOSE=1 or TF_CPP_MIN_LOG_LEVEL=0). Choosing oneDNN is
the caller's, before (acai_tf.cli.start_tensorflow). Importing this module does nothing by
itself.
"""

import os
import sys
import tempfile


def verbose_default():
  """Whether the environment asks for TensorFlow's lines (ACAI_VERBOSE=1 or
  TF_CPP_MIN_LOG_LEVEL=0): the default of every program's --verbose."""
  return (os.environ.get('ACAI_VERBOSE') == '1'
          or os.environ.get('TF_CPP_MIN_LOG_LEVEL') == '0')


def import_tensorflow(verbose=None):
  """Imports TensorFlow (once per process), quietly unless `verbose` (None: as the
  environment asks, `verbose_default()`)."""
  if verbose is None:
    verbose = verbose_default()
  if 'tensorflow' in sys.modules or verbose:
    import tensorflow  # noqa: F401
    return
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  saved = os.dup(2)
  with tempfile.TemporaryFile() as sink:
    os.dup2(sink.fileno(), 2)
    try:
      import tensorflow as tf
      tf.config.list_physical_devices()  # where cuInit runs
    except BaseException:
      os.dup2(saved, 2)
      sink.seek(0)
      sys.stderr.write(sink.read().decode(errors='replace'))
      raise
    finally:
      os.dup2(saved, 2)
      os.close(saved)
