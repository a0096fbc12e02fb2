"""Encoder, decoder and critic of appendix B, built as the original builds them.

All convolutions are 'same'-padded with zero bias and an untruncated normal
kernel of std 1/sqrt((1 + 0.2^2) * fan_in) (He init for leaky ReLU 0.2).

`dtype` is a Keras dtype policy: 'float32', or 'mixed_float16' /
'mixed_bfloat16' to compute in half precision with float32 weights. Every
network's output is float32 whatever the policy, so losses and metrics are.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

LEAK = 0.2
_FAST = True  # see `straightforward()`


@contextlib.contextmanager
def straightforward():
  """Networks built inside use plain Keras layers (the reference the tests compare with)."""
  global _FAST
  saved, _FAST = _FAST, False
  try:
    yield
  finally:
    _FAST = saved


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
  gradients up to float rounding):
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
    if not (_FAST and self.padding == 'same' and self.strides == (1, 1)
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
          r, c = row + a - kh // 2, col + b - kw // 2
          if 0 <= r < height and 0 <= c < width:
            index[r * width + c, row * width + col] = a * kw + b
  return index


def conv(x, filters, kernel, activation=True, dtype='float32'):
  layer = Conv2D if _FAST else keras.layers.Conv2D
  x = layer(filters, kernel, padding='same', kernel_initializer=conv_init(),
            bias_initializer='zeros', dtype=dtype)(x)
  if not activation:
    return x
  return (LeakyReLU if _FAST else keras.layers.LeakyReLU)(LEAK, dtype=dtype)(x)


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


def conv_macs(model):
  """Multiply-accumulates of one forward pass of `model` per image (convs and dense layers)."""
  total = 0
  for layer in _leaf_layers(model):
    if isinstance(layer, keras.layers.Conv2D):
      _, h, w, c_out = layer.output.shape
      kh, kw = layer.kernel_size
      total += h * w * kh * kw * layer.input.shape[-1] * c_out
    elif isinstance(layer, keras.layers.Dense):
      total += layer.kernel.shape[0] * layer.kernel.shape[1]
  return total


def _leaf_layers(model):
  for layer in model.layers:
    if isinstance(layer, keras.Model):
      yield from _leaf_layers(layer)
    else:
      yield layer
