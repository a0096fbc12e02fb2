"""Mean Distance and Smoothness of interpolations on the lines32 benchmark.

Definitions follow section 3.1 of Berthelot et al., ICLR 2019
(https://arxiv.org/abs/1807.07543) and the released evaluation code: each
interpolated image is matched to the closest of 10000 reference lines under
cosine distance on raw [-1, 1] pixels. Mean Distance averages that distance
over every image (endpoints included); Smoothness is the largest step in the
matched angles, relative to the whole angular path, minus the step a perfectly
even path would take. Both are 0 for a perfect interpolation.
"""

import functools

import numpy as np

from acai_tf.line_renderer import draw_lines

N_REFERENCES = 10000


@functools.lru_cache(maxsize=2)
def _references(n):
  angles = np.arange(n) * 2 * np.pi / n
  refs = draw_lines(angles).reshape(n, -1).astype(np.float64)
  return refs / np.linalg.norm(refs, axis=1, keepdims=True), angles


def closest_line(images, n_references=N_REFERENCES, chunk=1024):
  """Finds the nearest reference line of each image.

  Cosine distance on uncentred pixels, as scipy's `cdist(..., 'cosine')`
  computes it; done as a normalised matrix product, in chunks, to stay fast and
  small.

  Args:
    images: array [N, 32, 32, 1] (or [N, 1024]) of values in [-1, 1].
    n_references: number of reference lines, evenly spaced over [0, 2 pi).
    chunk: rows per matrix product.

  Returns:
    (distance float64 [N], angle float64 [N]) of the closest reference.
  """
  refs, ref_angles = _references(n_references)
  flat = np.asarray(images, np.float64).reshape(len(images), -1)
  norms = np.linalg.norm(flat, axis=1, keepdims=True)
  flat = flat / np.maximum(norms, 1e-12)
  distance = np.empty(len(flat))
  index = np.empty(len(flat), np.int64)
  for i in range(0, len(flat), chunk):
    sim = flat[i:i + chunk] @ refs.T
    index[i:i + chunk] = sim.argmax(axis=1)
    distance[i:i + chunk] = 1.0 - sim.max(axis=1)
  return distance, ref_angles[index]


def smoothness_score(angles):
  """Smoothness of each angular path (0 = perfectly even steps).

  Args:
    angles: array [n, N] of matched angles along n interpolations of N steps.

  Returns:
    float64 [n]: max |step| / |total change| - 1/(N-1); NaN where the total
    change is below 1e-4 (start and end decode to the same line).
  """
  angles = np.unwrap(np.asarray(angles, np.float64), axis=1)
  steps = np.abs(np.diff(angles, axis=1))
  total = np.abs(angles[:, -1] - angles[:, 0])
  with np.errstate(divide='ignore', invalid='ignore'):
    score = steps.max(axis=1) / total - 1.0 / (angles.shape[1] - 1)
  return np.where(total < 1e-4, np.nan, score)


def line_eval(interpolations):
  """Scores a batch of interpolations between lines.

  Args:
    interpolations: array [n, N, 32, 32, 1]: n paths of N images each, the
      first and last being the endpoints' reconstructions.

  Returns:
    dict with `mean_distance` (mean over all n*N images) and
    `mean_smoothness` (NaN scores count as 0 but stay in the denominator, as
    in the original; NaN only if every score is NaN).
  """
  interpolations = np.asarray(interpolations)
  n, steps = interpolations.shape[:2]
  distance, angles = closest_line(interpolations.reshape(n * steps, -1))
  scores = smoothness_score(angles.reshape(n, steps))
  valid = ~np.isnan(scores)
  smoothness = scores[valid].sum() / n if valid.any() else float('nan')
  return {'mean_distance': float(distance.mean()), 'mean_smoothness': float(smoothness)}


def interpolation_alphas(steps):
  """Mixing weights of the second endpoint: k / (steps - 1), k = 0..steps-1."""
  return np.arange(steps) / (steps - 1)


def evaluate_interpolations(encode, decode, interpolate, rng, pairs=256, steps=16):
  """The paper's lines benchmark: `pairs` fresh random line pairs, `steps` images each.

  Args:
    encode: images [N, 32, 32, 1] -> latents (numpy in, numpy out).
    decode: latents -> images.
    interpolate: (z1, z2, alpha [N]) -> latents on the path from z1 to z2.
    rng: numpy Generator drawing the test lines (the first `pairs` lines are the
      starts, the next `pairs` the ends).
    pairs: number of interpolations (the paper: 256).
    steps: images per interpolation, endpoints included (the paper: 16).

  Returns:
    dict of `line_eval` scores.
  """
  angles = 2 * np.pi * rng.random(2 * pairs)
  latents = np.asarray(encode(draw_lines(angles)))
  z1, z2 = latents[:pairs], latents[pairs:]
  path = np.stack([np.asarray(interpolate(z1, z2, np.full(pairs, a, np.float32)))
                   for a in interpolation_alphas(steps)], axis=1)
  images = np.asarray(decode(path.reshape((pairs * steps,) + z1.shape[1:])))
  return line_eval(images.reshape((pairs, steps) + images.shape[1:]))
