"""Mean Distance and Smoothness of an export: python -m acai_tf.eval.lines --export=DIR

The paper's protocol: `pairs` random test lines (256) interpolated in `steps`
(16) through the export's `interpolate` (lerp, or AdvAI's corrected path),
decoded and matched to 10000 reference lines. Seeded, so reruns agree.
"""

import numpy as np

from acai_tf import cli  # first: quiets TensorFlow's start-up lines

from absl import app, flags  # noqa: I001

from acai_tf import export, rundir
from acai_tf.export import numpy_endpoint as batched
from acai_tf.metrics.interpolation import evaluate_interpolations

FLAGS = flags.FLAGS
cli.define_export_flag('Export directory of a lines32 run (<run_dir>/export).')
flags.DEFINE_integer('pairs', 256, 'Interpolations (the paper: 256).', lower_bound=1)
flags.DEFINE_integer('steps', 16, 'Images per interpolation, endpoints included (the paper: 16).',
                     lower_bound=2)
flags.DEFINE_integer('seed', 0, 'Seed of the test lines.')


def main(argv):
  del argv
  module, meta = export.load(FLAGS.export)
  if meta['dataset'] != 'lines32':
    raise app.UsageError(f'{FLAGS.export} was trained on {meta["dataset"]}, not lines32.')
  scores = evaluate_interpolations(batched(module.encode), batched(module.decode),
                                   batched(module.interpolate), np.random.default_rng(FLAGS.seed),
                                   pairs=FLAGS.pairs, steps=FLAGS.steps)
  print(f'{meta["model"]} (step {meta["step"]}): mean distance {scores["mean_distance"]:.4g} '
        f'({1e3 * scores["mean_distance"]:.3f} x 1e-3), smoothness '
        f'{scores["mean_smoothness"]:.4f}')
  rundir.write_eval(rundir.eval_path(FLAGS.export, 'lines'),
               {'program': 'lines', 'model': meta['model'], 'step': meta['step'],
                'kimg': meta['kimg'], 'pairs': FLAGS.pairs, 'steps': FLAGS.steps,
                'seed': FLAGS.seed, **scores})


if __name__ == '__main__':
  cli.run(main)
