"""Train an autoencoder: python -m acai_tf.train --model=acai --dataset=lines32

Model hyperparameter flags left unset take the paper's setting for the chosen
dataset (its run grid), then the model's default. Re-running the same command
resumes from the last checkpoint. Exit codes: acai_tf/errors.py (0 done, 2 bad
settings or data, 3 diverged, 4 run busy, 74 disk, 75 interrupted: rerun resumes).
"""

from absl import flags

from acai_tf import cli
from acai_tf.config import TrainConfig

FLAGS = flags.FLAGS


def define_flags():
  cli.define_training_flags()


def settings(argv):
  """(TrainConfig, model config) from the flags, checked before TensorFlow starts."""
  if len(argv) > 1:
    raise cli.app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  config = cli.config_from_flags(TrainConfig)
  return config, cli.model_config_from_flags(FLAGS.model, FLAGS.dataset, config.data_dir)


def main(checked):
  from acai_tf import distribute, trainer  # TensorFlow's modules: cli.run started it
  config, model_config = checked
  if FLAGS.cpu_devices:
    distribute.split_cpu(FLAGS.cpu_devices)
  strategy = distribute.make_strategy(config.strategy, tpu=FLAGS.tpu)
  # The conv paths are chosen when the model is built, after the devices are set up: 'auto'
  # looks at them.
  trainer.train(FLAGS.model, model_config, config, strategy=strategy,
                 log=lambda s: print(s, flush=True), conv_paths=FLAGS.conv_paths)


if __name__ == '__main__':
  define_flags()
  cli.run(main, settings=settings)
