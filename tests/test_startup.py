"""Starting costs what a program needs: settings, registries, descriptions and the programs that
only read records or list jobs import no TensorFlow; a program that runs TensorFlow parses its
flags first and starts TensorFlow from them (cli.run). Each check runs in a fresh process and
reads `sys.modules`."""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import REPO

# Runs `python -m <module> <args>` as runpy does it, then prints, on stderr's last line, the
# exit code and whether TensorFlow (or Keras) was imported, and TF_ENABLE_ONEDNN_OPTS.
RUN = '''
import json, os, runpy, sys
module, sys.argv = sys.argv[1], sys.argv[1:]
try:
  runpy.run_module(module, run_name='__main__', alter_sys=True)
  code = 0
except SystemExit as e:
  code = 1 if isinstance(e.code, str) else e.code or 0  # sys.exit(None) is 0
print(json.dumps({'code': code, 'tensorflow': 'tensorflow' in sys.modules,
                  'keras': 'keras' in sys.modules,
                  'onednn': os.environ.get('TF_ENABLE_ONEDNN_OPTS')}), file=sys.stderr)
'''


def run(*args):
  """(what `python -m args` printed, its stderr before the last line, the last line's dict)."""
  env = {k: v for k, v in os.environ.items() if k != 'TF_ENABLE_ONEDNN_OPTS'}
  result = subprocess.run([sys.executable, '-c', RUN, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
  *err, last = result.stderr.strip().splitlines()
  return result.stdout, '\n'.join(err), json.loads(last)


@pytest.mark.slow
def test_settings_registries_and_descriptions_import_no_tensorflow(tmp_path):
  (tmp_path / 'mine.json').write_text(json.dumps(
      {'size': 64, 'channels': 3, 'classes': ['a', 'b'], 'splits': {'train': 9, 'test': 1}}))
  code = f'''
import json, sys
import acai_tf.cli, acai_tf.config, acai_tf.grid, acai_tf.paper, acai_tf.report, acai_tf.rundir
import data_prep.build
from acai_tf.data import DATASETS, dataset_info
from acai_tf.models import CONFIGS, MODELS, model_config
configs = [model_config(m, d) for m in MODELS for d in DATASETS]
mine = model_config('acai', 'mine', {str(tmp_path)!r}, latent=2)
jobs = acai_tf.grid.jobs('all', acai_tf.grid.Settings(models=tuple(CONFIGS)))
print(json.dumps({{'tensorflow': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules,
                  'configs': len(configs), 'jobs': len(jobs), 'mine': mine.to_dict(),
                  'shape': dataset_info('mine', {str(tmp_path)!r}).image_shape,
                  'names': [CONFIGS[m].display_name for m in MODELS]}}))
MODELS['acai']  # a class: imported now, with TensorFlow
print('tensorflow' in sys.modules)
'''
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  first, second = result.stdout.strip().splitlines()[-2:]
  found = json.loads(first)
  assert not found['tensorflow'] and not found['keras']
  assert found['configs'] == 8 * 6 and found['jobs'] > 162  # AdvAI's runs besides the paper's
  assert found['mine']['depth'] == 64 and found['mine']['latent'] == 2
  assert found['shape'] == [64, 64, 3]
  assert found['names'] == ['Baseline', 'Dropout', 'Denoising', 'VAE', 'AAE', 'VQ-VAE', 'ACAI',
                            'AdvAI']
  assert second == 'True'


def test_the_report_reads_runs_without_tensorflow(tmp_path):
  for seed in (0, 1):
    run_dir, = glob.glob(os.path.join(REPO, 'results', 'cpu128', 'lines32',
                                      f'acai_*_seed{seed}'))
    shutil.copytree(run_dir, tmp_path / 'lines32' / os.path.basename(run_dir))
  out, err, status = run('acai_tf.report', f'--train_dir={tmp_path}')
  assert status == {'code': 0, 'tensorflow': False, 'keras': False, 'onednn': None}, err
  assert '\nACAI | 64 | 128 kimg | ' in out and '(n=2)' in out


@pytest.mark.parametrize('args,code,printed', [
    (('acai_tf.grid', '--count'), 0, '162\n'),
    (('acai_tf.grid', '--stage=train', '--models=acai', '--datasets=lines32', '--dirs'), 0,
     'experiments/lines32/acai_'),
    (('acai_tf.grid', '--helpshort'), 1, '--stage'),
    (('data_prep.build', '--helpshort'), 1, '--raw_dir'),
    (('acai_tf.report', '--helpshort'), 1, '--train_dir'),
])
def test_programs_that_list_jobs_or_read_records_import_no_tensorflow(args, code, printed):
  out, err, status = run(*args)
  assert status == {'code': code, 'tensorflow': False, 'keras': False, 'onednn': None}, err
  assert printed in out


@pytest.mark.parametrize('args,said', [
    (('acai_tf.train', '--seed=-1'), 'error: seed=-1 must be in [0, 2147483647].'),
    (('acai_tf.explore', '--export=/none'), 'error: /none does not exist; pass <run_dir>/export '
                                            'of a trained run.'),
])
def test_programs_refuse_bad_settings_before_tensorflow_starts(args, said):
  out, err, status = run(*args)
  assert status == {'code': 2, 'tensorflow': False, 'keras': False, 'onednn': None}, err
  assert err == said and not out


def test_data_prep_fails_on_missing_raw_files_without_tensorflow(tmp_path):
  out, err, status = run('data_prep.build', '--dataset=mnist32', '--source=dir',
                         f'--raw_dir={tmp_path}', f'--data_dir={tmp_path / "out"}')
  assert status['code'] == 2 and not status['tensorflow'], err
  assert err.startswith('error: ') and err.count('\n') == 0 and 'train-images-idx3-ubyte' in err
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('program', ['acai_tf.train', 'acai_tf.bench', 'acai_tf.eval.lines',
                                     'acai_tf.eval.probe', 'acai_tf.eval.cluster',
                                     'acai_tf.interpolate', 'acai_tf.explore'])
def test_programs_that_run_tensorflow_parse_their_flags_first(program):
  out, err, status = run(program, '--helpshort')  # absl prints the flags and exits with 1
  assert status == {'code': 1, 'tensorflow': False, 'keras': False, 'onednn': None}, err
  assert '--onednn' in out  # every such program takes it
  out, err, status = run(program, '--onednn=fast')
  assert status == {'code': 2, 'tensorflow': False, 'keras': False, 'onednn': None}, err
  assert err.startswith('error: flag --onednn=fast: ') and err.count('\n') == 0


@pytest.mark.slow
def test_the_parsed_onednn_flag_is_set_before_tensorflow_starts(tmp_path):
  out, err, status = run('acai_tf.eval.lines', '--onednn=off', f'--export={tmp_path}/none')
  assert status == {'code': 2, 'tensorflow': True, 'keras': True, 'onednn': '0'}, err
  assert err.startswith('error: ') and err.count('\n') == 0  # no TensorFlow start-up lines


def test_a_reader_that_stops_early_ends_the_program_with_one_line():
  """`python -m acai_tf.report ... | head -0`: the pipe is closed before anything is printed."""
  program = subprocess.Popen([sys.executable, '-m', 'acai_tf.report',
                              f'--train_dir={os.path.join(REPO, "results", "cpu128")}'],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  program.stdout.close()
  err = program.stderr.read()
  assert program.wait(timeout=120) == 141, err
  assert err.startswith('error: the output was closed') and err.count('\n') == 1, err
