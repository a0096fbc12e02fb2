"""The paper's grid as jobs (acai_tf.grid), its shell wrappers, and the cluster templates.

The SLURM template runs for real on a private single-node cluster when SLURM and munge are
installed (Debian: slurmctld slurmd slurm-client munge) and the tests run as root; elsewhere it
runs under bash with the variables SLURM sets. The Kubernetes manifests are checked when
kubectl is installed (it renders them offline).
"""

import collections
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from acai_tf import grid
from helpers import REPO

TINY_TRAIN = ['--depth=4', '--latent=4', '--batch=8', '--eval_pairs=8', '--progress_seconds=1']
PAPER_MODELS = ('baseline', 'dropout', 'denoising', 'vae', 'aae', 'vqvae', 'acai')
# The environment settings of the runs/ scripts: tests give them explicitly.
SETTINGS = ('TRAIN_DIR', 'DATA_DIR', 'ACAI_DATA', 'RAW_DIR', 'TOTAL_KIMG', 'REPORT_KIMG',
            'DATASETS', 'MODELS', 'N_INIT', 'TRAIN_FLAGS', 'DRY_RUN', 'STAGES', 'LIMIT',
            'EVAL_LIMIT', 'LOG_DIR')


def run(command, env=None, timeout=900, cwd=REPO, **kwargs):
  """Runs a command (a list) with this repository's code and Python first, none of the caller's
  runs/ settings, and `env` on top."""
  base = {k: v for k, v in os.environ.items() if k not in SETTINGS}
  base.update(PYTHONPATH=REPO, PATH=os.path.dirname(sys.executable) + os.pathsep + base['PATH'])
  return subprocess.run(command, cwd=cwd, env={**base, **(env or {})}, capture_output=True,
                        text=True, timeout=timeout, **kwargs)


def tiny_settings(train_dir):
  return grid.Settings(models=('baseline', 'acai'), datasets=('lines32',),
                       train_dir=str(train_dir), total_kimg=0.25, report_kimg=0.125,
                       extra=tuple(TINY_TRAIN))


def tiny_grid_flags(train_dir):
  """The acai_tf.grid flags of `tiny_settings`."""
  return ['--models=baseline,acai', '--datasets=lines32', f'--train_dir={train_dir}',
          '--total_kimg=0.25', '--report_kimg=0.125', '--', *TINY_TRAIN]


def trained_dirs(train_dir):
  """The run directories training made (those holding config.json)."""
  return sorted(folder for folder, _, files in os.walk(train_dir) if 'config.json' in files)


def check_tiny_grid_outcome(train_dir, report):
  """The two tiny runs trained, exported and evaluated where the grid said; the report has both."""
  listed = [job.run_dir for job in grid.jobs('train', tiny_settings(train_dir))]
  assert sorted(listed) == trained_dirs(train_dir)
  for run_dir in listed:
    with open(os.path.join(run_dir, 'export', 'acai_tf.json')) as f:
      assert json.load(f)['step'] == 32  # 0.25 kimg at batch 8
    with open(os.path.join(run_dir, 'eval_lines.json')) as f:
      scores = json.load(f)
    assert scores['program'] == 'lines' and scores['mean_distance'] > 0
  assert 'Table 1' in report
  assert '\nBaseline |' in report and '\nACAI |' in report


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
  dirs = run([sys.executable, '-m', 'acai_tf.grid', '--dirs'], env={'PYTHONHASHSEED': '1'})
  assert dirs.returncode == 0, dirs.stderr
  assert dirs.stdout.splitlines() == [job.run_dir for job in grid.jobs('train', settings)]
  dry = run(['bash', 'runs/paper.sh'], env=dict(DRY_RUN='1', DATA_DIR='./data',
                                                PYTHONHASHSEED='2'))
  assert dry.returncode == 0, dry.stderr
  assert dry.stdout.splitlines() == [job.command for stage in ('train', 'eval', 'report')
                                     for job in grid.jobs(stage, settings)]
  bad = run([sys.executable, '-m', 'acai_tf.grid', '--stage=report', '--run=1'])
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1] == (
      'error: --run=1: --stage=report has 1 jobs (0 to 0).')


@pytest.mark.slow
def test_slurm_template_runs_a_tiny_grid_under_bash(tmp_path):
  """runs/slurm/grid.sbatch run as SLURM runs it: two trainings, their evaluation, the report.

  Where SLURM can run, test_slurm_cluster_runs_a_tiny_grid runs the same on a real cluster.
  """
  if not slurm_unavailable():
    pytest.skip('a real SLURM cluster runs the template (test_slurm_cluster_runs_a_tiny_grid)')
  train_dir = tmp_path / 'runs'
  settings = tiny_settings(train_dir)
  outputs = {}
  for stage in ('train', 'eval', 'report'):
    jobs = grid.jobs(stage, settings)
    assert len(jobs) == {'train': 2, 'eval': 2, 'report': 1}[stage]
    for index in range(len(jobs)):  # one task after the other: never two trainings at once
      task = run(['bash', 'runs/slurm/grid.sbatch', stage, *tiny_grid_flags(train_dir)],
                 env={'SLURM_ARRAY_JOB_ID': '7', 'SLURM_ARRAY_TASK_ID': str(index),
                      'SLURM_JOB_ID': str(8 + index), 'SLURM_RESTART_COUNT': '0'})
      assert task.returncode == 0, task.stdout + task.stderr
      assert f'job {index} of {len(jobs)} ({stage}): {jobs[index].command}' in task.stderr
      outputs[stage, index] = task.stdout
  check_tiny_grid_outcome(train_dir, outputs['report', 0])


def fake_command(folder, name, script):
  path = os.path.join(folder, name)
  with open(path, 'w') as f:
    f.write('#!/usr/bin/env bash\n' + script)
  os.chmod(path, 0o755)


@pytest.mark.parametrize('sent, exit_code, restarts, requeued', [
    ('usr1', 75, 0, True), ('usr1', 143, 3, True), ('usr1', 75, 20, False), ('usr1', 3, 0, False),
    ('usr1', 0, 0, False), ('group', 75, 0, False), ('group', 4, 0, False)])
def test_slurm_template_requeues_tasks_stopped_for_the_time_limit(tmp_path, sent, exit_code,
                                                                 restarts, requeued):
  """One SIGTERM reaches the job; a 75 (saved, resumable) after the time-limit warning requeues
  the task; 2/3/4, and a 75 after scancel, do not.

  'usr1' is the time-limit warning (--signal=B:USR1@300, to the script only); 'group' is what
  scancel does (SIGTERM to every process of the job).
  """
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  log = tmp_path / 'log'
  fake_command(bin_dir, 'python', f'echo "python $*" >> {log}\n'
               f'trap \'echo TERM >> {log}; kill $!; exit {exit_code}\' TERM\n'
               f'sleep 30 &\necho ready >> {log}\nwait\n')
  fake_command(bin_dir, 'scontrol', f'echo "scontrol $*" >> {log}\n')
  env = {**os.environ, 'PATH': f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
         'SLURM_ARRAY_JOB_ID': '7', 'SLURM_ARRAY_TASK_ID': '1', 'SLURM_JOB_ID': '9',
         'SLURM_RESTART_COUNT': str(restarts)}
  task = subprocess.Popen(['bash', os.path.join(REPO, 'runs/slurm/grid.sbatch'), 'train',
                           '--models=acai'], env=env, start_new_session=True)
  for _ in range(200):
    if log.exists() and 'ready' in log.read_text():
      break
    time.sleep(0.05)
  if sent == 'usr1':
    task.send_signal(signal.SIGUSR1)
  else:
    os.killpg(task.pid, signal.SIGTERM)
  assert task.wait(timeout=20) == exit_code
  lines = log.read_text().splitlines()
  assert lines[:3] == ['python -m acai_tf.grid --stage=train --run=1 --models=acai', 'ready',
                       'TERM']
  assert lines[3:] == (['scontrol requeue 7_1'] if requeued else [])


@pytest.mark.slow
def test_slurm_driver_chains_the_stages(tmp_path):
  dry = run(['bash', 'runs/slurm/paper.sh'],
            env=dict(DRY_RUN='1', TRAIN_DIR=str(tmp_path), DATASETS='lines32 mnist32',
                          MODELS='baseline acai', LIMIT='3', TRAIN_FLAGS='--batch=32'))
  assert dry.returncode == 0, dry.stderr
  commands = [line.split() for line in dry.stdout.splitlines()]
  assert [c[c.index(os.path.join(REPO, 'runs/slurm/grid.sbatch')) + 1] for c in commands] == [
      'data', 'train', 'eval', 'report']
  # data: mnist; train: 2 models x (1 + 2); eval: 2 lines + mnist's pixels, 4 probes, 4 clusterings.
  arrays = [next(a for a in c if a.startswith('--array=')) for c in commands]
  assert arrays == ['--array=0-0%1', '--array=0-5%3', '--array=0-10%4', '--array=0-0%1']
  dependencies = [next((a for a in c if a.startswith('--dependency=')), None) for c in commands]
  assert dependencies == [None, '--dependency=afterok:<data>', '--dependency=afterok:<train>',
                          '--dependency=afterok:<eval>']
  assert ['--kill-on-invalid-dep=yes' in c for c in commands] == [False, True, True, True]
  assert all(c[-2:] == ['--', '--batch=32'] for c in commands)
  assert f'--output={tmp_path}/report.md' in commands[-1]
  assert not os.listdir(tmp_path)  # a dry run writes nothing


# ---- A real single-node SLURM cluster -----------------------------------------------------------

SLURM_PROGRAMS = ('sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo', 'slurmctld', 'slurmd',
                  'munged')


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def slurm_unavailable():
  """Why a private SLURM cluster cannot run here, or None."""
  missing = [p for p in SLURM_PROGRAMS if not shutil.which(p, path=os.environ['PATH'] +
                                                           ':/usr/sbin:/sbin')]
  if missing:
    return (f'SLURM is not installed (no {", ".join(missing)}; on Debian: apt-get install '
            'slurmctld slurmd slurm-client munge)')
  if os.geteuid() != 0:
    return 'slurmd must run as root to start jobs'
  return None


@pytest.fixture
def slurm_cluster():
  """A private single-node SLURM cluster (own ports, own munge key); yields its environment."""
  reason = slurm_unavailable()
  if reason:
    pytest.skip(reason)
  folder = tempfile.mkdtemp(prefix='acai-slurm-')  # short: munge's socket path has a limit
  for sub in ('munge', 'state', 'spool', 'log'):
    os.makedirs(os.path.join(folder, sub), mode=0o700)
  with open(os.path.join(folder, 'munge', 'key'), 'wb') as f:
    f.write(os.urandom(1024))
  os.chmod(os.path.join(folder, 'munge', 'key'), 0o600)
  host = socket.gethostname()
  config = f"""ClusterName=acaitest
SlurmctldHost={host}
AuthType=auth/munge
AuthInfo=socket={folder}/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
  with open(os.path.join(folder, 'slurm.conf'), 'w') as f:
    f.write(config)
  env = {**os.environ, 'SLURM_CONF': os.path.join(folder, 'slurm.conf'),
         'PATH': f'{os.environ["PATH"]}:/usr/sbin:/sbin'}
  daemons = []
  try:
    for command in (['munged', '--foreground', '--force', f'--socket={folder}/munge/socket',
                     f'--key-file={folder}/munge/key', f'--pid-file={folder}/munge/pid',
                     f'--log-file={folder}/munge/log', f'--seed-file={folder}/munge/seed'],
                    ['slurmctld', '-D', '-i'], ['slurmd', '-D']):
      daemons.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT))
      time.sleep(0.5)
    for _ in range(60):
      state = subprocess.run(['sinfo', '-h', '-o', '%T'], env=env, capture_output=True,
                             text=True).stdout.strip()
      if state == 'idle':
        break
      time.sleep(0.5)
    else:
      pytest.fail(f'the test cluster did not come up (node state {state!r}); logs in {folder}/log')
    yield {'SLURM_CONF': env['SLURM_CONF']}
  finally:
    queued = subprocess.run(['squeue', '-h', '-o', '%A'], env=env, capture_output=True,
                            text=True).stdout.split()
    if queued:
      subprocess.run(['scancel', *set(queued)], env=env, capture_output=True)
    for daemon in reversed(daemons):
      daemon.terminate()
      try:
        daemon.wait(timeout=20)
      except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    shutil.rmtree(folder, ignore_errors=True)


def submit_tiny_grid(train_dir, slurm_cluster, **settings):
  """runs/slurm/paper.sh for the tiny grid; returns {stage: job id} of what it submitted."""
  submitted = run(['bash', 'runs/slurm/paper.sh'], env={
      **slurm_cluster, 'TRAIN_DIR': str(train_dir), 'MODELS': 'baseline acai',
      'DATASETS': 'lines32', 'TOTAL_KIMG': '0.25', 'REPORT_KIMG': '0.125',
      'TRAIN_FLAGS': ' '.join(TINY_TRAIN), 'LIMIT': '1', 'EVAL_LIMIT': '1', **settings})
  assert submitted.returncode == 0, submitted.stderr
  assert 'data: no jobs' in submitted.stderr  # lines32 needs no data step
  return {line.split(':')[0]: line.split()[-1] for line in submitted.stderr.splitlines()
          if ' tasks, job ' in line}


def wait_for_queue(slurm_cluster, seconds=600):
  """Waits until the cluster's queue is empty; returns what is left in it."""
  deadline = time.monotonic() + seconds
  while True:
    queue = run(['squeue', '-h', '-o', '%i %T %r'], env=slurm_cluster).stdout
    if not queue.strip() or time.monotonic() > deadline:
      return queue
    time.sleep(2)


def job_fields(job, slurm_cluster):
  shown = run(['scontrol', 'show', 'job', job], env=slurm_cluster).stdout.split()
  return dict(field.split('=', 1) for field in shown if '=' in field)


@pytest.mark.slow
def test_slurm_cluster_runs_a_tiny_grid(tmp_path, slurm_cluster):
  """runs/slurm/paper.sh on a real cluster: training array, evaluation array, report."""
  train_dir = tmp_path / 'runs'
  jobs = submit_tiny_grid(train_dir, slurm_cluster)
  assert list(jobs) == ['train', 'eval', 'report']
  queue = wait_for_queue(slurm_cluster)
  logs = {name: (train_dir / 'slurm' / name).read_text()
          for name in os.listdir(train_dir / 'slurm')}
  assert not queue.strip(), f'{queue}\n{logs}'
  assert sorted(name.split('-')[1] for name in logs) == ['eval', 'eval', 'report', 'train',
                                                         'train']
  check_tiny_grid_outcome(train_dir, (train_dir / 'report.md').read_text())


@pytest.mark.slow
def test_slurm_cluster_stops_the_grid_at_bad_settings(tmp_path, slurm_cluster):
  """A training task exits 2 (batch 1 is refused): it fails, and the later stages are cancelled."""
  jobs = submit_tiny_grid(tmp_path / 'runs', slurm_cluster, MODELS='baseline',
                          TRAIN_FLAGS=' '.join(TINY_TRAIN + ['--batch=1']))
  queue = wait_for_queue(slurm_cluster)
  assert not queue.strip(), queue
  train = job_fields(f'{jobs["train"]}_0', slurm_cluster)
  assert (train['JobState'], train['ExitCode'], train['Restarts']) == ('FAILED', '2:0', '0')
  for stage in ('eval', 'report'):
    assert job_fields(jobs[stage], slurm_cluster)['JobState'] == 'CANCELLED'


# ---- Kubernetes -------------------------------------------------------------------------------

def json_objects(text):
  decoder, objects, text = json.JSONDecoder(), [], text.strip()
  while text:
    value, end = decoder.raw_decode(text)
    objects.append(value)
    text = text[end:].strip()
  return objects


@pytest.mark.skipif(not shutil.which('kubectl'), reason='kubectl is not installed (it renders '
                    'the manifests, offline)')
@pytest.mark.slow
def test_k8s_manifests_hold_the_grid(tmp_path):
  dry = run(['bash', 'runs/k8s/paper.sh'], env=dict(
      DRY_RUN='1', STAGES='train report', MODELS='baseline acai', DATASETS='lines32 mnist32',
      TRAIN_FLAGS='--batch=32', LIMIT='3', RUN_ID='test'))
  assert dry.returncode == 0, dry.stderr
  parsed = run(['kubectl', 'patch', '--local', '-f', '-', '-p', '{}', '-o', 'json'],
               input=dry.stdout)
  assert parsed.returncode == 0, parsed.stderr
  train, report = json_objects(parsed.stdout)
  assert [train['metadata']['name'], report['metadata']['name']] == ['acai-test-train',
                                                                   'acai-test-report']
  assert (train['spec']['completions'], train['spec']['parallelism']) == (6, 3)
  assert (report['spec']['completions'], report['spec']['parallelism']) == (1, 1)
  rules = {tuple((r.get('onExitCodes') or {}).get('values', ['disruption'])): r['action']
           for r in train['spec']['podFailurePolicy']['rules']}
  assert rules == {(75,): 'Ignore', ('disruption',): 'Ignore', (2, 3, 4): 'FailIndex'}
  container = report['spec']['template']['spec']['containers'][0]
  assert train['spec']['template']['spec']['containers'][0]['resources']['limits'] == {
      'nvidia.com/gpu': '1'}
  assert not container['resources'].get('limits')
  env = {e['name']: e['value'] for e in container['env']}
  assert env['GRID_STAGE'] == 'report' and env['GRID_FLAGS'].endswith(' -- --batch=32')
  # The pod's command, run here as Kubernetes runs it (workingDir = the shared volume).
  pod = run(container['command'], cwd=tmp_path, env={**env, 'JOB_COMPLETION_INDEX': '0'})
  assert pod.returncode == 0, pod.stderr
  assert pod.stdout.strip() == 'No runs (directories with config.json) under ./experiments.'
