"""Encoder, decoder and critic of appendix B, built as the original builds them.

`dtype` is a Keras dtype policy: 'float32', or 'mixed_float16' /
'mixed_bfloat16' to compute in half precision with float32 weights. Every
network's output is float32 whatever the policy, so losses and metrics are.
Their layers are acai_tf.conv_layers'; `conv_paths` (a conv_layers.ConvPaths, chosen at
start-up by conv_layers.choose) says which CPU path each takes. Without one, every layer is
Keras' own (conv_layers.PLAIN).
"""

import functools

import keras

from acai_tf.conv_layers import PLAIN, conv


def float32(x):
  """Casts a network's output to float32 (an identity under the float32 policy)."""
  return keras.layers.Activation('linear', dtype='float32', name='float32_output')(x)


def encoder(image_shape, scales, depth, latent, name='encoder', dtype='float32',
            conv_paths=PLAIN):
  """Linear 1x1 conv, `scales` x (2 conv3x3 + avg-pool), conv3x3, linear conv3x3.

  Args:
    image_shape: (height, width, colors).
    scales: number of 2x downsamplings.
    depth: channels at the first scale, doubled at each further scale.
    latent: channels of the output.
    name: model name.
    dtype: Keras dtype policy of the layers (the output is float32 regardless).
    conv_paths: a conv_layers.ConvPaths: the path each convolution takes.

  Returns:
    keras.Model mapping [B, H, W, C] to [B, H >> scales, W >> scales, latent].
  """
  layer = functools.partial(conv, dtype=dtype, conv_paths=conv_paths)
  x = inputs = keras.Input(image_shape)
  x = layer(x, depth, 1, activation=False)
  for i in range(scales):
    x = layer(x, depth << i, 3)
    x = layer(x, depth << i, 3)
    x = keras.layers.AveragePooling2D(2, dtype=dtype)(x)
  x = layer(x, depth << scales, 3)
  x = layer(x, latent, 3, activation=False)
  return keras.Model(inputs, float32(x), name=name)


def decoder(latent_shape, scales, depth, colors, name='decoder', dtype='float32',
            conv_paths=PLAIN):
  """`scales` x (2 conv3x3 + nearest 2x upsample), conv3x3, linear conv3x3 to colors."""
  layer = functools.partial(conv, dtype=dtype, conv_paths=conv_paths)
  x = inputs = keras.Input(latent_shape)
  for i in reversed(range(scales)):
    x = layer(x, depth << i, 3)
    x = layer(x, depth << i, 3)
    x = keras.layers.UpSampling2D(2, interpolation='nearest', dtype=dtype)(x)
  x = layer(x, depth, 3)
  x = layer(x, colors, 3, activation=False)
  return keras.Model(inputs, float32(x), name=name)


def critic(image_shape, scales, depth, latent, name='critic', dtype='float32',
           conv_paths=PLAIN):
  """The encoder architecture, its output averaged over H, W, C to one scalar per image."""
  body = encoder(image_shape, scales, depth, latent, name=name + '_body', dtype=dtype,
                 conv_paths=conv_paths)
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
