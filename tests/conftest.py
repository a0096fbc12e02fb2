"""Test set-up: quiet TF logs, and two logical CPUs so MirroredStrategy can be tested."""

import os
import subprocess
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(REPO, '..', 'shared', 'data')


def run_module(*args, cwd=None, timeout=600):
  """Runs `python -m <args>` in a fresh process; returns the CompletedProcess."""
  env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'}
  return subprocess.run([sys.executable, '-m', *args], cwd=cwd or REPO, env=env,
                        capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tiny_train_args(tmp_path):
  """Flags of a training run that takes seconds: depth 4, batch 8, 16-step reports."""
  return ['--dataset=lines32', f'--train_dir={tmp_path}', '--depth=4', '--latent=4', '--batch=8',
          '--report_kimg=0.125', '--total_kimg=0.25', '--eval_pairs=8', '--progress_seconds=1']
