"""Every notebook runs top to bottom on the shipped exports (tiny training for the others) and
draws its figures."""

import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from acai_tf import pretrained
from helpers import REPO

SMALLEST = {'BUDGET_KIMG = 4 ': 'BUDGET_KIMG = 1 ', 'TRAIN_LIMIT = 5000 ': 'TRAIN_LIMIT = 500 ',
            'N_INIT = 10 ': 'N_INIT = 2 '}
NOTEBOOKS = sorted(n for n in os.listdir(os.path.join(REPO, 'notebooks')) if n.endswith('.ipynb'))


def test_notebooks_are_generated_from_their_source():
  import sys
  sys.path.insert(0, os.path.join(REPO, 'notebooks'))
  import make_notebooks
  assert sorted(make_notebooks.NOTEBOOKS) == NOTEBOOKS
  for name in make_notebooks.NOTEBOOKS:
    committed = nbformat.read(os.path.join(REPO, 'notebooks', name), as_version=4)
    built = make_notebooks.build(name)
    assert [(c.id, c.source) for c in committed.cells] == [(c.id, c.source) for c in built.cells], (
        f'{name} is stale: run python notebooks/make_notebooks.py')


@pytest.mark.slow
@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_executes_and_draws(name, tmp_path):
  notebook = nbformat.read(os.path.join(REPO, 'notebooks', name), as_version=4)
  # As papermill injects parameters: a quarter of the notebook's own tiny budget, a tenth
  # of the training images for probes and K-means, restarted twice.
  params = [c for c in notebook.cells if c.source.startswith('# Parameters.')]
  assert len(params) == 1 and 'BUDGET_KIMG = 4 ' in params[0].source
  for default, smallest in SMALLEST.items():
    params[0].source = params[0].source.replace(default, smallest)
  NotebookClient(notebook, timeout=900, kernel_name='python3',
                 resources={'metadata': {'path': str(tmp_path)}}).execute()
  images = [o for cell in notebook.cells if cell.cell_type == 'code'
            for o in cell.get('outputs', []) if 'image/png' in o.get('data', {})]
  errors = [o for cell in notebook.cells if cell.cell_type == 'code'
            for o in cell.get('outputs', []) if o.get('output_type') == 'error']
  assert not errors
  assert len(images) >= 2, f'{name} drew {len(images)} figures'
  # Each model came from the shipped exports if one ships for it, else was trained (tiny).
  said = [re.match(r'(\w+) on (\w+): (the shipped export|training)', line)
          for cell in notebook.cells if cell.cell_type == 'code'
          for o in cell.get('outputs', []) if o.get('output_type') == 'stream'
          for line in o['text'].splitlines()]
  sources = {m.group(1, 2): m.group(3) != 'training' for m in said if m}
  assert sources, f'{name} named no model it used'
  for (model, dataset), shipped in sources.items():
    assert shipped == (pretrained.name(model, dataset) in pretrained.names()), (model, dataset)
  assert os.path.isdir(tmp_path / 'notebook_runs') == (not all(sources.values()))
