"""Trained models that ship with acai_tf: SavedModel exports and their manifest.

    from acai_tf import pretrained
    pretrained.names()                       # ['lines32_acai', 'lines32_baseline', ...]
    path = pretrained.export_dir('acai', 'lines32')
    obj = tf.saved_model.load(path)          # encode / decode / interpolate, as any export

Each export sits in this folder under `<dataset>_<model>`, as training wrote it
(`<run_dir>/export`, acai_tf.json included). `manifest.json` says, per export, the model, the
dataset, its training budget (kimg) and seed, the command that trained it, the command that
scores it, and its scores; tests/test_pretrained.py scores every export again and compares.
`runs/ship.py` adds an export to the folder and the manifest.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, 'manifest.json')


def manifest():
  """{name: entry} of the shipped exports ({} if none ships yet)."""
  if not os.path.exists(MANIFEST):
    return {}
  with open(MANIFEST) as f:
    return json.load(f)['exports']


def names():
  return sorted(manifest())


def name(model, dataset):
  return f'{dataset}_{model}'


def export_dir(model, dataset):
  """The folder of the shipped export of `model` on `dataset`, or None if none ships."""
  entry = manifest().get(name(model, dataset))
  return os.path.join(HERE, name(model, dataset)) if entry else None
