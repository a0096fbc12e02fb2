"""Image grids (numpy): what a run logs at every report, and the paper's figures.

Monitoring grids: reconstructions, lerp, slerp and prior samples, as the original logged them.
Figures, for the notebooks and docs/: the lines examples of figure 4 (Berthelot et al., ICLR
2019), 16 frames between angles 5pi/7 and 3pi/2, and rows of images drawn with matplotlib
(the `notebooks` extra).
"""

import numpy as np

from acai_tf.line_renderer import draw_lines
from acai_tf.metrics.interpolation import interpolation_alphas


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
    encode, decode, interpolate: numpy callables (see metrics.interpolation).
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


# ---- the paper's figures -------------------------------------------------------------------

N_FRAMES = 16
START, END = 5 * np.pi / 7, 3 * np.pi / 2


def line_samples(n=N_FRAMES, seed=0):
  """Figure 4a: lines at n evenly spaced angles, shuffled."""
  angles = np.random.default_rng(seed).permutation(np.linspace(0, 2 * np.pi - np.pi / n, n))
  return draw_lines(angles)


def _blur(image, sigma):
  from scipy.ndimage import gaussian_filter
  return gaussian_filter(image, sigma=(sigma, sigma, 0)) if sigma > 0 else image


def example_interpolations(start=START, end=END, n=N_FRAMES):
  """Figures 4b-f: one ideal and four flawed interpolations from `start` to `end`.

  Returns:
    dict name -> [n, 32, 32, 1] frames: 'perfect' (the angle moves evenly),
    'crossfade' (pixel-space blend of the endpoints), 'abrupt' (half the
    frames at each endpoint), 'overshoot' (the long way round), 'unrealistic'
    (correct angles but dimmed and blurred in the middle).
  """
  t = np.linspace(0, 1, n)
  first, last = draw_lines([start])[0], draw_lines([end])[0]
  bump = np.sin(np.linspace(0, np.pi, n))
  perfect = draw_lines(start + t * (end - start))
  # Correct angles, but the middle frames are dimmed (ink x (1 - sqrt(b) / 2)) and blurred
  # (sigma 1.5 b), with b = sin over the path: 0 at the endpoints, 1 half-way.
  ink = (perfect + 1) / 2
  unrealistic = np.stack([_blur(ink[i] * (1 - np.sqrt(bump[i]) / 2), 1.5 * bump[i])
                          for i in range(n)]) * 2 - 1
  return {
      'perfect': perfect,
      'crossfade': first[None] * (1 - t)[:, None, None, None] + last[None] * t[:, None, None, None],
      'abrupt': np.concatenate([np.repeat(first[None], n // 2, 0),
                                np.repeat(last[None], n - n // 2, 0)]),
      'overshoot': draw_lines(start + t * (end - 2 * np.pi - start)),
      'unrealistic': unrealistic.astype(np.float32),
  }


def export_interpolation(module, start_images, end_images, n=N_FRAMES):
  """Decoded paths between image pairs through an export: [pairs, n, H, W, C]."""
  import tensorflow as tf
  z1, z2 = module.encode(start_images), module.encode(end_images)
  frames = [module.decode(module.interpolate(z1, z2, tf.fill([len(start_images)], float(a))))
            for a in np.linspace(0, 1, n)]
  return np.stack([np.asarray(f) for f in frames], axis=1)


def show_rows(rows, labels=None, ax=None, vmin=-1, vmax=1):
  """Plots rows of images ([rows, cols, H, W, C] or a list of [cols, H, W, C]) as one grid."""
  import matplotlib.pyplot as plt
  rows = np.stack(list(rows))
  grid = image_grid(rows)
  ax = ax or plt.figure(figsize=(rows.shape[1] * 0.6, rows.shape[0] * 0.7)).gca()
  ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else (grid - vmin) / (vmax - vmin),
            cmap='gray', vmin=vmin, vmax=vmax)
  height = rows.shape[2]
  ax.set_yticks([height * (i + 0.5) for i in range(len(rows))])
  ax.set_yticklabels(labels or [''] * len(rows))
  ax.set_xticks([])
  return ax
