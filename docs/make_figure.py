"""Draws docs/lines_interpolations.png: models interpolating between the same lines.

    python docs/make_figure.py --train_dir=experiments [--models=baseline,acai]
    python docs/make_figure.py --pretrained --out=docs/lines_interpolations_1024.png

Reads each model's lines32 export under <train_dir>/lines32/ (the first run of
that model found there), or with --pretrained the export that ships with acai_tf.
"""

import argparse
import glob
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from acai_tf import images, pretrained
from acai_tf.line_renderer import draw_lines


def export_dir(args, model):
  if args.pretrained:
    found = pretrained.export_dir(model, 'lines32')
    if found is None:
      raise SystemExit(f'error: no {model} export ships for lines32; shipped: '
                       f'{", ".join(pretrained.names())}.')
    return found
  found = sorted(glob.glob(os.path.join(args.train_dir, 'lines32', f'{model}_*', 'export')))
  if not found:
    raise SystemExit(f'error: no {model} run with an export under {args.train_dir}/lines32.')
  return found[0]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--train_dir', default='experiments')
  parser.add_argument('--models', default='baseline,acai')
  parser.add_argument('--pretrained', action='store_true', help='Use the exports that ship in '
                      'acai_tf/pretrained instead of runs under --train_dir.')
  parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__),
                                                    'lines_interpolations.png'))
  args = parser.parse_args()
  starts = np.array([images.START, 0.3, 2.0])
  ends = np.array([images.END, 2.6, 4.6])  # each pair less than pi apart: one short way
  rows, labels, modules = [], [], {}
  for i, (a, b) in enumerate(zip(starts, ends)):
    rows.append(draw_lines(a + np.linspace(0, 1, images.N_FRAMES) * (b - a)))
    labels.append(f'ideal {i + 1}')
    for model in args.models.split(','):
      if model not in modules:
        modules[model] = tf.saved_model.load(export_dir(args, model))
      rows.append(images.export_interpolation(modules[model], draw_lines([a]),
                                              draw_lines([b]))[0])
      labels.append(f'{model} {i + 1}')
  fig = plt.figure(figsize=(12, 0.75 * len(rows)))
  images.show_rows(rows, labels=labels, ax=fig.gca())
  fig.tight_layout()
  fig.savefig(args.out, dpi=80)
  print('wrote', args.out)


if __name__ == '__main__':
  main()
