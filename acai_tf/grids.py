"""Image grids for monitoring: reconstructions, lerp, slerp and prior samples (numpy)."""

import numpy as np

from acai_tf.evaluation.lines import interpolation_alphas


def image_grid(images):
  """[ny, nx, h, w, c] -> one [ny * h, nx * w, c] image."""
  ny, nx, h, w, c = images.shape
  return images.transpose(0, 2, 1, 3, 4).reshape(ny * h, nx * w, c)


def slerp(z1, z2, alpha):
  """Spherical interpolation of flattened latents, alpha [N] weighting z2.

  Unlike the original, nearly parallel pairs (angle < 1e-6) fall back to lerp
  instead of dividing by sin(0).
  """
  a, b = z1.reshape(len(z1), -1), z2.reshape(len(z2), -1)
  cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
  omega = np.arccos(np.clip(cos, -1, 1))
  sin = np.sin(omega)
  safe = sin > 1e-6
  denom = np.where(safe, sin, 1.0)
  w1 = np.where(safe, np.sin((1 - alpha) * omega) / denom, 1 - alpha)
  w2 = np.where(safe, np.sin(alpha * omega) / denom, alpha)
  shape = (-1,) + (1,) * (z1.ndim - 1)
  return w1.reshape(shape) * z1 + w2.reshape(shape) * z2


def monitoring_grids(encode, decode, interpolate, pool, latent_shape, rng, size=16):
  """The four grids the original logged at every report, from a pool of test images.

  Args:
    encode, decode, interpolate: numpy callables (see evaluation.lines).
    pool: [6 * size, H, W, C] images: 4 * size reconstructed, then size
      interpolation starts and size ends.
    latent_shape: shape of one latent, for prior samples.
    rng: numpy Generator for the N(0, 1) samples.
    size: rows of every grid and steps of every interpolation.

  Returns:
    dict name -> float image [rows, cols, C] in [-1, 1]: 'reconstruction'
    (pairs [x | x_hat]), 'lerp', 'slerp', 'samples'.
  """
  n = 4 * size
  shape = pool.shape[1:]
  recon = np.asarray(decode(encode(pool[:n])))
  pairs = np.stack([pool[:n], recon], axis=1).reshape((size, 8) + shape)
  z = np.asarray(encode(pool[n:n + 2 * size]))
  z1, z2 = z[:size], z[size:]
  alphas = interpolation_alphas(size).astype(np.float32)

  def path(mix):
    zs = np.stack([mix(z1, z2, np.full(size, a, np.float32)) for a in alphas], axis=1)
    return np.asarray(decode(zs.reshape((size * size,) + z1.shape[1:]))).reshape(
        (size, size) + shape)

  samples = np.asarray(decode(rng.standard_normal((size * size,) + tuple(latent_shape))
                              .astype(np.float32))).reshape((size, size) + shape)
  grids = {'reconstruction': pairs, 'lerp': path(lambda a, b, t: np.asarray(interpolate(a, b, t))),
           'slerp': path(slerp), 'samples': samples}
  return {name: np.clip(image_grid(g), -1, 1) for name, g in grids.items()}


def to_uint8(image):
  """[-1, 1] floats to 8-bit pixels, as the original saved them."""
  return np.clip(np.round(127.5 + 127.5 * image), 0, 255).astype(np.uint8)
