"""The speed table of docs/performance.md, measured back to back on this machine.

  python runs/speed.py [--rounds=3] [--models=acai,baseline,denoising,dropout] [--out=speed.jsonl]
      [--conv_paths=auto|fast|plain]

Each round runs, one after the other (never two at once), `python -m acai_tf.bench
--model=M --dataset=lines32` for every model and `python runs/torch_acai.py` (the
same ACAI step in PyTorch; skipped if torch is missing). Machines like this one
drift by up to 2x over minutes, so the rounds alternate and the table gives the
median over rounds, with GFLOP/s from both of the bench's FLOP counts, the work
done and the nominal one (see acai_tf.bench; the PyTorch step gets ACAI's). It
ends with the matrix-multiply throughput of this machine (float32, 2048^3, numpy
and TensorFlow) to read the GFLOP/s against. Every result line is appended to
--out as JSON.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from acai_tf import autotune

HERE = os.path.dirname(os.path.abspath(__file__))


def last_json(args):
  env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'}
  out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                       cwd=os.path.dirname(HERE))
  if out.returncode:
    sys.exit(f'{" ".join(args)} failed:\n{out.stderr[-3000:]}')
  return json.loads(out.stdout.strip().splitlines()[-1])


def matmul_gflops(n=2048, repeats=5):
  """Best-of float32 n^3 matmul throughput of numpy and of TensorFlow (all threads)."""
  from acai_tf import cli  # pylint: disable=import-outside-toplevel
  cli.start_tensorflow()
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
  result = {}
  for name, matmul in (('numpy', lambda: a @ a),
                       ('tensorflow', lambda: tf.linalg.matmul(ta, ta).numpy())):
    ta = tf.constant(a)
    matmul()
    best = min(_seconds(matmul) for _ in range(repeats))
    result[name] = 2 * n**3 / best / 1e9
  return result


def _seconds(fn):
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--models', default='acai,baseline,denoising,dropout')
  parser.add_argument('--out', default='speed.jsonl')
  parser.add_argument('--conv_paths', default='auto', choices=('auto', 'fast', 'plain'),
                      help="the bench's --conv_paths")
  args = parser.parse_args()
  torch = importlib.util.find_spec('torch') is not None
  if not torch:
    print('torch is not installed: the PyTorch peer is skipped (pip install torch==2.13.0)')
  runs = {}
  with open(args.out, 'a') as out:
    for round_ in range(1, args.rounds + 1):
      jobs = [(m, ['-m', 'acai_tf.bench', f'--model={m}', '--dataset=lines32',
                   f'--conv_paths={args.conv_paths}']) for m in args.models.split(',')]
      if torch:
        jobs.insert(1, ('torch acai', [os.path.join(HERE, 'torch_acai.py')]))
      for name, job in jobs:
        result = last_json(job)
        runs.setdefault(name, []).append(result)
        out.write(json.dumps({'round': round_, 'name': name, **result}) + '\n')
        out.flush()
        print(f'round {round_}: {name:<12} end to end {result.get("end_to_end_img_s", "-")}, '
              f'train step {result["train_step_img_s"]} img/s on {result["cpu"]}', flush=True)

  def median(name, key):
    return statistics.median(r[key] for r in runs[name] if key in r)

  def mflop(name):  # work done and nominal per image; PyTorch runs ACAI's step
    result = runs['acai' if name == 'torch acai' else name][0]
    return result['mflop_per_image'], result['mflop_per_image_nominal']

  acai = median('acai', 'end_to_end_img_s')
  print(f'\nMedians over {args.rounds} alternating rounds (lines32, batch 64, float32, conv paths '
        f'{runs["acai"][0]["conv_paths"]}) on {autotune.cpu_line()}; '
        f'{runs["acai"][0]["kernels"]}:\n')
  print('| model | end to end img/s | train step img/s | GFLOP/s end to end: work done '
        '(nominal) | MFLOP/img: work done (nominal) | vs ACAI | peak RSS MB |')
  print('| --- | --- | --- | --- | --- | --- | --- |')
  for name in runs:
    end = median(name, 'end_to_end_img_s') if name != 'torch acai' else None
    step = median(name, 'train_step_img_s')
    speed = end or step
    done, nominal = mflop(name)
    print(f'| {name} | {end and f"{end:.0f}" or "n/a (fixed batch)"} | {step:.0f} | '
          f'{speed * done / 1e3:.0f} ({speed * nominal / 1e3:.0f}) | {done} ({nominal}) | '
          f'{speed / acai:.2f}x | {median(name, "peak_rss_mb"):.0f} |')
  if torch:
    print(f'\nacai_tf ACAI end to end / PyTorch ACAI train step: '
          f'{acai / median("torch acai", "train_step_img_s"):.2f}x')
  peak = matmul_gflops()
  print('matrix multiply, float32 2048^3, best of 5: ' +
        ', '.join(f'{k} {v:.0f} GFLOP/s' for k, v in peak.items()))
  with open(args.out, 'a') as out:
    out.write(json.dumps({'name': 'matmul_gflops', **peak}) + '\n')


if __name__ == '__main__':
  main()
