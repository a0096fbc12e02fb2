"""Probe and clustering metrics, the eval programs on tiny exports, report, runs/ scripts."""

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from acai_tf import report
from acai_tf.metrics import representation as rep
from helpers import REPO, copy_run, run_build, run_module, run_program
from raw_files import make_mnist


def test_matched_accuracy_golden():
  labels = np.array([0, 0, 1, 1, 2, 2, 2])
  assert rep.matched_accuracy(labels, (labels + 1) % 3) == 1.0  # a permutation of the labels
  clusters = np.array([1, 1, 0, 2, 2, 2, 0])  # best map 1->0, 2->2, 0->1: 2 + 1 + 2 correct
  assert rep.matched_accuracy(labels, clusters) == pytest.approx(5 / 7)


def test_whitening_golden():
  rng = np.random.default_rng(0)
  train = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 3.0
  white, other = rep.whiten(train, train[:10], eps=0.0)
  np.testing.assert_allclose(white.mean(0), 0, atol=1e-9)
  np.testing.assert_allclose(white.T @ white, np.eye(6), atol=1e-6)  # orthonormal columns
  np.testing.assert_allclose(other, white[:10])


def test_probe_and_clusters_on_separable_data():
  # Full-rank whitening scales every direction to unit variance, so every dimension must
  # carry the clusters: 4 clusters at the corners of a tetrahedron in 3-D.
  rng = np.random.default_rng(1)
  centres = 10 * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
  labels = np.repeat(np.arange(4), 50)
  points = centres[labels] + rng.normal(size=(200, 3))
  assert rep.probe_accuracy(points[::2], labels[::2], points[1::2], labels[1::2]) == 1.0
  assert rep.cluster_accuracy(points[::2], points[1::2], labels[1::2], 4, n_init=5) == 1.0


def write_run(root, dataset, model, latent, latent_width, reports, evals=(), budget=None):
  folder = os.path.join(root, dataset, f'{model}_{latent}_{latent_width}_{len(reports)}')
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, 'config.json'), 'w') as f:
    json.dump({'model': model, 'model_config': {'latent': latent, 'latent_width': latent_width},
               'train_config': {'dataset': dataset, 'batch': 64, 'seed': 0,
                                'total_kimg': budget or reports[-1]['kimg']}}, f)
  with open(os.path.join(folder, 'metrics.jsonl'), 'w') as f:
    for r in reports:
      f.write(json.dumps(r) + '\n')
  for name, record in evals:
    with open(os.path.join(folder, f'eval_{name}.json'), 'w') as f:
      json.dump(record, f)


def test_report_on_synthetic_runs(tmp_path):
  def lines_reports(distances, smooth, offset=0):
    return [{'step': i + 1, 'kimg': 64.0 * (i + 1), 'mean_distance': d + offset,
             'mean_smoothness': s} for i, (d, s) in enumerate(zip(distances, smooth))]
  # 25 reports; the median of the last 20 ignores the first 5 (huge) values.
  distances = [1.0] * 5 + [0.001 * (i % 3 + 1) for i in range(20)]  # median of last 20 = 0.002
  write_run(tmp_path, 'lines32', 'acai', 16, 2, lines_reports(distances, [0.1] * 25))
  os.rename(*glob.glob(str(tmp_path / 'lines32' / '*')), str(tmp_path / 'lines32' / 'a'))
  write_run(tmp_path, 'lines32', 'acai', 16, 2, lines_reports(distances, [0.3] * 25, 0.002))
  write_run(tmp_path, 'mnist32', 'baseline', 16, 4,
            [{'step': 1, 'kimg': 32.0, 'latent_accuracy': 90.0}],
            [('probe_mnist32', {'accuracy': 91.5}), ('cluster_mnist32', {'accuracy': 55.25})])
  os.makedirs(tmp_path / 'mnist32' / 'px')
  with open(tmp_path / 'mnist32' / 'px' / 'eval_probe_pixels_mnist32.json', 'w') as f:
    json.dump({'dataset': 'mnist32', 'accuracy': 88.8}, f)
  text = report.report(str(tmp_path))
  # two reruns: medians 2e-3 and 4e-3 -> 3.00 +- 1.00 (x1e-3); smoothness 0.1 and 0.3.
  assert ('\nACAI | 64 | 1600 kimg | 3.00 ± 1.00 (n=2) | 0.200 ± 0.100 (n=2) | kimg 384–1600\n'
          'ACAI | 64 | paper, 16384 kimg | 0.24 ± 0.01 | 0.1 ± 0.01 | kimg 15168–16384\n') in text
  assert ('\nMNIST | 256 | 32 kimg | 90.00 (n=1) | 88.80 | kimg 32–32 ⚠ 1 report\n'
          'MNIST | 256 | paper, 16384 kimg | 93.94 | 92.31 | kimg 15168–16384') in text
  assert '\nMNIST | 256 | 32 kimg | 91.50 (n=1) | 88.80\n' in text
  assert '\nMNIST | 256 | 32 kimg | 55.25 (n=1)\nMNIST | 256 | paper, 16384 kimg | 53.7' in text
  assert '⚠ Baseline on MNIST, d_z 256, 32 kimg: only 1 report (fewer than 20)' in text


def test_report_pools_raw_pixel_probes_of_several_folders(tmp_path):
  # The raw-pixel probe does not depend on the budget: two folders' records are two reruns.
  for folder, accuracy in (('a', 88.0), ('b', 87.8)):
    write_run(tmp_path / folder, 'mnist32', 'baseline', 16, 4,
              [{'step': 1, 'kimg': 32.0, 'latent_accuracy': 90.0}])
    with open(tmp_path / folder / 'mnist32' / 'eval_probe_pixels_mnist32.json', 'w') as f:
      json.dump({'dataset': 'mnist32', 'accuracy': accuracy}, f)
  assert '\nMNIST | 256 | 32 kimg | 90.00 ± 0.00 (n=2) | 87.90 ± 0.10 (n=2) | kimg 32–32' in (
      report.report([str(tmp_path / 'a'), str(tmp_path / 'b')]))
  assert '| 90.00 (n=1) | 88.00 | kimg' in report.report(str(tmp_path / 'a'))


def test_report_per_run_rows_show_each_seed_and_its_evaluations(tmp_path):
  reports = [{'step': i + 1, 'kimg': 4.0 * (i + 1), 'mean_distance': 0.003,
              'mean_smoothness': 0.25, 'latent_accuracy': 91.0} for i in range(20)]
  write_run(tmp_path, 'lines32', 'acai', 16, 2, reports,
            [('lines', {'mean_distance': 0.0021, 'mean_smoothness': 0.125})])
  write_run(tmp_path, 'mnist32', 'baseline', 16, 4, reports[:10],
            [('probe_mnist32', {'accuracy': 96.5})], budget=80)
  text = report.report(str(tmp_path), per_run=True)
  assert '\nACAI | 64 | 80 kimg | 0 | 3.00 | 0.250 | 2.10 | 0.125\n' in text
  assert '\nMNIST | Baseline | 256 | 80 kimg (at 40) | 0 | 91.00 | 96.50 | n/a' in text
  assert 'Per run' not in report.report(str(tmp_path))


def test_report_says_whether_the_papers_order_holds(tmp_path):
  ours, paper = {'A': 1.0, 'B': 2.0, 'C': 3.0, 'N': float('nan')}, {'A': 1, 'B': 3, 'C': 2, 'D': 0}
  # (A, B) and (A, C) keep the paper's order, (B, C) does not; N has no figure, D is not ours.
  assert report.order_line('x', ours, paper, True) == (
      "Order, x: ours A < B < C; the paper A < C < B; 2 of 3 pairs in the paper's order.")
  assert report.order_line('x', ours, paper, False) == (
      "Order, x: ours C > B > A; the paper B > C > A; 2 of 3 pairs in the paper's order.")
  assert report.order_line('x', {'A': 1.0, 'E': 2.0}, paper, True) is None  # E: no figure
  # In the tables: ACAI's Mean Distance below the baseline's, as the paper's; its Smoothness
  # above, unlike the paper's.
  for model, distance, smoothness in (('baseline', 0.0075, 0.2), ('acai', 0.003, 0.3)):
    write_run(tmp_path, 'lines32', model, 16, 2, [
        {'step': i + 1, 'kimg': 4.0 * (i + 1), 'mean_distance': distance,
         'mean_smoothness': smoothness} for i in range(20)])
  text = report.report(str(tmp_path))
  assert ("\n\nOrder, 80 kimg, Mean Distance: ours ACAI < Baseline; the paper ACAI < Baseline; "
          "1 of 1 pairs in the paper's order.\n\nOrder, 80 kimg, Smoothness: ours ") in text
  assert "Smoothness: ours Baseline < ACAI; the paper ACAI < Baseline; 0 of 1 pairs" in text


def test_report_puts_budgets_side_by_side(tmp_path):
  # Two budgets of the baseline, from two folders; the longer one's 256 reports of 4 kimg
  # end at 1024, and a third run of it stopped at 512 kimg.
  def reports(count, every, distance):
    return [{'step': i + 1, 'kimg': every * (i + 1), 'mean_distance': distance,
             'mean_smoothness': 0.5} for i in range(count)]
  write_run(tmp_path / 'a', 'lines32', 'baseline', 16, 2, reports(32, 4, 0.02))
  write_run(tmp_path / 'b', 'lines32', 'baseline', 16, 2, reports(256, 4, 0.01))
  write_run(tmp_path / 'b', 'lines32', 'baseline', 16, 2, reports(128, 4, 0.005), budget=1024)
  text = report.report([str(tmp_path / 'a'), str(tmp_path / 'b')])
  assert ('\nBaseline | 64 | 128 kimg | 20.00 (n=1) | 0.500 (n=1) | kimg 52–128\n'
          'Baseline | 64 | 1024 kimg (at 512) | 7.50 ± 2.50 (n=2) | 0.500 ± 0.000 (n=2) | '
          'kimg 436–1024\n'
          'Baseline | 64 | paper, 16384 kimg | 6.88 ± 0.21 | 0.44 ± 0.04 | kimg 15168–16384'
          ) in text
  assert 'not finished (the least trained run is at 512 of 1024 kimg)' in text
  assert '⚠' not in text
  assert report.report(str(tmp_path / 'a')).count('\nBaseline | 64 |') == 2  # one budget


@pytest.mark.slow
def test_runs_scripts_cover_the_paper_grid():
  env = {**os.environ, 'DRY_RUN': '1', 'TRAIN_DIR': 'T', 'TOTAL_KIMG': '7'}
  lines = subprocess.run(['bash', 'runs/acai.sh'], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True).stdout.splitlines()
  assert len(lines) == 9 and all('--total_kimg=7' in line and '--train_dir=T' in line
                                 for line in lines)
  assert sum('--dataset=cifar10' in line and '--depth=64' in line for line in lines) == 2
  assert any('--dataset=lines32' in line and '--latent_width=2' in line for line in lines)
  vq = subprocess.run(['bash', 'runs/vqvae.sh'], cwd=REPO, env={**env, 'DATASETS': 'lines32'},
                      capture_output=True, text=True, check=True).stdout.splitlines()
  assert vq == [l for l in vq if '--latent_width=4' in l] and len(vq) == 1


@pytest.fixture(scope='module')
def tiny_runs(tmp_path_factory, tiny_run):
  """The session's tiny baseline run on lines32 and baseline + ACAI runs on a generated mnist32."""
  root = tmp_path_factory.mktemp('runs')
  copy_run(tiny_run, root / 'train')
  make_mnist(root / 'raw', train=64, test=40)
  built = run_build('--dataset=mnist32', f'--raw_dir={root / "raw"}', f'--data_dir={root / "data"}')
  assert built.returncode == 0, built.stderr
  common = [f'--train_dir={root / "train"}', f'--data_dir={root / "data"}', '--depth=4',
            '--latent=4', '--batch=16', '--total_kimg=0.0625', '--report_kimg=0.0625',
            '--eval_pairs=4', '--dataset=mnist32']
  for model in ('acai', 'baseline'):
    result = run_program('acai_tf.train', f'--model={model}', *common)
    assert result.returncode == 0, result.stderr[-2000:]
  return root


@pytest.mark.slow
def test_eval_programs_end_to_end(tiny_runs):
  """Each program in this process, but eval.cluster as `python -m` would start it."""
  train = tiny_runs / 'train'
  (lines_export,) = glob.glob(str(train / 'lines32' / '*' / 'export'))
  result = run_program('acai_tf.eval.lines', f'--export={lines_export}', '--pairs=8')
  assert result.returncode == 0, result.stderr[-2000:]
  with open(os.path.join(os.path.dirname(lines_export), 'eval_lines.json')) as f:
    scores = json.load(f)
  assert scores['pairs'] == 8 and scores['mean_distance'] > 0 and scores['model'] == 'baseline'

  data = f'--data_dir={tiny_runs / "data"}'
  for index, export in enumerate(glob.glob(str(train / 'mnist32' / '*' / 'export'))):
    projector = os.path.join(os.path.dirname(export), 'tensorboard', 'projector_config.pbtxt')
    os.remove(projector)  # written by training's final report; the probe writes it again
    probe = run_program('acai_tf.eval.probe', f'--export={export}', data, '--projector')
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert f'wrote {projector}' in probe.stdout and os.path.exists(projector)
    program = run_program if index else run_module  # one process of its own is enough
    cluster = program('acai_tf.eval.cluster', f'--export={export}', data, '--n_init=2')
    assert cluster.returncode == 0, cluster.stderr[-2000:]
    for name in ('probe_mnist32', 'cluster_mnist32'):
      with open(os.path.join(os.path.dirname(export), f'eval_{name}.json')) as f:
        accuracy = json.load(f)['accuracy']
      assert 0 <= accuracy <= 100
  elsewhere = tiny_runs / 'cluster.json'  # --output: the same record, where it is asked for
  again = run_program('acai_tf.eval.cluster', f'--export={export}', data, '--n_init=2',
                      f'--output={elsewhere}')
  assert again.returncode == 0 and json.loads(elsewhere.read_text())['accuracy'] == accuracy
  pixels = run_program('acai_tf.eval.probe', '--pixels', '--dataset=mnist32', data,
                       f'--output={train / "mnist32" / "eval_probe_pixels_mnist32.json"}')
  assert pixels.returncode == 0 and 'pixels probe test accuracy' in pixels.stdout
  wrong = run_program('acai_tf.eval.lines', f'--export={export}')
  assert wrong.returncode != 0 and 'not lines32' in wrong.stderr

  tables = run_program('acai_tf.report', f'--train_dir={train}')
  assert tables.returncode == 0
  for expected in ('Table 1', 'Baseline | 16 |', 'Table 2:', 'Table 2b', 'Table 3', 'MNIST | 64 |'):
    assert expected in tables.stdout, expected


def test_interpolation_figure_of_the_shipped_exports(tmp_path, monkeypatch):
  from PIL import Image
  sys.path.insert(0, os.path.join(REPO, 'docs'))
  import make_figure
  out = tmp_path / 'figure.png'
  monkeypatch.setattr(sys, 'argv', ['make_figure.py', '--pretrained', '--models=acai',
                                    f'--out={out}'])
  make_figure.main()
  assert Image.open(out).size == (960, 360)  # 12 x 0.75 in a row at 80 dpi: 3 ideal + 3 acai
  with pytest.raises(SystemExit, match='no vae export ships for lines32; shipped: '):
    make_figure.export_dir(argparse.Namespace(pretrained=True), 'vae')
  with pytest.raises(SystemExit, match='no acai run with an export under'):
    make_figure.export_dir(argparse.Namespace(pretrained=False, train_dir=str(tmp_path)), 'acai')


def test_learning_curves_average_seeds_and_skip_undefined_smoothness(tmp_path):
  sys.path.insert(0, os.path.join(REPO, 'docs'))
  import learning_curves
  for seed, (d, s) in enumerate([(0.01, float('nan')), (0.03, 0.2)]):
    reports = [{'step': i, 'kimg': 4.0 * i, 'mean_distance': d * i, 'mean_smoothness': s}
               for i in (1, 2)]
    write_run(tmp_path / str(seed), 'lines32', 'acai', 16, 2, reports)
  runs = report.find_runs(str(tmp_path))
  kimg, mean, low, high, n = learning_curves.curves(runs, 'lines32', 'mean_distance', 1e3)['acai']
  assert n == 2 and list(kimg) == [4, 8]
  np.testing.assert_allclose(mean, [20, 40])
  np.testing.assert_allclose(low, [10, 20])
  np.testing.assert_allclose(high, [30, 60])
  smooth = learning_curves.curves(runs, 'lines32', 'mean_smoothness', 1)['acai']
  np.testing.assert_allclose(smooth[1], [0.2, 0.2])  # the NaN seed is left out
  out = tmp_path / 'curves.png'
  subprocess.run([sys.executable, os.path.join(REPO, 'docs', 'learning_curves.py'),
                  f'--train_dir={tmp_path}', f'--out={out}'], check=True, capture_output=True)
  assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
