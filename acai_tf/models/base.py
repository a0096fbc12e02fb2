"""The shared autoencoder: networks, the tandem latent probe, optimizers and train_step.

A model subclass overrides `compute_losses`, returning one loss per optimizer
group ('ae' always; e.g. 'critic' for ACAI) plus the scalars to log, and, if it
adds networks, `build_networks` and `variable_groups`. Every group gets its own
Adam; all gradients come from one forward pass and are computed before any update
is applied, as the original's `tf.group` of optimizers did. The base logs `rmse`
(from `loss_ae`) and the probe's `classify_latent` itself.
"""

import dataclasses
import math

import keras
import tensorflow as tf

from acai_tf import conv_layers, distribute, nets
from acai_tf.config import IMAGE_SIZE, PRECISIONS
from acai_tf.models.base_config import AEConfig
from acai_tf.optimizer import FusedAdam


def mse(a, b):
  return tf.reduce_mean(tf.square(a - b))


@dataclasses.dataclass
class StepOutput:
  """What `compute_losses` returns for one training step.

  Attributes:
    losses: optimizer group name -> scalar loss ('ae' always; 'classifier' is
      added by the base).
    logs: every name of the model's `logged` -> scalar (the base adds `rmse` and
      `classify_latent`).
    features: the latent the probe reads (its gradient is stopped); None: the probe does
      not train in this step (e.g. a phase that trains other networks only).
    updates: (variable, new value) pairs of non-gradient state (e.g. EMA),
      assigned after the optimizers step.
  """
  losses: dict
  logs: dict
  features: tf.Tensor
  updates: tuple = ()


class AutoEncoder(distribute.ReplicatedTrainLoop, keras.Model):
  """Convolutional autoencoder trained by plain reconstruction (MSE).

  Subclasses change the training objective only; `encode`, `decode`,
  `interpolate` and the probe behave the same for every model.

  `precision` (one of PRECISIONS) is the dtype policy of the conv networks
  (`nets.*(..., dtype=self.precision)`); small dense heads stay float32. Under
  'mixed_float16' every optimizer is wrapped in a dynamic LossScaleOptimizer.

  `conv_paths` (a conv_layers.ConvPaths, stored as `self.conv_paths`) is the path each
  convolution of the conv networks takes; a program chooses it once at start-up
  (conv_layers.choose, from its --conv_paths). The default, conv_layers.PLAIN, builds Keras'
  own layers and times nothing; every choice has the same variables and maths.
  """
  config_class = AEConfig  # its hyperparameters and description (TensorFlow-free)
  logged = ('loss_ae',)  # the scalars compute_losses returns

  def __init__(self, config, image_shape=(IMAGE_SIZE, IMAGE_SIZE, 1), nclass=10, seed=0,
               precision='float32', conv_paths=conv_layers.PLAIN, **kwargs):
    super().__init__(**kwargs)
    if precision not in PRECISIONS:
      raise ValueError(f'precision={precision!r}; choose one of: {", ".join(PRECISIONS)}.')
    self.precision = precision
    self.conv_paths = conv_paths
    self.config = config
    self.image_shape = tuple(image_shape)
    if image_shape[0] != image_shape[1]:
      raise ValueError(f'images must be square; got {image_shape[0]}x{image_shape[1]}.')
    self.scales = config.scales(image_shape[0])
    self.latent_shape = (config.latent_width, config.latent_width, config.latent)
    self.nclass = nclass
    self.seed = seed
    self.encoder = nets.encoder(self.image_shape, self.scales, config.depth, config.latent,
                                dtype=precision, conv_paths=conv_paths)
    self.decoder = nets.decoder(self.latent_shape, self.scales, config.depth, image_shape[-1],
                                dtype=precision, conv_paths=conv_paths)
    # The probe: one dense layer on stop_gradient(latent); skipped for unlabelled data.
    self.classifier = None
    if nclass > 1:
      self.classifier = keras.layers.Dense(nclass, name='classifier')
      self.classifier.build((None, math.prod(self.probe_shape())))
    names = (self.logged + (('rmse',) if 'loss_ae' in self.logged else ())
             + (('classify_latent',) if self.classifier else ()))
    self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
    self.group_optimizers = {}
    self.step = self.add_weight(shape=(), dtype='int64', initializer='zeros', trainable=False,
                                aggregation='only_first_replica', name='step')
    self.build_networks()
    self.built = True  # every sub-network is built above

  # ---- what subclasses override -------------------------------------------------------

  def build_networks(self):
    """Builds the model's own networks and state (a critic, a codebook, ...), after the
    encoder, decoder and probe; `self.config`, `self.latent_shape`, `self.scales` are set.
    Conv networks built with acai_tf.nets take `dtype=self.precision` and
    `conv_paths=self.conv_paths`."""

  def compute_losses(self, x, seed):
    """Losses of one training step.

    Args:
      x: image batch [B, H, W, C] in [-1, 1].
      seed: int32 [2] stateless seed for this step and replica.

    Returns:
      A `StepOutput`. It has no side effects: state updates are returned, not made.
    """
    del seed
    z = self.encoder(x, training=True)
    loss_ae = mse(x, self.decoder(z, training=True))
    return StepOutput({'ae': loss_ae}, {'loss_ae': loss_ae}, z)

  def variable_groups(self):
    """Maps optimizer group names to the variables each one trains (disjoint)."""
    groups = {'ae': self.encoder.trainable_variables + self.decoder.trainable_variables}
    if self.classifier:
      groups['classifier'] = self.classifier.trainable_variables
    return groups

  def learning_rates(self):
    return {group: self.config.lr for group in self.variable_groups()}

  def probe_shape(self):
    """Shape (without batch) of the `features` the probe reads."""
    return self.latent_shape

  def extra_networks(self):
    """Networks besides the encoder and decoder (listed in the start-up table)."""
    return []

  def kimg_before_total(self):
    """kimg trained before the `total_kimg` a run asks for (e.g. AdvAI's phase 1)."""
    return 0

  def phase_kimg(self):
    """kimg trained (from the start) at which the training objective changes, in order; the
    trainer turns them into steps (TrainConfig.steps) and re-traces the step there."""
    return ()

  def enter_phase(self, phase):
    """Called before training goes on in `phase`: 0 before the first of `phase_kimg()`, i
    after the i-th, len(phase_kimg()) the last (the one benchmarks time)."""
    del phase

  # ---- inference, shared by every model and by the export ----------------------------

  def encode(self, x):
    return self.encoder(x, training=False)

  def decode(self, z):
    return self.decoder(z, training=False)

  def interpolate(self, z1, z2, alpha):
    """Latent path point: alpha = 0 gives z1, alpha = 1 gives z2. alpha is [B]."""
    alpha = tf.reshape(alpha, [-1] + [1] * (len(z1.shape) - 1))
    return (1 - alpha) * z1 + alpha * z2

  def probe_features(self, x):
    """The latent the probe reads at test time (the same tensor as in training)."""
    return self.encode(x)

  def classify(self, x):
    """Probe logits for images x."""
    return self.classifier(tf.reshape(self.probe_features(x), [tf.shape(x)[0], -1]))

  def call(self, x, training=False):
    return self.decode(self.encode(x))

  # ---- training -----------------------------------------------------------------------

  def compile(self, jit_compile='auto', steps_per_execution=1):
    """One Adam per variable group (TF1 epsilon 1e-8), built on its own variables."""
    groups = self.variable_groups()
    self.group_optimizers = {
        group: FusedAdam(lr, epsilon=1e-8, name=f'adam_{group}')
        for group, lr in self.learning_rates().items()}
    if self.precision == 'mixed_float16':  # float16 gradients underflow without loss scaling
      self.group_optimizers = {group: keras.optimizers.LossScaleOptimizer(optimizer)
                               for group, optimizer in self.group_optimizers.items()}
    for group, optimizer in self.group_optimizers.items():
      optimizer.build(groups[group])
    # Keras' own `optimizer` is the AE one (it also drives Keras' learning-rate logs).
    super().compile(optimizer=self.group_optimizers['ae'], jit_compile=jit_compile,
                    steps_per_execution=steps_per_execution)

  def steps_done(self):
    """Training steps taken so far (a Python int, under any distribution strategy)."""
    return int(self.step.numpy())

  @property
  def metrics(self):
    return list(self.trackers.values())

  def _step_seed(self):
    first = tf.cast(self.seed, tf.int64) * 1024 + tf.cast(distribute.replica_id(), tf.int64)
    return tf.stack([first, tf.cast(self.step, tf.int64)])

  def train_step(self, data):
    x, label = data
    with tf.GradientTape(persistent=True) as tape:
      step = self.compute_losses(x, self._step_seed())
      losses, logs = dict(step.losses), dict(step.logs)
      if 'loss_ae' in logs:
        logs['rmse'] = rmse(logs['loss_ae'])
      if self.classifier and step.features is not None:
        flat = tf.reshape(tf.stop_gradient(step.features), [tf.shape(x)[0], -1])
        logs['classify_latent'] = losses['classifier'] = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(label, self.classifier(flat),
                                                         from_logits=True))
      # Keras sums gradients over replicas, so each replica's loss is scaled down;
      # `scale_loss` multiplies by the dynamic loss scale under mixed_float16 (else 1).
      scale = 1.0 / distribute.replicas_in_sync()
      scaled = {group: self.group_optimizers[group].scale_loss(loss * scale)
                for group, loss in losses.items()}
    # Groups without a loss in this step (e.g. a frozen module) are left alone.
    groups = {g: v for g, v in self.variable_groups().items() if g in losses}
    grads = {group: tape.gradient(scaled[group], variables) for group, variables in groups.items()}
    del tape
    for group, variables in groups.items():
      self.group_optimizers[group].apply(grads[group], variables)
    for variable, value in step.updates:
      variable.assign(value)
    self.step.assign_add(1)
    for name, value in logs.items():
      self.trackers[name].update_state(value)
    return {name: self.trackers[name].result() for name in logs}  # this phase's scalars


def rmse(loss):
  """Root mean squared error in 8-bit pixel units, as the original logged it."""
  return tf.sqrt(loss) * 127.5
