"""Build the training TFRecords: python -m data_prep.build --dataset=mnist32 --data_dir=DIR

Writes <data_dir>/<stem>-<split>.tfrecord with the original's schema and file names (mnist32
-> mnist-train.tfrecord, mnist-test.tfrecord): one tf.train.Example per image, `image` (PNG
bytes; CelebA keeps its JPEG bytes) and `label` (int64), in source order. The raw sources are
`readers.SOURCES`; --dataset takes the training name (mnist32, svhn32, cifar10, celeba32 or
celeba64, which share CelebA's records) or the stem (mnist, svhn, cifar10, celeba).

Sources of the built-in datasets:
  --source=dir   the official raw files you downloaded, in --raw_dir (works offline)
  --source=tfds  tensorflow-datasets downloads them (needs internet)

Datasets of your own (any other --dataset name; see data_prep/own.py):
  --source=folder --raw_dir=IMAGES [--size=32|64] [--channels=1|3] [--test_fraction=0.1]
                 a folder of images, labelled by class sub-folder if they are in any
  --source=tfds --tfds_name=NAME [--image_key --label_key --size --channels]
                 any tensorflow-datasets image dataset, its splits under their names
They are written as <data_dir>/<dataset>-<split>.tfrecord and described in
<data_dir>/<dataset>.json (written last), which training and evaluation read:
python -m acai_tf.train --dataset=NAME --data_dir=DIR.

Bad raw files stop the build before anything is written, with one `error:` line on stderr
and exit code 2 (--debug or ACAI_DEBUG=1: the traceback instead). Temp files left in the
output folder by killed builds are removed when the next build starts.
"""

import collections
import functools
import json
import os
import re
import socket
import time

from absl import app, flags, logging

from acai_tf import cli, errors, quiet, rundir, tempfiles
from acai_tf.config import DATA_ENV
from acai_tf.data import DATASETS
from acai_tf.data.info import RECORD_SUFFIX, record_path
from data_prep import own
from data_prep.readers import SOURCES, RawDataError, Split

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """The program's flags, in `flag_values`; only defined when run as a program (importing
  defines none), and tests give a FlagValues of their own."""
  define = functools.partial(_define, flag_values)
  define('string', 'dataset', None, 'Dataset to build: a built-in one by the name training '
         f'uses (e.g. mnist32, celeba64) or by the stem of its files ({", ".join(SOURCES)}), '
         'or a name of your own (lower case, digits, _ . -) with --source=folder or '
         '--tfds_name.')
  define('enum', 'source', None, 'Where images come from; default: dir if --raw_dir is given, '
         'else tfds.', enum_values=['dir', 'tfds', 'folder'])
  define('string', 'raw_dir', None, 'Folder with the official raw files (--source=dir), or '
         'your images (--source=folder).')
  define('string', 'tfds_name', None, 'A tensorflow-datasets image dataset to build as '
         '--dataset (with --source=tfds).')
  define('string', 'image_key', None, 'With --tfds_name: the image feature (default: the '
         'first image feature).')
  define('string', 'label_key', None, "With --tfds_name: the class-label feature (default: "
         "'label' if there is one; none: unlabelled).")
  define('string', 'tfds_data_dir', None, "With --tfds_name: tensorflow-datasets' data folder "
         '(default: $TFDS_DATA_DIR or ~/tensorflow_datasets).')
  define('integer', 'size', 32, 'Your own datasets: image height and width, 32 or 64.')
  define('integer', 'channels', None, 'Your own datasets: 1 (greyscale) or 3 (colour); '
         'default: 1 if every image is greyscale, else 3.')
  define('float', 'test_fraction', 0.1, '--source=folder: the share of files (by a hash of '
         'their path) that form the test split.')
  define('bool', 'strict', False, '--source=folder: fail on an unreadable image instead of '
         'skipping it.')
  define('string', 'data_dir', os.environ.get(DATA_ENV), 'Output folder (default: $ACAI_DATA); '
         'training reads it with --data_dir.')
  define('bool', 'debug', os.environ.get('ACAI_DEBUG') == '1', 'Show the traceback of a '
         'failure instead of one line (also: ACAI_DEBUG=1).')


def _define(flag_values, kind, name, default, help, **kwargs):
  getattr(flags, f'DEFINE_{kind}')(name=name, default=default, help=help, flag_values=flag_values,
                                   **kwargs)


TFDS_HOST = ('storage.googleapis.com', 443)


class BuildError(errors.UsageError):
  """The build cannot go on; the one-line message says what is wrong and what to do (exit
  code 2)."""


def built_in():
  """{training dataset name: the stem of its records}, of acai_tf's built-in real datasets
  (celeba32 and celeba64 read the same records)."""
  return {name: info.stem for name, info in DATASETS.items() if info.stem}


def source_stem(name):
  """The stem of the records `--dataset=name` builds (mnist32 -> mnist; a stem is kept), or
  None if it names no built-in dataset."""
  return name if name in SOURCES else built_in().get(name)


def remove_orphans(data_dir, log=print):
  """Removes the temp files of records whose build was killed before renaming them."""
  tempfiles.remove_dead(data_dir, RECORD_SUFFIX, log)


def write_split(path, split, log=print, every_seconds=5.0):
  """Writes one split atomically (a temp file renamed at the end).

  Returns:
    Counter of labels written.
  """
  quiet.import_tensorflow()  # only when records are written
  import tensorflow as tf
  tmp = tempfiles.temp_path(path)
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


def tfds_splits(source):
  """{split: Split} of a `readers.Source` read through tensorflow-datasets (downloads on first
  use)."""
  quiet.import_tensorflow()
  import tensorflow_datasets as tfds
  out = {}
  for split, tfds_split in source.tfds_splits.items():
    ds, info = tfds.load(source.tfds_name, split=tfds_split, with_info=True, as_supervised=False)

    def items(ds=ds):
      for example in tfds.as_numpy(ds):
        yield example['image'], source.tfds_label(example.get('label', 0))
    out[split] = Split(info.splits[tfds_split].num_examples, items())
  return out


def check_output(data_dir):
  """Fails before any raw data is read if --data_dir cannot be the output folder."""
  if os.path.exists(data_dir) and not os.path.isdir(data_dir):
    raise BuildError(f'--data_dir={data_dir} is a file; give a folder (created if missing)')


def make_output(data_dir):
  try:
    os.makedirs(data_dir, exist_ok=True)
  except OSError as e:
    raise BuildError(f'cannot create the output folder --data_dir={data_dir} ({e.strerror}); '
                     'give a folder this user can write') from None


def build(dataset, data_dir, source='dir', raw_dir=None, log=print):
  """Builds every split of a built-in `dataset` (mnist32, or its stem mnist, ...); returns
  {split: Counter of labels}.

  Raw files are checked before the output folder is created or written to.
  """
  stem = source_stem(dataset)
  if stem is None:
    raise BuildError(f'--dataset={dataset} is not built in ({", ".join(built_in())}): for '
                     'your own images pass --source=folder --raw_dir=IMAGES, for a '
                     'tensorflow-datasets dataset --source=tfds --tfds_name=NAME')
  raw = SOURCES[stem]
  check_output(data_dir)
  if os.path.isdir(data_dir):
    remove_orphans(data_dir, log)

  def bad_raw_data(error):
    return BuildError(f'{error}. Put the official {raw.files} in --raw_dir={raw_dir}.')

  if source == 'dir':
    if not raw_dir:
      raise BuildError('--source=dir needs --raw_dir, the folder holding ' + raw.files)
    try:
      splits = raw.read(raw_dir)
    except RawDataError as e:
      raise bad_raw_data(e) from e  # the cause shows with --debug
  else:
    try:
      check_online()
    except BuildError as e:
      raise BuildError(f'{e} Download {raw.files} yourself, then run: python -m '
                       f'data_prep.build --dataset={dataset} --source=dir --raw_dir=FOLDER '
                       f'--data_dir={data_dir}') from None
    splits = tfds_splits(raw)
  make_output(data_dir)
  written = {}
  for split, data in splits.items():
    path = record_path(data_dir, stem, split)
    log(f'writing {path} ({data.count} images)')
    try:
      written[split] = write_split(path, data, log)
    except RawDataError as e:
      raise bad_raw_data(e) from e
  for split, counts in written.items():
    per_class = ', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))
    log(f'{record_path(data_dir, stem, split)}: {sum(counts.values())} images; '
        f'per label {{{per_class}}}')
  return written


def build_own(name, data_dir, read, log=print):
  """Builds a dataset of your own from `read() -> (splits, info)` (data_prep.own).

  The old description goes first and the new one is written last, so a build killed
  half-way reads as never built; the records are each written atomically.
  """
  check_own_name(name)
  check_output(data_dir)
  try:
    splits, info = read()
  except (RawDataError, BuildError) as e:
    raise BuildError(str(e)) from None
  make_output(data_dir)
  remove_orphans(data_dir, log)
  description = os.path.join(data_dir, f'{name}.json')
  if os.path.exists(description):
    os.remove(description)
  counts = {}
  for split, data in splits.items():
    path = record_path(data_dir, name, split)
    log(f'writing {path} ({data.count} images)')
    counts[split] = write_split(path, data, log)
  info = {'name': name, **info, 'splits': {k: sum(c.values()) for k, c in counts.items()},
          'per_class': {k: {str(label): n for label, n in sorted(c.items())}
                        for k, c in counts.items()} if info['classes'] else None}
  rundir.write_atomic(description, json.dumps(info, indent=1))
  log(f'{description}: {info["size"]}x{info["size"]}x{info["channels"]}, '
      f'{len(info["classes"]) or "no"} classes, ' +
      ', '.join(f'{k} {n} images' for k, n in info['splits'].items()) +
      f'. Train with: python -m acai_tf.train --dataset={name} --data_dir={data_dir}')
  return info


def check_own_name(name):
  if source_stem(name) or name in DATASETS:
    raise BuildError(f'--dataset={name} is a built-in dataset; name yours differently (e.g. '
                     f'my_{name}), or build the built-in one with --source=dir or tfds')
  if not re.fullmatch(r'[a-z0-9][a-z0-9_.-]*', name):
    raise BuildError(f'--dataset={name!r}: use lower-case letters, digits, _ . - (it names '
                     'files and flags)')


def run(argv):
  if len(argv) > 1:
    raise BuildError(f'unexpected arguments: {" ".join(argv[1:])}; give settings as --flags')
  if not FLAGS.dataset:
    raise BuildError(f'--dataset is required: one of {", ".join(built_in())}, or a name of your '
                     'own with --source=folder or --tfds_name')
  if not FLAGS.data_dir:
    raise BuildError(f'--data_dir is required (or set ${DATA_ENV})')
  raw_dir = FLAGS.raw_dir and os.path.expanduser(FLAGS.raw_dir)  # --raw_dir=~/x: no shell ~
  data_dir = os.path.expanduser(FLAGS.data_dir)
  log = lambda s: print(s, flush=True)  # noqa: E731
  if FLAGS.source == 'folder':
    if not raw_dir:
      raise BuildError('--source=folder needs --raw_dir, the folder of your images')
    build_own(FLAGS.dataset, data_dir, lambda: own.read_folder(
        raw_dir, FLAGS.size, FLAGS.channels, FLAGS.test_fraction, FLAGS.strict, log), log)
  elif FLAGS.tfds_name:
    build_own(FLAGS.dataset, data_dir, lambda: own.read_tfds(
        FLAGS.tfds_name, FLAGS.size, FLAGS.channels, FLAGS.image_key, FLAGS.label_key,
        FLAGS.tfds_data_dir, check_online), log)
  else:
    build(FLAGS.dataset, data_dir, FLAGS.source or ('dir' if raw_dir else 'tfds'), raw_dir,
          log=log)


def describe_failure(error):
  """(one-line message, exit code) of a failure of the program: acai_tf's
  (`cli.describe_failure`; a BuildError is a UsageError, 2), but an OSError is the machine's
  (disk full, lost mount), 74, and an interruption keeps no partial file."""
  if isinstance(error, KeyboardInterrupt):
    return ('interrupted; no partial file was kept: rerun the same command to build',
            cli.describe_failure(error)[1])
  if isinstance(error, OSError) and not isinstance(error, errors.AcaiError):
    return f'{error}; fix it and rerun the same command', errors.EXIT_IO
  return cli.describe_failure(error)


def main(argv):
  logging.set_verbosity(logging.DEBUG if FLAGS.debug else logging.ERROR)  # tfds chatters
  with cli.one_line_errors(FLAGS.debug, describe_failure):
    run(argv)


if __name__ == '__main__':
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
