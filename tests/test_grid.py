"""The paper's grid as jobs (acai_tf.grid) and the runs/ script that lists them (SLURM:
test_slurm.py; Kubernetes: test_k8s.py)."""

import collections
import dataclasses
import sys

import pytest

from acai_tf import grid
from helpers import run_command

PAPER_MODELS = ('baseline', 'dropout', 'denoising', 'vae', 'aae', 'vqvae', 'acai')


def test_paper_grid_is_the_original_scripts_grid():
  settings = grid.Settings(data_dir='./data')
  # One build per raw source (celeba64 is not in the grid), under the training names.
  assert [job.command for job in grid.jobs('data', settings)] == [
      f'python -m data_prep.build --dataset={name} --data_dir=./data'
      for name in ('mnist32', 'svhn32', 'celeba32', 'cifar10')]
  train = grid.jobs('train', settings)
  assert len(train) == 63
  assert collections.Counter(job.argv[5].split('=')[1] for job in train) == {
      m: 9 for m in PAPER_MODELS}
  assert train[0].command == (
      'python -m acai_tf.train --dataset=lines32 --train_dir=./experiments --data_dir=./data '
      '--total_kimg=16384 --model=baseline --seed=0 --latent_width=2 --depth=16 --latent=16')
  assert len({job.run_dir for job in train}) == 63
  by_run = {(job.argv[5], job.dataset, job.argv[9]): job.argv for job in train}
  assert by_run[('--model=vqvae', 'lines32', '--latent=16')][7] == '--latent_width=4'
  assert by_run[('--model=acai', 'lines32', '--latent=16')][7] == '--latent_width=2'
  assert by_run[('--model=acai', 'svhn32', '--latent=2')][7:10] == (
      '--latent_width=4', '--depth=64', '--latent=2')
  dropouts = [job for job in train if '--model=dropout' in job.argv]
  assert [job.dataset for job in dropouts if 'dropout0.75' in job.run_dir] == ['cifar10'] * 2
  assert 'dropout0.75' in dropouts[-1].run_dir
  seeds = grid.jobs('train', grid.Settings(models=('acai',), datasets=('lines32',),
                                           seeds=(0, 1, 2)))
  assert [job.argv[6] for job in seeds] == ['--seed=0', '--seed=1', '--seed=2']
  assert len({job.run_dir for job in seeds}) == 3 and seeds[2].run_dir.endswith('_seed2')
  advai = grid.jobs('train', grid.Settings(models=('advai',), total_kimg=256))
  assert len(advai) == 9 and all('--train_int_kimg=32' in job.argv for job in advai)
  # data: 4 real datasets; eval: 7 lines + 3 x (pixels + 14 probes + 14 clusterings); report.
  counts = {stage: len(grid.jobs(stage, settings)) for stage in grid.STAGES}
  assert counts == {'data': 4, 'train': 63, 'eval': 94, 'report': 1}
  evals = grid.jobs('eval', settings)
  assert {job.argv[0] for job in evals if job.dataset == 'lines32'} == {'acai_tf.eval.lines'}
  assert not any(job.dataset == 'celeba32' for job in evals)
  exports = {job.argv[1] for job in evals if job.run_dir}
  assert exports == {f'--export={job.run_dir}/export' for job in train
                     if job.dataset != 'celeba32'}


def test_the_report_interval_is_the_runs_own_unless_the_grid_is_given_one():
  one = grid.Settings(models=('acai',), datasets=('lines32',), total_kimg=1024)
  assert not any('--report_kimg' in arg for arg in grid.jobs('train', one)[0].argv)
  given = dataclasses.replace(one, report_kimg=8)
  assert '--report_kimg=8' in grid.jobs('train', given)[0].argv


def test_flags_after_the_separator_replace_the_grids():
  settings = grid.Settings(models=('baseline', 'acai'), datasets=('mnist32', 'lines32'),
                           extra=('--latent=4', '--batch=8', '--noxla'))
  train = grid.jobs('train', settings)
  # mnist32's latent 2 and 16 became one run; the grid's order is kept whatever the flags say.
  assert [(job.argv[5], job.dataset) for job in train] == [
      ('--model=baseline', 'lines32'), ('--model=baseline', 'mnist32'),
      ('--model=acai', 'lines32'), ('--model=acai', 'mnist32')]
  assert all(job.argv.count('--latent=4') == 1 and job.argv[-1] == '--noxla' for job in train)
  assert all('_batch8_' in job.run_dir and '_latent4_' in job.run_dir for job in train)
  for bad in (dict(models=('acai', 'nosuch')), dict(datasets=()), dict(extra=('--model=acai',)),
              dict(extra=('depth=4',)), dict(extra=('--latent=four',)),
              dict(models=('baseline',), extra=('--dropout=0.9',))):
    with pytest.raises(ValueError):  # acai_tf.errors.UsageError: exit code 2
      grid.jobs('train', grid.Settings(**bad))


@pytest.mark.slow
def test_listing_is_deterministic_and_the_scripts_use_it():
  settings = grid.Settings(data_dir='./data')
  # Other processes, other hash seeds: the same jobs.
  dirs = run_command([sys.executable, '-m', 'acai_tf.grid', '--dirs'], env={'PYTHONHASHSEED': '1'})
  assert dirs.returncode == 0, dirs.stderr
  assert dirs.stdout.splitlines() == [job.run_dir for job in grid.jobs('train', settings)]
  dry = run_command(['bash', 'runs/paper.sh'], env=dict(DRY_RUN='1', DATA_DIR='./data',
                                                PYTHONHASHSEED='2'))
  assert dry.returncode == 0, dry.stderr
  assert dry.stdout.splitlines() == [job.command for stage in ('train', 'eval', 'report')
                                     for job in grid.jobs(stage, settings)]
  bad = run_command([sys.executable, '-m', 'acai_tf.grid', '--stage=report', '--run=1'])
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1] == (
      'error: --run=1: --stage=report has 1 jobs (0 to 0).')
