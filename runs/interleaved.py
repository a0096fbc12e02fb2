"""Train-step speed of several models built side by side in one process, timed in turn.

  python runs/interleaved.py [--models=acai,baseline,denoising,dropout] [--rounds=10]
      [--steps=32] [--batch=64] [--conv_paths=auto|fast|plain]

runs/speed.py starts one process per measurement, so on a shared machine whose
speed drifts over minutes its ratios carry that drift. Here every model times
one window of `--steps` steps on a fixed lines32 batch per round, in turn, and
the medians over rounds are compared: the drift hits every model alike.
"""

import argparse
import statistics

from acai_tf.config import CONV_PATHS, STEPS_PER_EXECUTION
from acai_tf.models import MODELS


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--models', default='acai,baseline,denoising,dropout')
  parser.add_argument('--rounds', type=int, default=10)
  parser.add_argument('--steps', type=int, default=32, help='steps per timed window')
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--conv_paths', default='auto', choices=CONV_PATHS,
                      help='layers of the networks (acai_tf.conv_layers.choose)')
  args = parser.parse_args()
  names = args.models.split(',')
  unknown = sorted(set(names) - set(MODELS))
  if unknown:
    parser.error(f'unknown models {unknown}; choose from {", ".join(sorted(MODELS))}')
  # TensorFlow once the arguments are known to be good: a mistyped name fails in a second.
  import tensorflow as tf

  from acai_tf import conv_layers
  from acai_tf.data import get_dataset
  from acai_tf.throughput import time_fit
  dataset = get_dataset('lines32')
  batch = tf.data.Dataset.from_tensors(next(iter(dataset.train(args.batch, seed=0)))).repeat()

  def make(name, conv_paths):
    return MODELS[name](MODELS[name].config_class(), dataset.image_shape, dataset.nclass,
                        conv_paths=conv_paths)

  # One choice for every model, made before any is built: each timed shape is timed once.
  paths = conv_layers.choose(args.conv_paths, lambda p: [make(name, p) for name in names])
  models = {}
  for name in names:
    model = make(name, paths)
    model.compile(jit_compile=False)
    model.enter_phase(len(model.phase_kimg()))  # the main (last) training phase
    model.set_steps_per_execution(STEPS_PER_EXECUTION)
    models[name] = model
  window = max(1, args.steps // STEPS_PER_EXECUTION)
  speeds = {name: [] for name in names}
  for round_ in range(1, args.rounds + 1):
    for name, model in models.items():
      speeds[name].append(time_fit(model, batch, 3, window, 1) * args.batch)
    print(f'round {round_}: ' + ', '.join(f'{n} {s[-1]:.0f}' for n, s in speeds.items()),
          flush=True)
  first = statistics.median(speeds[names[0]])
  print(f'\nMedians over {args.rounds} interleaved rounds (train step, lines32, batch '
        f'{args.batch}, float32, conv paths {paths.mode}):')
  for name in names:
    median = statistics.median(speeds[name])
    print(f'  {name:<10} {median:7.0f} img/s  {median / first:5.2f}x {names[0]}')


if __name__ == '__main__':
  main()
