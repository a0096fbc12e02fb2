"""One conformance suite over the whole model registry (the maths: test_reference.py)."""

import dataclasses
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from acai_tf.models import CONFIGS, MODELS
from acai_tf.models.acai import ACAI
from acai_tf.models.acai_config import ACAIConfig
from acai_tf.models.base import AutoEncoder
from acai_tf.models.base_config import AEConfig
from helpers import batch, fit_from, fit_steps, make, weights

# AdvAI's many networks make it the slowest: its conformance runs with the slow tests.
ALL = [pytest.param(name, marks=pytest.mark.slow) if name == 'advai' else name
       for name in sorted(MODELS)]


def _epsilon_one(model):
  for optimizer in model.group_optimizers.values():
    optimizer.epsilon = 1.0  # makes Adam's first step proportional to the gradient


@pytest.mark.parametrize('name', ALL)
class TestConformance:

  def test_shapes(self, name):
    model = make(name)
    x, _ = batch()
    z = model.encode(x)
    assert tuple(z.shape) == (8,) + model.latent_shape == (8, 4, 4, 4)
    assert tuple(model.decode(z).shape) == (8, 32, 32, 1)
    assert tuple(model(x).shape) == (8, 32, 32, 1)
    for alpha, end in ((0.0, z), (1.0, z[::-1])):  # every path keeps its endpoints
      np.testing.assert_allclose(model.interpolate(z, z[::-1], tf.fill([8], alpha)), end,
                                 atol=1e-5)
    if type(model).interpolate is AutoEncoder.interpolate:  # plain lerp
      mid = model.interpolate(z, z[::-1], tf.fill([8], 0.25))
      np.testing.assert_allclose(mid, 0.75 * z + 0.25 * z[::-1], atol=1e-6)
    assert tuple(model.classify(x).shape) == (8, 10)

  def test_variable_groups_are_disjoint_and_complete(self, name):
    model = make(name)
    groups = model.variable_groups()
    ids = [id(v) for vs in groups.values() for v in vs]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(v) for v in model.trainable_variables}
    assert set(groups) == set(model.learning_rates())

  @pytest.mark.slow
  def test_one_step_from_one_forward_pass_training_and_exact_resume(self, name, tmp_path):
    """Every group's update uses gradients at the pre-update weights (as tf.group did), and only
    the groups with a loss (and the probe) move; 40 more steps lower the reconstruction loss.
    Checkpointed there, one more step in the same model, or restored into a new one, ends at
    the same weights; restored again and stepped on other labels, only the probe differs."""
    model = make(name, lr=0.05)
    model.compile()
    _epsilon_one(model)
    x, y = batch()
    seed = model._step_seed()
    step = model.compute_losses(x, seed)
    trained = set(step.losses) | {'classifier'}
    every_group = model.variable_groups()
    before = {g: weights(v) for g, v in every_group.items()}
    groups = {g: v for g, v in every_group.items() if g in trained}
    with tf.GradientTape(persistent=True) as tape:
      step = model.compute_losses(x, seed)
      losses = dict(step.losses)
      logits = model.classifier(tf.reshape(tf.stop_gradient(step.features), [8, -1]))
      losses['classifier'] = tf.reduce_mean(
          keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    history = fit_steps(model, (x, y), 1)
    for group, variables in every_group.items():
      changed = any(np.abs(a - b).max() > 0 for a, b in zip(before[group], weights(variables)))
      assert changed == (group in trained), f'group {group}: moved={changed}'
    b2 = 1 - 0.999
    for group, variables in groups.items():
      for w0, g, w1 in zip(before[group], tape.gradient(losses[group], variables),
                           weights(variables)):
        g = np.asarray(g)
        lr = model.learning_rates()[group]
        expected = w0 - lr * np.sqrt(b2) * g / (np.sqrt(b2) * np.abs(g) + 1.0)
        np.testing.assert_allclose(w1, expected, rtol=1e-4, atol=1e-7, err_msg=group)
    assert set(history) == set(step.logs) | {'rmse', 'classify_latent'}  # the base adds two
    assert set(step.logs) <= set(model.logged)
    first = history['loss_ae'][0]
    last = fit_steps(model, (x, y), 40)['loss_ae'][0]
    assert np.isfinite(last) and last < 0.8 * first

    save = tf.train.Checkpoint(model=model, **model.group_optimizers).save(str(tmp_path / 'c'))
    fit_steps(model, (x, y), 1)
    restored = make(name, lr=0.05)  # a new model, restored twice: same labels, other labels
    restored.compile()
    _epsilon_one(restored)
    checkpoint = tf.train.Checkpoint(model=restored, **restored.group_optimizers)
    resumed = []
    for labels in (y, (y + 3) % 10):
      checkpoint.restore(save).assert_consumed()
      assert int(restored.step) == 41
      fit_steps(restored, (x, labels), 1)
      assert int(restored.step) == 42
      resumed.append((weights(restored.variables), {
          group: weights(variables) for group, variables in restored.variable_groups().items()}))
    assert int(model.step) == 42
    for a, b in zip(weights(model.variables), resumed[0][0]):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    (_, same_labels), (_, other_labels) = resumed
    for group in same_labels:  # the same step but for the labels: only the probe may differ
      same = all(np.array_equal(p, q) for p, q in zip(same_labels[group], other_labels[group]))
      assert same == (group != 'classifier'), group

  @pytest.mark.slow
  def test_export_round_trip(self, name, tmp_path):
    """An export holds the model's weights as they were; the next export of the same live model
    (through the same traced functions) holds them as they are then."""
    from acai_tf import export
    model = make(name)
    x = batch()[0]
    record = {'model': name, 'dataset': 'lines32', 'step': 1, 'kimg': 8 / 1024,
              'image_shape': [32, 32, 1]}  # what a training run's export records
    first = export.save(model, str(tmp_path), record)
    z_first = model.encode(x)
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:  # as a training step would move them
      variable.assign_add(0.05 * rng.standard_normal(variable.shape).astype('float32'))
    second = export.save(model, str(tmp_path), {**record, 'step': 2})
    z = model.encode(x)
    assert np.abs(np.asarray(z) - np.asarray(z_first)).max() > 1e-3
    old, _ = export.load(first)  # kept: a loaded module's functions need it alive
    np.testing.assert_allclose(old.encode(x), z_first, atol=1e-5)
    module, meta = export.load(second)
    np.testing.assert_allclose(module.encode(x), z, atol=1e-5)
    np.testing.assert_allclose(module.decode(z), model.decode(z), atol=1e-5)
    np.testing.assert_allclose(module.interpolate(z, z[::-1], tf.fill([8], 0.3)),
                               model.interpolate(z, z[::-1], tf.fill([8], 0.3)), atol=1e-5)
    assert meta == {**record, 'step': 2} and os.path.realpath(tmp_path / 'export') == second

  def test_config_round_trip_and_validation(self, name):
    cls = MODELS[name].config_class
    config = cls(depth=8)
    assert cls(**config.to_dict()) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
      config.depth = 3
    for bad in ({'latent_width': 3}, {'latent_width': 0}, {'depth': 0}, {'lr': -1.0}):
      with pytest.raises(ValueError):
        cls(**bad)


def test_scales_follow_the_image_size_as_in_the_original():
  def scales(size, width):
    return AEConfig(latent_width=width).scales(size)
  assert [scales(32, 4), scales(32, 2), scales(64, 4), scales(64, 1)] == [3, 4, 4, 6]
  for size, width in ((32, 32), (32, 64), (48, 4)):
    with pytest.raises(ValueError, match=f'image size {size}'):
      scales(size, width)


def test_every_config_names_the_class_that_names_it_back():
  assert list(MODELS) == list(CONFIGS)  # the same names, in the same order
  for name, config_class in CONFIGS.items():
    assert issubclass(MODELS[name], AutoEncoder) and MODELS[name].config_class is config_class
    assert config_class.display_name and config_class.model_class.startswith('acai_tf.models.')


def test_acai_critic_width_defaults_to_depth():
  wide = ACAI(ACAIConfig(depth=4, latent=4, latent_width=4, advdepth=8))
  same = ACAI(ACAIConfig(depth=4, latent=4, latent_width=4))
  assert wide.critic.count_params() > same.critic.count_params()
  assert same.critic.count_params() == same.encoder.count_params()


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device(mirrored):
  data = batch(32, seed=4)
  model = make('baseline')
  init, start = model.get_weights(), weights(model.trainable_variables)
  dataset = tf.data.Dataset.from_tensor_slices(data).batch(8).repeat()
  single, on_two = (weights(fit_from('baseline', init, dataset, 4, strategy).trainable_variables)
                    for strategy in (None, mirrored))
  moved = max(np.abs(a - b).max() for a, b in zip(single, start))
  assert moved > 1e-4
  for a, b in zip(single, on_two):
    np.testing.assert_allclose(a, b, atol=2e-5)


def test_the_report_interval_keeps_the_papers_256_reports_unless_given():
  from acai_tf.config import TrainConfig
  assert TrainConfig().report_kimg == 64  # the paper's 16384 kimg: a report every 64
  assert TrainConfig(total_kimg=1024).report_kimg == 4
  assert TrainConfig(total_kimg=1).report_kimg == 1 / 256
  assert TrainConfig(total_kimg=1024, report_kimg=32).report_kimg == 32
  with pytest.raises(ValueError, match=r'^total_kimg=-1 must be'):
    TrainConfig(total_kimg=-1)  # the budget's own error, not the derived interval's


def test_configs_enforce_the_bounds_their_fields_declare():
  from acai_tf.config import TrainConfig
  from acai_tf.models.dropout import DropoutConfig
  from acai_tf.models.vqvae import VQVAEConfig
  with pytest.raises(ValueError, match=r'^dropout=0 must be in \(0, 1\]\.$'):
    DropoutConfig(dropout=0)
  DropoutConfig(dropout=1)  # a keep probability of 1 is allowed
  with pytest.raises(ValueError, match=r'^decay=1 must be in \(0, 1\)\.$'):
    VQVAEConfig(decay=1)
  with pytest.raises(ValueError, match=r"^encode_with='max'; choose one of: sample, mean\.$"):
    MODELS['vae'].config_class(encode_with='max')
  with pytest.raises(ValueError, match=r'^report_kimg=nan must be a finite number\.$'):
    TrainConfig(report_kimg=float('nan'))
  with pytest.raises(ValueError, match=r'^dropout=1\.0000001 must be in \(0, 1\]\.$'):
    DropoutConfig(dropout=1.0000001)
  with pytest.raises(ValueError, match=r"^shuffle is unset \(None\); its default is 'buffer'\.$"):
    TrainConfig(shuffle=None)
  with pytest.raises(ValueError, match='lr is unset'):
    DropoutConfig(lr=None)
  TrainConfig(xla=None, data_dir=None)  # unset by default: None means auto / $ACAI_DATA
  # Every bounded field of every config refuses a value just past its first bound.
  for config_class in {*CONFIGS.values(), TrainConfig}:
    for field in dataclasses.fields(config_class):
      for op, bound in field.metadata.get('limits', {}).items():
        step = 1 if field.type is int else max(1e-9, abs(bound) * 1e-6)
        bad = {'>=': bound - step, '>': bound, '<=': bound + step, '<': bound}[op]
        with pytest.raises(ValueError, match=f'^{field.name}='):
          config_class(**{field.name: bad})
