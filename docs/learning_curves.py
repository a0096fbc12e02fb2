"""Draws docs/learning_curves.png: the paper's metrics against training time, from run records.

    python docs/learning_curves.py --train_dir=results/cpu1024 [--out=PNG]

Reads every run's metrics.jsonl below --train_dir (acai_tf.report's runs) and draws, against
kimg, the lines32 Mean Distance and Smoothness of each model and the MNIST tandem probe's test
accuracy of each model: per model the mean over its runs (seeds) as a line and their range as a
band. The shaded span at the right is what the tables' medians cover: the last 20 reports.
Smoothness is undefined (NaN) at a report whose 16 frames decode to one image; such reports
are left out of the mean there, and its axis is cut at 1.
"""

import argparse
import collections
import os
import warnings

import matplotlib
import numpy as np

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from acai_tf import report

# (dataset, metric, scale, title, y scale, y limits): Smoothness is cut at 1 (early reports of
# a model that has not learnt lines reach 40).
PANELS = (('lines32', 'mean_distance', 1e3, 'Mean Distance (×10⁻³), lines32', 'log', None),
          ('lines32', 'mean_smoothness', 1, 'Smoothness, lines32 (cut at 1)', 'linear', (0, 1)),
          ('mnist32', 'latent_accuracy', 1, 'tandem probe test accuracy %, MNIST', 'linear',
           None))


def curves(runs, dataset, key, scale):
  """{model: (kimg, mean, low, high)} over the runs of `dataset`, at the kimg all runs of a
  model reported."""
  by_model = collections.defaultdict(list)
  for run in runs:
    if run['dataset'] == dataset and run['reports']:
      by_model[run['model']].append({r['kimg']: r.get(key, np.nan) for r in run['reports']})
  out = {}
  for model, series in by_model.items():
    kimg = sorted(set.intersection(*(set(s) for s in series)))
    values = np.array([[s[k] for k in kimg] for s in series], dtype=float) * scale
    with warnings.catch_warnings():  # reports where every run's value is NaN
      warnings.simplefilter('ignore', RuntimeWarning)
      out[model] = (np.array(kimg), np.nanmean(values, 0), np.nanmin(values, 0),
                    np.nanmax(values, 0), len(series))
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--train_dir', required=True, help='Folder of runs (searched recursively).')
  parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__),
                                                    'learning_curves.png'))
  parser.add_argument('--last', type=int, default=20, help='Reports the tables take the median '
                      'of (shaded).')
  args = parser.parse_args()
  runs = report.find_runs(args.train_dir)
  panels = [p for p in PANELS if any(r['dataset'] == p[0] and r['reports'] for r in runs)]
  if not panels:
    raise SystemExit(f'error: no lines32 or mnist32 runs with reports under {args.train_dir}.')
  fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
  for ax, (dataset, key, scale, title, yscale, ylim) in zip(axes[0], panels):
    drawn = curves(runs, dataset, key, scale)
    for model in sorted(drawn, key=report.model_order):
      kimg, mean, low, high, n = drawn[model]
      color = f'C{report.model_order(model) % 10}'  # a model keeps its colour in every panel
      line, = ax.plot(kimg, mean, lw=1.2, color=color,
                      label=f'{report.display_name(model)} (n={n})')
      if n > 1:
        ax.fill_between(kimg, low, high, color=line.get_color(), alpha=0.2, lw=0)
    reports = [r for r in runs if r['dataset'] == dataset and r['reports']]
    ends = sorted(r['reports'][-1]['kimg'] for r in reports)
    window = report.final_reports(reports[0]['reports'], args.last)
    ax.axvspan(window[0]['kimg'], ends[-1], color='grey', alpha=0.12, lw=0)
    ax.set(xlabel='kimg', title=title, yscale=yscale, ylim=ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle(f'{args.train_dir}: mean over seeds, band = their range; shaded: the last '
               f'{args.last} reports', fontsize=9)
  fig.tight_layout()
  fig.savefig(args.out, dpi=100)
  print(f'wrote {args.out} ({len(runs)} runs)')


if __name__ == '__main__':
  main()
