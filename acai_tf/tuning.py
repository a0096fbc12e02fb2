"""This machine's tuning: what acai_tf.autotune measured and cached, and its oneDNN probe.

  python -m acai_tf.tuning            # this machine's key, CPU and cache entry
  python -m acai_tf.tuning --retune   # forget them: the next program measures again
  python -m acai_tf.tuning --probe    # one JSON line: the training step's images/s

`--probe` is what `acai_tf.autotune.probe` starts, once per oneDNN setting, in a child process
whose TF_ENABLE_ONEDNN_OPTS it sets: it times a training step of the paper's lines32 encoder
and decoder (MSE, Adam) for `autotune.PROBE_SECONDS` after warm-up.
"""

import json
import time

from absl import flags

from acai_tf import autotune, cli, quiet

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_bool('probe', False, "Print one JSON line: the training step's images/s with "
                    'the TF_ENABLE_ONEDNN_OPTS of the environment (what autotune.probe runs).')
  flags.DEFINE_bool('retune', False, 'Forget the measurements of this machine.')


def training_step_rate(seconds, batch=64):
  """Images/s of a training step of the paper's lines32 encoder and decoder (MSE, Adam), timed
  for `seconds` after warm-up. Imports TensorFlow."""
  quiet.import_tensorflow()
  import keras  # TensorFlow's: only for the probe, after its quiet import
  import tensorflow as tf

  from acai_tf import conv_layers, nets
  from acai_tf.config import IMAGE_SIZE
  fast = conv_layers.ConvPaths('fast')  # the same layers either way; per-layer tuning comes later
  enc = nets.encoder((IMAGE_SIZE, IMAGE_SIZE, 1), scales=4, depth=16, latent=16, conv_paths=fast)
  dec = nets.decoder((2, 2, 16), scales=4, depth=16, colors=1, conv_paths=fast)
  weights = enc.trainable_variables + dec.trainable_variables
  optimizer = keras.optimizers.Adam(1e-4)
  x = tf.random.stateless_uniform((batch, IMAGE_SIZE, IMAGE_SIZE, 1), (1, 2), -1, 1)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(dec(enc(x)) - x))
    optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
    return loss

  for _ in range(3):
    step().numpy()
  steps, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    step().numpy()
    steps += 1
  return steps * batch / (time.perf_counter() - start)


def main(argv):
  del argv
  if FLAGS.probe:  # a child process of autotune.probe, with its TF_ENABLE_ONEDNN_OPTS
    print(json.dumps({'img_s': round(training_step_rate(autotune.PROBE_SECONDS), 1)}))
  elif FLAGS.retune:
    autotune.forget()
    print(f'forgot the measurements of this machine in {autotune.cache_path()}')
  else:
    print(f'machine {autotune.machine_key()}: {autotune.cpu_line()}\n'
          f'cache: {autotune.cache_path()}')
    print(json.dumps(autotune.entry(), indent=1, sort_keys=True))


if __name__ == '__main__':
  define_flags()
  cli.run(main, tensorflow=False)  # only --probe needs TensorFlow, with the oneDNN it was given
