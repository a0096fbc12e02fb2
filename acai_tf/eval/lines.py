"""Mean Distance and Smoothness of an export: python -m acai_tf.eval.lines --export=DIR

The paper's protocol: `pairs` random test lines (256) interpolated in `steps`
(16) through the export's `interpolate` (lerp, or AdvAI's corrected path),
decoded and matched to 10000 reference lines. Seeded, so reruns agree.
"""

import numpy as np
from absl import app, flags

from acai_tf import cli, rundir
from acai_tf.metrics.interpolation import evaluate_interpolations

FLAGS = flags.FLAGS
PAIRS, STEPS, SEED = 256, 16, 0  # the paper's pairs and steps; our seed of the test lines


def define_flags():
  cli.define_export_flag('Export directory of a lines32 run (<run_dir>/export).')
  flags.DEFINE_integer('pairs', PAIRS, 'Interpolations (the paper: 256).', lower_bound=1)
  flags.DEFINE_integer('steps', STEPS, 'Images per interpolation, endpoints included (the '
                       'paper: 16).', lower_bound=2)
  flags.DEFINE_integer('seed', SEED, 'Seed of the test lines.')
  cli.define_output_flag('eval_lines.json')


def score(module, pairs=PAIRS, steps=STEPS, seed=SEED):
  """{'mean_distance', 'mean_smoothness', ...} of a loaded lines32 export."""
  from acai_tf.export import numpy_endpoint as batched  # TensorFlow's: loaded with `module`
  return evaluate_interpolations(batched(module.encode), batched(module.decode),
                                 batched(module.interpolate), np.random.default_rng(seed),
                                 pairs=pairs, steps=steps)


def main(argv):
  del argv
  from acai_tf import export  # TensorFlow's modules: cli.run started it
  module, meta = export.load(FLAGS.export)
  if meta['dataset'] != 'lines32':
    raise app.UsageError(f'{FLAGS.export} was trained on {meta["dataset"]}, not lines32.')
  scores = score(module, FLAGS.pairs, FLAGS.steps, FLAGS.seed)
  print(f'{meta["model"]} (step {meta["step"]}): mean distance {scores["mean_distance"]:.4g} '
        f'({1e3 * scores["mean_distance"]:.3f} x 1e-3), smoothness '
        f'{scores["mean_smoothness"]:.4f}')
  rundir.write_eval(FLAGS.output or rundir.eval_path(FLAGS.export, 'lines'),
               {'program': 'lines', 'model': meta['model'], 'step': meta['step'],
                'kimg': meta['kimg'], 'pairs': FLAGS.pairs, 'steps': FLAGS.steps,
                'seed': FLAGS.seed, **scores})


if __name__ == '__main__':
  define_flags()
  cli.run(main)
