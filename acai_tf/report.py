"""The paper's tables from a directory of runs: python -m acai_tf.report --train_dir=DIR

Every run directory below DIR (one holding config.json) contributes:
- Table 1 (lines32): per run, the median of its last 20 reported mean_distance
  and mean_smoothness (as the paper's notebook), then mean +/- std over runs
  of the same model and latent size (reruns; the population std, numpy's ddof=0);
- Table 2: the tandem probe's latent_accuracy, the same way; plus post-hoc
  probes from `eval_probe_*.json` (acai_tf.eval.probe), raw pixels included;
- Table 3: K-means accuracy from `eval_cluster_*.json` (acai_tf.eval.cluster).
Each cell shows our figure, the training budget in kimg and the number of runs,
and the paper's figure.
"""

import collections
import itertools
import math
import os

import numpy as np
from absl import flags

from acai_tf import cli, paper, rundir
from acai_tf.data import DATASETS
from acai_tf.models import CONFIGS

FLAGS = flags.FLAGS


def define_flags():
  """The program's flags (not defined on import: the notebooks import `report`, and training
  programs have a --train_dir of their own)."""
  flags.DEFINE_multi_string('train_dir', './experiments', 'Folder holding runs (searched '
                            'recursively); repeat it to put budgets side by side, e.g. '
                            '--train_dir=results/cpu128 --train_dir=results/cpu1024.')
  flags.DEFINE_integer('last', paper.LAST, 'Reports per run whose median is taken (the paper: '
                       f'{paper.LAST}).')
  flags.DEFINE_bool('per_run', False, 'Also print one row per run (its seed, its medians, its '
                    "final export's evaluations): what each table cell averages.")

MODEL_ORDER = tuple(CONFIGS)  # the registry's order


def display_name(model):
  return CONFIGS[model].display_name if model in CONFIGS else model


def _dataset_name(dataset):
  return DATASETS[dataset].display_name if dataset in DATASETS else dataset  # yours: its name

def find_runs(train_dir):
  """Every run below `train_dir` (a folder or a list of them): dicts with its config, reports
  and evaluation results."""
  runs = []
  for root in [train_dir] if isinstance(train_dir, str) else train_dir:
    for folder in rundir.find_runs(root):
      config = rundir.read_config(folder)
      if config is None:
        continue  # not a run record: read_config warned
      reports = sorted(rundir.read_metrics(folder), key=lambda r: r['step'])
      model_config = config['model_config']
      d_z = model_config['latent_width'] ** 2 * model_config['latent']
      runs.append({'dir': folder, 'model': config['model'],
                   'dataset': config['train_config']['dataset'], 'd_z': d_z,
                   'seed': config['train_config'].get('seed'),
                   'budget': config['train_config']['total_kimg'], 'reports': reports,
                   'kimg': reports[-1]['kimg'] if reports else 0.0,
                   'evals': rundir.read_evals(folder)})
  return runs


def find_pixel_probes(train_dir):
  """{dataset: [accuracy, ...]} of the raw-pixel probes (eval_probe_pixels_*.json) below
  `train_dir` (a folder or a list of them): one per record, as reruns of one measurement."""
  out = collections.defaultdict(list)
  for root in [train_dir] if isinstance(train_dir, str) else train_dir:
    for folder, _, _ in os.walk(root):
      for name, result in rundir.read_evals(folder, 'probe_pixels_').items():
        out[name[len('probe_pixels_'):]].append(result['accuracy'])
  return dict(out)


def final_reports(reports, last):
  """The reports whose median the paper takes: the last `last` (fewer if the run has fewer)."""
  return sorted(reports, key=lambda r: r['step'])[-last:]


def final_median(reports, key, last):
  values = [r[key] for r in final_reports(reports, last) if key in r]
  values = [v for v in values if v is not None and not math.isnan(v)]
  return float(np.median(values)) if values else float('nan')


def _kimg(value):
  return f'{value:g}'


class _Notes:
  """The footnotes of a table: windows of fewer than `last` reports, unfinished runs."""

  def __init__(self, last):
    self.last, self.lines = last, []

  def window(self, group):
    """'kimg A–B': what the medians of `group` (runs) cover; a note if a run has fewer than
    `last` reports."""
    picked = [final_reports(r['reports'], self.last) for r in group if r['reports']]
    if not picked:
      return 'no reports'
    short = sorted({len(p) for p in picked if len(p) < self.last})
    start, end = min(p[0]['kimg'] for p in picked), max(p[-1]['kimg'] for p in picked)
    text = f'kimg {_kimg(start)}–{_kimg(end)}'
    if short:
      counts = ', '.join(map(str, short)) + (' report' if short == [1] else ' reports')
      self.lines.append(f'⚠ {_describe(group)}: only {counts} (fewer than {self.last}), '
                        'so the median covers all of them: scale --report_kimg with the budget '
                        '(unset, it is total_kimg / 256).')
      text += f' ⚠ {counts}'
    return text

  def budget(self, group):
    """'1024 kimg', with how far the least trained run of `group` got if not all finished."""
    budget = min(r['budget'] for r in group)
    reached = min(r['kimg'] for r in group)
    if reached < budget:
      self.lines.append(f'{_describe(group)}: not finished (the least trained run is at '
                        f'{_kimg(reached)} of {_kimg(budget)} kimg).')
      return f'{_kimg(budget)} kimg (at {_kimg(reached)})'
    return f'{_kimg(budget)} kimg'

  def text(self):
    return ''.join(f'\n\n{line}' for line in dict.fromkeys(self.lines))


def _describe(group):
  run = group[0]
  return (f'{display_name(run["model"])} on {_dataset_name(run["dataset"])}, d_z {run["d_z"]}, '
          f'{_kimg(run["budget"])} kimg')


def _cell(values, scale=1.0, digits=2):
  values = [v * scale for v in values if not math.isnan(v)]
  if not values:
    return 'n/a'
  text = f'{np.mean(values):.{digits}f}'
  if len(values) > 1:
    text += f' ± {np.std(values):.{digits}f}'
  return text + f' (n={len(values)})'


def _group(runs, key):
  groups = collections.defaultdict(list)
  for run in runs:
    groups[key(run)].append(run)
  return groups


def model_order(model):
  return MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER)


def _models(runs):
  present = {r['model'] for r in runs}
  return [m for m in MODEL_ORDER if m in present] + sorted(present - set(MODEL_ORDER))


# Table 1's measures: (the reports' key, its name, its place in paper.LINES).
LINES_MEASURES = (('mean_distance', 'Mean Distance', 0), ('mean_smoothness', 'Smoothness', 2))


def _mean(values):
  """The mean of the values that are not NaN (NaN if none is)."""
  values = [v for v in values if not math.isnan(v)]
  return float(np.mean(values)) if values else math.nan


def order_line(title, ours, theirs, lower_is_better):
  """Whether the paper's ordering holds: our models in order of their mean (`ours`: {name:
  value}), the paper's order of the same models (`theirs`), and how many pairs agree. None
  with fewer than two models in both."""
  names = [n for n in ours if theirs.get(n) is not None and not math.isnan(ours[n])]
  if len(names) < 2:
    return None
  sign, relation = (1, ' < ') if lower_is_better else (-1, ' > ')
  ranked = lambda values: relation.join(sorted(names, key=lambda n: sign * values[n]))  # noqa: E731
  pairs = list(itertools.combinations(names, 2))
  agree = sum((ours[a] - ours[b]) * (theirs[a] - theirs[b]) > 0 for a, b in pairs)
  return (f'Order, {title}: ours {ranked(ours)}; the paper {ranked(theirs)}; {agree} of '
          f'{len(pairs)} pairs in the paper\'s order.')


PAPER_WINDOW = f'kimg {paper.WINDOW[0]}–{paper.WINDOW[1]}'
PAPER_ROW = f'paper, {paper.BUDGET_KIMG} kimg'


def table_lines(runs, last):
  runs = [r for r in runs if r['dataset'] == 'lines32' and r['reports']]
  if not runs:
    return ''
  notes = _Notes(last)
  lines = [f'### Table 1: lines32, lower is better (per run the median of its last {last} '
           'reports, then mean ± std over runs)', '',
           'Model | d_z | budget | Mean Distance (×10⁻³) | Smoothness | median over',
           '---|---|---|---|---|---']
  groups = _group(runs, lambda r: (r['model'], r['d_z']))
  means = collections.defaultdict(dict)  # {(budget, measure's name): {model: mean over runs}}
  for model, d_z in sorted(groups, key=lambda k: (model_order(k[0]), k)):
    by_budget = _group(groups[model, d_z], lambda r: r['budget'])
    for budget in sorted(by_budget):
      group = by_budget[budget]
      medians = {key: [final_median(r['reports'], key, last) for r in group]
                 for key, _, _ in LINES_MEASURES}
      for key, name, _ in LINES_MEASURES:
        means[budget, name][display_name(model)] = _mean(medians[key])
      distance = _cell(medians['mean_distance'], 1e3)
      smooth = _cell(medians['mean_smoothness'], 1, 3)
      lines.append(f'{display_name(model)} | {d_z} | {notes.budget(group)} | {distance} | '
                   f'{smooth} | {notes.window(group)}')
    figures = paper.LINES.get(model)
    if figures:
      lines.append(f'{display_name(model)} | {d_z} | {PAPER_ROW} | {figures[0]} ± {figures[1]} | '
                   f'{figures[2]} ± {figures[3]} | {PAPER_WINDOW}')
  orders = [order_line(f'{_kimg(budget)} kimg, {name}', means[budget, name],
                       {display_name(m): f[index] for m, f in paper.LINES.items()}, True)
            for budget in sorted({b for b, _ in means}) for _, name, index in LINES_MEASURES]
  return '\n'.join(lines) + ''.join(f'\n\n{o}' for o in orders if o) + notes.text()


def runs_tables(runs, last):
  """One row per run, the figures the tables above average: per lines32 run its medians and
  `acai_tf.eval.lines` on its final export; per run of another dataset its tandem probe's
  median, its post-hoc probe and its K-means accuracy."""
  def number(value, scale=1.0, digits=2):
    return 'n/a' if value is None or math.isnan(value) else f'{value * scale:.{digits}f}'

  def evaluated(run, name, key='accuracy'):
    return (run['evals'].get(name) or {}).get(key)

  def median(run, key):
    return final_median(run['reports'], key, last) if run['reports'] else None

  notes = _Notes(last)
  order = lambda r: (model_order(r['model']), r['d_z'], r['budget'], r['seed'] or 0)  # noqa: E731
  lines = sorted((r for r in runs if r['dataset'] == 'lines32'), key=order)
  others = sorted((r for r in runs if r['dataset'] != 'lines32'),
                  key=lambda r: (r['dataset'],) + order(r))
  parts = []
  if lines:
    parts.append('\n'.join(
        [f'### Per run, lines32 (the median of its last {last} reports; its final export scored '
         'by acai_tf.eval.lines)', '',
         'Model | d_z | budget | seed | Mean Distance (×10⁻³) | Smoothness | export: Mean '
         'Distance (×10⁻³) | export: Smoothness', '---|---|---|---|---|---|---|---'] +
        [f'{display_name(r["model"])} | {r["d_z"]} | {notes.budget([r])} | {r["seed"]} | '
         f'{number(median(r, "mean_distance"), 1e3)} | '
         f'{number(median(r, "mean_smoothness"), 1, 3)} | '
         f'{number(evaluated(r, "lines", "mean_distance"), 1e3)} | '
         f'{number(evaluated(r, "lines", "mean_smoothness"), 1, 3)}' for r in lines]))
  if others:
    parts.append('\n'.join(
        [f'### Per run, other datasets (the tandem probe: the median of its last {last} reports; '
         'post-hoc probe and K-means: its final export), test accuracy %', '',
         'Dataset | Model | d_z | budget | seed | tandem probe | post-hoc probe | K-means',
         '---|---|---|---|---|---|---|---'] +
        [f'{_dataset_name(r["dataset"])} | {display_name(r["model"])} | {r["d_z"]} | '
         f'{notes.budget([r])} | {r["seed"]} | {number(median(r, "latent_accuracy"))} | '
         f'{number(evaluated(r, "probe_" + r["dataset"]))} | '
         f'{number(evaluated(r, "cluster_" + r["dataset"]))}' for r in others]))
  return '\n\n'.join(parts) + notes.text()


def _dataset_table(title, runs, value, paper_table, last, pixels=None, window=False):
  runs = [r for r in runs if r['dataset'] != 'lines32']  # the paper's three and your own
  cells = {}
  for key, group in _group(runs, lambda r: (r['dataset'], r['d_z'], r['budget'])).items():
    for model, members in _group(group, lambda r: r['model']).items():
      values = [v for v in (value(r) for r in members) if v is not None]
      if values:
        cells[key + (model,)] = values
  if not cells:
    return ''
  notes = _Notes(last)
  models = [m for m in _models(runs) if any(k[3] == m for k in cells)]
  header = ['Dataset | d_z | budget | ' + ' | '.join(display_name(m) for m in models)
            + (' | Raw pixels' if pixels is not None else '') + (' | median over' if window
                                                                  else ''),
            '---|---|---' + '|---' * (len(models) + (pixels is not None) + window)]
  rows, orders = [], []
  for dataset, d_z in sorted({k[:2] for k in cells}):
    budgets = sorted({k[2] for k in cells if k[:2] == (dataset, d_z)})
    for budget in budgets:
      group = [r for r in runs if (r['dataset'], r['d_z'], r['budget']) == (dataset, d_z, budget)
               and (dataset, d_z, budget, r['model']) in cells]
      row = [_dataset_name(dataset), str(d_z), notes.budget(group)]
      row += [_cell(cells.get((dataset, d_z, budget, m), [])) for m in models]
      if pixels is not None:
        ours = pixels.get(dataset, [])  # budget-free: every row shows all its records
        row.append(f'{ours[0]:.2f}' if len(ours) == 1 else _cell(ours))
      if window:
        row.append(notes.window(group))
      rows.append(' | '.join(row))
      orders.append(order_line(
          f'{_dataset_name(dataset)}, d_z {d_z}, {_kimg(budget)} kimg',
          {display_name(m): _mean(cells[dataset, d_z, budget, m]) for m in models
           if (dataset, d_z, budget, m) in cells},
          {display_name(m): paper.table_value(paper_table, (dataset, d_z), m) for m in models},
          False))
    if (dataset, d_z) in paper_table:
      row = [_dataset_name(dataset), str(d_z), PAPER_ROW]
      row += [str(paper.table_value(paper_table, (dataset, d_z), m) or '') for m in models]
      if pixels is not None:
        row.append(str(paper.PIXELS.get(dataset, '')))
      if window:
        row.append(PAPER_WINDOW)
      rows.append(' | '.join(row))
  return ('\n'.join([f'### {title}', ''] + header + rows)
          + ''.join(f'\n\n{o}' for o in orders if o) + notes.text())


def report(train_dir, last=paper.LAST, per_run=False):
  """The Markdown tables for every run under `train_dir` (a folder or a list of folders): one
  row per training budget, beside the paper's; with `per_run`, then one row per run."""
  runs = find_runs(train_dir)
  if not runs:
    folders = [train_dir] if isinstance(train_dir, str) else train_dir
    return f'No runs (directories with config.json) under {", ".join(folders)}.'
  pixels = find_pixel_probes(train_dir)

  def evaluation(kind):
    def value(run):
      result = run['evals'].get(f'{kind}_{run["dataset"]}')
      return result['accuracy'] if result else None
    return value

  parts = [
      table_lines(runs, last),
      _dataset_table(f'Table 2: tandem single-layer probe, test accuracy % (per run the median '
                     f'of its last {last} reports, then mean ± std over runs)', runs,
                     lambda r: final_median(r['reports'], 'latent_accuracy', last)
                     if r['reports'] else None, paper.PROBE, last, pixels, window=True),
      _dataset_table('Table 2b: post-hoc linear probe on the final export\'s frozen latents '
                     '(acai_tf.eval.probe), test accuracy %; the paper\'s row is its tandem '
                     'probe', runs, evaluation('probe'), paper.PROBE, last, pixels),
      _dataset_table('Table 3: K-means clustering of the final export\'s latents '
                     '(acai_tf.eval.cluster), test accuracy %', runs, evaluation('cluster'),
                     paper.CLUSTER, last),
      runs_tables(runs, last) if per_run else '',
  ]
  return '\n\n'.join(p for p in parts if p)


def main(argv):
  del argv
  print(report(FLAGS.train_dir, FLAGS.last, FLAGS.per_run))


if __name__ == '__main__':
  define_flags()
  cli.run(main, tensorflow=False)
