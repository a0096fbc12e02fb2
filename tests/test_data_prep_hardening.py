"""data_prep against hostile or broken raw files (issue 17).

Bad input gives one `error:` line naming the file and what was expected, exit code 2, and
nothing in the output folder; a dataset file cannot run code; temp files of killed builds are
removed.
"""

import io
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from helpers import run_build
from data_prep import build as builder


def build_cli(tmp_path, dataset, *flags):
  return run_build(f'--dataset={dataset}', f'--raw_dir={tmp_path / "raw"}',
                   f'--data_dir={tmp_path / "out"}', *flags)


def assert_one_error_line(result, *fragments):
  """Exit code 2 and a single `error:` line on stderr holding every fragment."""
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 2, result.stderr[-3000:]
  assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr[-3000:]
  for fragment in fragments:
    assert fragment in lines[0]
  return lines[0]


def build_fails(tmp_path, dataset, *fragments):
  """build() raises a one-line BuildError holding every fragment and writes nothing."""
  with pytest.raises(builder.BuildError) as raised:
    builder.build(dataset, str(tmp_path / 'out'), raw_dir=str(tmp_path / 'raw'),
                  log=lambda s: None)
  message = str(raised.value)
  assert '\n' not in message
  for fragment in fragments:
    assert fragment in message
  assert not (tmp_path / 'out').exists()
  return message


# ---- CIFAR-10: pickles ------------------------------------------------------------------------

class _RunsShell:
  """Unpickles into os.system(command)."""

  def __init__(self, command):
    self.command = command

  def __reduce__(self):
    return os.system, (self.command,)


def _is_batch_1(batch):
  return batch[b'batch_label'] == b'data_batch_1 of 6'


def _only_batch_1(change):
  """A `dumps` for raw_files.cifar that pickles change(batch) as data_batch_1."""
  return lambda batch: pickle.dumps(change(batch) if _is_batch_1(batch) else batch)


def _batch_1_bytes(raw):
  """A `dumps` for raw_files.cifar that writes the bytes `raw` as data_batch_1."""
  return lambda batch: raw if _is_batch_1(batch) else pickle.dumps(batch)


class _Py2Pickler(pickle._Pickler):
  """Protocol 2 as Python 2's cPickle wrote the official batches: every str as BINSTRING."""
  dispatch = dict(pickle._Pickler.dispatch)

  def save_binstring(self, obj):
    obj = obj.encode() if isinstance(obj, str) else obj
    if len(obj) < 256:
      self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
    else:
      self.write(pickle.BINSTRING + len(obj).to_bytes(4, 'little') + obj)
    self.memoize(obj)

  dispatch[bytes] = dispatch[str] = save_binstring


def py2_dumps(obj):
  """`obj` pickled like the official CIFAR-10 batches (numpy 1's module names included)."""
  out = io.BytesIO()
  _Py2Pickler(out, protocol=2).dump(obj)
  return out.getvalue().replace(b'cnumpy._core.', b'cnumpy.core.')


def test_py2_dumps_looks_like_the_official_batches():
  raw = py2_dumps({b'data': np.zeros((1, 3072), np.uint8), b'labels': [3]})
  assert raw.startswith(b'\x80\x02}')  # protocol 2, a dict
  assert b'U\x04data' in raw and b'X\x04' not in raw  # keys as Python 2 str, no unicode
  assert b'cnumpy.core.multiarray\n_reconstruct\n' in raw and b'_core' not in raw


def test_malicious_cifar_pickle_runs_nothing(tmp_path, raw_files):
  marker = tmp_path / 'pwned'
  evil = pickle.dumps(_RunsShell(f'touch {marker}'))
  raw_files.cifar(tmp_path / 'raw', dumps=_batch_1_bytes(evil))
  result = build_cli(tmp_path, 'cifar10')
  assert not marker.exists()
  line = assert_one_error_line(result, 'cifar-10-python.tar.gz',
                               'cifar-10-batches-py/data_batch_1', f'{os.system.__module__}.system')
  assert 'Traceback' not in result.stderr and 'malicious' in line
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('module, name', [
    ('os', 'system'), ('builtins', 'eval'), ('builtins', 'getattr'), ('subprocess', 'Popen'),
    ('numpy', 'load'), ('numpy.core.multiarray', 'scalar'), ('numpy._core.numeric', 'ones'),
])
def test_cifar_unpickler_refuses_every_other_global(tmp_path, raw_files, module, name):
  global_only = b'c' + f'{module}\n{name}\n'.encode() + b'.'  # protocol 0: load one global
  raw_files.cifar(tmp_path / 'raw', dumps=_batch_1_bytes(global_only))
  build_fails(tmp_path, 'cifar10', 'cifar-10-batches-py/data_batch_1', f'{module}.{name}')


@pytest.mark.parametrize('dumps', [py2_dumps, pickle.dumps, lambda obj: pickle.dumps(obj, 5)],
                         ids=['python2-official', 'protocol4', 'protocol5'])
def test_legit_cifar_pickles_still_convert(tmp_path, raw_files, dumps):
  batches = raw_files.cifar(tmp_path / 'raw', dumps=dumps)
  counts = builder.build('cifar10', str(tmp_path / 'out'), raw_dir=str(tmp_path / 'raw'),
                         log=lambda s: None)
  assert sum(counts['train'].values()) == 10 and sum(counts['test'].values()) == 3
  test = raw_files.records(tmp_path / 'out' / 'cifar10-test.tfrecord')
  expected = batches['test_batch'][b'data'].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  np.testing.assert_array_equal(np.stack([image for image, _ in test]), expected)
  assert [label for _, label in test] == [0, 1, 2]


def test_cifar_rows_of_100_bytes_give_one_error_line(tmp_path, raw_files):
  raw_files.cifar(tmp_path / 'raw', dumps=_only_batch_1(
      lambda batch: {**batch, b'data': batch[b'data'][:, :100]}))
  result = build_cli(tmp_path, 'cifar10')
  assert_one_error_line(result, 'cifar-10-batches-py/data_batch_1', '[2, 100]', '3072',
                        'cifar-10-python.tar.gz')
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('change, fragment', [
    (lambda batch: list(batch.values()), 'dict'),
    (lambda batch: {b'data': batch[b'data']}, 'labels'),
    (lambda batch: {**batch, b'data': batch[b'data'].astype(np.float32)}, 'uint8'),
    (lambda batch: {**batch, b'data': batch[b'data'][:0]}, '[0, 3072]'),
    (lambda batch: {**batch, b'labels': [0, 1, 2]}, '3 labels'),
    (lambda batch: {**batch, b'labels': [0, 10]}, '0-9'),
    (lambda batch: {**batch, b'labels': ['cat', 'dog']}, 'labels'),
], ids=['not-a-dict', 'no-labels', 'float-pixels', 'no-rows', 'label-count', 'label-10',
        'label-strings'])
def test_malformed_cifar_batches(tmp_path, raw_files, change, fragment):
  raw_files.cifar(tmp_path / 'raw', dumps=_only_batch_1(change))
  build_fails(tmp_path, 'cifar10', 'cifar-10-batches-py/data_batch_1', fragment)


def test_cifar_member_that_is_not_a_pickle_or_not_a_file(tmp_path, raw_files):
  raw_files.cifar(tmp_path / 'raw', dumps=_batch_1_bytes(b'not a pickle'))
  build_fails(tmp_path, 'cifar10', 'cifar-10-batches-py/data_batch_1', 'pickle')
  archive = tmp_path / 'raw' / 'cifar-10-python.tar.gz'
  with tarfile.open(archive, 'w:gz') as tar:  # data_batch_1 is a folder
    info = tarfile.TarInfo('cifar-10-batches-py/data_batch_1')
    info.type = tarfile.DIRTYPE
    tar.addfile(info)
  build_fails(tmp_path, 'cifar10', 'data_batch_1')


def _mat_batch(n, width=3072):
  from scipy.io import savemat
  out = io.BytesIO()
  savemat(out, {'data': np.full((n, width), 7, np.uint8), 'labels': np.arange(n).reshape(-1, 1)})
  return out.getvalue()


def test_cifar_matlab_tarball(tmp_path, raw_files):
  names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
  for folder, width in (('good', 3072), ('bad', 100)):
    os.makedirs(tmp_path / folder / 'raw')
    raw_files.tar(str(tmp_path / folder / 'raw' / 'cifar-10-matlab.tar.gz'),
                  {f'cifar-10-batches-mat/{n}.mat': _mat_batch(2, width) for n in names})
  counts = builder.build('cifar10', str(tmp_path / 'good' / 'out'),
                         raw_dir=str(tmp_path / 'good' / 'raw'), log=lambda s: None)
  assert counts['train'] == {0: 5, 1: 5} and counts['test'] == {0: 1, 1: 1}
  build_fails(tmp_path / 'bad', 'cifar10', 'cifar-10-batches-mat/data_batch_1.mat', '3072')


# ---- MNIST ------------------------------------------------------------------------------------

@pytest.mark.parametrize('images, labels, file, fragment', [
    (np.zeros((0, 28, 28)), np.zeros(0), 'train-images-idx3-ubyte.gz', 'holds 0 images'),
    (np.zeros((3, 64, 64)), np.zeros(3), 'train-images-idx3-ubyte.gz', '3 images of 64x64'),
    (np.zeros((5, 0, 28)), np.zeros(5), 'train-images-idx3-ubyte.gz', '5 images of 0x28'),
    (np.zeros((2, 28, 28)), np.array([1, 12]), 'train-labels-idx1-ubyte.gz', 'label 12'),
], ids=['no-images', '64x64', '5x0x28', 'label-12'])
def test_bad_mnist_gives_one_error_line(tmp_path, raw_files, images, labels, file, fragment):
  raw_files.mnist(tmp_path / 'raw')
  raw_files.idx(str(tmp_path / 'raw' / 'train-images-idx3-ubyte.gz'), images, 2051)
  raw_files.idx(str(tmp_path / 'raw' / 'train-labels-idx1-ubyte.gz'), labels, 2049)
  line = assert_one_error_line(build_cli(tmp_path, 'mnist'), file, fragment)
  assert 'expected' in line and '--raw_dir' in line
  assert not (tmp_path / 'out').exists()


def test_mnist_header_cut_short(tmp_path, raw_files):
  import gzip
  raw_files.mnist(tmp_path / 'raw')
  with gzip.open(tmp_path / 'raw' / 't10k-images-idx3-ubyte.gz', 'wb') as f:
    f.write((2051).to_bytes(4, 'big') + b'\0\0')
  build_fails(tmp_path, 'mnist', 't10k-images-idx3-ubyte.gz', 'header')
  path = tmp_path / 'raw' / 't10k-images-idx3-ubyte.gz'  # gzip whose deflate data is damaged
  raw_files.mnist(tmp_path / 'raw')
  data = bytearray(path.read_bytes())
  data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
  path.write_bytes(bytes(data))
  build_fails(tmp_path, 'mnist', 't10k-images-idx3-ubyte.gz')


# ---- CelebA -----------------------------------------------------------------------------------

def _jpeg(height, width):
  return tf.io.encode_jpeg(np.full((height, width, 3), 100, np.uint8)).numpy()


def _png(height, width):
  return tf.io.encode_png(np.full((height, width, 3), 100, np.uint8)).numpy()


def _celeba(tmp_path, images, as_zip):
  """img_align_celeba.zip or img_align_celeba/ holding {name: bytes}."""
  folder = tmp_path / 'raw' / 'img_align_celeba'
  if as_zip:
    os.makedirs(tmp_path / 'raw', exist_ok=True)
    with zipfile.ZipFile(tmp_path / 'raw' / 'img_align_celeba.zip', 'w') as z:
      for name, data in images.items():
        z.writestr(f'img_align_celeba/{name}', data)
  else:
    os.makedirs(folder)
    for name, data in images.items():
      (folder / name).write_bytes(data)


@pytest.mark.parametrize('as_zip', [True, False], ids=['zip', 'folder'])
@pytest.mark.parametrize('image, fragment', [
    (_png(218, 178), 'not a JPEG'), (_jpeg(64, 64), '64x64'), (b'\xff\xd8\xff', 'not a JPEG'),
], ids=['png', 'small-jpeg', 'cut-jpeg'])
def test_bad_celeba_images(tmp_path, as_zip, image, fragment):
  _celeba(tmp_path, {'000001.jpg': _jpeg(218, 178), '000002.jpg': image}, as_zip)
  message = build_fails(tmp_path, 'celeba', '000002.jpg', fragment)
  assert '178x218' in message


def test_celeba_folder_converts_and_png_gives_one_error_line(tmp_path):
  images = {'000001.jpg': _jpeg(218, 178), '000002.jpg': _jpeg(218, 178)}
  _celeba(tmp_path, images, as_zip=False)
  builder.build('celeba', str(tmp_path / 'out'), raw_dir=str(tmp_path / 'raw'), log=lambda s: None)
  records = list(tf.data.TFRecordDataset(str(tmp_path / 'out' / 'celeba-train.tfrecord')))
  assert len(records) == 2 and images['000001.jpg'] in records[0].numpy()  # JPEG kept as is
  (tmp_path / 'raw' / 'img_align_celeba' / '000002.jpg').write_bytes(_png(218, 178))
  result = build_cli(tmp_path, 'celeba', f'--data_dir={tmp_path / "out2"}')
  assert_one_error_line(result, '000002.jpg', 'not a JPEG', '178x218')
  assert not (tmp_path / 'out2').exists()


# ---- SVHN -------------------------------------------------------------------------------------

@pytest.mark.parametrize('x, y, fragment', [
    (np.zeros((32, 32, 3)), np.ones((1, 1)), '[32, 32, 3, N]'),
    (np.zeros((32, 32, 3, 2), np.float32), np.ones((2, 1)), 'uint8'),
    (np.zeros((32, 32, 3, 0), np.uint8), np.ones((0, 1)), '[32, 32, 3, N]'),
    (np.zeros((32, 32, 3, 2), np.uint8), np.array([[1], [11]]), 'label 11'),
    (np.zeros((32, 32, 3, 2), np.uint8), np.array([[1.0], [np.nan]]), 'label nan'),
], ids=['3-d', 'float', 'empty', 'label-11', 'label-nan'])
def test_bad_svhn(tmp_path, raw_files, x, y, fragment):
  from scipy.io import savemat
  raw_files.svhn(tmp_path / 'raw')
  savemat(str(tmp_path / 'raw' / 'test_32x32.mat'), {'X': x, 'y': y})
  build_fails(tmp_path, 'svhn', 'test_32x32.mat', fragment)


def test_svhn_labels_stored_as_doubles_convert(tmp_path, raw_files):
  from scipy.io import savemat
  raw_files.svhn(tmp_path / 'raw')
  x = np.random.default_rng(1).integers(0, 256, (32, 32, 3, 3), dtype=np.uint8)
  savemat(str(tmp_path / 'raw' / 'test_32x32.mat'), {'X': x, 'y': np.array([[10.], [1.], [9.]])})
  counts = builder.build('svhn', str(tmp_path / 'out'), raw_dir=str(tmp_path / 'raw'),
                         log=lambda s: None)
  test = raw_files.records(tmp_path / 'out' / 'svhn-test.tfrecord')
  assert counts['test'] == {9: 1, 0: 1, 8: 1} and [label for _, label in test] == [9, 0, 8]
  np.testing.assert_array_equal(test[2][0], x[..., 2])


# ---- Temp files of killed builds --------------------------------------------------------------

def test_orphan_temp_files_of_dead_builds_are_removed(tmp_path, raw_files):
  dead = subprocess.Popen([sys.executable, '-c', 'pass'])
  dead.wait()
  out = tmp_path / 'out'
  out.mkdir()
  orphan = out / f'mnist-train.tfrecord.tmp-{dead.pid}'
  live = out / f'cifar10-test.tfrecord.tmp-{os.getpid()}'
  others = [out / 'mnist-test.tfrecord.tmp-abc', out / f'notes.tmp-{dead.pid}']
  for path in [orphan, live, *others]:
    path.write_bytes(b'half a split')
  raw_files.mnist(tmp_path / 'raw')
  logs = []
  builder.build('mnist', str(out), raw_dir=str(tmp_path / 'raw'), log=logs.append)
  assert not orphan.exists()
  assert live.exists() and all(path.exists() for path in others)
  removals = [line for line in logs if 'removed' in line]
  assert len(removals) == 1 and str(orphan) in removals[0] and str(dead.pid) in removals[0]
  assert sorted(os.listdir(out)) == sorted([live.name, *(p.name for p in others),
                                            'mnist-train.tfrecord', 'mnist-test.tfrecord'])


def test_temp_files_of_other_users_processes_are_kept(tmp_path, monkeypatch):
  real_kill = os.kill

  def kill(pid, signal):
    if pid == 1:  # as os.kill says for another user's process
      raise PermissionError(1, 'Operation not permitted')
    return real_kill(pid, signal)
  monkeypatch.setattr(os, 'kill', kill)
  (tmp_path / 'svhn-extra.tfrecord.tmp-1').write_bytes(b'')
  (tmp_path / 'svhn-train.tfrecord.tmp-99999999999999999999').write_bytes(b'')  # no such pid
  logs = []
  builder.remove_orphans(str(tmp_path), log=logs.append)
  assert os.listdir(tmp_path) == ['svhn-extra.tfrecord.tmp-1'] and len(logs) == 1


# ---- The program ------------------------------------------------------------------------------

def test_debug_shows_the_traceback(tmp_path, raw_files, monkeypatch):
  raw_files.mnist(tmp_path / 'raw')
  raw_files.idx(str(tmp_path / 'raw' / 'train-images-idx3-ubyte.gz'), np.zeros((1, 64, 64)), 2051)
  for result in (build_cli(tmp_path, 'mnist', '--debug'),
                 monkeypatch.setenv('ACAI_DEBUG', '1') or build_cli(tmp_path, 'mnist')):
    assert result.returncode != 0
    assert 'Traceback' in result.stderr and '64x64' in result.stderr
  monkeypatch.setenv('ACAI_DEBUG', '0')
  assert_one_error_line(build_cli(tmp_path, 'mnist'), '64x64')


def test_output_folder_that_is_a_file(tmp_path, raw_files):
  raw_files.mnist(tmp_path / 'raw')
  (tmp_path / 'out').write_text('not a folder')
  assert_one_error_line(build_cli(tmp_path, 'mnist'), '--data_dir', str(tmp_path / 'out'))


def test_missing_dataset_flag_and_tilde_folders(tmp_path, raw_files, monkeypatch):
  assert_one_error_line(run_build(f'--data_dir={tmp_path}'), '--dataset')
  raw_files.mnist(tmp_path / 'raw')
  monkeypatch.setenv('HOME', str(tmp_path))
  result = run_build('--dataset=mnist', '--raw_dir=~/raw', '--data_dir=~/out')
  assert result.returncode == 0, result.stderr[-2000:]
  assert (tmp_path / 'out' / 'mnist-test.tfrecord').exists()


def test_offline_tfds_error_is_one_line(tmp_path, monkeypatch):
  import socket

  def offline(*args, **kwargs):
    raise OSError('[Errno -2] Name or service not known')
  monkeypatch.setattr(socket, 'create_connection', offline)
  with pytest.raises(builder.BuildError) as raised:
    builder.build('svhn', str(tmp_path / 'out'), source='tfds')
  assert '\n' not in str(raised.value)
  assert 'offline' in str(raised.value) and '--source=dir --raw_dir=' in str(raised.value)
  assert 'train_32x32.mat' in str(raised.value)


def test_readers_and_a_stem_import_no_tensorflow():
  code = ('import sys; from data_prep import build; build.source_stem("mnist"); '
          'print("tensorflow" in sys.modules)')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert result.stdout.strip() == 'False', result.stderr
