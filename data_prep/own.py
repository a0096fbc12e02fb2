"""Datasets of your own: a folder of images, or any tensorflow-datasets image dataset.

Both give {split: Split} of uint8 [size, size, channels] images and a description
(`info`) that data_prep.build stores next to the records as <name>.json, so that
`--dataset=NAME` then works everywhere the built-in names do.

Images are centre-cropped to a square and resized with Pillow (Lanczos);
channels are converted as asked, by default 1 if every image is greyscale and 3
otherwise. A folder whose images sit in sub-folders is labelled by sub-folder
name (sorted: label 0 is the first); one with images at its top is unlabelled.
Files are split into train and test by a hash of their path inside the folder,
so the split does not change when files are added or the folder moves.
"""

import hashlib
import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from acai_tf import quiet
from data_prep.readers import RawDataError, Split

EXTENSIONS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp')
GREY_MODES = ('1', 'L', 'LA', 'I', 'I;16', 'F')
SIZES = (32, 64)
SHOWN = 5  # unreadable files named in the message


def image_files(raw_dir):
  """{label folder or '': sorted relative paths of image files}; RawDataError if unusable."""
  if not os.path.isdir(raw_dir):
    raise RawDataError(f'{raw_dir} is not a folder')
  found = {}
  for root, dirs, files in os.walk(raw_dir):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    rel = os.path.relpath(root, raw_dir)
    for name in sorted(files):
      if name.lower().endswith(EXTENSIONS) and not name.startswith('.'):
        top = '' if rel == '.' else rel.split(os.sep)[0]
        found.setdefault(top, []).append(os.path.normpath(os.path.join(rel, name)))
  if not found:
    raise RawDataError(f'{raw_dir} holds no image files ({", ".join(EXTENSIONS)})')
  if '' in found and len(found) > 1:
    raise RawDataError(f'{raw_dir} has images both at its top ({found[""][0]}, ...) and in '
                       f'sub-folders ({", ".join(sorted(found)[1:3])}, ...): put them all in '
                       'class sub-folders (labelled) or all at the top (unlabelled)')
  if '' not in found and len(found) == 1:
    raise RawDataError(f'{raw_dir} has one class folder only ({next(iter(found))}): add a '
                       'sub-folder per class, or put the images at the top for unlabelled data')
  return found


def fit(image, size, channels):
  """A PIL image as uint8 [size, size, channels]: centre-cropped square, resized (Lanczos)."""
  image = image.convert('L' if channels == 1 else 'RGB')
  image = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
  return np.asarray(image, np.uint8).reshape(size, size, channels)


def is_test(relative_path, test_fraction):
  digest = hashlib.sha256(relative_path.replace(os.sep, '/').encode()).digest()
  return int.from_bytes(digest[:8], 'big') / 2.0**64 < test_fraction


def read_folder(raw_dir, size=32, channels=None, test_fraction=0.1, strict=False, log=print):
  """(splits, info) of a folder of images; see the module docstring."""
  _check_options(size, channels, test_fraction)
  found = image_files(raw_dir)
  classes = sorted(k for k in found if k)
  rows, grey, bad = {'train': [], 'test': []}, True, []
  for label, key in enumerate(classes or ['']):
    for rel in found[key]:
      try:
        with Image.open(os.path.join(raw_dir, rel)) as image:
          image.load()  # decodes now: a truncated file fails here
          grey &= image.mode in GREY_MODES or (image.mode == 'P' and _grey_palette(image))
          pixels = fit(image, size, channels or 3)
      except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
        bad.append(f'{rel} ({type(e).__name__})')
        continue
      rows['test' if is_test(rel, test_fraction) else 'train'].append((pixels, label))
  if bad:
    listed = ', '.join(bad[:SHOWN]) + (', ...' if len(bad) > SHOWN else '')
    if strict:
      raise RawDataError(f'{len(bad)} unreadable image file(s) in {raw_dir}: {listed}; fix or '
                         'remove them, or drop --strict to skip them')
    log(f'skipped {len(bad)} unreadable image file(s): {listed}')
  channels = channels or (1 if grey else 3)
  for split in rows.values():
    if channels == 1 and split and split[0][0].shape[-1] == 3:
      split[:] = [(pixels[..., :1], label) for pixels, label in split]  # grey: R = G = B
  for split, split_rows in rows.items():
    if not split_rows:
      raise RawDataError(f'{raw_dir}: no readable image went to the {split} split ('
                         f'{sum(map(len, rows.values()))} in all); add images or change '
                         '--test_fraction')
  info = {'size': size, 'channels': channels, 'classes': classes,
          'source': {'kind': 'folder', 'path': os.path.abspath(raw_dir), 'skipped': len(bad),
                     'test_fraction': test_fraction}}
  return {k: Split(len(v), iter(v)) for k, v in rows.items() if v}, info


def _grey_palette(image):
  palette = np.asarray(image.getpalette() or [], np.uint8).reshape(-1, 3)
  return bool(len(palette)) and bool((palette == palette[:, :1]).all())


def _check_options(size, channels, test_fraction):
  if size not in SIZES:
    raise RawDataError(f'--size={size}: choose one of {", ".join(map(str, SIZES))}')
  if channels not in (None, 1, 3):
    raise RawDataError(f'--channels={channels}: choose 1 (greyscale) or 3 (colour)')
  if not 0 < test_fraction < 1:
    raise RawDataError(f'--test_fraction={test_fraction} must be between 0 and 1')


def read_tfds(tfds_name, size=32, channels=None, image_key=None, label_key=None,
              tfds_data_dir=None, check_online=None):
  """(splits, info) of a tensorflow-datasets image dataset, its splits under their names.

  The dataset is read from `tfds_data_dir` (default: tfds' own, $TFDS_DATA_DIR or
  ~/tensorflow_datasets) if prepared there, else downloaded and prepared, after
  `check_online()` (which raises when this machine is offline).
  """
  _check_options(size, channels, 0.5)
  quiet.import_tensorflow()  # tensorflow_datasets imports it: without its start-up lines
  import tensorflow_datasets as tfds  # only for this source
  try:
    builder = tfds.builder(tfds_name, data_dir=tfds_data_dir)
  except (tfds.core.registered.DatasetNotFoundError, ValueError) as e:
    raise RawDataError(f'--tfds_name={tfds_name} is not a tensorflow-datasets dataset '
                       f'({str(e).splitlines()[0][:160]}); see the names with python -c "import '
                       'tensorflow_datasets as tfds; print(tfds.list_builders())" or at '
                       'https://www.tensorflow.org/datasets/catalog/overview') from None
  features = builder.info.features
  image_key = image_key or next((k for k, f in features.items()
                                 if isinstance(f, tfds.features.Image)), None)
  if image_key not in features:
    raise RawDataError(f'{tfds_name} has no image feature {image_key!r}; its features: '
                       f'{", ".join(features)}; pass --image_key')
  if label_key is None and 'label' in features:
    label_key = 'label'
  if label_key is not None and not (label_key in features and isinstance(
      features[label_key], tfds.features.ClassLabel)):
    raise RawDataError(f'{tfds_name} has no class-label feature {label_key!r}; its features: '
                       f'{", ".join(features)}; pass --label_key, or none for unlabelled data')
  classes = list(features[label_key].names) if label_key else []
  colour = features[image_key].shape[-1] != 1
  channels = channels or (3 if colour else 1)
  if not builder.is_prepared():
    if check_online:
      try:
        check_online()
      except Exception as e:
        raise RawDataError(f'{e} Prepare {tfds_name} with tensorflow-datasets where there is '
                           'internet and pass its folder as --tfds_data_dir, or save the images '
                           'into a folder and use --source=folder') from None
    try:
      builder.download_and_prepare()
    except Exception as e:
      raise RawDataError(f'tensorflow-datasets could not download or prepare {tfds_name} '
                         f'({type(e).__name__}: {str(e).splitlines()[0][:200]}); prepare it '
                         'where there is internet and pass its folder as --tfds_data_dir') from e
  splits = {}
  for split in builder.info.splits:
    data = builder.as_dataset(split=split)
    rows = ((fit(Image.fromarray(_squeeze(ex[image_key])), size, channels),
             int(ex[label_key]) if label_key else 0) for ex in tfds.as_numpy(data))
    splits[split] = Split(builder.info.splits[split].num_examples, rows)
  if 'train' not in splits or len(splits) < 2:
    raise RawDataError(f'{tfds_name} has splits {", ".join(splits)}; training needs "train" '
                       'and a test split')
  info = {'size': size, 'channels': channels, 'classes': classes,
          'source': {'kind': 'tfds', 'name': tfds_name, 'image_key': image_key,
                     'label_key': label_key}}
  return splits, info


def _squeeze(array):
  return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array
