"""runs/run_queue.py: the grid one run at a time, each finished run's records kept and
committed, and a second start going on where the first stopped."""

import json
import os
import subprocess
import sys

from acai_tf import grid
from helpers import REPO, run_command

sys.path.insert(0, os.path.join(REPO, 'runs'))
import run_queue

GIT = {'GIT_AUTHOR_NAME': 't', 'GIT_AUTHOR_EMAIL': 't@example.org', 'GIT_COMMITTER_NAME': 't',
       'GIT_COMMITTER_EMAIL': 't@example.org'}


def test_the_queue_goes_dataset_by_dataset_then_seed_by_seed_in_numeric_order():
  settings = grid.Settings(models=('acai', 'baseline', 'vae'), datasets=('mnist32', 'lines32'),
                           seeds=(10, 2), extra=('--latent=16',))
  plan = run_queue.plan(settings)
  order = [(job.dataset, job.seed, job.model, [e.argv[0] for e in evals]) for job, evals in plan]
  for job, _ in plan:  # what the queue's log and commits name is what the command trains
    assert {f'--dataset={job.dataset}', f'--seed={job.seed}', f'--model={job.model}'} <= set(
        job.argv)
  mnist = ['acai_tf.eval.probe', 'acai_tf.eval.cluster']
  lines = ['acai_tf.eval.lines']
  assert order == [
      ('mnist32', 2, 'baseline', mnist), ('mnist32', 2, 'vae', mnist),
      ('mnist32', 2, 'acai', mnist), ('mnist32', 10, 'baseline', mnist),
      ('mnist32', 10, 'vae', mnist), ('mnist32', 10, 'acai', mnist),
      ('lines32', 2, 'baseline', lines), ('lines32', 2, 'vae', lines),
      ('lines32', 2, 'acai', lines), ('lines32', 10, 'baseline', lines),
      ('lines32', 10, 'vae', lines), ('lines32', 10, 'acai', lines)]


def git(repo, *args):
  return subprocess.run(['git', *args], cwd=repo, check=True, capture_output=True, text=True,
                        env={**os.environ, **GIT}).stdout


# Stands in for docs/readme_results.py: a table drawn from the records, and an edit elsewhere.
REFRESH = ("python -c \"import glob; open('tables.md', 'w').write(str(sorted(glob.glob("
           "'results/*/*/metrics.jsonl')))); open('notes.md', 'a').write('more')\"")


def test_a_finished_run_is_kept_committed_and_not_run_again(tmp_path):
  repo = tmp_path / 'repo'
  repo.mkdir()
  git(repo, 'init', '-q')
  (repo / 'tables.md').write_text('none yet')
  (repo / 'notes.md').write_text('notes')
  git(repo, 'add', '.')
  git(repo, 'commit', '-q', '-m', 'start')
  (repo / 'notes.md').write_text('an unfinished edit')  # not the queue's to commit
  command = [sys.executable, os.path.join(REPO, 'runs', 'run_queue.py'),
             f'--results={repo / "results"}', f'--train_dir={tmp_path / "runs"}',
             '--total_kimg=0.25', '--report_kimg=0.125', '--models=baseline',
             '--datasets=lines32', '--commit', f'--refresh={REFRESH}', '--', '--depth=4',
             '--latent=4', '--batch=8', '--eval_pairs=8']
  first = run_command(command, env=GIT)
  assert first.returncode == 0, first.stdout + first.stderr
  assert '1 runs left' in first.stdout
  [kept] = (repo / 'results' / 'lines32').iterdir()
  assert kept.name.startswith('baseline_batch8_depth4_latent4_') and kept.name.endswith('seed0')
  assert sorted(p.name for p in kept.iterdir()) == ['config.json', 'eval_lines.json',
                                                     'metrics.jsonl']
  assert len((kept / 'metrics.jsonl').read_text().splitlines()) == 2  # two reports
  assert 'mean_distance' in json.loads((kept / 'eval_lines.json').read_text())
  subject, _, *names = git(repo, 'show', '--format=%s', '--name-only', 'HEAD').split('\n')
  assert subject == 'results/lines32: baseline lines32 seed0 at 0.25 kimg (records and evaluations)'
  assert sorted(name.rsplit('/', 1)[-1] for name in names if name) == [
      'config.json', 'eval_lines.json', 'metrics.jsonl', 'tables.md']
  assert git(repo, 'show', 'HEAD:tables.md') == str([f'results/lines32/{kept.name}/metrics.jsonl'])
  assert 'left out of the commit, changed before the refresh: notes.md' in first.stdout
  assert git(repo, 'diff', '--name-only').split() == ['notes.md']
  assert git(repo, 'show', 'HEAD:notes.md') == 'notes'

  again = run_command(command, env=GIT)
  assert again.returncode == 0, again.stdout + again.stderr
  assert '0 runs left' in again.stdout and 'start' not in again.stdout
  assert git(repo, 'rev-list', '--count', 'HEAD').strip() == '2'

  git(repo, 'reset', '-q', 'HEAD~1')  # as if the queue had stopped right after the copy:
  git(repo, 'checkout', '--', 'tables.md')  # records there but not committed, nor the tables
  late = run_command(command, env=GIT)
  assert late.returncode == 0, late.stdout + late.stderr
  assert '1 runs left' in late.stdout
  assert git(repo, 'rev-list', '--count', 'HEAD').strip() == '2'
  assert git(repo, 'show', 'HEAD:tables.md') == str([f'results/lines32/{kept.name}/metrics.jsonl'])


def test_a_failing_run_is_left_for_the_next_start(tmp_path):
  results = tmp_path / 'results'
  command = [sys.executable, os.path.join(REPO, 'runs', 'run_queue.py'), f'--results={results}',
             f'--train_dir={tmp_path / "runs"}', f'--data_dir={tmp_path / "no_data"}',
             '--total_kimg=0.25', '--models=baseline', '--datasets=mnist32', '--',
             '--latent=16']
  failed = run_command(command)
  assert failed.returncode == 0, failed.stdout + failed.stderr
  assert 'exit 2: acai_tf.train' in failed.stdout and 'kept' not in failed.stdout
  assert not results.exists()
  listed = run_command(command + ['--dry_run'])
  assert '1 runs left' in listed.stdout
