"""Draws docs/vqvae_codebook.png: how much of its codebook a VQ-VAE run uses as it trains.

    python docs/vqvae_codebook.py --run=<run directory of a vqvae run> [--out=PNG]

Reads the run's metrics.jsonl (codes_used and code_perplexity, logged by acai_tf.models.vqvae
as means over each report's steps) and draws them against kimg, with a mark where unused codes
were predicted to come back: the released EMA update starts its counts at 0 with no
zero-debias, so after the first step every unused entry's norm is about 1e4 times too large
and shrinks by the decay (0.999) each step, back to scale after ln(1e4) / -ln(0.999) steps
(about 576 kimg at batch 64).
"""

import argparse
import json
import math
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from acai_tf import rundir


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--run', required=True, help='A vqvae run directory (holds metrics.jsonl).')
  parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__),
                                                    'vqvae_codebook.png'))
  args = parser.parse_args()
  with open(os.path.join(args.run, rundir.CONFIG_FILE)) as f:
    config = json.load(f)
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
