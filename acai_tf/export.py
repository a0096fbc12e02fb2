"""SavedModel export: `encode`, `decode`, `interpolate`, `reconstruct` endpoints.

The export needs no acai_tf code to load:

    obj = tf.saved_model.load('<run_dir>/export')
    z = obj.encode(images)          # float32 [B, 32, 32, C] in [-1, 1] -> latent
    x = obj.decode(z)               # latent -> images in [-1, 1]
    z_t = obj.interpolate(z1, z2, alpha)   # alpha [B]; 0 -> z1, 1 -> z2

`acai_tf.json` beside `saved_model.pb` records the model, its config, the
dataset, the image and latent shapes and the training step. `load` reads both
back (refusing an acai_tf.json of the wrong shape: acai_tf.schema) and
`check_dataset` says whether a dataset fits the export.

`<run_dir>/export` is a symlink swapped atomically to the newest complete
export in `<run_dir>/exports/`, so a reader never sees a half-written one.
"""

import functools
import json
import os
import shutil
import weakref

import numpy as np
import tensorflow as tf

from acai_tf import rundir
from acai_tf.data import dataset_info
from acai_tf.errors import UsageError

META_FILE = rundir.EXPORT_META


def numpy_endpoint(fn, chunk=512):
  """Wraps a batched TF function (a live model's or an export's) as numpy in -> numpy out.

  Inputs are fed in chunks of `chunk` rows, so any number of images fits in memory.
  """
  def apply(*arrays):
    return np.concatenate([np.asarray(fn(*(tf.constant(a[i:i + chunk], tf.float32)
                                           for a in arrays)))
                           for i in range(0, len(arrays[0]), chunk)])
  return apply


class _Endpoints(tf.Module):
  """A trained AutoEncoder's functions with a free batch size: what an export holds, and what
  a training run's reports call (so each is traced once per model, for both)."""

  def __init__(self, model):
    super().__init__(name='acai_tf_export')
    self.state = list(model.weights)  # what the functions read; not the optimizers or Keras
    image = tf.TensorSpec((None,) + model.image_shape, tf.float32, name='x')
    latent = tf.TensorSpec((None,) + model.latent_shape, tf.float32, name='z')
    alpha = tf.TensorSpec((None,), tf.float32, name='alpha')
    # No Python control flow on tensors in a model's functions: AutoGraph would only cost time.
    function = functools.partial(tf.function, autograph=False)
    self.encode = function(model.encode, input_signature=[image])
    self.decode = function(model.decode, input_signature=[latent])
    self.interpolate = function(
        model.interpolate, input_signature=[latent, tf.TensorSpec.from_spec(latent, 'z2'), alpha])
    self.reconstruct = function(lambda x: model.decode(model.encode(x)), input_signature=[image])
    # Signatures with named outputs, for TF Serving and `obj.signatures[...]`.
    self.serving = {
        'encode': function(lambda x: {'latent': self.encode(x)}, input_signature=[image]),
        'decode': function(lambda z: {'images': self.decode(z)}, input_signature=[latent]),
    }


# One module per live model: its functions are traced once and reused by every report and
# export (tracing anew took most of an export's time).
_ENDPOINTS = weakref.WeakKeyDictionary()


def endpoints(model):
  """The traced functions of a live `model` (an AutoEncoder): encode, decode, interpolate and
  reconstruct, batch size free."""
  if model not in _ENDPOINTS:
    _ENDPOINTS[model] = _Endpoints(model)
  return _ENDPOINTS[model]


def save(model, run_dir, meta, keep=2):
  """Exports `model` into `<run_dir>/exports/step_<N>` and points `<run_dir>/export` at it.

  Args:
    model: a built AutoEncoder.
    run_dir: the run directory.
    meta: JSON-able dict stored as acai_tf.json (must contain 'step').
    keep: how many complete exports to keep.

  Returns:
    The path of the new export directory.
  """
  exports = os.path.join(run_dir, rundir.EXPORTS)
  os.makedirs(exports, exist_ok=True)
  name = f'step_{int(meta["step"]):09d}'
  final = os.path.join(exports, name)
  tmp = os.path.join(exports, f'.tmp-{name}-{os.getpid()}')
  shutil.rmtree(tmp, ignore_errors=True)
  module = endpoints(model)
  try:
    tf.saved_model.save(module, tmp, signatures=module.serving)
    with open(os.path.join(tmp, META_FILE), 'w') as f:
      json.dump(meta, f, indent=2, sort_keys=True)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)  # e.g. a full disk: give the space back
    raise
  if os.path.exists(final):
    shutil.rmtree(final)
  os.rename(tmp, final)
  link_tmp = os.path.join(run_dir, f'.export-{os.getpid()}')
  if os.path.lexists(link_tmp):
    os.remove(link_tmp)
  os.symlink(os.path.join(rundir.EXPORTS, name), link_tmp)
  os.replace(link_tmp, os.path.join(run_dir, rundir.EXPORT_LINK))
  for old in sorted(d for d in os.listdir(exports) if d.startswith('step_'))[:-keep]:
    shutil.rmtree(os.path.join(exports, old), ignore_errors=True)
  return final


def load(path):
  """(tf module, meta dict) of an export made by training; a UsageError if it is not one."""
  meta = rundir.export_meta(path)
  return tf.saved_model.load(path), meta


def latents(module, images):
  """Flattened latents [N, d_z] of numpy `images` from an export's `encode`."""
  z = numpy_endpoint(module.encode)(images)
  return z.reshape(len(z), -1)


def check_dataset(meta, dataset, any_dataset=False, data_dir=None):
  """Refuses to score an export on a dataset it was not trained on (unless `any_dataset`)."""
  trained = meta.get('dataset')
  shape = tuple(meta.get('image_shape') or ())
  wanted = tuple(dataset_info(dataset, data_dir).image_shape)
  if shape and shape != wanted:
    raise UsageError(f'the export takes images of shape {shape} ({trained}); {dataset} has '
                     f'{wanted}. Pass --dataset={trained}.')
  if trained and trained != dataset and not any_dataset:
    raise UsageError(f'the export was trained on {trained}, not {dataset}. Pass '
                     f'--dataset={trained}, or --any_dataset to score it on {dataset} anyway.')
