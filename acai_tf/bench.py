"""Training throughput: python -m acai_tf.bench --model=acai --dataset=lines32

  python -m acai_tf.bench --model=M --dataset=D [--batch=64] [--steps=50]
      [--xla | --no-xla] [--precision=float32|mixed_float16|mixed_bfloat16]
      [--steps_per_execution=16] [--conv_paths=auto|fast|plain] [--onednn=auto|on|off]

Prints the images/s of the train step alone, the input pipeline alone and both end to end, the
GFLOP/s they imply (work done and nominal), and peak memory, as acai_tf.throughput measures
them. The last line printed is one JSON object for scripts.
"""

import json

from absl import app, flags

from acai_tf import cli

FLAGS = flags.FLAGS


def define_flags():
  """The bench's flags, and a training run's (cli.define_training_flags)."""
  cli.define_training_flags()
  flags.DEFINE_integer('warmup', 20, 'Untimed steps first (tracing, caches).')
  flags.DEFINE_integer('steps', 50, 'Steps per timed window.')
  flags.DEFINE_integer('windows', 3, 'Timed windows; the median is reported.')


def main(argv):
  from acai_tf import throughput  # TensorFlow's modules: cli.run started it
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if min(FLAGS.warmup, FLAGS.steps, FLAGS.windows, FLAGS.batch, FLAGS.steps_per_execution) < 1:
    raise app.UsageError('--warmup, --steps, --windows, --batch and --steps_per_execution must '
                         'be >= 1.')
  model_config = cli.model_config_from_flags(FLAGS.model, FLAGS.dataset, FLAGS.data_dir)
  result = throughput.benchmark(FLAGS.model, model_config, FLAGS.dataset, FLAGS.batch, FLAGS.xla,
                                FLAGS.precision, FLAGS.warmup, FLAGS.steps, FLAGS.windows,
                                FLAGS.data_dir, FLAGS.steps_per_execution,
                                conv_paths=FLAGS.conv_paths)
  print(json.dumps(result), flush=True)


if __name__ == '__main__':
  define_flags()
  cli.run(main)
