"""This CPU's fastest kernels, chosen by timing them once per machine (like cudnn.benchmark).

Two choices are measured on the machine itself instead of looked up in a table
of CPU names, and kept in a cache file (`cache_path()`) under a key made of
everything that can change the outcome: the CPU's model and vector extensions,
the cores this process may use, ONEDNN_MAX_CPU_ISA, and the TensorFlow and
Keras versions. Another CPU or version never reuses an entry; a corrupt file is
ignored with a one-line warning and rewritten.

1. oneDNN or Eigen (`choose_onednn`, before TensorFlow is imported). TensorFlow
   turns its oneDNN kernels on by default only on CPUs with AVX512_VNNI,
   AVX512_BF16, AVX_VNNI or AMX (tensorflow/core/util/port.cc); an AVX2-only
   CPU, e.g. most AMD EPYCs before Zen 4, gets Eigen's convolutions, 2.6x
   slower on this project's training step (docs/performance.md). The first
   time a machine is seen, two child processes time one training step of the
   paper's lines32 autoencoder, one per setting (about 15 s, once);
   TF_ENABLE_ONEDNN_OPTS is then set to the faster. TF_ENABLE_ONEDNN_OPTS set by
   the user, or `--onednn=on|off` (acai_tf.cli.run passes it), forces it.
2. Per convolution shape, which of the equivalent layer paths of `acai_tf.conv_layers`
   runs its forward and backward pass fastest (`fastest`, called by
   `conv_layers.choose` at start-up under conv paths 'auto', before the networks
   are built; a fraction of a second per shape).

TensorFlow-free: it decides before TensorFlow starts. `python -m acai_tf.tuning` prints this
machine's key and its cache entry, `--retune` forgets the entry, and `--probe` is the child
process that times the training step.
"""

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys

from acai_tf import rundir

ONEDNN = ('auto', 'on', 'off')
VECTOR_FLAGS = ('avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16',
                'avx_vnni', 'amx_tile', 'amx_bf16', 'amx_int8')
PROBE_SECONDS = 1.0  # timed per oneDNN setting, after warm-up
TIE = 0.05  # layer paths this close to the fastest count as equally fast

_decisions = {}  # what this process chose and why: shown by summary()


def cache_path():
  """$ACAI_CACHE/autotune.json, else $XDG_CACHE_HOME/acai_tf/..., else ~/.cache/acai_tf/..."""
  folder = os.environ.get('ACAI_CACHE') or os.path.join(
      os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'acai_tf')
  return os.path.join(folder, 'autotune.json')


def cpu():
  """(CPU model name, vector extensions of VECTOR_FLAGS it has), from /proc/cpuinfo."""
  model, found = 'unknown CPU', set()
  with contextlib.suppress(OSError), open('/proc/cpuinfo') as f:
    for line in f:
      key, _, value = line.partition(':')
      if key.strip() == 'model name':
        model = value.strip()
      elif key.strip() == 'flags':
        found = set(value.split())
  return model, [flag for flag in VECTOR_FLAGS if flag in found]


def cores():
  return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def cpu_line():
  """'AMD EPYC (avx, avx2, fma, avx512f, ...), 2 cores': the CPU next to every figure."""
  model, extensions = cpu()
  cap = os.environ.get('ONEDNN_MAX_CPU_ISA')
  return (f'{model} ({", ".join(extensions) or "no AVX"}), {cores()} cores'
          + (f', oneDNN capped at {cap} (ONEDNN_MAX_CPU_ISA)' if cap else ''))


def machine():
  """What a cached choice depends on."""
  model, extensions = cpu()
  versions = {}
  for package in ('tensorflow', 'keras'):
    try:
      versions[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      versions[package] = None
  return {'cpu': model, 'extensions': extensions, 'cores': cores(),
          'onednn_max_cpu_isa': os.environ.get('ONEDNN_MAX_CPU_ISA', ''), **versions}


def machine_key():
  return hashlib.sha256(json.dumps(machine(), sort_keys=True).encode()).hexdigest()[:16]


def warn(message):
  print(f'warning: {message}', file=sys.stderr, flush=True)


def _read():
  path = cache_path()
  try:
    with open(path) as f:
      cache = json.load(f)
    if not isinstance(cache, dict):
      raise ValueError('not a JSON object')
    return cache
  except FileNotFoundError:
    return {}
  except (OSError, ValueError) as e:
    warn(f'ignoring the autotune cache {path} ({str(e).splitlines()[0]}); it will be rewritten.')
    return {}


def entry():
  """This machine's cache entry: {'machine': ..., 'onednn': ..., 'layers': {...}}."""
  found = _read().get(machine_key())
  return found if isinstance(found, dict) else {}


@contextlib.contextmanager
def _locked():
  """Holds the cache's lock file, so that processes starting together measure once."""
  path = cache_path()
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + '.lock', 'a') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def _store(update):
  """Merges `update(entry) -> entry` into this machine's entry (hold `_locked()`)."""
  cache = _read()
  key = machine_key()
  found = cache.get(key)
  cache[key] = update({**(found if isinstance(found, dict) else {}), 'machine': machine()})
  try:
    rundir.write_atomic(cache_path(), json.dumps(cache, indent=1, sort_keys=True))
  except OSError as e:
    warn(f'cannot write the autotune cache {cache_path()} ({e}); measuring again next time.')


def choose_onednn(mode='auto'):
  """Sets TF_ENABLE_ONEDNN_OPTS for the TensorFlow about to be imported; returns 'on' or 'off'
  (None once TensorFlow is imported: too late to choose).

  Args:
    mode: 'on', 'off' or 'auto' (measured once per machine, then cached): a program's
      --onednn. TF_ENABLE_ONEDNN_OPTS already in the environment wins over it.
  """
  if mode not in ONEDNN:
    raise ValueError(f'onednn={mode!r}; choose one of: {", ".join(ONEDNN)}.')
  given = os.environ.get('TF_ENABLE_ONEDNN_OPTS')
  if given is not None:
    choice = 'off' if given.strip().lower() in ('0', 'false') else 'on'
    _decisions['onednn'] = (choice, 'set by TF_ENABLE_ONEDNN_OPTS')
    return choice
  if 'tensorflow' in sys.modules:  # too late to choose: report nothing rather than guess
    return None
  if mode != 'auto':
    choice, why = mode, f'forced by --onednn={mode}'
  else:
    choice, why = _measured_onednn()
  os.environ['TF_ENABLE_ONEDNN_OPTS'] = '1' if choice == 'on' else '0'
  _decisions['onednn'] = (choice, why)
  return choice


def _measured_onednn():
  found = entry().get('onednn')
  if not _valid_onednn(found):
    with _locked():
      found = entry().get('onednn')  # another process may have measured meanwhile
      if not _valid_onednn(found):
        print('autotune: timing oneDNN against Eigen on this CPU, once (about 15 s; cached in '
              f'{cache_path()})', file=sys.stderr, flush=True)
        found = {'img_s': {setting: probe(setting) for setting in ('on', 'off')}}
        speeds = found['img_s']
        found['choice'] = max(speeds, key=lambda s: speeds[s] or 0)
        _store(lambda e: {**e, 'onednn': found})
  speeds = found['img_s']
  return found['choice'], (f'measured {speeds["on"] or 0:.0f} img/s on vs '
                           f'{speeds["off"] or 0:.0f} off')


def _valid_onednn(found):
  return (isinstance(found, dict) and found.get('choice') in ('on', 'off')
          and isinstance(found.get('img_s'), dict) and set(found['img_s']) == {'on', 'off'})


def probe(setting):
  """Images/s of one training step of the paper's lines32 autoencoder, timed in a child
  process with oneDNN `setting` ('on' or 'off'); None if the child fails."""
  env = {**os.environ, 'TF_ENABLE_ONEDNN_OPTS': '1' if setting == 'on' else '0',
         'TF_CPP_MIN_LOG_LEVEL': '2', 'CUDA_VISIBLE_DEVICES': ''}
  try:
    out = subprocess.run([sys.executable, '-m', 'acai_tf.tuning', '--probe'], env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])['img_s']
  except (subprocess.SubprocessError, OSError, ValueError, KeyError, IndexError) as e:
    warn(f'autotune: the oneDNN {setting} probe failed ({type(e).__name__}); not choosing it.')
    return None


def fastest(signature, candidates, seconds):
  """The fastest of `candidates` for one layer `signature` (a string), cached per machine.

  Args:
    signature: what the timing depends on (shapes, dtype, the oneDNN setting).
    candidates: names of interchangeable paths; one alone is returned untimed.
    seconds: `seconds(candidate)` times one forward and backward pass.

  Returns:
    the fastest candidate; within TIE of it, the last listed.
  """
  if len(candidates) == 1:
    return candidates[0]
  if signature in _decisions:
    return _decisions[signature]
  found = entry().get('layers', {}).get(signature)
  if not (isinstance(found, dict) and found.get('choice') in candidates):
    with _locked():
      found = entry().get('layers', {}).get(signature)
      if not (isinstance(found, dict) and found.get('choice') in candidates):
        times = {c: seconds(c) for c in candidates}
        found = {'choice': _pick(times), 'ms': {c: t * 1e3 for c, t in times.items()}}
        _store(lambda e: {**e, 'layers': {**e.get('layers', {}), signature: found}})
  _decisions[signature] = found['choice']
  return found['choice']


def _pick(times):
  """The fastest key of `times`; within TIE of it, the last one (the rewrite 'fast' takes).

  Paths within a few percent are a tie in these timings (the noise of a busy
  machine), and the rewrites also keep less in memory.
  """
  best = min(times.values())
  return [c for c, t in times.items() if t <= best * (1 + TIE)][-1]


def summary():
  """One line on what this process chose: oneDNN and the layer paths measured."""
  onednn = _decisions.get('onednn')
  parts = [f'oneDNN {onednn[0]} ({onednn[1]})' if onednn else 'oneDNN: TensorFlow default']
  layers = [v for k, v in _decisions.items() if k != 'onednn']
  if layers:
    counts = {path: layers.count(path) for path in sorted(set(layers))}
    timed = ', '.join(f'{p} x{n}' for p, n in counts.items())
    parts.append(f'layer paths timed on this machine: {timed}')
  return '; '.join(parts)


def forget():
  """Forgets this machine's measurements: the next program times them again."""
  with _locked():
    _store(lambda e: {'machine': e['machine']})
