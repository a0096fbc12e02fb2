"""Model maths on fixed tensors: the parts the differential test (test_reference.py) does not
reach, such as evaluation-time encodings, logged statistics and AdvAI's helpers."""

import numpy as np
import pytest
import tensorflow as tf

from acai_tf.models import advai, vqvae
from helpers import batch, fit_steps, make, weights


def test_vae_encodes_to_a_posterior_sample_by_default():
  model = make('vae', encode_with='sample')
  x, _ = batch(4)
  _, mu, log_var = (t.numpy() for t in model._moments(x, training=False))
  mean = make('vae', encode_with='mean')  # the same weights (same seed)
  np.testing.assert_allclose(mean.encode(x).numpy().reshape(4, -1), mu, rtol=1e-5, atol=1e-6)
  assert np.abs(mean.decode(mean.encode(x))).max() <= 1
  draws = np.stack([model.encode(x).numpy().reshape(4, -1) for _ in range(8)])
  assert not np.allclose(draws[0], draws[1])
  standard = (draws - mu) / np.exp(0.5 * log_var)  # N(0, 1) if z = mu + sigma * eps
  assert abs(standard.mean()) < 0.05 and abs(standard.std() - 1) < 0.05


def test_vqvae_codebook_use():
  # 4 assignments to 2 of 8 codes, 3 and 1: two codes used; perplexity
  # exp(-(0.75 ln 0.75 + 0.25 ln 0.25)) = 1.7548.
  use = vqvae.codebook_use(tf.constant([3.0, 0, 0, 1, 0, 0, 0, 0]))
  assert float(use['codes_used']) == 2
  assert float(use['code_perplexity']) == pytest.approx(1.75477, rel=1e-4)
  assert float(vqvae.codebook_use(tf.ones(8))['code_perplexity']) == pytest.approx(8, rel=1e-5)


def test_aae_logs_the_latent_moments():
  model = make('aae')
  x, _ = batch(4)
  logs = model.compute_losses(x, tf.constant([3, 4], tf.int64)).logs
  flat = model.encoder(x).numpy().reshape(-1)
  assert float(logs['latent_mean']) == pytest.approx(flat.mean(), abs=1e-6)
  assert float(logs['latent_std']) == pytest.approx(flat.std(), rel=1e-4)
  assert 0 <= float(logs['adversary_accuracy']) <= 1


def test_vq_ema_update_golden():
  count = tf.constant([0.0, 2.0, 1.0])
  sums = tf.constant([[1.0, 1.0], [4.0, 0.0], [0.0, 3.0]])
  assigned = tf.constant([1.0, 0.0, 2.0])
  assigned_sum = tf.constant([[2.0, 2.0], [0.0, 0.0], [6.0, 6.0]])
  new_count, new_sums, codebook = vqvae.ema_update(count, sums, assigned, assigned_sum, 0.5, 0.1)
  np.testing.assert_allclose(new_count, [0.5, 1.0, 1.5])
  np.testing.assert_allclose(new_sums, [[1.5, 1.5], [2.0, 0.0], [3.0, 4.5]])
  n = 3.0
  smoothed = (np.array([0.5, 1.0, 1.5]) + 0.1) / (n + 3 * 0.1) * n
  np.testing.assert_allclose(codebook, np.array([[1.5, 1.5], [2.0, 0.0], [3.0, 4.5]])
                             / smoothed[:, None], rtol=1e-6)


@pytest.mark.slow
def test_vq_nearest_and_training_updates_the_codebook():
  codebook = tf.constant([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
  np.testing.assert_array_equal(vqvae.nearest(tf.constant([[9.0, 1.0], [1.0, 8.0], [-1, -1.0]]),
                                              codebook), [1, 2, 0])
  model = make('vqvae')
  model.compile()
  x, y = batch(4)
  step = model.compute_losses(x, model._step_seed())
  before = weights([model.codebook, model.ema_count])
  assert before[1].sum() == 0  # compute_losses has no side effects
  expected = [np.asarray(value) for _, value in step.updates]
  fit_steps(model, (x, y), 1)
  after = weights([model.ema_count, model.ema_sums, model.codebook])
  for got, want in zip(after, expected):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  assert after[0].sum() == pytest.approx((1 - 0.999) * 4 * 10, rel=1e-5)  # 4 images x 10 codes
  # The straight-through path: decoding quantises, so nearby codes decode alike.
  z = model.encode(x)
  np.testing.assert_allclose(model.decode(z), model.decode(z + 1e-7), atol=1e-5)


def test_advai_correction_is_symmetric_and_fixes_endpoints():
  model = make('advai')
  rng = np.random.default_rng(0)
  u, v = (tf.constant(rng.normal(size=(5, 64)), tf.float32) for _ in range(2))
  a = tf.constant([0.0, 0.2, 0.5, 0.7, 1.0])
  np.testing.assert_allclose(model.correct(u, v, a), model.correct(v, u, 1 - a), atol=1e-5)
  np.testing.assert_allclose(model.correct(u, v, tf.ones(5)), u, atol=1e-5)
  np.testing.assert_allclose(model.correct(u, v, tf.zeros(5)), v, atol=1e-5)
  z1, z2 = tf.reshape(u, [5, 4, 4, 4]), tf.reshape(v, [5, 4, 4, 4])
  np.testing.assert_allclose(model.interpolate(z1, z2, tf.zeros(5)), z1, atol=1e-5)
  np.testing.assert_allclose(model.interpolate(z1, z2, tf.ones(5)), z2, atol=1e-5)


def test_mmd_golden():
  x = tf.constant([[0.0], [1.0]])
  y = tf.constant([[0.0], [3.0]])
  # The unbiased estimate with the Gaussian kernels of sigma 2, 5, 10, 20, 40, 80 (summed):
  # k(1) + k(9) - 2 * mean(k(0), k(9), k(1), k(4)) for squared distances d2, worked out once.
  assert float(advai.mmd2(x, y)) == pytest.approx(-0.2730032, rel=1e-5)
  rng = np.random.default_rng(0)
  a, b = (tf.constant(rng.normal(size=(256, 8)), tf.float32) for _ in range(2))
  assert abs(float(advai.mmd2(a, b))) < 0.05  # same distribution: close to 0
  assert float(advai.mmd2(a, b + 3.0)) > 0.5


def test_advai_regression_targets():
  scores, targets = tf.constant([0.1, 0.4]), tf.constant([0.0, 0.3])
  # Per sample: ((0.1 - 0)^2 + (0.4 - 0.3)^2) / 2.
  assert float(advai.regress(scores, targets, True)) == pytest.approx(0.01, rel=1e-5)
  # The official broadcast: every score against every target,
  # ((0.1)^2 + (0.4)^2 + (0.1 - 0.3)^2 + (0.4 - 0.3)^2) / 4.
  assert float(advai.regress(scores, targets, False)) == pytest.approx(0.055, rel=1e-5)
  # ... which is what TensorFlow computes for the official [B] - [B, 1, 1, 1].
  official = tf.reduce_mean(tf.square(scores - tf.reshape(targets, [2, 1, 1, 1])))
  assert float(official) == pytest.approx(0.055, rel=1e-5)


@pytest.mark.slow
def test_advai_phase_one_trains_only_the_interpolator():
  model = make('advai', train_int_kimg=1)
  model.compile()
  assert model.phase == 'interpolator'
  groups = model.variable_groups()
  before = {g: weights(v) for g, v in groups.items()}
  history = fit_steps(model, batch(), 2)
  moved = {g: any(np.abs(a - b).max() > 0 for a, b in zip(before[g], weights(v)))
           for g, v in groups.items()}
  assert moved == {'ae': False, 'critic': False, 'classifier': False, 'interp': True,
                   'interp_critic': True}
  assert np.isfinite(history['loss_interp'][0])
  model.enter_phase(1)  # past train_int_kimg
  assert model.phase == 'autoencoder'
  history = fit_steps(model, batch(), 1)
  assert history['loss_mmd'][0] >= 0 and int(model.step) == 3
