"""Runs a grid one run at a time and keeps each finished run's records: the queue behind the
README's 1,024-kimg tables, which spans sessions on a small machine.

    python runs/run_queue.py --results=results/cpu1024 --train_dir=/work/cpu1024 \\
        --data_dir=/work/data --total_kimg=1024 --models=... --datasets=mnist32,lines32 \\
        --seeds=0,1,2 [--commit] [-- TRAINING FLAGS]

For each run of the grid (`acai_tf.grid`'s training jobs, in the order of --datasets, then seed
by seed, then the grid's order of models): train it (a run with a checkpoint resumes from it),
run its evaluations, copy its records (config.json, metrics.jsonl, eval_*.json) to
<results>/<dataset>/<run>/ and, with --commit, commit that folder (with --refresh, first run
a command, such as one that rewrites the README's tables, and commit the tracked files it
changed too, so that each commit keeps the tables and their records in step). A run whose
folder in <results> already holds every evaluation (with --commit, committed) is skipped, so
starting the queue again goes on where it stopped. A failing job is logged and its run left
for the next start; SIGTERM stops the running job (training saves a checkpoint first) and the
queue. The raw-pixel probes are not run: `python -m acai_tf.grid --stage=eval` lists them.
Training flags after `--` replace the grid's, as for `acai_tf.grid` (e.g. `-- --latent=16`:
one latent size). The queue says what it starts and ends on standard output; the jobs' own
output goes to <train_dir>/queue_jobs.log.
"""

import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import time

from acai_tf import grid
from acai_tf.errors import EXIT_RETRY  # a signal stopped the job (training saved a checkpoint)

RECORDS = ('config.json', 'metrics.jsonl')


def log(message):
  print(time.strftime('%Y-%m-%d %H:%M:%S'), message, flush=True)


def plan(settings):
  """[(training job, its evaluation jobs)] in the queue's order."""
  train = grid.train_jobs(settings)  # a stable sort keeps the grid's order of models
  train.sort(key=lambda job: (settings.datasets.index(job.dataset), job.seed))
  return [(job, [e for e in grid.eval_jobs(settings, [job]) if e.run_dir == job.run_dir])
          for job in train]


def kept(results, job, evals, commit=False):
  """The run's folder in `results`, and whether it holds the records of every evaluation (with
  `commit`, committed: a queue stopped between the copy and the commit keeps the run again)."""
  folder = os.path.join(results, job.dataset, os.path.basename(job.run_dir))
  present = glob.glob(os.path.join(folder, 'eval_*.json'))
  done = os.path.exists(os.path.join(folder, RECORDS[1])) and len(present) >= len(evals)
  if done and commit:
    done = not subprocess.run(['git', 'cat-file', '-e', f'HEAD:./{RECORDS[1]}'], cwd=folder,
                              capture_output=True).returncode
  return folder, done


def run(job, log_file):
  """Runs one job, its output appended to `log_file`; returns its exit code."""
  log(f'start {job.command}')
  with open(log_file, 'a') as out:
    process = subprocess.Popen([sys.executable, '-m', *job.argv], stdout=out,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    forward = lambda signum, _: process.send_signal(signum)  # noqa: E731
    previous = signal.signal(signal.SIGTERM, forward)
    try:
      code = process.wait()
    finally:
      signal.signal(signal.SIGTERM, previous)
  log(f'exit {code}: {job.argv[0]}')
  return code


def dirty(top):
  """The tracked files of the repository at `top` that differ from its last commit."""
  out = subprocess.run(['git', 'diff', 'HEAD', '--name-only'], cwd=top, check=True,
                       capture_output=True, text=True).stdout
  return set(out.split())


def keep(job, folder, commit, total_kimg, refresh=None):
  """Copies the run's records to `folder`; with `commit`, commits that folder, and with it the
  tracked files the shell command `refresh` changes (run at the top of the repository)."""
  os.makedirs(folder, exist_ok=True)
  names = [*RECORDS, *map(os.path.basename, glob.glob(os.path.join(job.run_dir, 'eval_*.json')))]
  for name in names:
    shutil.copy2(os.path.join(job.run_dir, name), os.path.join(folder, name))
  if commit:  # in the repository that holds `folder`, whatever the working directory
    top = subprocess.run(['git', 'rev-parse', '--show-toplevel'], cwd=folder, check=True,
                         capture_output=True, text=True).stdout.strip()
    refreshed = []
    if refresh:
      before = dirty(top)
      code = subprocess.run(refresh, shell=True, cwd=top, stdin=subprocess.DEVNULL).returncode
      if code:
        log(f'exit {code}: {refresh} (the records are committed without what it changed)')
      else:
        refreshed = sorted(dirty(top) - before)
      if before:  # never sweep someone's unfinished edits into the queue's commit
        log(f'left out of the commit, changed before the refresh: {", ".join(sorted(before))}')
    message = (f'{os.path.relpath(os.path.dirname(folder), top)}: {job.model} {job.dataset} '
               f'seed{job.seed} at {total_kimg:g} kimg (records and evaluations)')
    paths = [os.path.relpath(folder, top), *refreshed]
    subprocess.run(['git', 'add', '--', *paths], cwd=top, check=True)
    subprocess.run(['git', 'commit', '-q', '-m', message, '--', *paths], cwd=top, check=True)
  log(f'kept {folder}')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--results', required=True, help='where the records of finished runs go')
  parser.add_argument('--train_dir', required=True)
  parser.add_argument('--data_dir', default=grid.default_data_dir())
  parser.add_argument('--total_kimg', type=float, required=True)
  parser.add_argument('--report_kimg', type=float, help='unset: total_kimg / 256, the paper\'s')
  parser.add_argument('--models', default=','.join(grid.PAPER_MODELS))
  parser.add_argument('--datasets', default='lines32', help='also the order of the queue')
  parser.add_argument('--seeds', default='0')
  parser.add_argument('--n_init', type=int, default=1000)
  parser.add_argument('--commit', action='store_true', help='git-commit each finished run')
  parser.add_argument('--refresh', metavar='COMMAND', help='with --commit: a shell command run '
                      'at the top of the repository before each commit, e.g. one that redraws '
                      'tables from the records; the tracked files it changes join the commit')
  parser.add_argument('--dry_run', action='store_true', help='list what is left and stop')
  args, extra = parser.parse_known_args()
  settings = grid.Settings(models=tuple(args.models.split(',')),
                           datasets=tuple(args.datasets.split(',')),
                           train_dir=args.train_dir, data_dir=args.data_dir,
                           total_kimg=args.total_kimg, report_kimg=args.report_kimg,
                           n_init=args.n_init,
                           seeds=tuple(int(s) for s in args.seeds.split(',')),
                           extra=tuple(arg for arg in extra if arg != '--'))
  log_file = os.path.join(args.train_dir, 'queue_jobs.log')
  os.makedirs(args.train_dir, exist_ok=True)
  left = []
  for job, evals in plan(settings):
    folder, done = kept(args.results, job, evals, args.commit)
    if not done:
      left.append((job, evals, folder))
  log(f'{len(left)} runs left')
  for job, evals, folder in left:
    if args.dry_run:
      print(job.command)
      continue
    for step in (job, *evals):
      code = run(step, log_file)
      if code == EXIT_RETRY:
        return EXIT_RETRY
      if code:
        break
    else:
      keep(job, folder, args.commit, args.total_kimg, args.refresh)
  return 0


if __name__ == '__main__':
  sys.exit(main())
