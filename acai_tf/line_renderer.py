"""The synthetic lines32 benchmark: anti-aliased 2-px lines from the image centre.

Paper: "Understanding and Improving Interpolation in Autoencoders via an
Adversarial Regularizer", Berthelot et al., ICLR 2019, section 3
(https://arxiv.org/abs/1807.07543).

A line of length 15 starts at pixel coordinate (16, 16) and points at `angle`
(0 = right, pi/2 = up). The rasterizer is the original's scanline renderer
(lib/data.py `draw_line`), vectorised, pixel for pixel: it walks the line's
major axis one pixel row at a time and gives each pixel the length of its
overlap with a 2-px wide stroke, times the row's weight; the result is mapped to
[-1, 1] with background -1 and a fully covered pixel +1.

Row weights are the original's too: the first row the line enters part-way
gets its covered fraction, every other row (the far tip's included) weight 1.
(The original meant to weigh the tip row by its fraction as well, but the
branch that would have done so can never run; tests/test_lines.py compares
this renderer with a transcription of that loop on the 10,000 reference angles.)
"""

import numpy as np

from acai_tf.config import IMAGE_SIZE

SIZE = IMAGE_SIZE
RADIUS = SIZE // 2 - 1
STROKE = 2.0
NCLASS = 10


def angle_labels(angles):
  """Class of each angle: 10 bins of 36 degrees, as the original numbered them. Its formula
  gives class 10 to angles within 1e-6 of 2π (a draw in about 6 million); they stay in the
  last bin here, where a sparse cross-entropy would fail on them."""
  labels = (NCLASS * np.asarray(angles) / (2 * np.pi - 1e-6)).astype(np.int64)
  return np.minimum(labels, NCLASS - 1)


def draw_lines(angles, size=SIZE, stroke=STROKE):
  """Renders one line per angle.

  Args:
    angles: float array [N] of angles in radians.
    size: image height and width.
    stroke: stroke width in pixels.

  Returns:
    float32 array [N, size, size, 1] with values in [-1, 1].
  """
  angles = np.atleast_1d(np.asarray(angles, np.float64))
  n = angles.shape[0]
  centre, radius = size / 2, size / 2 - 1
  start = np.full((n, 2), centre)  # (row, col)
  end = np.stack([centre - radius * np.sin(angles),
                  centre + radius * np.cos(angles)], axis=1)
  # Walk the axis along which the line is longer ("major"); ties go to rows.
  col_major = np.abs(end[:, 1] - start[:, 1]) > np.abs(end[:, 0] - start[:, 0])
  order = np.where(col_major[:, None], [1, 0], [0, 1])  # (major, minor) axes
  p0 = np.take_along_axis(start, order, axis=1)
  p1 = np.take_along_axis(end, order, axis=1)
  swap = p1[:, 0] < p0[:, 0]  # make the major coordinate increase
  p0, p1 = np.where(swap[:, None], p1, p0), np.where(swap[:, None], p0, p1)
  u0, v0 = p0[:, 0], p0[:, 1] - stroke / 2
  u1, v1 = p1[:, 0], p1[:, 1] - stroke / 2
  du = u1 - u0
  slope = np.divide(v1 - v0, du, out=np.zeros_like(du), where=du != 0)

  rows = np.arange(size)[None, :]  # candidate major coordinates
  first, last = np.floor(u0)[:, None], np.ceil(u1)[:, None]
  inside = (rows >= first) & (rows < last)
  # The row the line starts in part-way gets its covered fraction; all others 1.
  weight = np.where(rows < np.ceil(u0)[:, None], np.ceil(u0)[:, None] - u0[:, None], 1.0)
  weight = np.where(inside, weight, 0.0)
  # Stroke on each row spans [vs, vs + stroke] along the minor axis.
  vs = v0[:, None] + (rows - u0[:, None] - 0.5) * slope[:, None]
  pix = np.arange(size)[None, None, :]
  overlap = (np.minimum(pix + 1, vs[..., None] + stroke) - np.maximum(pix, vs[..., None]))
  coverage = weight[..., None] * np.clip(overlap, 0.0, 1.0)  # [n, major, minor]
  image = np.where(col_major[:, None, None], coverage.transpose(0, 2, 1), coverage)
  image = np.clip(2 * image - 1, -1, 1)
  return image[..., None].astype(np.float32)


def random_lines(rng, n):
  """Draws `n` lines at uniform random angles.

  Args:
    rng: a numpy Generator.
    n: number of lines.

  Returns:
    (images float32 [n, 32, 32, 1], labels int64 [n], angles float64 [n]).
  """
  angles = 2 * np.pi * rng.random(n)
  return draw_lines(angles), angle_labels(angles), angles
