"""acai_tf.explore in a real browser: the page started as a user starts it, driven in headless
Chromium (Debian's chromium through Playwright), shows each export's own decode.

The exports: the shipped lines32 baseline (it draws lines, so a wrong alpha or path shows) and
a tiny run's. ACAI_SCREENSHOT=1 also saves the page as docs/explore.png (the README's).
"""

import io
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from acai_tf import export, images, pretrained
from acai_tf.data import get_dataset
from acai_tf.line_renderer import draw_lines
from acai_tf.metrics.interpolation import interpolation_alphas
from data_prep.own import fit
from helpers import REPO, run_module, run_program, wait_for

sync_api = pytest.importorskip('playwright.sync_api')
pytest.importorskip('gradio')
CHROMIUM = '/usr/bin/chromium'
if not os.path.exists(CHROMIUM):
  pytest.skip(f'no {CHROMIUM}: apt-get install chromium', allow_module_level=True)

SIZE = 32  # lines32's image side
ALPHA = 0.3  # where the test moves the slider: 20 steps of 0.01 left of the start, 0.5
KEYS = 20
STEPS = 8  # the page's default strip
START_S, SHOW_S = 300, 60  # how long the page may take to start, and to show a result
SCREENSHOT = os.path.join(REPO, 'docs', 'explore.png')


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.fixture(scope='module')
def exports(tiny_run):
  """The shipped lines32 baseline and the tiny baseline run's export."""
  return [pretrained.export_dir('baseline', 'lines32'), tiny_run.path('export')]


@pytest.fixture(scope='module')
def page_url(exports, tmp_path_factory):
  """`python -m acai_tf.explore` on the exports, on a free loopback port; its URL."""
  folder = tmp_path_factory.mktemp('server')
  out, err = folder / 'stdout', folder / 'stderr'
  with open(out, 'w') as stdout, open(err, 'w') as stderr:
    server = subprocess.Popen(
        [sys.executable, '-m', 'acai_tf.explore', *[f'--export={e}' for e in exports],
         f'--port={free_port()}'], cwd=REPO, stdout=stdout, stderr=stderr,
        env={**os.environ, 'GRADIO_TEMP_DIR': str(folder / 'gradio')})
  try:
    def started():
      assert server.poll() is None, err.read_text()
      return next((line for line in out.read_text().splitlines() if line.startswith('explore: ')),
                  None)
    line = wait_for(started, timeout=START_S)
    assert '127.0.0.1' in line and '--host=0.0.0.0' in line and 'ssh -L' in line  # how to share
    yield line.split()[1]
  finally:
    server.kill()
    server.wait(timeout=30)


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
  """Two lines as lines32 draws them, saved at other sizes and modes: colour 96 x 96 (each
  pixel 3 x 3), grey 64 x 64 (2 x 2)."""
  folder = tmp_path_factory.mktemp('pair')
  a, b = str(folder / 'a.png'), str(folder / 'b.png')
  lines = images.to_uint8(draw_lines([0.4, 2.2]))
  Image.fromarray(np.repeat(lines[0].repeat(3, 0).repeat(3, 1), 3, -1)).save(a)
  Image.fromarray(lines[1, ..., 0].repeat(2, 0).repeat(2, 1)).save(b)
  return a, b


def prepared(path):
  """An image file as data_prep's folder source makes it for lines32, scaled to [-1, 1]."""
  with Image.open(path) as image:
    return fit(image, SIZE, 1).astype(np.float32) / 127.5 - 1


def decoded(export_dir, a, b, alphas, mix=None):
  """uint8 [len(alphas), H, W, C]: the export's decodes between images a and b (mix: the path;
  unset, the export's own interpolate)."""
  module, _ = export.load(export_dir)
  za, zb = (np.repeat(np.asarray(module.encode(x[None])), len(alphas), 0) for x in (a, b))
  alphas = np.float32(alphas)
  z = mix(za, zb, alphas) if mix else module.interpolate(za, zb, alphas)
  return images.to_uint8(np.asarray(module.decode(z)))


def shown(page, element):
  """uint8 [H, W, 1] pixels of the image the page shows in `element` (fetched as the browser
  fetched it), or None before it shows one."""
  image = page.locator(f'#{element} img')
  if not image.count():
    return None
  with Image.open(io.BytesIO(page.request.get(image.get_attribute('src')).body())) as picture:
    return np.asarray(picture.convert('L'))[..., None]


def assert_shows(page, element, want):
  """Waits until `element` shows `want` (uint8, within one grey level: the page decodes in its
  own process) or SHOW_S pass; the page updates asynchronously."""
  deadline, got = time.time() + SHOW_S, None
  while time.time() < deadline:
    got = shown(page, element)
    if got is not None and got.shape == want.shape and np.abs(
        got.astype(int) - want.astype(int)).max() <= 1:
      return
    time.sleep(0.2)
  difference = 'nothing' if got is None else (
      got.shape if got.shape != want.shape else np.abs(got.astype(int) - want).max())
  raise AssertionError(f'{element} never showed the decode (last difference: {difference})')


@pytest.mark.slow
def test_page_shows_each_exports_decode_at_alpha(exports, page_url, pair):
  test = get_dataset('lines32').test()[0]
  a, b = map(prepared, pair)
  lerp = [decoded(e, a, b, [ALPHA]) for e in exports]
  slerp = [decoded(e, a, b, [ALPHA], mix=images.slerp) for e in exports]
  start = decoded(exports[0], test[0], test[1], [0.5])
  assert np.abs(lerp[0].astype(int) - slerp[0]).max() > 1  # the checks below tell them apart
  assert np.abs(lerp[0].astype(int) - decoded(exports[0], a, b, [0.5])).max() > 1
  with sync_api.sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    try:
      page = browser.new_page(viewport={'width': 1100, 'height': 800})
      page.set_default_timeout(SHOW_S * 1000)
      page.goto(page_url)
      assert_shows(page, 'decode_0', start[0])  # test images 0 and 1 at alpha 0.5 to start
      for side, path in zip('ab', pair):
        page.locator(f'#image_{side} input[type=file]').set_input_files(path)
      slider = page.locator('#alpha input[type=range]')
      slider.focus()
      for _ in range(KEYS):
        page.keyboard.press('ArrowLeft')
      assert float(page.locator('#alpha input[type=number]').input_value()) == ALPHA
      for k, want in enumerate(lerp):
        assert_shows(page, f'decode_{k}', want[0])
      strip = shown(page, 'strip')
      assert strip.shape[0] == len(exports) * SIZE
      frames = strip[:SIZE, -STEPS * SIZE:].reshape(SIZE, STEPS, SIZE, 1).transpose(1, 0, 2, 3)
      want = decoded(exports[0], a, b, interpolation_alphas(STEPS))
      assert np.abs(frames.astype(int) - want).max() <= 1
      page.locator('#path').get_by_text('slerp').click()
      for k, want in enumerate(slerp):
        assert_shows(page, f'decode_{k}', want[0])
      if os.environ.get('ACAI_SCREENSHOT') == '1':
        page.locator('#path').get_by_text('lerp', exact=True).click()
        assert_shows(page, 'decode_0', lerp[0][0])
        page.screenshot(path=SCREENSHOT, full_page=True)
    finally:
      browser.close()


class Halving:
  """An export's endpoints in numpy: encode doubles, decode halves, and its own path stays at
  the first latent (so each path gives other frames)."""
  encode = staticmethod(lambda x: 2 * x)
  decode = staticmethod(lambda z: z / 2)
  interpolate = staticmethod(lambda z1, z2, alpha: z1)


@pytest.mark.parametrize('path', ['lerp', 'slerp', 'own'])
def test_view_is_the_decode_along_the_path(path):
  from acai_tf import explore
  pair = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 1)).astype(np.float32)
  loaded = [(Halving(), {'model': 'halving', 'kimg': 1}), (Halving(), {'model': 'other'})]
  at_alpha, strip = explore.view(loaded, pair, ALPHA, path, STEPS)
  alphas = np.float32([ALPHA, *interpolation_alphas(STEPS)])[:, None, None, None]
  want = {'lerp': (1 - alphas) * pair[0] + alphas * pair[1],
          'slerp': images.slerp(pair[[0] * len(alphas)], pair[[1] * len(alphas)],
                                alphas.ravel()),
          'own': np.repeat(pair[:1], len(alphas), 0)}[path]
  want = images.to_uint8(want)
  assert len(at_alpha) == len(loaded)
  for got in at_alpha:
    np.testing.assert_array_equal(got, want[0])
  assert strip.shape[0] == len(loaded) * SIZE and strip[:, :-STEPS * SIZE].max() > 200  # labels
  for row in range(len(loaded)):
    frames = strip[row * SIZE:(row + 1) * SIZE, -STEPS * SIZE:]
    np.testing.assert_array_equal(frames.reshape(SIZE, STEPS, SIZE, 1).transpose(1, 0, 2, 3),
                                  want[1:])


@pytest.mark.slow
@pytest.mark.parametrize('case', ['not_export', 'argument', 'shapes', 'no_gradio'])
def test_bad_input_is_one_error_line(exports, tmp_path, monkeypatch, case):
  colour = tmp_path / 'colour'  # the record of an export of 64x64 colour images
  colour.mkdir()
  with open(exports[0] + '/acai_tf.json') as f:
    (colour / 'acai_tf.json').write_text(json.dumps({**json.load(f), 'image_shape': [64, 64, 3]}))
  args = {'not_export': [f'--export={tmp_path}'],
          'argument': [f'--export={exports[0]}', str(tmp_path / 'a.png')],
          'shapes': [f'--export={exports[0]}', f'--export={colour}'],
          'no_gradio': [f'--export={exports[0]}']}[case]
  if case == 'no_gradio':
    monkeypatch.setitem(sys.modules, 'gradio', None)  # import gradio fails as if not installed
  result = run_program('acai_tf.explore', *args, f'--port={free_port()}')
  assert result.returncode == 2
  err = result.stderr
  assert err.startswith('error: ') and len(err.strip().splitlines()) == 1, err
  if case == 'no_gradio':
    assert 'pip install -e ".[demo]"' in err
  if case == 'shapes':
    assert err.endswith('(64, 64, 3), ' + exports[0] + ' (32, 32, 1): compare exports of one '
                        'image shape.\n'), err


@pytest.mark.slow
def test_port_in_use_is_one_error_line(exports, page_url):
  result = run_module('acai_tf.explore', f'--export={exports[0]}',
                      f'--port={page_url.rsplit(":", 1)[1]}', timeout=START_S)
  assert result.returncode == 2, result.stderr
  assert result.stderr.startswith('error: ') and '--port' in result.stderr, result.stderr
  assert len(result.stderr.strip().splitlines()) == 1, result.stderr
