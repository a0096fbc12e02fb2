"""data_prep builds from every official raw format; the real datasets load from its TFRecords."""

import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf

from acai_tf.data import DATASETS, get_dataset
from acai_tf.data.records import DataFormatError, MissingDataError, ShuffleBuffer
from helpers import MNIST_DIR, run_module
from data_prep import build as builder, readers
from data_prep.readers import Split

def test_mnist_from_idx_files(tmp_path, raw_files):
  source = raw_files.mnist(tmp_path / 'raw')
  counts = builder.build('mnist', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'raw'),
                         log=lambda s: None)
  assert sum(counts['train'].values()) == 12 and sum(counts['test'].values()) == 5
  records = raw_files.records(tmp_path / 'data' / 'mnist-train.tfrecord')
  np.testing.assert_array_equal(records[3][0][..., 0], source['train'][0][3])  # lossless PNG
  assert [label for _, label in records] == list(source['train'][1])

  dataset = get_dataset('mnist32', str(tmp_path / 'data'))
  images, labels = dataset.test()
  assert images.shape == (5, 32, 32, 1) and images.dtype == np.float32
  assert images.min() >= -1 and images.max() <= 1
  np.testing.assert_array_equal(images[:, :2], -1)  # 2-px padding with -1
  np.testing.assert_array_equal(images[:, :, -2:], -1)
  np.testing.assert_allclose(images[1, 2:30, 2:30, 0], source['test'][0][1] / 127.5 - 1, atol=1e-6)
  np.testing.assert_array_equal(labels, source['test'][1])


def test_train_stream_is_shuffled_and_resumable(tmp_path, raw_files):
  raw_files.mnist(tmp_path / 'raw', train=20)
  builder.build('mnist', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'raw'), log=lambda s: None)
  dataset = get_dataset('mnist32', str(tmp_path / 'data'))
  stream = [(x.numpy(), y.numpy()) for x, y in dataset.train(8, 1, shuffle='epoch').take(6)]
  resumed = next(iter(dataset.train(8, seed=1, start_step=4, shuffle='epoch')))
  np.testing.assert_array_equal(resumed[0].numpy(), stream[4][0])
  # every image once per epoch (20 images = 2.5 batches), in a seeded random order
  first_epoch = np.concatenate([y for _, y in stream])[:20]
  assert sorted(first_epoch) == sorted(np.arange(20) % 10)
  assert list(first_epoch) != list(np.arange(20) % 10)
  other = next(iter(dataset.train(8, seed=2, shuffle='epoch')))[1].numpy()
  assert list(other) != list(stream[0][1])
  # The default, the original's shuffle buffer: resumable too.
  stream = [y.numpy() for _, y in dataset.train(8, seed=1).take(6)]
  assert list(next(iter(dataset.train(8, seed=1, start_step=4)))[1].numpy()) == list(stream[4])


class TestShuffleBuffer:
  """The original's order: file order, repeated, through a 1024-image shuffle buffer."""

  def test_an_image_comes_out_only_after_it_entered_the_buffer(self):
    order = ShuffleBuffer(n=100000, seed=0, batch=64)
    stream = np.concatenate([order.batch_indices(step) for step in range(300)])
    assert (stream <= np.arange(len(stream)) + 1023).all()
    assert len(set(stream.tolist())) == len(stream)  # none twice within the first epoch
    # So file-ordered data is barely mixed: of two 2048-image halves, the first 1024 outputs
    # come from the first half only.
    assert (stream[:1024] < 2048).all()

  @pytest.mark.slow
  def test_every_image_waits_as_long_as_in_tf_data(self):
    ours = np.concatenate([ShuffleBuffer(10**6, 3, 64).batch_indices(s) for s in range(256)])
    theirs = np.fromiter(tf.data.Dataset.range(10**6).shuffle(1024, seed=3).take(len(ours))
                         .as_numpy_iterator(), np.int64)
    # Mean delay (position out - position in) of a random-slot buffer of 1024: about 1024.
    delay = lambda stream: (np.arange(len(stream)) - stream)[4096:].mean() + 1024  # noqa: E731
    assert delay(ours) == pytest.approx(delay(theirs), rel=0.1)
    assert delay(ours) == pytest.approx(1024, rel=0.1)

  def test_batches_depend_only_on_seed_and_step_in_any_order(self):
    straight = ShuffleBuffer(5000, 7, 16)
    expected = [straight.batch_indices(s).copy() for s in range(800)]
    shuffled = ShuffleBuffer(5000, 7, 16)
    for step in (700, 3, 799, 256, 255, 512, 0):
      np.testing.assert_array_equal(shuffled.batch_indices(step), expected[step])
    assert not np.array_equal(ShuffleBuffer(5000, 8, 16).batch_indices(0), expected[0])
    # Past an epoch (5000 images) the stream wraps around the file.
    assert set(np.concatenate(expected).tolist()) == set(range(5000))


def test_svhn_from_mat_files(tmp_path, raw_files):
  raw_files.svhn(tmp_path / 'raw')
  counts = builder.build('svhn32', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'raw'),
                         log=lambda s: None)
  assert {k: sum(v.values()) for k, v in counts.items()} == {'train': 6, 'test': 4, 'extra': 3}
  assert set(counts['train']) <= set(range(10))  # labels y - 1, digit 0 (10) -> 9
  dataset = get_dataset('svhn32', str(tmp_path / 'data'))
  images, labels = dataset.arrays('train')
  assert images.shape == (9, 32, 32, 3)  # train + extra
  assert dataset.test()[0].shape == (4, 32, 32, 3)


def test_data_prep_takes_the_training_names_and_the_file_stems():
  assert {name: builder.source_stem(name) for name in DATASETS if name != 'lines32'} == {
      'mnist32': 'mnist', 'svhn32': 'svhn', 'celeba32': 'celeba', 'cifar10': 'cifar10',
      'celeba64': 'celeba'}
  assert builder.source_stem('celeba') == 'celeba' and builder.source_stem('pets') is None
  with pytest.raises(builder.BuildError, match='--dataset=lines32 is not built in'):
    builder.build('lines32', '/nonexistent')
  # tensorflow-datasets labels SVHN's digits 0-9; the original's files (and records) say y - 1.
  svhn = readers.SOURCES['svhn']
  assert [svhn.tfds_label(digit) for digit in (0, 1, 9)] == [9, 0, 8]
  assert readers.SOURCES['celeba'].tfds_label(5) == 0


def test_cifar_from_python_tarball(tmp_path, raw_files):
  raw_files.cifar(tmp_path / 'raw')
  counts = builder.build('cifar10', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'raw'),
                         log=lambda s: None)
  assert sum(counts['train'].values()) == 10 and sum(counts['test'].values()) == 3
  images, labels = get_dataset('cifar10', str(tmp_path / 'data')).test()
  assert images.shape == (3, 32, 32, 3) and list(labels) == [0, 1, 2]


def test_celeba_from_zip(tmp_path, raw_files):
  raw_files.celeba(tmp_path / 'raw')
  counts = builder.build('celeba64', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'raw'),
                         log=lambda s: None)
  assert counts['train'] == {0: 3}
  dataset = get_dataset('celeba32', str(tmp_path / 'data'))
  images, _ = dataset.test()
  assert dataset.nclass == 1 and images.shape == (3, 32, 32, 3)
  assert images.min() >= -1 and images.max() <= 1


@pytest.mark.skipif(not MNIST_DIR, reason='set ACAI_MNIST_DIR to a folder of the official MNIST '
                    'idx files (or a subset in their format) to test on real digits')
def test_real_mnist_digits(tmp_path):
  from data_prep.readers import read_idx
  counts = builder.build('mnist', str(tmp_path), raw_dir=MNIST_DIR, log=lambda s: None)
  digits = read_idx(os.path.join(MNIST_DIR, 't10k-images-idx3-ubyte.gz'), 2051, 3)
  train = read_idx(os.path.join(MNIST_DIR, 'train-labels-idx1-ubyte.gz'), 2049, 1)
  assert sum(counts['train'].values()) == len(train) and sum(counts['test'].values()) == len(digits)
  assert set(counts['train']) == set(range(10)) and min(counts['train'].values()) > len(train) / 15
  images, labels = get_dataset('mnist32', str(tmp_path)).test()
  np.testing.assert_allclose(images[17, 2:30, 2:30, 0], digits[17] / 127.5 - 1, atol=1e-6)
  assert images.shape == (len(digits), 32, 32, 1) and 0.05 < (images > 0).mean() < 0.3


def test_corrupt_inputs_name_the_file(tmp_path, raw_files):
  raw_files.mnist(tmp_path / 'raw')
  path = tmp_path / 'raw' / 'train-images-idx3-ubyte.gz'
  path.write_bytes(path.read_bytes()[:100])
  with pytest.raises(builder.BuildError, match='train-images-idx3-ubyte.gz is truncated'):
    builder.build('mnist', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'raw'))
  from scipy.io import savemat
  os.makedirs(tmp_path / 'svhn')
  for split in ('train', 'test', 'extra'):
    savemat(str(tmp_path / 'svhn' / f'{split}_32x32.mat'), {'images': np.zeros((2, 2))})
  with pytest.raises(builder.BuildError, match=r"train_32x32.mat has keys \['images'\]; expected"):
    builder.build('svhn', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'svhn'))
  with pytest.raises(builder.BuildError, match='missing .*cifar-10-python.tar.gz'):
    builder.build('cifar10', str(tmp_path / 'data'), raw_dir=str(tmp_path / 'empty'))
  # A TFRecord with other features.
  os.makedirs(tmp_path / 'bad')
  with tf.io.TFRecordWriter(str(tmp_path / 'bad' / 'cifar10-test.tfrecord')) as writer:
    writer.write(tf.train.Example(features=tf.train.Features(feature={
        'pixels': tf.train.Feature(float_list=tf.train.FloatList(value=[1.0]))}))
        .SerializeToString())
  (tmp_path / 'bad' / 'cifar10-train.tfrecord').write_bytes(b'')
  with pytest.raises(DataFormatError, match='cifar10-test.tfrecord is not a data_prep TFRecord'):
    get_dataset('cifar10', str(tmp_path / 'bad')).test()
  with pytest.raises(MissingDataError, match='python -m data_prep.build --dataset=svhn32'):
    get_dataset('svhn32', str(tmp_path / 'bad')).check()


def test_interrupted_build_leaves_no_partial_file(tmp_path):
  def items():
    yield np.zeros((28, 28, 1), np.uint8), 1
    raise KeyboardInterrupt  # Ctrl-C half-way

  path = str(tmp_path / 'mnist-train.tfrecord')
  with pytest.raises(KeyboardInterrupt):
    builder.write_split(path, Split(2, items()), log=lambda s: None)
  assert os.listdir(tmp_path) == []


def test_offline_tfds_fails_fast_with_instructions(tmp_path, monkeypatch):
  def offline(*args, **kwargs):
    raise OSError('[Errno -2] Name or service not known')
  monkeypatch.setattr(socket, 'create_connection', offline)
  start = time.monotonic()
  with pytest.raises(builder.BuildError, match='offline'):
    builder.build('mnist', str(tmp_path), source='tfds')
  assert time.monotonic() - start < 5
  assert not os.listdir(tmp_path)


@pytest.mark.slow
def test_build_cli_from_any_directory(tmp_path, raw_files):
  raw_files.mnist(tmp_path / 'raw')
  result = run_module('data_prep.build', '--dataset=mnist', f'--raw_dir={tmp_path / "raw"}',
                      f'--data_dir={tmp_path / "out"}', cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'mnist-train.tfrecord: 12 images' in result.stdout
  missing = run_module('data_prep.build', '--dataset=svhn', f'--raw_dir={tmp_path / "none"}',
                       f'--data_dir={tmp_path / "out"}', cwd=str(tmp_path))
  assert missing.returncode == 2 and 'train_32x32.mat' in missing.stderr
  bad_flag = run_module('data_prep.build', '--dataset=mnist', '--source=ftp', cwd=str(tmp_path))
  assert bad_flag.returncode == 2
  assert bad_flag.stderr.strip().splitlines()[-1].startswith('error: flag --source=ftp: ')
