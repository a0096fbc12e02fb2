"""The Kubernetes manifests (runs/k8s), checked when kubectl is installed (it renders them
offline)."""

import json
import shutil

import pytest

from helpers import run_command


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
  dry = run_command(['bash', 'runs/k8s/paper.sh'], env=dict(
      DRY_RUN='1', STAGES='train report', MODELS='baseline acai', DATASETS='lines32 mnist32',
      TRAIN_FLAGS='--batch=32', LIMIT='3', RUN_ID='test'))
  assert dry.returncode == 0, dry.stderr
  parsed = run_command(['kubectl', 'patch', '--local', '-f', '-', '-p', '{}', '-o', 'json'],
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
  pod = run_command(container['command'], cwd=tmp_path, env={**env, 'JOB_COMPLETION_INDEX': '0'})
  assert pod.returncode == 0, pod.stderr
  assert pod.stdout.strip() == 'No runs (directories with config.json) under ./experiments.'
