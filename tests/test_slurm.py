"""The SLURM template and driver (runs/slurm): for real on a private single-node cluster when
SLURM and munge are installed (Debian: slurm-wlm munge; `.ci/run` installs them) and the tests
run as root; elsewhere the template runs under bash with the variables SLURM sets."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from acai_tf import grid
from helpers import REPO
from helpers import run_command

TINY_TRAIN = ['--depth=4', '--latent=4', '--batch=8', '--eval_pairs=8', '--progress_seconds=1']


def tiny_settings(train_dir):
  return grid.Settings(models=('baseline', 'acai'), datasets=('lines32',),
                       train_dir=str(train_dir), total_kimg=0.125, report_kimg=0.125,
                       extra=tuple(TINY_TRAIN))


def tiny_grid_flags(train_dir):
  """The acai_tf.grid flags of `tiny_settings`."""
  return ['--models=baseline,acai', '--datasets=lines32', f'--train_dir={train_dir}',
          '--total_kimg=0.125', '--report_kimg=0.125', '--', *TINY_TRAIN]


def trained_dirs(train_dir):
  """The run directories training made (those holding config.json)."""
  return sorted(folder for folder, _, files in os.walk(train_dir) if 'config.json' in files)


def check_tiny_grid_outcome(train_dir, report):
  """The two tiny runs trained, exported and evaluated where the grid said; the report has both."""
  listed = [job.run_dir for job in grid.jobs('train', tiny_settings(train_dir))]
  assert sorted(listed) == trained_dirs(train_dir)
  for run_dir in listed:
    with open(os.path.join(run_dir, 'export', 'acai_tf.json')) as f:
      assert json.load(f)['step'] == 16  # 0.125 kimg at batch 8: one report
    with open(os.path.join(run_dir, 'eval_lines.json')) as f:
      scores = json.load(f)
    assert scores['program'] == 'lines' and scores['mean_distance'] > 0
  assert 'Table 1' in report
  assert '\nBaseline |' in report and '\nACAI |' in report


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
      task = run_command(['bash', 'runs/slurm/grid.sbatch', stage, *tiny_grid_flags(train_dir)],
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
  dry = run_command(['bash', 'runs/slurm/paper.sh'],
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
  submitted = run_command(['bash', 'runs/slurm/paper.sh'], env={
      **slurm_cluster, 'TRAIN_DIR': str(train_dir), 'MODELS': 'baseline acai',
      'DATASETS': 'lines32', 'TOTAL_KIMG': '0.125', 'REPORT_KIMG': '0.125',
      'TRAIN_FLAGS': ' '.join(TINY_TRAIN), 'LIMIT': '1', 'EVAL_LIMIT': '1', **settings})
  assert submitted.returncode == 0, submitted.stderr
  assert 'data: no jobs' in submitted.stderr  # lines32 needs no data step
  return {line.split(':')[0]: line.split()[-1] for line in submitted.stderr.splitlines()
          if ' tasks, job ' in line}


def wait_for_queue(slurm_cluster, seconds=600):
  """Waits until the cluster's queue is empty; returns what is left in it."""
  deadline = time.monotonic() + seconds
  while True:
    queue = run_command(['squeue', '-h', '-o', '%i %T %r'], env=slurm_cluster).stdout
    if not queue.strip() or time.monotonic() > deadline:
      return queue
    time.sleep(2)


def job_fields(job, slurm_cluster):
  shown = run_command(['scontrol', 'show', 'job', job], env=slurm_cluster).stdout.split()
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
