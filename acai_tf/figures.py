"""Figures of the paper, for the notebooks: example interpolations and image grids.

The lines examples are those of figure 4 (Berthelot et al., ICLR 2019): 16
frames between angles 5pi/7 and 3pi/2. Plotting needs matplotlib (the
`notebooks` extra).
"""

import numpy as np

from acai_tf.lines import draw_lines

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
  from acai_tf.grids import image_grid
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
