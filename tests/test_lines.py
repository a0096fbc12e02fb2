"""The lines32 renderer and the Mean Distance / Smoothness metrics (pure numpy)."""

import sys

import numpy as np
import pytest

from acai_tf.metrics import interpolation as metrics
from acai_tf.line_renderer import angle_labels, draw_lines
from reference.lines import draw_line


def ink(images):
  return ((images + 1) / 2).sum(axis=(1, 2, 3))


class TestRenderer:

  def test_every_reference_angle_is_drawn_as_the_original_drew_it(self):
    angles = np.arange(10000) * 2 * np.pi / 10000  # the metric's reference lines
    original = np.stack([draw_line(a) for a in angles]).astype(np.float32)
    np.testing.assert_array_equal(draw_lines(angles), original)

  def test_the_far_tip_row_has_full_weight_as_in_the_original(self):
    # At 0.3 rad the line ends at row 16 - 15 sin(0.3) = 11.567 (major axis: columns, since
    # cos > sin), i.e. column 16 + 15 cos(0.3) = 30.330: the last column the stroke reaches is
    # 30, entered for 0.33 px, yet weighted 1 as the original did.
    image = draw_lines([0.3])[0, ..., 0]
    assert (image[:, 30] > -1).any() and (image[:, 31] == -1).all()
    column = (image[:, 30] + 1) / 2
    assert column.sum() == pytest.approx(2.0, abs=1e-5)  # a whole 2-px stroke, not 0.33 of it

  def test_angle_zero_is_a_horizontal_line_to_the_right(self):
    image = draw_lines([0.0])[0, ..., 0]
    expected = -np.ones((32, 32), np.float32)
    expected[15:17, 16:31] = 1  # 2-px stroke centred on row 16, 15 px long
    np.testing.assert_array_equal(image, expected)

  def test_quarter_turn_points_up(self):
    image = draw_lines([np.pi / 2])[0, ..., 0]
    rows, cols = np.nonzero(image > -1)
    assert rows.min() == 1 and rows.max() == 15
    assert set(cols) == {15, 16}

  def test_values_range_and_ink(self):
    angles = np.linspace(0, 2 * np.pi, 97)
    images = draw_lines(angles)
    assert images.shape == (97, 32, 32, 1) and images.dtype == np.float32
    assert images.min() == -1 and images.max() == 1
    # Antialiased edges lie strictly between background and core.
    assert ((images > -1) & (images < 1)).any()
    # 2 px of ink per row along the major axis: 30 for axis-aligned lines,
    # 2 * 15 / sqrt(2) at 45 degrees.
    np.testing.assert_allclose(ink(draw_lines([0, np.pi / 2, np.pi, 3 * np.pi / 2])), 30, atol=1e-4)
    np.testing.assert_allclose(ink(draw_lines([np.pi / 4 + 1e-3])), 30 / np.sqrt(2), rtol=2e-3)

  def test_labels_are_ten_bins_of_36_degrees(self):
    angles = np.deg2rad([0, 35.9, 36.1, 180, 359.9])
    np.testing.assert_array_equal(angle_labels(angles), [0, 0, 1, 5, 9])
    # The original's formula puts angles within 1e-6 of 2π in a class 10 (a baseline run on
    # lines32 drew one at 982 kimg and stopped); they belong to the last bin.
    assert angle_labels([np.nextafter(2 * np.pi, 0), 2 * np.pi - 5e-7]).tolist() == [9, 9]


class TestMetrics:

  def test_closest_line_recovers_reference_angles(self):
    angles = np.arange(0, 10000, 737) * 2 * np.pi / 10000
    distance, found = metrics.closest_line(draw_lines(angles))
    np.testing.assert_allclose(distance, 0, atol=1e-12)
    np.testing.assert_allclose(found, angles)

  def test_cosine_distance_matches_scipy(self):
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (5, 32, 32, 1))
    distance, angle = metrics.closest_line(images)
    refs = draw_lines(np.arange(10000) * 2 * np.pi / 10000).reshape(10000, -1)
    full = cdist(images.reshape(5, -1), refs, 'cosine')
    np.testing.assert_allclose(distance, full.min(1), atol=1e-12)
    np.testing.assert_allclose(angle, full.argmin(1) * 2 * np.pi / 10000)

  def test_smoothness_golden_values(self):
    even = np.linspace(0, 1, 16)[None]
    jump = np.concatenate([np.zeros(8), np.ones(8)])[None]
    scores = metrics.smoothness_score(np.concatenate([even, jump, np.zeros((1, 16))]))
    np.testing.assert_allclose(scores[:2], [0, 1 - 1 / 15], atol=1e-12)
    assert np.isnan(scores[2])  # no angular change at all

  def test_smoothness_unwraps_across_zero(self):
    path = (np.linspace(-0.5, 0.5, 16) % (2 * np.pi))[None]  # crosses 2 pi -> 0
    np.testing.assert_allclose(metrics.smoothness_score(path), 0, atol=1e-12)

  def test_nan_counts_as_zero_but_stays_in_denominator(self, monkeypatch):
    monkeypatch.setattr(metrics, 'closest_line',
                        lambda x: (np.zeros(len(x)), np.tile(
                            np.concatenate([np.zeros(4), np.linspace(0, 1, 4)]), 1)))
    result = metrics.line_eval(np.zeros((2, 4, 32, 32, 1)))
    # path 1 has no change (NaN -> 0), path 2 is perfectly even (0): mean over 2.
    assert result['mean_smoothness'] == pytest.approx(0.0)
    monkeypatch.setattr(metrics, 'closest_line',
                        lambda x: (np.zeros(len(x)), np.array([0, 0, 0, 0, 0, 0, 0, 1.0])))
    assert metrics.line_eval(np.zeros((2, 4, 32, 32, 1)))['mean_smoothness'] == pytest.approx(
        (1 - 1 / 3) / 2)

  def _paths(self, pairs=64, steps=16, seed=0):
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 2 * np.pi, pairs)
    end = start + rng.choice([-1, 1], pairs) * rng.uniform(0.3, 0.9, pairs) * np.pi
    t = metrics.interpolation_alphas(steps)
    return start, end, t

  def test_perfect_interpolation_scores_near_zero(self):
    start, end, t = self._paths()
    images = draw_lines((start[:, None] * (1 - t) + end[:, None] * t).ravel())
    result = metrics.line_eval(images.reshape(64, 16, 32, 32, 1))
    assert result['mean_distance'] < 1e-6
    assert result['mean_smoothness'] < 0.01

  def test_pixel_crossfade_scores_poorly(self):
    start, end, t = self._paths()
    a, b = draw_lines(start), draw_lines(end)
    t = t[None, :, None, None, None]
    fade = a[:, None] * (1 - t) + b[:, None] * t
    result = metrics.line_eval(fade)
    assert result['mean_distance'] > 1e-3
    assert result['mean_smoothness'] > 0.5

  def test_protocol_with_identity_autoencoder_in_pixel_space(self):
    # encode = identity, lerp in pixel space: the crossfade again, through the protocol.
    rng = np.random.default_rng(1)
    result = metrics.evaluate_interpolations(lambda x: x, lambda z: z,
                                             lambda a, b, t: a + (b - a) * t[:, None, None, None],
                                             rng, pairs=16)
    assert result['mean_distance'] > 1e-3 and result['mean_smoothness'] > 0.5

  def test_metrics_do_not_import_tensorflow(self):
    import subprocess
    code = ('import sys, acai_tf.metrics.interpolation, acai_tf.line_renderer, acai_tf.images;'
            'assert "tensorflow" not in sys.modules, "TF imported"')
    subprocess.run([sys.executable, '-c', code], check=True)
