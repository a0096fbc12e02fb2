"""Appendix-B networks: shapes, layer structure, initialisation."""

import keras
import numpy as np
import pytest

from acai_tf import nets


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
