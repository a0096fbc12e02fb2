"""Build the training TFRecords: python -m data_prep.build --dataset=mnist --data_dir=DIR

Writes <data_dir>/<name>-<split>.tfrecord with the original's schema: one
tf.train.Example per image, `image` (PNG bytes; CelebA keeps its JPEG bytes)
and `label` (int64), in source order.

Sources:
  --source=dir   the official raw files you downloaded, in --raw_dir (works offline)
  --source=tfds  tensorflow-datasets downloads them (needs internet)
"""

import collections
import os
import socket
import sys
import time

from absl import app, flags, logging

from data_prep.readers import READERS, RAW_FILES, RawDataError

FLAGS = flags.FLAGS
flags.DEFINE_enum('dataset', None, list(READERS), 'Dataset to build.')
flags.DEFINE_enum('source', None, ['dir', 'tfds'],
                  'Where images come from; default: dir if --raw_dir is given, else tfds.')
flags.DEFINE_string('raw_dir', None, 'Folder with the official raw files (--source=dir).')
flags.DEFINE_string('data_dir', os.environ.get('ACAI_DATA'),
                    'Output folder (default: $ACAI_DATA); training reads it with --data_dir.')

# Output file stem of each split (the original's names).
OUTPUT = {'mnist': 'mnist', 'svhn': 'svhn', 'cifar10': 'cifar10', 'celeba': 'celeba'}
# tensorflow-datasets name and split mapping.
TFDS = {'mnist': ('mnist', {'train': 'train', 'test': 'test'}),
        'svhn': ('svhn_cropped', {'train': 'train', 'test': 'test', 'extra': 'extra'}),
        'cifar10': ('cifar10', {'train': 'train', 'test': 'test'}),
        'celeba': ('celeb_a', {'train': 'train+validation+test'})}
TFDS_HOST = ('storage.googleapis.com', 443)


class BuildError(RuntimeError):
  pass


def record_path(data_dir, dataset, split):
  return os.path.join(data_dir, f'{OUTPUT[dataset]}-{split}.tfrecord')


def write_split(path, split, log=print, every_seconds=5.0):
  """Writes one split atomically (a temp file renamed at the end).

  Returns:
    Counter of labels written.
  """
  import tensorflow as tf
  tmp = f'{path}.tmp-{os.getpid()}'
  counts = collections.Counter()
  start = last = time.monotonic()
  try:
    with tf.io.TFRecordWriter(tmp) as writer:
      for i, (image, label) in enumerate(split.items):
        data = image if isinstance(image, bytes) else tf.io.encode_png(image).numpy()
        example = tf.train.Example(features=tf.train.Features(feature={
            'image': tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
            'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}))
        writer.write(example.SerializeToString())
        counts[int(label)] += 1
        if time.monotonic() - last > every_seconds:
          last = time.monotonic()
          rate = (i + 1) / (last - start)
          log(f'  {os.path.basename(path)}: {i + 1}/{split.count} images '
              f'({rate:.0f}/s, {(split.count - i - 1) / rate:.0f} s left)')
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return counts


def check_online(timeout=3.0):
  """Fails within `timeout` seconds when the tfds download host cannot be reached."""
  try:
    socket.create_connection(TFDS_HOST, timeout=timeout).close()
  except OSError as e:
    raise BuildError(f'cannot reach {TFDS_HOST[0]} ({e}): this machine looks offline, so '
                     'tensorflow-datasets cannot download.') from None


def tfds_splits(dataset):
  """{split: Split} read through tensorflow-datasets (downloads on first use)."""
  import tensorflow_datasets as tfds
  from data_prep.readers import Split
  name, splits = TFDS[dataset]
  out = {}
  for split, tfds_split in splits.items():
    ds, info = tfds.load(name, split=tfds_split, with_info=True, as_supervised=False)
    count = info.splits[tfds_split].num_examples

    def items(ds=ds):
      for example in tfds.as_numpy(ds):
        label = int(example.get('label', 0))
        if dataset == 'svhn':
          label = (label - 1) % 10  # tfds has digits; the original used y - 1 (digit 0 -> 9)
        yield example['image'], (0 if dataset == 'celeba' else label)
    out[split] = Split(count, items())
  return out


def build(dataset, data_dir, source='dir', raw_dir=None, log=print):
  """Builds every split of `dataset`; returns {split: Counter of labels}."""
  if source == 'dir':
    if not raw_dir:
      raise BuildError('--source=dir needs --raw_dir, the folder holding ' + RAW_FILES[dataset])
    try:
      splits = READERS[dataset](raw_dir)
    except RawDataError as e:
      raise BuildError(f'{e}.\nPut {RAW_FILES[dataset]} in --raw_dir={raw_dir}.') from None
  else:
    check_online()
    splits = tfds_splits(dataset)
  os.makedirs(data_dir, exist_ok=True)
  written = {}
  for split, data in splits.items():
    path = record_path(data_dir, dataset, split)
    log(f'writing {path} ({data.count} images)')
    try:
      written[split] = write_split(path, data, log)
    except RawDataError as e:
      raise BuildError(str(e)) from None
  for split, counts in written.items():
    per_class = ', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))
    log(f'{record_path(data_dir, dataset, split)}: {sum(counts.values())} images; '
        f'per label {{{per_class}}}')
  return written


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)
  if not FLAGS.dataset:
    raise app.UsageError(f'--dataset is required: one of {", ".join(READERS)}.')
  if not FLAGS.data_dir:
    raise app.UsageError('--data_dir is required (or set $ACAI_DATA).')
  source = FLAGS.source or ('dir' if FLAGS.raw_dir else 'tfds')
  try:
    build(FLAGS.dataset, FLAGS.data_dir, source, FLAGS.raw_dir,
          log=lambda s: print(s, flush=True))
  except BuildError as e:
    hint = ''
    if source == 'tfds':
      hint = (f'\nOffline? Download {RAW_FILES[FLAGS.dataset]} yourself, then run\n  python -m '
              f'data_prep.build --dataset={FLAGS.dataset} --source=dir --raw_dir=FOLDER '
              f'--data_dir={FLAGS.data_dir}')
    print(f'error: {e}{hint}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main)
