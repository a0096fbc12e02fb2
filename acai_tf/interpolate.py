"""Interpolate between two images: python -m acai_tf.interpolate --export=DIR A.png B.png

The two images are files of any size and mode, centre-cropped and resized to the
export's image shape as data_prep's folder source does it (or, with
--from_test=I,J, test images I and J of the export's dataset). Both are encoded,
their latents mixed at `steps` alphas from 0 to 1, both ends included (lerp: the
export's own `interpolate`, for AdvAI its corrected path; slerp: spherical
interpolation of the flattened latents), and decoded. A .png output puts the
frames side by side; a .gif shows them one after the other (colour GIFs are
reduced to 256 colours a frame). Every --export is one row, labelled with its
model on the left, so models compare on the same pair.
"""

import os

import numpy as np

from absl import flags
from PIL import Image, ImageDraw, ImageFont

from acai_tf import cli, images
from acai_tf.data import get_dataset
from acai_tf.errors import UsageError
from acai_tf.metrics.interpolation import interpolation_alphas
from data_prep.own import fit

FLAGS = flags.FLAGS
STEPS = 8
FORMATS = ('.png', '.gif')
FRAME_MS = 100  # how long a GIF shows each frame
PAD = 4  # pixels around a row's label


def define_flags():
  flags.DEFINE_multi_string('export', None, 'Export directory (<run_dir>/export); repeat it to '
                            'compare models, one row each.')
  flags.mark_flag_as_required('export')
  flags.DEFINE_integer('steps', STEPS, 'Images per interpolation, both ends included.',
                       lower_bound=2)
  flags.DEFINE_enum('path', 'lerp', ['lerp', 'slerp'], "lerp: the export's own interpolate "
                    "(AdvAI's corrected path); slerp: spherical, of the flattened latents.")
  flags.DEFINE_string('out', 'strip.png', 'Output file: .png (frames side by side) or .gif '
                      '(an animation).')
  flags.DEFINE_string('from_test', None, "I,J: test images I and J of the first export's "
                      'dataset instead of two image files.')
  flags.DEFINE_string('data_dir', None, 'TFRecord folder of --from_test (default: $ACAI_DATA, '
                      'else ./data).')


def read_image(path, shape):
  """An image file as floats [H, W, C] in [-1, 1], cropped and resized as data_prep's folder
  source does it to `shape` (square)."""
  try:
    with Image.open(path) as image:
      image.load()  # decodes now: a truncated file fails here
      pixels = fit(image, shape[0], shape[2])
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise UsageError(f'cannot read {path} as an image ({type(e).__name__}); pass two image '
                     'files (PNG, JPEG, GIF, BMP, WebP, ...).') from None
  return pixels.astype(np.float32) / 127.5 - 1


def pair_from_test(dataset, spec, data_dir=None):
  """Test images I and J (`spec` 'I,J') of `dataset`, as floats [2, H, W, C] in [-1, 1]."""
  try:
    i, j = (int(n) for n in spec.split(','))
  except ValueError:
    raise UsageError(f'--from_test={spec}: give two test image numbers, I,J.') from None
  data = get_dataset(dataset, data_dir)
  data.check()
  test = data.test()[0]
  if not (0 <= i < len(test) and 0 <= j < len(test)):
    raise UsageError(f'--from_test={spec}: {dataset} has test images 0 to {len(test) - 1}.')
  return test[[i, j]]


def frames(module, pair, steps=STEPS, path='lerp'):
  """Decoded images [steps, H, W, C] in [-1, 1] of a loaded export, from pair[0] (alpha 0) to
  pair[1] (alpha 1)."""
  from acai_tf.export import numpy_endpoint as batched  # TensorFlow's: cli.run started it
  z = batched(module.encode)(pair)
  z1, z2 = np.repeat(z[:1], steps, 0), np.repeat(z[1:], steps, 0)
  alphas = interpolation_alphas(steps).astype(np.float32)
  mix = batched(module.interpolate) if path == 'lerp' else images.slerp
  return batched(module.decode)(mix(z1, z2, alphas))


def labels_panel(labels, height, channels):
  """White labels on black, one a row of `height` pixels: uint8 [rows * height, width, C]."""
  font, measure = ImageFont.load_default(), ImageDraw.Draw(Image.new('L', (1, 1)))
  boxes = [measure.textbbox((0, 0), label, font=font) for label in labels]
  panel = Image.new('L', (max(box[2] for box in boxes) + 2 * PAD, height * len(labels)))
  draw = ImageDraw.Draw(panel)
  for row, (label, (_, top, _, bottom)) in enumerate(zip(labels, boxes)):
    draw.text((PAD, height * row + (height - bottom - top) // 2), label, fill=255, font=font)
  return np.repeat(np.asarray(panel)[..., None], channels, -1)


def write(path, rows, labels, gif=False):
  """Writes `rows` ([rows, steps, H, W, C] floats in [-1, 1]) labelled on the left: as one
  strip, or as an animated GIF of `steps` frames (one column of every row each)."""
  rows = images.to_uint8(np.asarray(rows))
  panel = labels_panel(labels, rows.shape[2], rows.shape[4])
  columns = [rows[:, k:k + 1] for k in range(rows.shape[1])] if gif else [rows]
  pictures = [np.concatenate([panel, images.image_grid(c)], 1) for c in columns]
  pictures = [Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p) for p in pictures]
  if gif:
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=FRAME_MS, loop=0)
  else:
    pictures[0].save(path)


def main(argv):
  files = argv[1:]
  if FLAGS.from_test and files:
    raise UsageError('give two image files or --from_test=I,J, not both.')
  if not FLAGS.from_test and len(files) != 2:
    raise UsageError(f'give two image files (got {len(files)}), or --from_test=I,J.')
  kind = os.path.splitext(FLAGS.out)[1].lower()
  if kind not in FORMATS:
    raise UsageError(f'--out={FLAGS.out}: end it in .png (a strip) or .gif (an animation).')
  from acai_tf import export  # TensorFlow's: cli.run started it
  loaded = [export.load(path) for path in FLAGS.export]
  shape = tuple(loaded[0][1]['image_shape'])
  for path, (_, meta) in zip(FLAGS.export, loaded):
    if tuple(meta['image_shape']) != shape:
      raise UsageError(f'{path} takes images of shape {tuple(meta["image_shape"])}, '
                       f'{FLAGS.export[0]} {shape}: compare exports of one image shape.')
  if FLAGS.from_test:
    pair = pair_from_test(loaded[0][1]['dataset'], FLAGS.from_test, FLAGS.data_dir)
  else:
    pair = np.stack([read_image(name, shape) for name in files])
  rows = [frames(module, pair, FLAGS.steps, FLAGS.path) for module, _ in loaded]
  write(FLAGS.out, rows, [meta['model'] for _, meta in loaded], gif=kind == '.gif')
  print(f'wrote {FLAGS.out}')


if __name__ == '__main__':
  define_flags()
  cli.run(main)
