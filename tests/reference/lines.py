"""The original's line renderer (brain-research/acai lib/data.py `draw_line`), restated.

One line per call, walked row by row in plain Python, with the original's branch structure
kept as it was (including its tip-row branch, which no row can reach), so that
`acai_tf.line_renderer.draw_lines` can be compared with it pixel for pixel.
"""

import math

import numpy as np


def draw_line(angle, size=32, stroke=2.0):
  """[size, size, 1] float64 in [-1, 1]: the original's rendering of one angle."""
  image = np.zeros((size, size, 1))
  minor0 = major0 = size * 0.5  # (column, row) of the centre
  minor1 = minor0 + (minor0 - 1) * math.cos(-angle)
  major1 = major0 + (major0 - 1) * math.sin(-angle)
  transposed = abs(major0 - major1) < abs(minor0 - minor1)
  if transposed:
    minor0, minor1, major0, major1 = major0, major1, minor0, minor1
  if major1 < major0:
    minor0, minor1, major0, major1 = minor1, minor0, major1, major0
  minor0, minor1 = minor0 - stroke / 2, minor1 - stroke / 2
  slope = (minor1 - minor0) / (major1 - major0) if major1 != major0 else 0
  first_full, last_full = int(math.ceil(major0)), int(major1)
  pieces = []
  for row in range(int(major0), int(math.ceil(major1))):
    if row < first_full:
      weight = first_full - major0
    elif row > last_full:  # unreachable: row <= ceil(major1) - 1 <= int(major1)
      weight = major1 - last_full
    else:
      weight = 1
    start = minor0 + (row - major0 - .5) * slope
    end = start + stroke
    inner = int(math.ceil(start)), int(end)
    if inner[0] != inner[1]:
      pieces.append((row, slice(inner[0], inner[1]), weight))
    if inner[0] != start:
      pieces.append((row, int(start), weight * (inner[0] - start)))
    if inner[1] != end:
      pieces.append((row, inner[1], weight * (end - inner[1])))
  for row, column, weight in pieces:
    if transposed:
      row, column = column, row
    image[row, column] += 2 * weight
  return (image - 1).clip(-1, 1)
