"""Encoder, decoder and critic of appendix B, built as the original builds them.

All convolutions are 'same'-padded with zero bias and an untruncated normal
kernel of std 1/sqrt((1 + 0.2^2) * fan_in) (He init for leaky ReLU 0.2).

`dtype` is a Keras dtype policy: 'float32', or 'mixed_float16' /
'mixed_bfloat16' to compute in half precision with float32 weights. Every
network's output is float32 whatever the policy, so losses and metrics are.

Layers come in two sets computing the same values and gradients (see
`set_conv_paths`): 'fast', rewrites of some convolutions and a leaky ReLU
differentiated from its output, measured faster on CPUs (oneDNN) only; and
'plain', Keras' own layers. By default ('auto') networks get the fast layers
when no GPU or TPU is visible and the plain ones otherwise.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

LEAK = 0.2
CONV_PATHS = ('auto', 'fast', 'plain')
_conv_paths = 'auto'  # see `set_conv_paths()`


def set_conv_paths(mode):
  """Chooses the layers of every network built afterwards in this process.

  Args:
    mode: 'fast' (the CPU fast paths of `Conv2D` and `LeakyReLU`), 'plain'
      (keras.layers.Conv2D and keras.layers.LeakyReLU), or 'auto' (the
      default): 'fast' when no GPU or TPU is visible, else 'plain'. Both sets
      compute the same values and gradients and have the same variables; the
      fast ones were measured faster on CPUs only (docs/performance.md).

  Raises:
    ValueError: `mode` is not one of CONV_PATHS.
  """
  global _conv_paths
  if mode not in CONV_PATHS:
    raise ValueError(f'conv_paths={mode!r}; choose one of: {", ".join(CONV_PATHS)}.')
  _conv_paths = mode


def resolved_conv_paths():
  """'fast' or 'plain': the layers networks built now get (what 'auto' means here).

  'auto' resolves to 'plain' when TensorFlow sees a logical GPU or TPU device,
  else to 'fast'. Listing the devices initialises TensorFlow's runtime, as
  building any network does.
  """
  if _conv_paths != 'auto':
    return _conv_paths
  accelerators = tf.config.list_logical_devices('GPU') + tf.config.list_logical_devices('TPU')
  return 'plain' if accelerators else 'fast'


@contextlib.contextmanager
def straightforward():
  """Networks built inside use plain Keras layers (the reference the tests compare with)."""
  saved = _conv_paths
  set_conv_paths('plain')
  try:
    yield
  finally:
    set_conv_paths(saved)


def _leaky_relu_from_output(slope):
  @tf.custom_gradient
  def leaky_relu(x):
    y = tf.nn.leaky_relu(x, slope)
    # For slope > 0, y > 0 exactly where x > 0: the gradient LeakyReluGrad takes from
    # the input is the same when taken from the output.
    return y, lambda dy: tf.raw_ops.LeakyReluGrad(gradients=dy, features=y, alpha=slope)
  return leaky_relu


class LeakyReLU(keras.layers.LeakyReLU):
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


class Conv2D(keras.layers.Conv2D):
  """Keras' Conv2D ('same' padding, stride 1), computed another way where that is faster.

  oneDNN's convolution is slow on three shapes of these networks; there the
  layer computes the same sums another way (same variables, same values and
  gradients up to float rounding), unless `resolved_conv_paths()` is 'plain'
  when the layer is built:
    - 'pointwise': a 1x1 kernel on one input channel (the encoder's first layer);
    - 'dense': images of at most 2x2 pixels, where the kernel's taps are gathered
      into one [H*W*C_in, H*W*C_out] matrix (the bottleneck layers);
    - 'depthwise': one output channel (the decoder's last layer), as a
      depthwise convolution summed over input channels.
  Measured per layer and per model in docs/performance.md.
  """

  def build(self, input_shape):
    super().build(input_shape)
    _, height, width, channels = input_shape
    kh, kw = self.kernel_size
    self.kernel_path = 'conv'
    if not (resolved_conv_paths() == 'fast' and self.padding == 'same' and self.strides == (1, 1)
            and self.dilation_rate == (1, 1) and self.data_format == 'channels_last'):
      return
    if (kh, kw) == (1, 1) and channels == 1:
      self.kernel_path = 'pointwise'
    elif height and width and height * width <= 4:
      self.kernel_path = 'dense'
      self.tap_index = _taps(height, width, kh, kw)
    elif self.filters == 1:
      self.kernel_path = 'depthwise'

  def convolution_op(self, inputs, kernel):
    if self.kernel_path == 'pointwise':
      shape = tf.shape(inputs)
      y = tf.reshape(inputs, [-1, 1]) @ tf.reshape(kernel, [1, self.filters])
      return tf.reshape(y, tf.concat([shape[:3], [self.filters]], 0))
    if self.kernel_path == 'dense':
      _, height, width, channels = inputs.shape
      kh, kw = self.kernel_size
      taps = tf.reshape(kernel, [kh * kw, channels, self.filters])
      taps = tf.concat([taps, tf.zeros_like(taps[:1])], 0)  # index kh * kw: outside the image
      matrix = tf.transpose(tf.gather(taps, self.tap_index), [0, 2, 1, 3])
      matrix = tf.reshape(matrix, [height * width * channels, height * width * self.filters])
      y = tf.reshape(inputs, [-1, height * width * channels]) @ matrix
      return tf.reshape(y, [-1, height, width, self.filters])
    if self.kernel_path == 'depthwise':
      y = tf.nn.depthwise_conv2d(inputs, kernel, [1, 1, 1, 1], 'SAME')
      return tf.reduce_sum(y, axis=-1, keepdims=True)
    return super().convolution_op(inputs, kernel)


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


def conv(x, filters, kernel, activation=True, dtype='float32'):
  """A 'same' conv and, if `activation`, a leaky ReLU: fast or plain layers (`set_conv_paths`)."""
  fast = resolved_conv_paths() == 'fast'
  x = (Conv2D if fast else keras.layers.Conv2D)(
      filters, kernel, padding='same', kernel_initializer=conv_init(), bias_initializer='zeros',
      dtype=dtype)(x)
  if not activation:
    return x
  return (LeakyReLU if fast else keras.layers.LeakyReLU)(LEAK, dtype=dtype)(x)


def float32(x):
  """Casts a network's output to float32 (an identity under the float32 policy)."""
  return keras.layers.Activation('linear', dtype='float32', name='float32_output')(x)


def encoder(image_shape, scales, depth, latent, name='encoder', dtype='float32'):
  """Linear 1x1 conv, `scales` x (2 conv3x3 + avg-pool), conv3x3, linear conv3x3.

  Args:
    image_shape: (height, width, colors).
    scales: number of 2x downsamplings.
    depth: channels at the first scale, doubled at each further scale.
    latent: channels of the output.
    name: model name.
    dtype: Keras dtype policy of the layers (the output is float32 regardless).

  Returns:
    keras.Model mapping [B, H, W, C] to [B, H >> scales, W >> scales, latent].
  """
  x = inputs = keras.Input(image_shape)
  x = conv(x, depth, 1, activation=False, dtype=dtype)
  for i in range(scales):
    x = conv(x, depth << i, 3, dtype=dtype)
    x = conv(x, depth << i, 3, dtype=dtype)
    x = keras.layers.AveragePooling2D(2, dtype=dtype)(x)
  x = conv(x, depth << scales, 3, dtype=dtype)
  x = conv(x, latent, 3, activation=False, dtype=dtype)
  return keras.Model(inputs, float32(x), name=name)


def decoder(latent_shape, scales, depth, colors, name='decoder', dtype='float32'):
  """`scales` x (2 conv3x3 + nearest 2x upsample), conv3x3, linear conv3x3 to colors."""
  x = inputs = keras.Input(latent_shape)
  for i in reversed(range(scales)):
    x = conv(x, depth << i, 3, dtype=dtype)
    x = conv(x, depth << i, 3, dtype=dtype)
    x = keras.layers.UpSampling2D(2, interpolation='nearest', dtype=dtype)(x)
  x = conv(x, depth, 3, dtype=dtype)
  x = conv(x, colors, 3, activation=False, dtype=dtype)
  return keras.Model(inputs, float32(x), name=name)


def critic(image_shape, scales, depth, latent, name='critic', dtype='float32'):
  """The encoder architecture, its output averaged over H, W, C to one scalar per image."""
  body = encoder(image_shape, scales, depth, latent, name=name + '_body', dtype=dtype)
  x = inputs = keras.Input(image_shape)
  x = keras.ops.mean(body(x), axis=(1, 2, 3))
  return keras.Model(inputs, x, name=name)


def conv_macs(model, padding_taps=True):
  """Multiply-accumulates of one forward pass of `model` per image (convs and dense layers).

  Args:
    model: a network of this module (stride-1 convolutions).
    padding_taps: True counts every tap of every output pixel, also taps that
      fall on the zero padding around the image (the nominal count: a 3x3 conv
      on a 2x2 image, one channel in and out, 36 MACs); False counts only taps
      on image pixels (16 there: each output pixel sees 4 pixels).
  """
  total = 0
  for layer in _leaf_layers(model):
    if isinstance(layer, keras.layers.Conv2D):
      _, h, w, c_out = layer.output.shape
      kh, kw = layer.kernel_size
      if not padding_taps and layer.padding == 'same':
        h, w, kh, kw = taps_inside(h, kh), taps_inside(w, kw), 1, 1
      total += h * w * kh * kw * layer.input.shape[-1] * c_out
    elif isinstance(layer, keras.layers.Dense):
      total += layer.kernel.shape[0] * layer.kernel.shape[1]
  return total


def taps_inside(size, kernel):
  """(output pixel, tap) pairs along one axis of a stride-1 'same' conv whose tap is in the image.

  `size * kernel` minus the taps on the zero padding: a 3-tap kernel along 4
  pixels has 2 + 3 + 3 + 2 = 10. TensorFlow pads (kernel - 1) // 2 before.
  """
  before = (kernel - 1) // 2
  return sum(min(size, out - before + kernel) - max(0, out - before) for out in range(size))


def _leaf_layers(model):
  for layer in model.layers:
    if isinstance(layer, keras.Model):
      yield from _leaf_layers(layer)
    else:
      yield layer
