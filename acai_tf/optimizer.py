"""The optimizer every model uses: Adam as TF1 computed it, one fused kernel per variable."""

import keras
import tensorflow as tf


class FusedAdam(keras.optimizers.Adam):
  """keras.optimizers.Adam whose per-variable update is TensorFlow's fused Adam kernel.

  The same update (Kingma & Ba with the bias correction folded into the step
  size, epsilon outside the square root, as Keras and TF1 compute it) in one
  `ResourceApplyAdam` op per variable instead of about ten element-wise ops:
  fewer ops to schedule and fewer passes over the weights each step
  (docs/performance.md). tests/test_speed.py checks it against Keras' Adam.
  """

  def update_step(self, gradient, variable, learning_rate):
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    index = self._get_variable_index(variable)
    tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=self._momentums[index].value.handle,
        v=self._velocities[index].value.handle,
        beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
        beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
        lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype),
        beta2=tf.cast(self.beta_2, dtype), epsilon=tf.cast(self.epsilon, dtype),
        grad=tf.cast(gradient, dtype))
