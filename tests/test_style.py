"""The code keeps its own style (ruff.toml: 2-space indents, 100 columns, pyflakes' checks)."""

import subprocess
import sys

from helpers import REPO


def test_ruff_finds_nothing():
  result = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--output-format=concise', '.'],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stdout + result.stderr
