"""K-means clustering accuracy: python -m acai_tf.eval.cluster --export=DIR --dataset=mnist32

As the original cluster.py: latents of the first 60000 training images and of
the whole test split, whitened with the training SVD, K-means (random init,
--n_init restarts, the paper: 1000) fit on train, test accuracy under the best
one-to-one cluster -> class matching (scipy's linear_sum_assignment).
"""

from absl import flags

from acai_tf import cli, rundir
from acai_tf.data import labelled_splits
from acai_tf.metrics.representation import cluster_accuracy

FLAGS = flags.FLAGS


def define_flags():
  cli.define_export_flag('Export directory (<run_dir>/export).')
  cli.define_dataset_flags('cluster')
  flags.DEFINE_integer('n_init', 1000, 'K-means restarts (the paper: 1000; fewer for quick '
                       'runs).', lower_bound=1)
  flags.DEFINE_integer('train_limit', 60000, 'Fit on the first this many training images.')
  flags.DEFINE_integer('seed', 0, 'K-means random_state.')
  cli.define_output_flag('eval_cluster_<dataset>.json')


def main(argv):
  del argv
  from acai_tf import export  # TensorFlow's modules: cli.run started it
  module, meta = export.load(FLAGS.export)
  dataset_name = FLAGS.dataset or meta['dataset']
  export.check_dataset(meta, dataset_name, FLAGS.any_dataset, FLAGS.data_dir)
  dataset, train, _, test, test_labels = labelled_splits(dataset_name, FLAGS.data_dir,
                                                         FLAGS.train_limit)
  accuracy = 100 * cluster_accuracy(export.latents(module, train), export.latents(module, test),
                                    test_labels, dataset.nclass, n_init=FLAGS.n_init,
                                    seed=FLAGS.seed)
  print(f'{meta["model"]} on {dataset_name}: K-means test accuracy {accuracy:.2f}% '
        f'(n_init {FLAGS.n_init}, {len(train)} train, {len(test)} test)')
  rundir.write_eval(FLAGS.output or rundir.eval_path(FLAGS.export, f'cluster_{dataset_name}'),
               {'program': 'cluster', 'dataset': dataset_name, 'model': meta['model'],
                'step': meta['step'], 'kimg': meta['kimg'], 'accuracy': accuracy,
                'n_init': FLAGS.n_init, 'train_size': len(train), 'test_size': len(test)})


if __name__ == '__main__':
  define_flags()
  cli.run(main)
