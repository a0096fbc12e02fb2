"""The README's result tables are what acai_tf.report prints from the committed records."""

import os
import sys

from helpers import REPO

sys.path.insert(0, os.path.join(REPO, 'docs'))
import readme_results


def test_readme_tables_are_the_reports_output():
  with open(readme_results.README, encoding='utf-8') as f:
    readme = f.read()
  blocks = list(readme_results.BLOCK.finditer(readme))
  assert len(blocks) >= 6  # Table 1, 2, 2b, 3 and the two per-run tables
  assert all('|' in block['body'] for block in blocks)  # each holds a table
  assert readme_results.stale(readme) == []


def test_a_changed_figure_or_a_missing_section_is_caught():
  with open(readme_results.README, encoding='utf-8') as f:
    readme = f.read()
  first = next(readme_results.BLOCK.finditer(readme))
  edited = readme.replace(first['body'], first['body'].replace('(n=3)', '(n=4)', 1), 1)
  assert readme_results.stale(edited) == [first['title']]
  wrong = readme.replace('| Table 1 -->', '| Table 9 -->', 1)
  try:
    readme_results.stale(wrong)
  except ValueError as error:
    assert 'Table 9' in str(error) and 'Table 1: lines32' in str(error)
  else:
    raise AssertionError('an unknown section was not reported')
