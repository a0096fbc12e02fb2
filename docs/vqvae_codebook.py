"""Draws docs/vqvae_codebook.png: how much of its codebook a VQ-VAE run uses as it trains.

    python docs/vqvae_codebook.py --run=<run directory of a vqvae run> [--out=PNG]
    python docs/vqvae_codebook.py --run=<run directory> --checkpoint   # the codebook's norms

Reads the run's metrics.jsonl (codes_used and code_perplexity, logged by acai_tf.models.vqvae
as means over each report's steps) and draws them against kimg, with a mark where unused codes
were predicted to come back: the released EMA update starts its counts at 0 with no
zero-debias, so after the first step every unused entry's norm is about 1e4 (1e5 times its
initial one; encodings have norms of about 1) and shrinks by the decay (0.999) each step, back to
scale after ln(1e4) / -ln(0.999) steps (about 576 kimg at batch 64).

With --checkpoint it prints instead the norms of the newest checkpoint's codebook entries: those
never picked (EMA count exactly 0) against the norm the EMA update gives them in closed form, and
those picked at some step.
"""

import argparse
import json
import math
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from acai_tf import rundir


def codebook_norms(run, decay, epsilon):
  """Prints the norms of the codebook entries in a run's newest checkpoint, split into the entries
  never picked and the rest, with the closed-form norm of a never-picked entry."""
  import numpy as np
  import tensorflow as tf
  path = tf.train.latest_checkpoint(os.path.join(run, rundir.CHECKPOINTS))
  if path is None:
    raise SystemExit(f'error: {run} has no checkpoint')
  reader = tf.train.load_checkpoint(path)
  codebook, count, step = (reader.get_tensor(f'model/{name}/.ATTRIBUTES/VARIABLE_VALUE')
                           for name in ('codebook', 'ema_count', 'step'))
  step = int(step)
  entries, size = codebook.shape
  norm = np.linalg.norm(codebook, axis=1)
  never = count == 0
  # A never-picked entry's EMA sum is decay^step times its initial row (uniform on
  # +-sqrt(3 / entries) per value, so a norm of about sqrt(size / entries)), divided by its
  # smoothed count epsilon * n / (n + entries * epsilon), n the summed EMA counts.
  n = float(count.sum())
  closed_form = (math.sqrt(size / entries) * decay**step * (n + entries * epsilon)
                 / (epsilon * n))
  print(f'{path} (step {step}), {entries} entries of size {size}')
  if never.any():
    print(f'never picked: {never.sum()} entries, norm median {np.median(norm[never]):.3g} '
          f'(from {norm[never].min():.3g} to {norm[never].max():.3g}); '
          f'closed form {closed_form:.3g}')
  print(f'picked at some step: {(~never).sum()} entries, '
        f'norm median {np.median(norm[~never]):.3g}')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--run', required=True, help='A vqvae run directory (holds metrics.jsonl).')
  parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__),
                                                    'vqvae_codebook.png'))
  parser.add_argument('--checkpoint', action='store_true',
                      help="Print the newest checkpoint's codebook norms instead of drawing.")
  args = parser.parse_args()
  with open(os.path.join(args.run, rundir.CONFIG_FILE)) as f:
    config = json.load(f)
  if args.checkpoint:
    model = config['model_config']
    codebook_norms(args.run, model['decay'], model['epsilon'])
    return
  reports = [r for r in rundir.read_metrics(args.run) if 'codes_used' in r]
  if not reports:
    raise SystemExit(f'error: {args.run} has no reports with codes_used (a vqvae run made with '
                     'acai_tf >= this script).')
  model, batch = config['model_config'], config['train_config']['batch']
  decay, entries = model['decay'], 1 << model['z_log_size']
  kimg = [r['kimg'] for r in reports]
  per_batch = min(entries, batch * model['num_latents'])

  back = math.log(1e4) / -math.log(decay) * batch / 1024
  fig, ax = plt.subplots(figsize=(6.4, 3.8))
  ax.plot(kimg, [r['codes_used'] for r in reports], label='distinct codes per batch')
  ax.plot(kimg, [r['code_perplexity'] for r in reports], label='perplexity of their use')
  ax.axhline(per_batch, color='grey', lw=0.8, ls=':', label=f'most a batch can use ({per_batch})')
  ax.axvline(back, color='C3', lw=0.8, ls='--',
             label=f'predicted return of unused codes ({back:.0f} kimg)')
  ax.set(xlabel='kimg', ylabel='codes', yscale='log',
         title=f'VQ-VAE codebook use on lines32 ({entries} entries, batch {batch})')
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(args.out, dpi=110)
  print(f'wrote {args.out} ({len(reports)} reports, {kimg[-1]:g} kimg)')


if __name__ == '__main__':
  main()
