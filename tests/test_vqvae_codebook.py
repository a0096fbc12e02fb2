"""docs/vqvae_codebook.py on a tiny VQ-VAE run: the figure, and the checkpoint's codebook norms,
whose never-picked entries must sit where the EMA update's closed form puts them."""

import re
import sys

from helpers import run_command, tiny_train


def test_codebook_figure_and_norms(tmp_path):
  run = tiny_train(tmp_path / 'runs', 'vqvae')
  script = [sys.executable, 'docs/vqvae_codebook.py', f'--run={run.dir}']

  drawn = run_command([*script, f'--out={tmp_path / "codebook.png"}'])
  assert drawn.returncode == 0, drawn.stderr
  assert (tmp_path / 'codebook.png').stat().st_size > 1000

  printed = run_command([*script, '--checkpoint'])
  assert printed.returncode == 0, printed.stderr
  number = r'([0-9.e+-]+)'
  never = re.search(rf'never picked: (\d+) entries, norm median {number} .*closed form {number}',
                    printed.stdout)
  picked = re.search(rf'picked at some step: (\d+) entries, norm median {number}', printed.stdout)
  assert never and picked, printed.stdout
  assert int(never[1]) + int(picked[1]) == 1 << 14  # the default codebook, every entry counted
  assert 0 < int(picked[1]) <= 32 * 8 * 10  # at most every vector of the 32 steps' batches
  # The iterated EMA state against its closed form (initial norm estimated from the initializer).
  assert abs(float(never[2]) / float(never[3]) - 1) < 0.05
  # What keeps them out of reach early on: ~1e5 times their initial norm, far above used codes.
  assert float(never[2]) > 100 * float(picked[2])
