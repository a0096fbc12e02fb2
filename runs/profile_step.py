"""Where a training step's time goes, per TensorFlow op type (TensorFlow's profiler).

  python runs/profile_step.py [--model=acai] [--dataset=lines32] [--steps=32] [--top=12]

Builds the model as `acai_tf.bench` does, warms the train step up on a fixed
batch, records `--steps` steps with `tf.profiler.experimental` and prints the
ops' self time summed by op type, largest first, with the kernels' share of
the wall time. The op types name the library behind them: `_MklNative*` and
`_MklFused*` ops are oneDNN's, plain `Conv2D*` ones are Eigen's. Run it under
different settings to compare, e.g. `TF_ENABLE_ONEDNN_OPTS=0` (Eigen only) or
`ONEDNN_MAX_CPU_ISA=AVX2` (oneDNN as on a CPU without AVX-512). The trace is
kept under --logdir for TensorBoard's profile plugin.
"""

import argparse
import collections
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from acai_tf import cli, config


def op_times(logdir):
  """{op type: seconds} of every TF op event in the newest trace under `logdir`."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2
  path = max(glob.glob(os.path.join(logdir, '**', '*.xplane.pb'), recursive=True),
             key=os.path.getmtime)
  space = xplane_pb2.XSpace()
  with open(path, 'rb') as f:
    space.ParseFromString(f.read())
  total = collections.Counter()
  for plane in space.planes:
    for line in plane.lines:
      for event in line.events:
        name = plane.event_metadata[event.metadata_id].name
        if ':' in name and '/' in name:  # "scope/op:OpType" marks a TF op
          total[name.rsplit(':', 1)[1]] += event.duration_ps * 1e-12
  return total


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--model', default='acai')
  parser.add_argument('--dataset', default='lines32')
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--steps', type=int, default=32)
  parser.add_argument('--top', type=int, default=12)
  parser.add_argument('--conv_paths', default='auto', choices=config.CONV_PATHS)
  parser.add_argument('--logdir', default=None)
  args = parser.parse_args()
  cli.start_tensorflow()  # oneDNN as measured on this machine; no TensorFlow start-up lines
  import tensorflow as tf

  from acai_tf import autotune, conv_layers, trainer
  from acai_tf.data import get_dataset
  from acai_tf.models import MODELS
  dataset = get_dataset(args.dataset)
  model_config = trainer.model_config(args.model, args.dataset)

  def make(conv_paths):
    return MODELS[args.model](model_config, dataset.image_shape, dataset.nclass,
                              conv_paths=conv_paths)

  model = make(conv_layers.choose(args.conv_paths, make))
  model.compile()
  model.enter_phase(len(model.phase_kimg()))  # the main (last) training phase
  model.set_steps_per_execution(trainer.STEPS_PER_EXECUTION)
  fixed = tf.data.Dataset.from_tensors(next(iter(dataset.train(args.batch, seed=0)))).repeat()
  model.fit(fixed, steps_per_epoch=4 * trainer.STEPS_PER_EXECUTION, verbose=0)  # warm up
  logdir = args.logdir or tempfile.mkdtemp(prefix='acai_profile_')
  tf.profiler.experimental.start(logdir)
  start = time.perf_counter()
  model.fit(fixed, steps_per_epoch=args.steps, verbose=0)
  wall = time.perf_counter() - start
  tf.profiler.experimental.stop()
  times = op_times(logdir)
  busy = sum(times.values())
  print(f'{args.model} on {args.dataset}, batch {args.batch}, {args.steps} steps in {wall:.2f} s '
        f'({args.steps * args.batch / wall:.0f} img/s under the profiler); {autotune.summary()}')
  print(f'CPU: {autotune.cpu_line()}; '
        f'TF_ENABLE_ONEDNN_OPTS={os.environ.get("TF_ENABLE_ONEDNN_OPTS")}'
        f', ONEDNN_MAX_CPU_ISA={os.environ.get("ONEDNN_MAX_CPU_ISA", "(all)")}')
  print(f'op self time summed over threads: {busy:.2f} s ({busy / wall:.2f} x wall)\n')
  print('| op type | ms per step | share |')
  print('| --- | --- | --- |')
  for name, seconds in times.most_common(args.top):
    print(f'| {name} | {seconds / args.steps * 1e3:.2f} | {seconds / busy:.1%} |')
  print(f'\ntrace: {logdir}')


if __name__ == '__main__':
  main()
