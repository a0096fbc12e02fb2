"""Interpolations in a browser: python -m acai_tf.explore --export=DIR [--export=DIR ...]

A local Gradio page (the `demo` extra: pip install -e ".[demo]"). Pick two test images of the
first export's dataset, as `acai_tf.interpolate --from_test` takes them, or upload two images
of any size and mode (centre-cropped and resized as `acai_tf.interpolate` does), move the
alpha slider and choose the path: lerp (straight between the latents), slerp (spherical, of
the flattened latents) or the model's own (the export's `interpolate`: AdvAI's corrected path,
lerp for the others). Every export's decode at alpha is shown side by side, labelled with its
model, above the whole strip of --steps frames, as `acai_tf.interpolate` writes it.

The page binds 127.0.0.1 (this machine only); --host=0.0.0.0 opens it to the network, or an
SSH tunnel brings it to another machine. `view` computes what the page shows, without Gradio.
"""

import socket

import numpy as np
from absl import flags
from PIL import Image

from acai_tf import cli, images, interpolate, rundir
from acai_tf.interpolate import labels_panel
from acai_tf.errors import UsageError
from acai_tf.metrics.interpolation import interpolation_alphas

FLAGS = flags.FLAGS
PATHS = [('lerp', 'lerp'), ('slerp', 'slerp'), ("the model's own", 'own')]
ALPHA = 0.5  # the slider's start
ALPHA_STEP = 0.01
DISPLAY = 160  # pixels of a shown image's side
STRIP_SCALE = 3  # the strip's pixels per image pixel
# Small images are scaled up to their box, without smoothing.
CSS = '.pixels img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }'
FONTS = dict(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
             font_mono=['ui-monospace', 'monospace'])  # the machine's: the page needs no internet


def define_flags():
  flags.DEFINE_multi_string('export', None, 'Export directory (<run_dir>/export); repeat it to '
                            'compare models side by side.')
  flags.mark_flag_as_required('export')
  flags.DEFINE_integer('port', 7860, 'Port of the page.', lower_bound=1, upper_bound=65535)
  flags.DEFINE_string('host', '127.0.0.1', 'Address to listen on: 127.0.0.1 is this machine '
                      'only; 0.0.0.0 every network it is on.')
  flags.DEFINE_integer('steps', 8, 'Frames of the strip, both ends included.', lower_bound=2)
  flags.DEFINE_string('data_dir', None, 'TFRecord folder of the test images (default: '
                      '$ACAI_DATA, else ./data).')


# ---- what the page shows -------------------------------------------------------------------

def decodes(module, pair, alphas, path='lerp'):
  """Decoded images [len(alphas), H, W, C] in [-1, 1] of a loaded export between pair[0]
  (alpha 0) and pair[1] (alpha 1), along `path` (lerp, slerp or own)."""
  z = np.asarray(module.encode(np.asarray(pair, np.float32)))
  alphas = np.asarray(alphas, np.float32)
  z1, z2 = np.repeat(z[:1], len(alphas), 0), np.repeat(z[1:], len(alphas), 0)
  if path == 'own':
    z = module.interpolate(z1, z2, alphas)
  elif path == 'slerp':
    z = images.slerp(z1, z2, alphas)
  else:
    weight = alphas.reshape((-1,) + (1,) * (z.ndim - 1))
    z = (1 - weight) * z1 + weight * z2
  return np.asarray(module.decode(np.asarray(z, np.float32)))


def label(meta):
  """An export's name on the page: its model and training budget."""
  return f'{meta["model"]} ({meta["kimg"]:g} kimg)' if 'kimg' in meta else meta['model']


def view(loaded, pair, alpha, path='lerp', steps=8):
  """What the page shows for the endpoints `pair` ([2, H, W, C] in [-1, 1]) at `alpha`.

  Args:
    loaded: (module, meta) of each export, as `acai_tf.export.load` returns them.
    pair: the two endpoint images.
    alpha: 0 is pair[0], 1 is pair[1].
    path: lerp, slerp or own (the export's `interpolate`).
    steps: frames of the strip.

  Returns:
    (one uint8 [H, W, C] decode at alpha per export, the strip: uint8 [exports * H, width, C],
    one labelled row of `steps` frames per export, as `acai_tf.interpolate` writes it).
  """
  alphas = np.concatenate([[alpha], interpolation_alphas(steps)])
  rows = images.to_uint8(np.stack([decodes(m, pair, alphas, path) for m, _ in loaded]))
  panel = labels_panel([label(meta) for _, meta in loaded], rows.shape[2], rows.shape[4])
  return list(rows[:, 0]), np.concatenate([panel, images.image_grid(rows[:, 1:])], 1)


def picture(pixels):
  """A PIL image of uint8 [H, W, C] pixels (C 1 or 3) or of floats in [-1, 1]."""
  pixels = pixels if pixels.dtype == np.uint8 else images.to_uint8(pixels)
  return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


# ---- the page --------------------------------------------------------------------------------

def page(gr, loaded, read, test=None, steps=8):
  """The Gradio page.

  Args:
    gr: the gradio module.
    loaded: (module, meta) of each export.
    read: image file path -> [H, W, C] in [-1, 1] (a UsageError if it cannot).
    test: (i, j) -> test images [2, H, W, C], or None when the dataset is not at hand.
    steps: frames of the strip.
  """
  def upload(path):
    if path is None:
      return None, None
    try:
      image = read(path)
    except UsageError as e:
      raise gr.Error(str(e)) from None
    return image, picture(image)

  def pick(i, j):
    try:
      pair = test(int(i), int(j))
    except UsageError as e:
      raise gr.Error(str(e)) from None
    return pair[0], pair[1], picture(pair[0]), picture(pair[1])

  def show(a, b, alpha, path):
    if a is None or b is None:
      return [None] * (len(loaded) + 1)
    at_alpha, strip = view(loaded, np.stack([a, b]), alpha, path, steps)
    return [picture(p) for p in at_alpha] + [picture(strip)]

  names = ', '.join(label(meta) for _, meta in loaded)
  with gr.Blocks(title='acai_tf explore', analytics_enabled=False) as demo:
    gr.Markdown(f'### Interpolations of {names}\nPick two test images or upload two of your '
                'own; α = 0 is A, α = 1 is B.')
    a, b = gr.State(), gr.State()
    with gr.Row():
      image_a, image_b = (gr.Image(label=f'{side} (α = {end})', type='filepath',
                                   image_mode=None, format='png', sources=['upload', 'clipboard'],
                                   height=DISPLAY, elem_id=f'image_{side.lower()}',
                                   elem_classes='pixels')
                          for side, end in (('A', 0), ('B', 1)))
      if test:
        with gr.Column():
          first = gr.Number(0, label='test image A', precision=0, minimum=0, elem_id='test_a')
          second = gr.Number(1, label='test image B', precision=0, minimum=0, elem_id='test_b')
          use_test = gr.Button(f'Show test images of {loaded[0][1]["dataset"]}')
    with gr.Row():
      alpha = gr.Slider(0, 1, ALPHA, step=ALPHA_STEP, label='α', elem_id='alpha')
      path = gr.Radio(PATHS, value='lerp', label='path', elem_id='path',
                      info="the model's own: AdvAI's corrected path (lerp for the other models)")
    with gr.Row():
      shown = [gr.Image(label=label(meta), format='png', height=DISPLAY, interactive=False,
                        buttons=['download', 'fullscreen'], elem_id=f'decode_{k}',
                        elem_classes='pixels')
               for k, (_, meta) in enumerate(loaded)]
    strip = gr.Image(label=f'the strip: {steps} frames from A to B', format='png',
                     height=STRIP_SCALE * len(loaded) * loaded[0][1]['image_shape'][0],
                     interactive=False, buttons=['download', 'fullscreen'], elem_id='strip',
                     elem_classes='pixels')

    inputs, outputs = [a, b, alpha, path], shown + [strip]
    image_a.upload(upload, image_a, [a, image_a]).then(show, inputs, outputs)
    image_b.upload(upload, image_b, [b, image_b]).then(show, inputs, outputs)
    alpha.change(show, inputs, outputs)
    path.change(show, inputs, outputs)
    if test:
      chosen = [first, second], [a, b, image_a, image_b]
      use_test.click(pick, *chosen).then(show, inputs, outputs)
      demo.load(pick, *chosen).then(show, inputs, outputs)
  return demo


def sharing(host, port):
  """Where the page is, and how to open it from elsewhere."""
  where = f'http://{host}:{port}'
  if host not in ('127.0.0.1', 'localhost'):
    return f"{where} (from other machines: this machine's address, port {port})"
  return (f'{where} (this machine only; to share it, pass --host=0.0.0.0, which opens it to '
          f'your network, or from another machine run ssh -L {port}:127.0.0.1:{port} '
          f'USER@THIS_MACHINE and open http://127.0.0.1:{port} there)')


def settings(argv):
  """Checks the command line before TensorFlow starts: no stray arguments, exports of one image
  shape, a free port, Gradio installed. Returns the exports' records."""
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}; upload images in the page.')
  metas = [rundir.export_meta(path) for path in FLAGS.export]
  shape = tuple(metas[0]['image_shape'])
  for path, meta in zip(FLAGS.export, metas):
    if tuple(meta['image_shape']) != shape:
      raise UsageError(f'{path} takes images of shape {tuple(meta["image_shape"])}, '
                       f'{FLAGS.export[0]} {shape}: compare exports of one image shape.')
  try:  # Gradio binds it later; a port in use is said now, not after TensorFlow's start
    family = socket.getaddrinfo(FLAGS.host, FLAGS.port, type=socket.SOCK_STREAM)[0][0]
    with socket.create_server((FLAGS.host, FLAGS.port), family=family):
      pass
  except OSError as e:
    raise _port_error(e) from None
  _gradio()
  return metas


def _gradio():
  """The gradio module; a UsageError saying how to install it if it is missing."""
  try:
    import gradio
  except ImportError:
    raise UsageError('the page needs gradio: pip install -e ".[demo]"') from None
  return gradio


def _port_error(error):
  return UsageError(f'cannot serve on {FLAGS.host}:{FLAGS.port} ({error.strerror or error}); '
                    'pass another --port.')


def main(metas):
  from acai_tf import export  # TensorFlow's module: cli.run started it
  gr = _gradio()
  loaded = [(export.load(path)[0], meta) for path, meta in zip(FLAGS.export, metas)]
  shape, dataset = tuple(metas[0]['image_shape']), metas[0]['dataset']

  def test(i, j):
    return interpolate.pair_from_test(dataset, f'{i},{j}', FLAGS.data_dir)

  try:
    test(0, 1)
  except UsageError as e:
    print(f'warning: no test images ({e}); upload two images instead.', flush=True)
    test = None
  demo = page(gr, loaded, lambda path: interpolate.read_image(path, shape), test, FLAGS.steps)
  try:
    demo.launch(server_name=FLAGS.host, server_port=FLAGS.port, prevent_thread_lock=True,
                quiet=True, ssr_mode=False, theme=gr.themes.Default(**FONTS), css=CSS)
  except OSError as e:
    raise _port_error(e) from None
  print(f'explore: {sharing(FLAGS.host, FLAGS.port)}. Ctrl-C stops it.', flush=True)
  demo.block_thread()


if __name__ == '__main__':
  define_flags()
  cli.run(main, settings=settings)
