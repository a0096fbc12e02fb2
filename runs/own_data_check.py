"""A real folder of images against the same images as built-in records (issue 16's check).

  python runs/own_data_check.py --mnist_dir=DIR [--work=own_data_check] [--kimg=64] [--seed=0]

DIR holds MNIST in the official idx-ubyte.gz format. The script writes every
digit (train and test) as a PNG into one folder per class, builds a dataset of
your own from that folder (`data_prep.build --source=folder`, timed), builds
mnist32 from the idx files, trains ACAI for --kimg on each with the same seed
and settings, and runs `acai_tf.eval.probe` on both exports. The folder dataset
is 32x32 by resizing the 28x28 digits and splits its test set by file-name
hash; mnist32 pads the digits to 32x32 and keeps the official test split.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_prep.readers import read_mnist


def write_pngs(mnist_dir, folder):
  """Every digit of the idx files as <folder>/<label>/<split>_<index>.png; returns the count."""
  count = 0
  for split, data in read_mnist(mnist_dir).items():
    for i, (image, label) in enumerate(data.items):
      os.makedirs(os.path.join(folder, str(label)), exist_ok=True)
      Image.fromarray(image[..., 0]).save(os.path.join(folder, str(label), f'{split}_{i:05d}.png'))
      count += 1
  return count


def run(*args):
  print('$ python ' + ' '.join(args), flush=True)
  subprocess.run([sys.executable, *args], check=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--mnist_dir', required=True)
  parser.add_argument('--work', default='own_data_check')
  parser.add_argument('--kimg', type=float, default=64)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  folder, data, runs = (os.path.join(args.work, d) for d in ('mnist_png', 'data', 'runs'))
  if not os.path.isdir(folder):
    print(f'wrote {write_pngs(args.mnist_dir, folder)} PNG files to {folder}', flush=True)
  start = time.perf_counter()
  run('-m', 'data_prep.build', '--dataset=mnist_folder', '--source=folder', f'--raw_dir={folder}',
      f'--data_dir={data}')
  print(f'built the folder dataset in {time.perf_counter() - start:.1f} s (process included)')
  run('-m', 'data_prep.build', '--dataset=mnist32', '--source=dir', f'--raw_dir={args.mnist_dir}',
      f'--data_dir={data}')
  results = {}
  for dataset in ('mnist_folder', 'mnist32'):
    # The same model on both: mnist32's paper setting (depth 16, 4x4x16 latent).
    run('-m', 'acai_tf.train', '--model=acai', f'--dataset={dataset}', f'--data_dir={data}',
        f'--train_dir={runs}', f'--total_kimg={args.kimg}', f'--report_kimg={args.kimg / 4}',
        f'--seed={args.seed}', '--depth=16', '--latent=16', '--latent_width=4')
    run_dir = os.path.join(runs, dataset, os.listdir(os.path.join(runs, dataset))[0])
    run('-m', 'acai_tf.eval.probe', f'--export={run_dir}/export', f'--dataset={dataset}',
        f'--data_dir={data}')
    with open(os.path.join(run_dir, f'eval_probe_{dataset}.json')) as f:
      results[dataset] = json.load(f)['accuracy']
  print(json.dumps(results))
  print(f'probe accuracy: folder {results["mnist_folder"]:.2f}% vs records '
        f'{results["mnist32"]:.2f}%: {results["mnist_folder"] - results["mnist32"]:+.2f} points')


if __name__ == '__main__':
  main()
