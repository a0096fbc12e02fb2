"""Writes the README's result tables from the committed records, as `acai_tf.report` prints them.

    python docs/readme_results.py           # rewrite README.md's tables in place
    python docs/readme_results.py --check   # exit 1 (and say which) if any is out of date

Each table in the README sits between two comments that name the report behind it:

    <!-- python -m acai_tf.report --train_dir=results/cpu1024 --per_run | Per run, lines32 -->
    ...what the report prints under its heading "### Per run, lines32 ..."...
    <!-- /report -->

The text between them is replaced by the body of the report's section whose heading starts
with the title after `|` (the heading itself is left to the README's prose). The folders are
relative to the repository; tests/test_readme.py checks that the README is up to date.
"""

import argparse
import os
import re
import shlex
import sys

from acai_tf import report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, 'README.md')
BLOCK = re.compile(r'(<!-- python -m acai_tf\.report (?P<flags>[^|]*)\| (?P<title>[^>]*?) -->\n)'
                   r'(?P<body>.*?)(<!-- /report -->)', re.DOTALL)


def section(text, title):
  """The body of the report section whose heading starts with `### title`."""
  parts = [part.partition('\n') for part in re.split(r'^### ', text, flags=re.MULTILINE)[1:]]
  for heading, _, body in parts:
    if heading.startswith(title):
      return body.strip() + '\n'
  raise ValueError(f'the report has no section "### {title}..."; it has: '
                   + '; '.join(heading for heading, _, _ in parts))


def printed(flags):
  """What `python -m acai_tf.report FLAGS` prints, FLAGS: --train_dir=DIR (repeatable),
  --per_run; folders relative to the repository."""
  train_dirs, per_run = [], False
  for flag in shlex.split(flags):
    if flag == '--per_run':
      per_run = True
    elif flag.startswith('--train_dir='):
      train_dirs.append(os.path.join(REPO, flag.split('=', 1)[1]))
    else:
      raise ValueError(f'{flag}: a README table may use --train_dir=DIR and --per_run only.')
  return report.report(train_dirs, per_run=per_run)


def render(readme):
  """The README's text with every table as the report prints it now."""
  reports = {}

  def fill(match):
    flags = match['flags'].strip()
    if flags not in reports:
      reports[flags] = printed(flags)
    return f'{match[1]}\n{section(reports[flags], match["title"])}\n{match[5]}'

  return BLOCK.sub(fill, readme)


def stale(readme):
  """Titles of the tables whose text differs from the report's."""
  now = [m['body'] for m in BLOCK.finditer(render(readme))]
  return [m['title'] for m, body in zip(BLOCK.finditer(readme), now) if m['body'] != body]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--check', action='store_true', help='only say whether it is up to date')
  args = parser.parse_args()
  with open(README, encoding='utf-8') as f:
    readme = f.read()
  if args.check:
    old = stale(readme)
    print('README tables up to date' if not old else
          f'out of date: {", ".join(old)}; run python docs/readme_results.py')
    return 1 if old else 0
  with open(README, 'w', encoding='utf-8') as f:
    f.write(render(readme))
  return 0


if __name__ == '__main__':
  sys.exit(main())
