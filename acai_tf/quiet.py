"""Importing TensorFlow without its start-up lines (oneDNN, CUDA stubs, CPU features, cuInit).

TensorFlow 2.21 writes them through absl before its own log level applies, so
TF_CPP_MIN_LOG_LEVEL does not hide them. `import_tensorflow()` holds stderr back while
TensorFlow loads and lists its devices, and shows what was held only if that fails. Nothing is
hidden with --verbose, ACAI_VERBOSE=1 or TF_CPP_MIN_LOG_LEVEL=0. Before the import, oneDNN is
turned on or off by measurement (acai_tf.autotune). Importing this module does nothing by itself.
"""

import os
import sys
import tempfile


def verbose():
  return ('--verbose' in sys.argv or os.environ.get('ACAI_VERBOSE') == '1'
          or os.environ.get('TF_CPP_MIN_LOG_LEVEL') == '0')


def import_tensorflow():
  """Imports TensorFlow (once per process), quietly unless `verbose()`, with oneDNN on or off
  as `acai_tf.autotune.choose_onednn` measured on this machine."""
  from acai_tf import autotune  # noqa: PLC0415
  autotune.choose_onednn()  # does nothing once TensorFlow is imported
  if 'tensorflow' in sys.modules or verbose():
    import tensorflow  # noqa: F401, PLC0415
    return
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  saved = os.dup(2)
  with tempfile.TemporaryFile() as sink:
    os.dup2(sink.fileno(), 2)
    try:
      import tensorflow as tf  # noqa: PLC0415
      tf.config.list_physical_devices()  # where cuInit runs
    except BaseException:
      os.dup2(saved, 2)
      sink.seek(0)
      sys.stderr.write(sink.read().decode(errors='replace'))
      raise
    finally:
      os.dup2(saved, 2)
      os.close(saved)
