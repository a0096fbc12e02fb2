"""acai_tf.interpolate: its frames are the export's decodes, each written where it belongs.

A tiny export decodes nearly every latent to the same grey (a few 1e-6 apart), so the frames
are checked against the export in floats, and the writer on random images; the program, end to
end, on the tiny exports.
"""

import glob
import os

import numpy as np
import pytest
from absl import flags
from PIL import Image

from acai_tf import export, images
from acai_tf import interpolate as program
from acai_tf.data import get_dataset
from data_prep.own import fit
from helpers import run_program

STEPS, MIDDLE, ALPHA = 5, 2, 0.5  # the middle one of 5 frames is alpha 0.5
SIZE = 32  # lines32's image side


@pytest.fixture(scope='module')
def exports(tiny_run):
  """The two exports the tiny baseline run keeps (its two reports: other weights, so other
  rows), and the program's flags in this process (taken away after, for other programs')."""
  paths = sorted(glob.glob(tiny_run.path('exports', 'step_*')))
  assert len(paths) == 2
  before = set(flags.FLAGS)
  program.define_flags()
  yield paths
  for name in set(flags.FLAGS) - before:
    delattr(flags.FLAGS, name)


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
  """Two image files of other sizes and modes than the exports': colour 48 x 40, grey + alpha."""
  folder = tmp_path_factory.mktemp('pair')
  rng = np.random.default_rng(0)
  a, b = str(folder / 'a.png'), str(folder / 'b.webp')
  Image.fromarray(rng.integers(0, 256, (40, 48, 3), np.uint8)).save(a)
  Image.fromarray(rng.integers(0, 256, (70, 61, 2), np.uint8), 'LA').save(b, lossless=True)
  return a, b


def prepared(path):
  """An image file as data_prep's folder source makes it for lines32, scaled to [-1, 1]."""
  with Image.open(path) as image:
    return fit(image, SIZE, 1).astype(np.float32) / 127.5 - 1


def decoded(export_dir, a, b, mix=None):
  """Floats [H, W, C]: the export's decode at ALPHA between images a and b (mix: the path;
  unset, the export's own interpolate)."""
  module, _ = export.load(export_dir)
  za, zb = np.asarray(module.encode(a[None])), np.asarray(module.encode(b[None]))
  alpha = np.float32([ALPHA])
  z = mix(za, zb, alpha) if mix else module.interpolate(za, zb, alpha)
  return np.asarray(module.decode(z))[0]


def picture(path):
  """uint8 [H, W, C] of a PNG."""
  pixels = np.asarray(Image.open(path))
  return pixels if pixels.ndim == 3 else pixels[..., None]


def gif_frames(path):
  """The frames of a grey animated GIF as shown, one a FRAME_MS (Pillow merges repeated ones)."""
  shown = []
  with Image.open(path) as gif:
    for i in range(gif.n_frames):
      gif.seek(i)
      duration = round(gif.info['duration'] / program.FRAME_MS)
      shown += [np.asarray(gif.convert('L'))[..., None]] * duration
  return shown


def frame(pixels, row, column, columns=STEPS):
  """Frame `column` of row `row` of a picture of `columns` frames a row, labels on the left."""
  left = pixels.shape[1] - columns * SIZE
  return pixels[row * SIZE:(row + 1) * SIZE, left + column * SIZE:left + (column + 1) * SIZE]


def assert_close(got, want):
  """uint8 images within one grey level."""
  assert got.shape == want.shape
  assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize('path', ['lerp', 'slerp'])
def test_frames_are_the_exports_decodes(exports, pair, path):
  module, _ = export.load(exports[1])
  a, b = map(prepared, pair)
  got = program.frames(module, np.stack([a, b]), STEPS, path)
  want = decoded(exports[1], a, b, mix=images.slerp if path == 'slerp' else None)
  np.testing.assert_allclose(got[MIDDLE], want, rtol=0, atol=1e-7)
  for other in (MIDDLE - 1, MIDDLE + 1):  # alphas 0.25 and 0.75 decode farther than that
    assert np.abs(got[other] - want).max() > 1e-6


@pytest.mark.parametrize('suffix, channels', [('png', 1), ('png', 3), ('gif', 1)])
@pytest.mark.parametrize('count', [1, 2])
def test_writer_puts_every_frame_in_place(tmp_path, suffix, channels, count):
  rows = np.random.default_rng(1).uniform(-1, 1, (count, STEPS, SIZE, SIZE, channels))
  out = str(tmp_path / f'strip.{suffix}')
  program.write(out, rows, ['acai', 'baseline'][:count], gif=suffix == 'gif')
  if suffix == 'png':
    strip = picture(out)
    assert strip.shape[0] == count * SIZE and strip[:, :-STEPS * SIZE].max() > 200  # labels
    got = [[frame(strip, row, k) for k in range(STEPS)] for row in range(count)]
  else:
    shown = gif_frames(out)
    assert len(shown) == STEPS and shown[0].shape[0] == count * SIZE
    got = [[frame(shown[k], row, 0, columns=1) for k in range(STEPS)] for row in range(count)]
  np.testing.assert_array_equal(np.asarray(got), images.to_uint8(rows))


@pytest.mark.slow
@pytest.mark.parametrize('suffix', ['png', 'gif'])
@pytest.mark.parametrize('count', [1, 2])
def test_middle_frame_is_the_exports_decode(exports, pair, tmp_path, suffix, count):
  out = str(tmp_path / f'strip.{suffix}')
  result = run_program('acai_tf.interpolate', *[f'--export={e}' for e in exports[:count]],
                       *pair, f'--steps={STEPS}', f'--out={out}')
  assert result.returncode == 0, result.stderr
  assert f'wrote {out}' in result.stdout
  if suffix == 'png':
    strip = picture(out)
    assert strip.shape[0] == count * SIZE
    middle = [frame(strip, row, MIDDLE) for row in range(count)]
  else:
    shown = gif_frames(out)
    assert len(shown) == STEPS and shown[0].shape[0] == count * SIZE
    middle = [frame(shown[MIDDLE], row, 0, columns=1) for row in range(count)]
  a, b = map(prepared, pair)
  for row, export_dir in enumerate(exports[:count]):
    assert_close(middle[row], images.to_uint8(decoded(export_dir, a, b)))


@pytest.mark.slow
def test_slerp_between_test_images(exports, tmp_path):
  out = str(tmp_path / 'strip.png')
  result = run_program('acai_tf.interpolate', f'--export={exports[0]}', '--from_test=3,7',
                       '--path=slerp', f'--steps={STEPS}', f'--out={out}')
  assert result.returncode == 0, result.stderr
  test = get_dataset('lines32').test()[0]
  want = images.to_uint8(decoded(exports[0], test[3], test[7], mix=images.slerp))
  assert_close(frame(picture(out), 0, MIDDLE), want)


@pytest.mark.slow
@pytest.mark.parametrize('case', ['unreadable', 'not_export', 'steps', 'no_images', 'jpeg'])
def test_bad_input_is_one_error_line(exports, pair, tmp_path, case):
  notes, out = tmp_path / 'notes.png', f'--out={tmp_path / "strip.png"}'
  notes.write_text('not an image')
  given = f'--export={exports[0]}'
  args = {'unreadable': [given, pair[0], str(notes), out],
          'not_export': [f'--export={tmp_path}', *pair, out],
          'steps': [given, *pair, '--steps=1', out],
          'no_images': [given, pair[0], out],
          'jpeg': [given, *pair, f'--out={tmp_path / "strip.jpg"}']}[case]
  result = run_program('acai_tf.interpolate', *args)
  assert result.returncode == 2
  err = result.stderr
  assert err.startswith('error: ') and len(err.strip().splitlines()) == 1, err
  assert os.listdir(tmp_path) == ['notes.png']  # nothing written
