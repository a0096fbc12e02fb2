"""Appendix-B networks: shapes, layer structure, initialisation."""

import keras
import numpy as np
import pytest

from acai_tf import conv_layers, nets


@pytest.mark.parametrize('scales,latent_width', [(4, 2), (3, 4), (1, 16)])
def test_encoder_decoder_shapes(scales, latent_width):
  enc = nets.encoder((32, 32, 3), scales, 4, 5)
  dec = nets.decoder((latent_width, latent_width, 5), scales, 4, 3)
  z = enc(np.zeros((2, 32, 32, 3), np.float32))
  assert tuple(z.shape) == (2, latent_width, latent_width, 5)
  assert tuple(dec(z).shape) == (2, 32, 32, 3)


def _convs(model):
  return [layer for layer in nets._leaf_layers(model) if isinstance(layer, keras.layers.Conv2D)]


def test_encoder_layout_matches_lines_configuration():
  # lines32: depth 16, scales 4 -> 16 | 16,16 | 32,32 | 64,64 | 128,128 | 256 | 16
  convs = _convs(nets.encoder((32, 32, 1), 4, 16, 16))
  assert [c.filters for c in convs] == [16, 16, 16, 32, 32, 64, 64, 128, 128, 256, 16]
  assert convs[0].kernel_size == (1, 1) and all(c.kernel_size == (3, 3) for c in convs[1:])
  decoder_filters = [c.filters for c in _convs(nets.decoder((2, 2, 16), 4, 16, 1))]
  assert decoder_filters == [128, 128, 64, 64, 32, 32, 16, 16, 16, 1]


def test_first_and_last_convs_are_linear_others_leaky_0_2():
  enc = nets.encoder((32, 32, 1), 2, 8, 4)
  leaky = [layer for layer in nets._leaf_layers(enc) if isinstance(layer, keras.layers.LeakyReLU)]
  assert len(leaky) == len(_convs(enc)) - 2
  assert all(abs(layer.negative_slope - 0.2) < 1e-7 for layer in leaky)
  assert isinstance(enc.layers[2], keras.layers.Conv2D)  # 1x1 conv feeds a conv directly


def test_initialisation_statistics():
  keras.utils.set_random_seed(1)
  for conv in _convs(nets.encoder((32, 32, 1), 4, 32, 16)):
    kh, kw, cin, _ = conv.kernel.shape
    kernel = np.asarray(conv.kernel)
    if kernel.size < 2000:
      continue
    expected = 1 / np.sqrt((1 + 0.2**2) * kh * kw * cin)
    assert kernel.std() == pytest.approx(expected, rel=0.05)
    assert abs(kernel.mean()) < 0.05 * expected
    # untruncated: some weights beyond 2 std, which a truncated normal never has
    assert (np.abs(kernel) > 2.2 * expected).mean() > 0.01
    np.testing.assert_array_equal(np.asarray(conv.bias), 0)


def test_critic_is_one_scalar_per_image_and_mac_counts():
  critic = nets.critic((32, 32, 1), 4, 16, 16)
  assert tuple(critic(np.zeros((3, 32, 32, 1), np.float32)).shape) == (3,)
  # Analytic MACs of the lines32 networks (depth 16, scales 4).
  assert nets.conv_macs(nets.encoder((32, 32, 1), 4, 16, 16)) == 16_678_912
  assert nets.conv_macs(nets.decoder((2, 2, 16), 4, 16, 1)) == 8_478_720
  assert nets.conv_macs(critic) == 16_678_912


def test_taps_inside_the_image_along_one_axis():
  # 3 taps along 4 pixels: the edge outputs lose one tap each to the padding.
  assert nets.taps_inside(4, 3) == 2 + 3 + 3 + 2
  assert nets.taps_inside(2, 3) == 4 and nets.taps_inside(1, 3) == 1
  assert nets.taps_inside(32, 3) == 94 and nets.taps_inside(4, 1) == 4
  assert nets.taps_inside(4, 2) == 7  # TensorFlow pads an even kernel after the image


@pytest.mark.parametrize('size, c_in, c_out, nominal, on_pixels', [
    (2, 1, 1, 36, 16),     # 4 output pixels x 9 taps; each sees the 4 pixels
    (4, 2, 3, 864, 600),   # 16 x 9 x 6; 10 x 10 (pixel, tap) pairs x 6
    (1, 5, 7, 315, 35),    # only the centre tap is on the image
])
def test_conv_macs_with_and_without_padding_taps(size, c_in, c_out, nominal, on_pixels):
  x = inputs = keras.Input((size, size, c_in))
  model = keras.Model(inputs, conv_layers.conv(x, c_out, 3))
  assert nets.conv_macs(model) == nominal
  assert nets.conv_macs(model, padding_taps=False) == on_pixels


def test_lines32_networks_macs_on_image_pixels():
  # Per layer (pixels per side n, C_in, C_out): (3n - 2)^2 x C_in x C_out for 3x3 convs, summed
  # by hand: encoder 16384 + 2 x 2_262_016 + 1_083_392 + 2_166_784 + 991_232 + 1_982_464 +
  # 819_200 + 1_638_400 + 524_288 + 65_536; decoder 32_768 + 262_144 + 819_200 + 409_600 +
  # 991_232 + 495_616 + 1_083_392 + 541_696 + 2_262_016 + 141_376.
  assert nets.conv_macs(nets.encoder((32, 32, 1), 4, 16, 16), padding_taps=False) == 13_811_712
  assert nets.conv_macs(nets.decoder((2, 2, 16), 4, 16, 1), padding_taps=False) == 7_039_040
