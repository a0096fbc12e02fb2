"""Writes the notebooks of this folder from the cells below (the source of truth).

    python notebooks/make_notebooks.py

Each notebook only drives the acai_tf library. By default it uses the trained models that ship
with acai_tf (acai_tf/pretrained, 1,024 kimg) where one exists for a model and dataset, and
trains the others at a tiny budget that runs in minutes on a CPU (CI executes them that way);
PRETRAINED = False trains every model.
"""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = '''\
import sys
if 'google.colab' in sys.modules:  # on Colab: install acai_tf from its repository first
    import subprocess
    if not ACAI_TF_REPO:
        raise ValueError('Set ACAI_TF_REPO to the git URL of acai_tf (or your fork) above.')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'git+' + ACAI_TF_REPO],
                   check=True)

import os

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from acai_tf import cli

# As every acai_tf program starts: oneDNN on or off, whichever trained faster on this CPU
# (timed once per machine, about 15 s, then cached), then TensorFlow.
cli.start_tensorflow()
from acai_tf import images, report, trainer
'''

TRAIN_HELPER = '''\
from acai_tf import pretrained


def export_of(model, dataset='lines32', **values):
    """The export of `model` on `dataset`: the shipped one (PRETRAINED), else trained here."""
    shipped = pretrained.export_dir(model, dataset)
    if PRETRAINED and shipped and not values:
        print(f'{model} on {dataset}: the shipped export ({shipped})')
        return shipped
    return os.path.join(train(model, dataset, **values), 'export')


def train(model, dataset='lines32', **values):
    """Trains one model at this notebook's budget (or finds the finished run) -> run dir.

    One report, at the end: it writes the export the cells below read."""
    print(f'{model} on {dataset}: training {BUDGET_KIMG} kimg in {TRAIN_DIR}')
    if TINY:
        values = {'depth': 8, **values}
    config = trainer.TrainConfig(dataset=dataset, train_dir=TRAIN_DIR, data_dir=DATA_DIR,
                                  total_kimg=BUDGET_KIMG, report_kimg=BUDGET_KIMG,
                                  eval_pairs=64 if TINY else 256, progress_seconds=60)
    run = trainer.train(model, trainer.model_config(model, dataset, **values), config,
                         log=lambda line: None)
    return run.dir
'''


def params(extra=''):
  return f'''\
# Parameters. The defaults use the trained models that ship with acai_tf (1,024 kimg, seed 0)
# and train the others as tiny models in a few minutes on a CPU.
# The paper's budget is BUDGET_KIMG = 16384 with TINY = False (days on a CPU, hours on a GPU).
# To look at runs you already have, point TRAIN_DIR at their --train_dir with the same settings.
PRETRAINED = True           # the shipped exports where they exist; False: train every model
BUDGET_KIMG = 4             # training length per model, in thousands of images
TINY = True                 # depth 8 networks; False = the paper's sizes
TRAIN_DIR = 'notebook_runs'
DATA_DIR = None             # TFRecords from data_prep, for real datasets ($ACAI_DATA if None)
ACAI_TF_REPO = ''           # git URL of acai_tf, used on Colab only
{extra}'''


def lines_benchmark():
  return [
      new_markdown_cell(
          '# The lines benchmark\n\nSection 3 of *Understanding and Improving Interpolation in '
          'Autoencoders via an Adversarial Regularizer* (Berthelot et al., ICLR 2019): 32x32 '
          'images of a line from the centre at some angle. A good interpolation between two '
          'lines rotates the line evenly. **Mean Distance** (how far each frame is from a real '
          'line) and **Smoothness** (how uneven the rotation is) score it; both are 0 for a '
          'perfect interpolation.'),
      new_code_cell(params("MODELS = ['baseline', 'acai']  # any of acai_tf.models.MODELS")),
      new_code_cell(SETUP + '\n' + TRAIN_HELPER),
      new_markdown_cell('## Figure 4a: the data'),
      new_code_cell("images.show_rows([images.line_samples()])\nplt.show()"),
      new_markdown_cell('## Figures 4b-f: one ideal and four flawed interpolations, scored'),
      new_code_cell(
          "from acai_tf.metrics.interpolation import line_eval\n\n"
          "examples = images.example_interpolations()\n"
          "images.show_rows(examples.values(), labels=list(examples))\nplt.show()\n"
          "rows = ['| interpolation | Mean Distance (x1e-3) | Smoothness |', '|---|---|---|']\n"
          "for name, frames in examples.items():\n"
          "    scores = line_eval(frames[None])\n"
          "    rows.append(f\"| {name} | {1e3 * scores['mean_distance']:.2f} | "
          "{scores['mean_smoothness']:.3f} |\")\n"
          "display(Markdown('\\n'.join(rows)))"),
      new_markdown_cell('## The autoencoders: shipped, or trained here'),
      new_code_cell("exports = {model: export_of(model) for model in MODELS}"),
      new_markdown_cell('## Figure 3: each model interpolating between the same two lines'),
      new_code_cell(
          "import tensorflow as tf\nfrom acai_tf.line_renderer import draw_lines\n\n"
          "start, end = draw_lines([images.START]), draw_lines([images.END])\n"
          "modules = {m: tf.saved_model.load(path) for m, path in exports.items()}\n"
          "paths = {m: images.export_interpolation(module, start, end)[0]\n"
          "         for m, module in modules.items()}\n"
          "images.show_rows(paths.values(), labels=list(paths))\nplt.show()"),
      new_markdown_cell('## Table 1 for these models\n\nEach export scored once as '
                        '`acai_tf.eval.lines` does (256 seeded pairs of test lines, 16 steps); '
                        'the paper\'s figures (16384 kimg) beside them. Lower is better.'),
      new_code_cell(
          "from acai_tf import paper\nfrom acai_tf.eval import lines\n\n"
          "rows = ['| model | Mean Distance (x1e-3) | paper | Smoothness | paper |',\n"
          "        '|---|---|---|---|---|']\n"
          "for model, module in modules.items():\n"
          "    scores, figures = lines.score(module), paper.LINES.get(model, ('',) * 4)\n"
          "    rows.append(f\"| {report.display_name(model)} | "
          "{1e3 * scores['mean_distance']:.2f} | {figures[0]} | \"\n"
          "                f\"{scores['mean_smoothness']:.3f} | {figures[2]} |\")\n"
          "display(Markdown('\\n'.join(rows)))"),
  ]


def interpolations():
  return [
      new_markdown_cell(
          '# Reconstructions, interpolations and samples\n\nFor every model: test images '
          'next to their reconstructions, linear (lerp) and spherical (slerp) latent '
          'interpolations, and decodings of N(0, I) latents (meaningful for the VAE and AAE), '
          'as figures 6-11 of the paper, read from each run\'s SavedModel export.'),
      new_code_cell(params("DATASET = 'lines32'      # or mnist32, svhn32, celeba32, cifar10\n"
                           "MODELS = ['baseline', 'vae', 'acai']  # all: list(MODELS)")),
      new_code_cell(SETUP + '\nfrom acai_tf.data import get_dataset\n'
                    'from acai_tf.export import load, numpy_endpoint as batched\n\n'
                    + TRAIN_HELPER),
      new_code_cell("exports = {model: export_of(model, DATASET) for model in MODELS}\n"
                    "pool = get_dataset(DATASET, DATA_DIR).eval_pool()"),
      new_code_cell(
          "for model, path in exports.items():\n"
          "    module, meta = load(path)\n"
          "    shown = images.monitoring_grids(batched(module.encode), batched(module.decode),\n"
          "                                   batched(module.interpolate), pool,\n"
          "                                   meta['latent_shape'], np.random.default_rng(0))\n"
          "    fig, axes = plt.subplots(1, 4, figsize=(20, 5))\n"
          "    for ax, (name, grid) in zip(axes, shown.items()):\n"
          "        ax.imshow(images.to_uint8(grid).squeeze(), cmap='gray')\n"
          "        ax.set_title(f'{model}: {name}')\n        ax.axis('off')\n"
          "    plt.show()"),
  ]


def representation():
  return [
      new_markdown_cell(
          '# What the latents know: probes and clustering\n\nTables 2 and 3 of the paper: '
          'a single-layer classifier on frozen latents, and K-means on whitened latents scored '
          'with the best cluster-to-class matching. lines32 has 10 angle classes, so it works '
          'offline; set DATASET to mnist32 (after `python -m data_prep.build`) for the paper\'s '
          'setting.'),
      new_code_cell(params("DATASET = 'lines32'\nMODELS = ['baseline', 'acai']\n"
                           "N_INIT = 10                 # K-means restarts (the paper: 1000)\n"
                           "TRAIN_LIMIT = 5000          # training images for probe and K-means")),
      new_code_cell(SETUP + '\nfrom acai_tf.data import labelled_splits\n'
                    'from acai_tf import export\nfrom acai_tf.metrics.representation import '
                    'cluster_accuracy, probe_accuracy\n\n' + TRAIN_HELPER),
      new_code_cell(
          "exports = {model: export_of(model, DATASET) for model in MODELS}\n"
          "dataset, x_train, y_train, x_test, y_test = labelled_splits(DATASET, DATA_DIR, "
          "TRAIN_LIMIT)\n"
          "modules = {m: export.load(path)[0] for m, path in exports.items()}\n"
          "latents = {m: (export.latents(module, x_train), export.latents(module, x_test))\n"
          "           for m, module in modules.items()}"),
      new_code_cell(
          "pixels = (x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1))\n"
          "results = {'raw pixels': (100 * probe_accuracy(pixels[0], y_train, pixels[1], y_test),"
          " None)}\n"
          "for model, (train_z, test_z) in latents.items():\n"
          "    results[model] = (100 * probe_accuracy(train_z, y_train, test_z, y_test),\n"
          "                      100 * cluster_accuracy(train_z, test_z, y_test, dataset.nclass,"
          " n_init=N_INIT))\n"
          "rows = ['| features | probe accuracy % | K-means accuracy % |', '|---|---|---|']\n"
          "rows += [f'| {k} | {p:.1f} | {\"-\" if c is None else f\"{c:.1f}\"} |' "
          "for k, (p, c) in results.items()]\n"
          "display(Markdown('\\n'.join(rows)))"),
      new_code_cell(
          "names = list(results)\nfig, ax = plt.subplots(figsize=(7, 3.5))\n"
          "ax.bar(np.arange(len(names)) - 0.2, [results[n][0] for n in names], 0.4, "
          "label='linear probe')\n"
          "ax.bar(np.arange(len(names)) + 0.2, [results[n][1] or 0 for n in names], 0.4, "
          "label='K-means')\n"
          "ax.set_xticks(range(len(names)))\nax.set_xticklabels(names)\n"
          "ax.set_ylabel('test accuracy %')\nax.legend()\nplt.show()"),
      new_markdown_cell('## The test latents in 2-D (PCA), coloured by class'),
      new_code_cell(
          "from sklearn.decomposition import PCA\n\n"
          "fig, axes = plt.subplots(1, len(latents), figsize=(5 * len(latents), 4.5), "
          "squeeze=False)\n"
          "for ax, (model, (_, test_z)) in zip(axes[0], latents.items()):\n"
          "    xy = PCA(2).fit_transform(test_z)\n"
          "    points = ax.scatter(xy[:, 0], xy[:, 1], c=y_test, s=4, cmap='tab10')\n"
          "    ax.set_title(model)\n"
          "fig.colorbar(points, ax=axes[0].tolist(), label='class')\nplt.show()"),
  ]


NOTEBOOKS = {'lines_benchmark.ipynb': lines_benchmark, 'interpolations.ipynb': interpolations,
             'representation.ipynb': representation}


def build(name):
  """The notebook `name` of NOTEBOOKS, its cells numbered (stable ids: regenerating changes
  only the cells that were edited)."""
  cells = NOTEBOOKS[name]()
  for i, cell in enumerate(cells):
    cell.id = f'{os.path.splitext(name)[0]}-{i}'
  return new_notebook(cells=cells, metadata={
      'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
      'language_info': {'name': 'python'}})


def main():
  for name in NOTEBOOKS:
    nbformat.write(build(name), os.path.join(HERE, name))
    print('wrote', name)


if __name__ == '__main__':
  main()
