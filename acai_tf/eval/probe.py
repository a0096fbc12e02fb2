"""Linear probe accuracy: python -m acai_tf.eval.probe --export=DIR --dataset=mnist32

A single-layer classifier (multinomial logistic regression on standardised
features, scikit-learn) trained on the frozen latents of the training split
(its first --train_limit images) and scored on the test split. With --pixels
it reads raw pixels instead of latents, as the paper's raw-pixel baseline
(92.31 / 23.48 / 39.70 on MNIST / SVHN / CIFAR-10). The original's
classify_fc.py, which made those, crashes as released (undefined
FLAGS.master); this is a maintained-library replacement, not a port of it.
"""

import os

from absl import app, flags

from acai_tf import cli, projector, rundir
from acai_tf.data import labelled_splits
from acai_tf.metrics.representation import probe_accuracy

FLAGS = flags.FLAGS
TRAIN_LIMIT, MAX_ITER = 60000, 1000


def define_flags():
  cli.define_export_flag('Export directory (<run_dir>/export); not needed with --pixels.',
                         required=False)
  cli.define_dataset_flags('probe on')
  flags.DEFINE_bool('pixels', False, 'Probe raw pixels instead of latents.')
  flags.DEFINE_integer('train_limit', TRAIN_LIMIT, 'Use the first this many training images.')
  flags.DEFINE_integer('max_iter', MAX_ITER, 'L-BFGS iterations of the logistic regression.')
  flags.DEFINE_bool('projector', False, 'Also write the test latents, labels and images for '
                    "TensorBoard's projector into the run's tensorboard folder "
                    '(acai_tf.projector).')
  cli.define_output_flag('eval_probe[_pixels]_<dataset>.json',
                         '; with --pixels and no export, ./experiments/<dataset>/')


def score(module, splits, max_iter=MAX_ITER):
  """(test accuracy %, train features, test features) of the probe on `module`'s latents
  (a loaded export), or on raw pixels if `module` is None, for `splits`
  (acai_tf.data.labelled_splits)."""
  from acai_tf import export  # TensorFlow's: loaded with `splits`
  _, train, train_labels, test, test_labels = splits
  if module is None:
    x_train, x_test = train.reshape(len(train), -1), test.reshape(len(test), -1)
  else:
    x_train, x_test = export.latents(module, train), export.latents(module, test)
  accuracy = 100 * probe_accuracy(x_train, train_labels, x_test, test_labels, max_iter)
  return accuracy, x_train, x_test


def main(argv):
  del argv
  from acai_tf import export  # TensorFlow's modules: cli.run started it
  if not FLAGS.pixels and not FLAGS.export:
    raise app.UsageError('--export is required (or --pixels for the raw-pixel baseline).')
  module, meta = export.load(FLAGS.export) if FLAGS.export else (None, {})
  dataset = FLAGS.dataset or meta.get('dataset')
  if not dataset:
    raise app.UsageError('--dataset is required with --pixels and no --export.')
  if module is not None:
    export.check_dataset(meta, dataset, FLAGS.any_dataset, FLAGS.data_dir)
  source = 'pixels' if FLAGS.pixels else 'latent'
  splits = labelled_splits(dataset, FLAGS.data_dir, FLAGS.train_limit)
  accuracy, x_train, x_test = score(None if FLAGS.pixels else module, splits, FLAGS.max_iter)
  name = f'probe_{"pixels_" if FLAGS.pixels else ""}{dataset}'
  if FLAGS.projector and module is not None:
    folder = os.path.join(os.path.dirname(rundir.eval_path(FLAGS.export, name)),
                          rundir.TENSORBOARD)
    print(f'wrote {projector.write(folder, x_test, splits[3], splits[4])}')
  print(f'{meta.get("model", "raw pixels")} on {dataset}: {source} probe test accuracy '
        f'{accuracy:.2f}% ({len(x_train)} train, {len(x_test)} test, {x_train.shape[1]} features)')
  output = FLAGS.output or (rundir.eval_path(FLAGS.export, name) if FLAGS.export else
                            os.path.join('experiments', dataset, f'eval_{name}.json'))
  rundir.write_eval(output, {'program': 'probe', 'source': source, 'dataset': dataset,
                        'model': meta.get('model'), 'step': meta.get('step'),
                        'kimg': meta.get('kimg'), 'accuracy': accuracy,
                        'train_size': len(x_train), 'test_size': len(x_test),
                        'features': int(x_train.shape[1])})


if __name__ == '__main__':
  define_flags()
  cli.run(main)
