"""Datasets of your own: a folder of images or a tensorflow-datasets builder, at 32 or 64 pixels."""

import json
import os
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image, ImageDraw

from acai_tf import report, trainer
from acai_tf.data import MissingDataError, get_dataset
from helpers import run_build, run_program
from data_prep import build, own

SHAPES = ('circle', 'square', 'triangle')


def draw_shapes(root, per_class=12, modes=('RGB', 'L', 'RGBA', 'P'), seed=0,
                formats=('png', 'gif', 'bmp', 'webp', 'jpg')):
  """Class folders of coloured shapes: mixed sizes, modes and file formats."""
  rng = np.random.default_rng(seed)
  for name in SHAPES:
    os.makedirs(root / name, exist_ok=True)
    for i in range(per_class):
      w, h = (int(v) for v in rng.integers(20, 90, 2))
      image = Image.new('RGB', (w, h), tuple(int(c) for c in rng.integers(0, 80, 3)))
      m, fill = min(w, h), tuple(int(c) for c in rng.integers(120, 256, 3))
      x0, y0 = (w - m) // 2 + m // 5, (h - m) // 2 + m // 5
      box = [x0, y0, x0 + 3 * m // 5, y0 + 3 * m // 5]
      draw = ImageDraw.Draw(image)
      {'circle': lambda: draw.ellipse(box, fill=fill),
       'square': lambda: draw.rectangle(box, fill=fill),
       'triangle': lambda: draw.polygon([(box[0], box[3]), (box[2], box[3]),
                                         ((box[0] + box[2]) // 2, box[1])], fill=fill)}[name]()
      image = image.convert(modes[i % len(modes)])
      ext = formats[i % len(formats)]
      if ext == 'jpg' and image.mode not in ('RGB', 'L'):
        image = image.convert('RGB')
      image.save(root / name / f'{i:03d}.{ext}')
  return root


@pytest.fixture
def shapes(tmp_path):
  root = draw_shapes(tmp_path / 'shapes')
  (root / 'circle' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nnot an image')  # one corrupt
  return root


def build_folder(name, raw_dir, data_dir, **options):
  return build.build_own(name, str(data_dir), lambda: own.read_folder(str(raw_dir), **options),
                         log=lambda s: None)


def test_a_folder_becomes_a_described_labelled_dataset(shapes, tmp_path):
  info = build_folder('shapes', shapes, tmp_path / 'data')
  assert info['classes'] == list(SHAPES) and info['channels'] == 3 and info['size'] == 32
  assert info['source']['skipped'] == 1  # the corrupt file, skipped and counted
  assert sum(info['splits'].values()) == 3 * 12 and set(info['splits']) == {'train', 'test'}
  on_disk = json.loads((tmp_path / 'data' / 'shapes.json').read_text())
  assert on_disk == info
  dataset = get_dataset('shapes', str(tmp_path / 'data'))
  assert dataset.image_shape == (32, 32, 3) and dataset.nclass == 3
  assert dataset.defaults == {'depth': 64, 'latent': 16, 'latent_width': 4}
  test_images, test_labels = dataset.test()
  assert len(test_labels) == info['splits']['test'] and set(test_labels) <= {0, 1, 2}
  assert test_images.min() >= -1 and test_images.max() <= 1 and test_images.std() > 0.1
  # The split hangs on file names only: a rebuild elsewhere gives the same one.
  again = build_folder('shapes', shapes, tmp_path / 'other')
  assert again['splits'] == info['splits'] and again['per_class'] == info['per_class']


def test_greyscale_images_give_one_channel_unless_asked_otherwise(tmp_path):
  root = draw_shapes(tmp_path / 'grey', per_class=8, modes=('L',),
                     formats=('png', 'bmp', 'jpg'))  # WebP has no greyscale
  assert build_folder('grey', root, tmp_path / 'data')['channels'] == 1
  assert build_folder('grey3', root, tmp_path / 'data', channels=3)['channels'] == 3
  images, _ = get_dataset('grey', str(tmp_path / 'data')).test()
  assert images.shape[1:] == (32, 32, 1)


def test_images_at_the_top_are_unlabelled_and_64_pixels_work(tmp_path):
  root = tmp_path / 'flat'
  draw_shapes(tmp_path / 'tmp', per_class=10)
  root.mkdir()
  for path in (tmp_path / 'tmp').rglob('*.*'):
    path.rename(root / f'{path.parent.name}_{path.name}')
  info = build_folder('flat', root, tmp_path / 'data', size=64)
  assert info['classes'] == [] and info['per_class'] is None
  dataset = get_dataset('flat', str(tmp_path / 'data'))
  assert dataset.nclass == 1 and dataset.image_shape == (64, 64, 3)


def test_center_crop_and_resize_keep_the_middle_of_the_image():
  image = Image.new('L', (90, 30), 0)
  image.paste(255, (30, 0, 60, 30))  # a white square in the middle of a black strip
  pixels = own.fit(image, 32, 1)
  assert pixels.shape == (32, 32, 1) and pixels.min() > 240  # the crop is the white square


@pytest.mark.parametrize('make, message', [
    (lambda root: None, 'holds no image files'),
    (lambda root: (root / 'notes.txt').write_text('hi'), 'holds no image files'),
    (lambda root: draw_shapes(root, per_class=2) and (root / 'circle' / '000.png').rename(
        root / 'x.png'), 'both at its top'),
    (lambda root: (root / 'one').mkdir() or Image.new('L', (8, 8)).save(root / 'one' / 'a.png'),
     'one class folder only'),
])
def test_unusable_folders_fail_with_one_line_and_write_nothing(tmp_path, make, message):
  root = tmp_path / 'images'
  root.mkdir()
  make(root)
  with pytest.raises(build.BuildError, match=message) as failure:
    build_folder('mine', root, tmp_path / 'data')
  assert str(root) in str(failure.value) and '\n' not in str(failure.value)
  assert not (tmp_path / 'data').exists()


def test_strict_refuses_a_corrupt_image_and_names_it(shapes, tmp_path):
  with pytest.raises(build.BuildError, match=r'1 unreadable image file\(s\).*circle/broken.png'):
    build_folder('shapes', shapes, tmp_path / 'data', strict=True)
  assert not (tmp_path / 'data').exists()


@pytest.mark.parametrize('name, message', [('mnist32', 'built-in'), ('celeba', 'built-in'),
                                           ('My Data', 'lower-case')])
def test_names_of_built_in_datasets_and_odd_names_are_refused(shapes, tmp_path, name, message):
  with pytest.raises(build.BuildError, match=message):
    build_folder(name, shapes, tmp_path / 'data')


def test_a_dataset_never_built_names_the_command_to_build_it(tmp_path):
  with pytest.raises(MissingDataError, match='python -m data_prep.build --dataset=pets '
                                             '--source=folder'):
    get_dataset('pets', str(tmp_path))
  with pytest.raises(ValueError, match='pets'):
    trainer.model_config('acai', 'pets', str(tmp_path))


def test_a_killed_rebuild_reads_as_never_built(shapes, tmp_path, monkeypatch):
  build_folder('shapes', shapes, tmp_path / 'data')

  def killed(*args, **kwargs):
    raise KeyboardInterrupt

  monkeypatch.setattr(build, 'write_split', killed)
  with pytest.raises(KeyboardInterrupt):
    build_folder('shapes', shapes, tmp_path / 'data')
  with pytest.raises(MissingDataError, match='does not exist'):
    get_dataset('shapes', str(tmp_path / 'data'))


def test_an_unknown_tfds_name_says_how_to_find_names():
  with pytest.raises(own.RawDataError, match='list_builders'):
    own.read_tfds('no_such_dataset_of_images')


def test_a_bad_build_flag_exits_2_with_one_line(tmp_path):
  result = run_build('--dataset=pets', '--source=folder', f'--raw_dir={tmp_path / "missing"}',
                     f'--data_dir={tmp_path / "data"}')
  assert result.returncode == 2 and result.stderr.count('\n') == 1
  assert result.stderr.startswith('error: ') and 'is not a folder' in result.stderr


# A tensorflow-datasets builder made here, prepared locally with no network.
TFDS_BUILDER = '''
import numpy as np
import tensorflow_datasets as tfds


class LocalDigitsForAcaiTests(tfds.core.GeneratorBasedBuilder):
  VERSION = tfds.core.Version('1.0.0')

  def _info(self):
    return self.dataset_info_from_configs(features=tfds.features.FeaturesDict({
        'image': tfds.features.Image(shape=(28, 28, 1)),
        'label': tfds.features.ClassLabel(names=['zero', 'one', 'two'])}))

  def _split_generators(self, dl_manager):
    return {'train': self._generate_examples(30, 0), 'validation': self._generate_examples(9, 1)}

  def _generate_examples(self, n, seed):
    rng = np.random.default_rng(seed)
    for i in range(n):
      image = np.zeros((28, 28, 1), np.uint8)
      image[:, 9 * (i % 3):9 * (i % 3) + 9] = rng.integers(128, 256)
      yield i, {'image': image, 'label': i % 3}
'''


@pytest.mark.slow
def test_a_tfds_dataset_prepared_locally_is_built_with_its_split_names(tmp_path, monkeypatch):
  package = tmp_path / 'local_tfds_builder'
  package.mkdir()
  (package / '__init__.py').write_text(textwrap.dedent(TFDS_BUILDER))
  monkeypatch.syspath_prepend(str(tmp_path))
  import local_tfds_builder  # noqa: F401 - registers the builder
  info = build.build_own('digits', str(tmp_path / 'data'), lambda: own.read_tfds(
      'local_digits_for_acai_tests', size=32, tfds_data_dir=str(tmp_path / 'tfds')),
      log=lambda s: None)
  assert info['splits'] == {'train': 30, 'validation': 9}
  assert info['classes'] == ['zero', 'one', 'two'] and info['channels'] == 1
  dataset = get_dataset('digits', str(tmp_path / 'data'))
  images, labels = dataset.test()  # the validation split stands in for test
  assert images.shape == (9, 32, 32, 1) and list(np.bincount(labels)) == [3, 3, 3]
  bright_third = images[..., 0].mean(axis=1).reshape(9, 4, 8)[:, :3].mean(axis=2).argmax(axis=1)
  np.testing.assert_array_equal(bright_third, labels)  # each label's band survived the resize
  sys.modules.pop('local_tfds_builder')


@pytest.mark.slow
@pytest.mark.parametrize('size', [32, 64])
def test_train_export_probe_cluster_and_report_on_a_folder(shapes, tmp_path, size):
  data = tmp_path / 'data'
  build_folder('shapes', shapes, data, size=size)
  config = trainer.TrainConfig(dataset='shapes', data_dir=str(data), train_dir=str(tmp_path),
                                total_kimg=8 * 8 / 1024, report_kimg=4 * 8 / 1024, batch=8,
                                eval_pairs=4)
  model_config = trainer.model_config('acai', 'shapes', str(data), depth=4, latent=4)
  assert model_config.latent_width == 4  # the real-data setting of the paper
  run = trainer.train('acai', model_config, config, log=lambda s: None)
  assert run.model.image_shape == (size, size, 3) and run.model.scales == (3 if size == 32 else 4)
  export = os.path.join(run.dir, 'export')
  for program in ('probe', 'cluster'):
    extra = ['--n_init=2'] if program == 'cluster' else []
    result = run_program(f'acai_tf.eval.{program}', f'--export={export}', '--dataset=shapes',
                         f'--data_dir={data}', *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    scored = json.loads(open(os.path.join(run.dir, f'eval_{program}_shapes.json')).read())
    assert 0 <= scored['accuracy'] <= 100
  tables = report.report(str(tmp_path))
  assert 'shapes | 64 |' in tables  # d_z = 4 x 4 x 4
