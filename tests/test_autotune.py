"""acai_tf.autotune: choices measured once per machine, cached under a key that changes with it."""

import json
import os
import subprocess
import sys

import pytest

from acai_tf import autotune


@pytest.fixture
def cache(monkeypatch, tmp_path):
  """A private cache folder and no decisions yet; TF_ENABLE_ONEDNN_OPTS restored afterwards."""
  monkeypatch.setenv('ACAI_CACHE', str(tmp_path))
  monkeypatch.setattr(autotune, '_decisions', {})
  monkeypatch.delenv('TF_ENABLE_ONEDNN_OPTS', raising=False)
  return tmp_path / 'autotune.json'


@pytest.fixture
def before_tensorflow(monkeypatch):
  """choose_onednn as a program sees it, before TensorFlow is imported."""
  monkeypatch.delitem(__import__('sys').modules, 'tensorflow', raising=False)


@pytest.fixture
def probes(monkeypatch):
  """Fake oneDNN probes: 'on' 300 img/s, 'off' 100 img/s; records the settings timed."""
  timed = []

  def probe(setting):
    timed.append(setting)
    return {'on': 300.0, 'off': 100.0}[setting]

  monkeypatch.setattr(autotune, 'probe', probe)
  return timed


def test_onednn_is_measured_once_then_read_from_the_cache(cache, before_tensorflow, probes,
                                                          monkeypatch):
  assert autotune.choose_onednn() == 'on'
  assert probes == ['on', 'off'] and os.environ['TF_ENABLE_ONEDNN_OPTS'] == '1'
  assert 'measured 300 img/s on vs 100 off' in autotune.summary()
  monkeypatch.delenv('TF_ENABLE_ONEDNN_OPTS')
  assert autotune.choose_onednn() == 'on' and probes == ['on', 'off']  # cached: not timed again
  stored = json.loads(cache.read_text())[autotune.machine_key()]
  assert stored['onednn'] == {'choice': 'on', 'img_s': {'on': 300.0, 'off': 100.0}}
  assert stored['machine']['cpu'] == autotune.cpu()[0]


def test_the_slower_setting_is_never_chosen(cache, before_tensorflow, monkeypatch):
  monkeypatch.setattr(autotune, 'probe', {'on': 90.0, 'off': 250.0}.get)
  assert autotune.choose_onednn() == 'off' and os.environ['TF_ENABLE_ONEDNN_OPTS'] == '0'


def test_a_failed_probe_loses(cache, before_tensorflow, monkeypatch):
  monkeypatch.setattr(autotune, 'probe', {'on': None, 'off': 80.0}.get)
  assert autotune.choose_onednn() == 'off'


def test_the_environment_and_the_flag_force_onednn(cache, before_tensorflow, probes, monkeypatch):
  monkeypatch.setenv('TF_ENABLE_ONEDNN_OPTS', '0')
  assert autotune.choose_onednn() == 'off' and 'set by TF_ENABLE_ONEDNN_OPTS' in autotune.summary()
  monkeypatch.delenv('TF_ENABLE_ONEDNN_OPTS')
  assert autotune.choose_onednn('off') == 'off' and 'forced by --onednn=off' in autotune.summary()
  assert probes == [] and not cache.exists()
  with pytest.raises(ValueError, match="onednn='fast'; choose one of: auto, on, off"):
    autotune.choose_onednn('fast')


def test_another_cpu_or_tensorflow_version_never_reuses_an_entry(cache, before_tensorflow, probes,
                                                                 monkeypatch):
  autotune.choose_onednn()
  key = autotune.machine_key()
  monkeypatch.setattr(autotune, 'cpu', lambda: ('AMD EPYC 7B12', ['avx', 'avx2', 'fma']))
  assert autotune.machine_key() != key and autotune.entry() == {}
  monkeypatch.undo()  # back to this CPU ...
  monkeypatch.setenv('ACAI_CACHE', str(cache.parent))
  assert autotune.machine_key() == key
  version = autotune.importlib.metadata.version
  monkeypatch.setattr(autotune.importlib.metadata, 'version',  # ... with another TensorFlow
                      lambda p: '9.99.0' if p == 'tensorflow' else version(p))
  assert autotune.machine_key() != key and autotune.entry() == {}
  monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')  # and oneDNN capped is another machine too
  assert autotune.machine()['onednn_max_cpu_isa'] == 'AVX2'


@pytest.mark.parametrize('content', ['{"truncated', '[1, 2]', '\x00\x01binary'])
def test_a_corrupt_cache_is_ignored_with_one_warning_line_and_rewritten(
    cache, before_tensorflow, probes, capsys, content):
  cache.write_text(content)
  assert autotune.choose_onednn() == 'on' and probes == ['on', 'off']
  warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith('warning')]
  assert warnings and all(str(cache) in w and 'ignoring' in w for w in warnings)
  assert json.loads(cache.read_text())[autotune.machine_key()]['onednn']['choice'] == 'on'


def test_layer_choices_take_the_fastest_and_break_ties_towards_the_rewrite(cache):
  times = {'conv': 2.0, 'dense': 1.0}
  assert autotune.fastest('shape a', ['conv', 'dense'], times.get) == 'dense'
  times = {'conv': 1.0, 'dense': 3.0}
  assert autotune.fastest('shape b', ['conv', 'dense'], times.get) == 'conv'
  times = {'conv': 1.0, 'depthwise': 1.0 + autotune.TIE / 2}
  assert autotune.fastest('shape c', ['conv', 'depthwise'], times.get) == 'depthwise'
  assert autotune.fastest('shape d', ['conv'], lambda c: pytest.fail('one path: nothing to time'))
  autotune._decisions.clear()  # a new process reads what this one measured
  assert autotune.fastest('shape a', ['conv', 'dense'], lambda c: pytest.fail('timed')) == 'dense'
  assert autotune.summary().endswith('layer paths timed on this machine: dense x1')


def test_a_cached_choice_that_is_no_candidate_is_measured_again(cache):
  autotune.fastest('shape', ['conv', 'dense'], {'conv': 2.0, 'dense': 1.0}.get)
  autotune._decisions.clear()
  assert autotune.fastest('shape', ['conv', 'pointwise'], {'conv': 1.0, 'pointwise': 2.0}.get) == (
      'conv')


@pytest.mark.slow
def test_programs_starting_together_on_a_new_machine_measure_once_and_agree(tmp_path):
  """Two programs start at once with an empty cache (the workers of one run): the real
  probes run in child processes, once, under the cache's lock, and both read the result. (The
  programs stop where start-up would import TensorFlow: that import is no part of the choice.)"""
  env = {**os.environ, 'ACAI_CACHE': str(tmp_path), 'TF_CPP_MIN_LOG_LEVEL': '2'}
  env.pop('TF_ENABLE_ONEDNN_OPTS', None)
  code = ('from acai_tf import autotune; autotune.choose_onednn(); '
          'print(autotune.summary())')
  programs = [subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
  outputs = [p.communicate(timeout=300) for p in programs]
  assert all(p.returncode == 0 for p in programs), outputs
  assert sum(err.count('autotune: timing oneDNN') for _, err in outputs) == 1
  summaries = {out.strip() for out, _ in outputs}
  assert len(summaries) == 1 and summaries.pop().startswith('oneDNN ')
  (entry,) = json.loads((tmp_path / 'autotune.json').read_text()).values()
  assert all(v > 0 for v in entry['onednn']['img_s'].values()), entry


def test_the_tuning_program_shows_and_forgets_this_machines_entry(tmp_path):
  env = {**os.environ, 'ACAI_CACHE': str(tmp_path)}
  key = autotune.machine_key()
  (tmp_path / 'autotune.json').write_text(json.dumps({key: {
      'machine': autotune.machine(), 'layers': {'conv 4x4x1->2': {'choice': 'dense'}}}}))

  def tuning(*args):
    result = subprocess.run([sys.executable, '-m', 'acai_tf.tuning', *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout

  shown = tuning()
  assert shown.startswith(f'machine {key}: ') and '"conv 4x4x1->2"' in shown
  assert 'forgot the measurements' in tuning('--retune')
  entry = json.loads((tmp_path / 'autotune.json').read_text())[key]
  assert entry == {'machine': json.loads(json.dumps(autotune.machine()))}
  assert '"conv 4x4x1->2"' not in tuning()
