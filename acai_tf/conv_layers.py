"""The convolution and leaky ReLU layers of every network, and the CPU paths they can take.

Each convolution (with its leaky ReLU) can run one of several equivalent layer
paths (`LAYER_PATHS`: same variables, values and gradients up to float
rounding): 'keras', Keras' own layers, 'conv', the same convolution with a
leaky ReLU differentiated from its output, or rewrites of the convolution for
some shapes (see `PathConv2D`). A `ConvPaths`, handed to the network builders
of acai_tf.nets, says which path each layer takes: 'plain' (Keras' layers, the
default), 'fast' (every rewrite that applies) or 'measured' (per layer shape,
'conv' or the rewrite, whichever `acai_tf.autotune` timed faster on this
machine). `choose()` makes it once at start-up from a program's --conv_paths;
building a network never times anything.

All convolutions are 'same'-padded with zero bias and an untruncated normal
kernel of std 1/sqrt((1 + 0.2^2) * fan_in) (He init for leaky ReLU 0.2), as
the original's.
"""

import dataclasses
import functools
import os
import time

import keras
import numpy as np
import tensorflow as tf

from acai_tf import autotune
from acai_tf.config import CONV_PATHS

LEAK = 0.2
LAYER_PATHS = ('keras', 'conv', 'pointwise', 'dense', 'depthwise')
MODES = ('plain', 'fast', 'measured')  # a ConvPaths' modes; choose() resolves 'auto' to one
TUNE_BATCH = 64  # the batch layer paths are timed at (the paper's)


@dataclasses.dataclass(frozen=True)
class ConvPaths:
  """Which of LAYER_PATHS each convolution of a network takes (`choose()` makes one).

  Attributes:
    mode: 'plain' (keras.layers.Conv2D and keras.layers.LeakyReLU), 'fast' (the
      rewrite of `PathConv2D` that fits each shape, else 'conv') or 'measured'
      (for each shape a rewrite fits, the path `chosen` gives it; 'conv' elsewhere).
    chosen: for 'measured', (signature, path) pairs: `signature()` of each layer
      shape a rewrite fits, and the path timed faster for it.
  """
  mode: str = 'plain'
  chosen: tuple = ()

  def __post_init__(self):
    if self.mode not in MODES:
      raise ValueError(f'ConvPaths mode {self.mode!r}; choose one of: {", ".join(MODES)}.')
    if self.chosen and self.mode != 'measured':
      raise ValueError(f"only 'measured' conv paths have chosen paths, not {self.mode!r}.")

  def path(self, input_shape, filters, kernel_size, activation=True, dtype='float32'):
    """The LAYER_PATHS entry of a 'same' stride-1 conv of this shape (and its leaky ReLU).

    Outside 'plain' the leaky ReLU is always the one differentiated from its output:
    with Keras' own, TensorFlow's graph optimiser (remapper) fails on the training
    step's graph and fuses none of its convolutions with their bias and activation.

    Raises:
      ValueError: 'measured', and `choose()` timed no layer of this shape.
    """
    if self.mode == 'plain':
      return 'keras'
    paths = layer_paths(input_shape, filters, kernel_size)[1:]
    if self.mode == 'fast' or len(paths) == 1:
      return paths[-1]
    key = signature(input_shape, filters, kernel_size, activation, dtype)
    found = dict(self.chosen).get(key)
    if found not in paths:
      raise ValueError(f'no conv path was chosen for {key!r}: build the network with '
                       'conv_layers.choose(mode, build) given a `build` that makes it.')
    return found


PLAIN = ConvPaths('plain')  # what networks and models built without conv paths get


class _Recorder:
  """Stands in for a ConvPaths in `choose()`'s trial build: notes every layer shape that has
  a choice to time, and gives it the 'fast' path meanwhile."""

  def __init__(self):
    self.shapes = {}  # signature -> (candidate paths, what `_seconds` needs besides the path)

  def path(self, input_shape, filters, kernel_size, activation=True, dtype='float32'):
    paths = layer_paths(input_shape, filters, kernel_size)[1:]
    if len(paths) > 1:
      self.shapes[signature(input_shape, filters, kernel_size, activation, dtype)] = (paths, dict(
          input_shape=tuple(input_shape), filters=filters, kernel_size=tuple(kernel_size),
          activation=activation, dtype=keras.DTypePolicy(dtype).compute_dtype))
    return paths[-1]


def choose(mode, build):
  """The ConvPaths of a program's `--conv_paths=mode`, chosen once, at start-up.

  'auto' is 'plain' when TensorFlow sees a logical GPU or TPU device (listing them
  initialises TensorFlow's runtime, as building any network does), else 'measured':
  `build(conv_paths)` is called once to find the networks' layer shapes, and each
  shape a rewrite fits is timed against 'conv' (`acai_tf.autotune.fastest`: a fraction
  of a second per shape, then cached for this machine). 'fast' and 'plain' call nothing.

  Args:
    mode: one of CONV_PATHS ('auto', 'fast', 'plain').
    build: `build(conv_paths)` builds the networks the program will use (e.g. its model),
      passing `conv_paths` to their builders; what it returns is dropped.

  Raises:
    ValueError: `mode` is not one of CONV_PATHS.
  """
  if mode not in CONV_PATHS:
    raise ValueError(f'conv_paths={mode!r}; choose one of: {", ".join(CONV_PATHS)}.')
  if mode != 'auto':
    return ConvPaths(mode)
  if tf.config.list_logical_devices('GPU') + tf.config.list_logical_devices('TPU'):
    return PLAIN
  recorder = _Recorder()
  build(recorder)
  return ConvPaths('measured', tuple(
      (key, autotune.fastest(key, paths, functools.partial(_seconds, **shape)))
      for key, (paths, shape) in sorted(recorder.shapes.items())))


def layer_paths(input_shape, filters, kernel_size):
  """The LAYER_PATHS that can compute a 'same' stride-1 conv of this shape.

  'keras' (Keras' layers); 'conv' (Keras' convolution in `PathConv2D`, with the leaky
  ReLU differentiated from its output); and the one rewrite of `PathConv2D` that
  fits the shape, if any.
  """
  _, height, width, channels = input_shape
  paths = ['keras', 'conv']
  if tuple(kernel_size) == (1, 1) and channels == 1:
    paths.append('pointwise')
  elif height and width and height * width <= 4:
    paths.append('dense')
  elif filters == 1:
    paths.append('depthwise')
  return paths


def signature(input_shape, filters, kernel_size, activation=True, dtype='float32'):
  """What the timing of a layer shape depends on: the autotune cache's key for it."""
  return (f'conv {"x".join(map(str, input_shape[1:]))}->{filters} '
          f'k{"x".join(map(str, kernel_size))} {"leaky" if activation else "linear"} '
          f'{keras.DTypePolicy(dtype).compute_dtype} batch {TUNE_BATCH} onednn '
          f'{os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")}')


def _seconds(path, input_shape, filters, kernel_size, activation, dtype, batch=TUNE_BATCH):
  """Best time of one forward and backward pass of a layer through `path` (for autotune)."""
  _, height, width, channels = input_shape
  x = tf.random.stateless_normal((batch, height, width, channels), (0, 1), dtype=dtype)
  kernel = tf.random.stateless_normal((*kernel_size, channels, filters), (0, 2), dtype=dtype)
  bias = tf.zeros([filters], dtype)
  taps = _taps(height, width, *kernel_size) if path == 'dense' else None
  activate = _leaky_relu_from_output(LEAK)

  @tf.function
  def step(x, kernel, bias):
    with tf.GradientTape() as tape:
      tape.watch([x, kernel, bias])
      y = tf.nn.bias_add(_convolve(path, x, kernel, filters, taps), bias)
      y = activate(y) if activation else y
    return tape.gradient(y, [x, kernel, bias], output_gradients=tf.ones_like(y))

  def run():
    for t in step(x, kernel, bias):
      t.numpy()

  run()
  run()
  best = float('inf')
  for _ in range(3):
    calls, start = 0, time.perf_counter()
    while not calls or time.perf_counter() - start < 0.02:
      run()
      calls += 1
    best = min(best, (time.perf_counter() - start) / calls)
  return best


def _leaky_relu_from_output(slope):
  @tf.custom_gradient
  def leaky_relu(x):
    y = tf.nn.leaky_relu(x, slope)
    # For slope > 0, y > 0 exactly where x > 0: the gradient LeakyReluGrad takes from
    # the input is the same when taken from the output.
    return y, lambda dy: tf.raw_ops.LeakyReluGrad(gradients=dy, features=y, alpha=slope)
  return leaky_relu


class OutputLeakyReLU(keras.layers.LeakyReLU):
  """Keras' LeakyReLU, differentiated from its output instead of its input.

  The same values and gradients; since backprop no longer needs the
  pre-activation, TensorFlow can fuse conv + bias + leaky ReLU into one oneDNN
  kernel and keeps one activation tensor less per layer (docs/performance.md).
  """

  def call(self, inputs):
    return _leaky_relu_from_output(self.negative_slope)(inputs)


def conv_init():
  return keras.initializers.VarianceScaling(
      scale=1 / (1 + LEAK**2), mode='fan_in', distribution='untruncated_normal')


class PathConv2D(keras.layers.Conv2D):
  """Keras' Conv2D ('same' padding, stride 1), computed through one of LAYER_PATHS.

  oneDNN's convolution is slow on three shapes of these networks; there the
  layer can compute the same sums another way (same variables, same values and
  gradients up to float rounding):
    - 'pointwise': a 1x1 kernel on one input channel (the encoder's first layer);
    - 'dense': images of at most 2x2 pixels, where the kernel's taps are gathered
      into one [H*W*C_in, H*W*C_out] matrix (the bottleneck layers);
    - 'depthwise': one output channel (the decoder's last layer), as a
      depthwise convolution summed over input channels.
  'conv' (and 'keras') is Keras' own convolution. Measured per layer and per
  model in docs/performance.md.

  Args:
    conv_path: one of `layer_paths()` for the layer's input shape.
  """

  def __init__(self, *args, conv_path='conv', **kwargs):
    super().__init__(*args, **kwargs)
    self.conv_path = conv_path

  def build(self, input_shape):
    super().build(input_shape)
    if self.conv_path not in layer_paths(input_shape, self.filters, self.kernel_size):
      raise ValueError(f'conv_path {self.conv_path!r} cannot compute a {self.kernel_size} conv of '
                       f'{input_shape} to {self.filters} channels.')
    _, height, width, _ = input_shape
    self.tap_index = _taps(height, width, *self.kernel_size) if self.conv_path == 'dense' else None

  def convolution_op(self, inputs, kernel):
    if self.conv_path in ('keras', 'conv'):
      return super().convolution_op(inputs, kernel)
    return _convolve(self.conv_path, inputs, kernel, self.filters, self.tap_index)

  def get_config(self):
    return {**super().get_config(), 'conv_path': self.conv_path}


def _convolve(path, inputs, kernel, filters, tap_index=None):
  """The 'same' stride-1 convolution of `inputs` by `kernel`, computed through `path`."""
  if path == 'pointwise':
    shape = tf.shape(inputs)
    y = tf.reshape(inputs, [-1, 1]) @ tf.reshape(kernel, [1, filters])
    return tf.reshape(y, tf.concat([shape[:3], [filters]], 0))
  if path == 'dense':
    _, height, width, channels = inputs.shape
    kh, kw = kernel.shape[:2]
    taps = tf.reshape(kernel, [kh * kw, channels, filters])
    taps = tf.concat([taps, tf.zeros_like(taps[:1])], 0)  # index kh * kw: outside the image
    matrix = tf.transpose(tf.gather(taps, tap_index), [0, 2, 1, 3])
    matrix = tf.reshape(matrix, [height * width * channels, height * width * filters])
    y = tf.reshape(inputs, [-1, height * width * channels]) @ matrix
    return tf.reshape(y, [-1, height, width, filters])
  if path == 'depthwise':
    y = tf.nn.depthwise_conv2d(inputs, kernel, [1, 1, 1, 1], 'SAME')
    return tf.reduce_sum(y, axis=-1, keepdims=True)
  return tf.nn.convolution(inputs, kernel, padding='SAME')


def _taps(height, width, kh, kw):
  """[i, o]: index of the kernel tap joining input pixel i to output pixel o ('same' padding).

  Pixels are numbered row-major; kh * kw means that o does not see i.
  """
  index = np.full((height * width, height * width), kh * kw, np.int32)
  for row in range(height):
    for col in range(width):
      for a in range(kh):
        for b in range(kw):
          r, c = row + a - (kh - 1) // 2, col + b - (kw - 1) // 2  # TF's 'same' padding
          if 0 <= r < height and 0 <= c < width:
            index[r * width + c, row * width + col] = a * kw + b
  return index


def conv(x, filters, kernel, activation=True, dtype='float32', conv_paths=PLAIN):
  """A 'same' conv and, if `activation`, a leaky ReLU, through the path `conv_paths` gives it."""
  path = conv_paths.path(x.shape, filters, (kernel, kernel), activation, dtype)
  layers = (keras.layers.Conv2D, keras.layers.LeakyReLU) if path == 'keras' else (
      functools.partial(PathConv2D, conv_path=path), OutputLeakyReLU)
  x = layers[0](filters, kernel, padding='same', kernel_initializer=conv_init(),
                bias_initializer='zeros', dtype=dtype)(x)
  return layers[1](LEAK, dtype=dtype)(x) if activation else x
