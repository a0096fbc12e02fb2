"""The paper's grid as a list of jobs: python -m acai_tf.grid [--stage=train] [--count | --run=I]

Prints one shell command per line, each one job, in this order:
  data    python -m data_prep.build, once per real dataset of the grid;
  train   python -m acai_tf.train, model by model (registry order), then dataset by dataset
          (lines32 mnist32 svhn32 celeba32 cifar10), then latent size, then seed (--seeds):
          the paper's 9 runs of each model (the original's runs/<model>.sh) per seed;
  eval    dataset by dataset: the raw-pixel probe, then per run in training order its line
          metrics (lines32) or its probe and K-means clustering (mnist32, svhn32, cifar10;
          celeba32 is unlabelled and gets none);
  report  python -m acai_tf.report.
`--stage=all` (the default) lists the four stages in that order. Run directories are computed
from the flags (`rundir.run_dir`), so evaluations can be listed before anything trained.

An array task runs job I of a stage with `--run=I`: the job's program replaces this one, so
its exit code is the task's (docs/scaling.md). `--count` prints the number of jobs, `--dirs`
the run directories of the training jobs. Flags after `--` are added to every training
command, replacing the grid's own value of the same flag; a job whose run directory repeats an
earlier one is dropped. For example

  python -m acai_tf.grid --stage=train --models=acai --datasets=lines32 -- --batch=128

Exit codes: 0; 2 bad settings; with --run, the job's own. Importing this module defines no
flags: `jobs(stage, Settings(...))` is the same list for Python code.
"""

import dataclasses
import itertools
import os
import re
import shlex
import sys

from absl import flags

from acai_tf import cli, rundir
from acai_tf.config import TrainConfig, default_data_dir
from acai_tf.data import DATASETS
from acai_tf.errors import UsageError
from acai_tf.models import CONFIGS, model_config

STAGES = ('data', 'train', 'eval', 'report')
# Registered models that are not the paper's (`in_paper`) are listed only when --models names them.
PAPER_MODELS = tuple(name for name, config in CONFIGS.items() if config.in_paper)
# The paper's datasets and the latent sizes (channels) of its runs on each, in the registry's
# order (their `grid_latents`). Depth and latent width are the dataset's paper setting
# (acai_tf/data), except VQ-VAE's 4x4 latent on lines32 and dropout's keep probability 0.75 on
# cifar10 (their configs' `dataset_defaults`).
LATENTS = {name: info.grid_latents for name, info in DATASETS.items() if info.grid_latents}
EVALS = ('lines', 'probe', 'cluster')
# Set by the grid for every training job: give them to acai_tf.grid, not after `--`.
GRID_FLAGS = ('model', 'dataset', 'train_dir', 'data_dir', 'total_kimg', 'report_kimg', 'seed')


@dataclasses.dataclass(frozen=True)
class Settings:
  """What a grid is made of: the flags of this program.

  Jobs come in the grid's order, whatever the order of `models`, `datasets` and `evals`.
  """
  models: tuple = PAPER_MODELS
  datasets: tuple = tuple(LATENTS)
  train_dir: str = './experiments'
  data_dir: str = dataclasses.field(default_factory=default_data_dir)
  raw_dir: str = None  # None: data_prep downloads; else <raw_dir>/<mnist|svhn|cifar10|celeba>
  total_kimg: float = 16384
  report_kimg: float = None  # None: each run's total_kimg / 256 (acai_tf.train's default)
  n_init: int = 1000
  seeds: tuple = (0,)  # one run of each setting per seed (reruns, as the paper's tables)
  evals: tuple = EVALS
  extra: tuple = ()  # training flags, '--name=value'

  def __post_init__(self):
    for kind, given, known in (('models', self.models, CONFIGS),
                               ('datasets', self.datasets, LATENTS),
                               ('evals', self.evals, EVALS)):
      unknown = sorted(set(given) - set(known))
      if unknown or not given:
        raise UsageError(f'--{kind}={",".join(given)}: choose from {", ".join(known)}.')
    if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
      raise UsageError(f'--seeds={",".join(map(str, self.seeds))}: give distinct seeds >= 0, '
                       'e.g. --seeds=0,1,2.')


@dataclasses.dataclass(frozen=True)
class Job:
  """One command: `python -m <argv>`; training jobs and their evaluations know their run."""
  argv: tuple
  dataset: str = None
  run_dir: str = None
  model: str = None
  seed: int = None

  @property
  def command(self):
    return shlex.join(['python', '-m', *self.argv])


def paper_settings(model, dataset, latent, total_kimg):
  """The hyperparameters of the paper's run of `model` on `dataset` with `latent` channels."""
  config = model_config(model, dataset, latent=latent)
  return {'latent_width': config.latent_width, 'depth': config.depth, 'latent': latent,
          **CONFIGS[model].grid_settings(total_kimg)}


def parse_extra(extra):
  """{name: text, or None for a bare flag} of the training flags given after `--`."""
  parsed = {}
  for arg in extra:
    match = re.fullmatch(r'--(\w+)(?:=(.*))?', arg, re.DOTALL)
    if not match:
      raise UsageError(f'{arg!r}: only training flags (--name=value) may follow --.')
    name, text = match.groups()
    if name in GRID_FLAGS:
      raise UsageError(f'--{name} is set by the grid: give it to acai_tf.grid, before --.')
    parsed[name] = text
  return parsed


def _value(field, text):
  """A flag's text as the type of its config field (as acai_tf.train's flag parses it)."""
  if field.type is bool:
    return text is None or text.lower() in ('1', 'true')
  try:
    return field.type(text)
  except (TypeError, ValueError):
    raise UsageError(f'--{field.name}={text} is not a valid {field.type.__name__}.') from None


def _flag(name, value):
  if value is None:
    return f'--{name}'
  if isinstance(value, float) and value.is_integer():
    value = int(value)  # --total_kimg=16384, as written by hand
  return f'--{name}={value}'


def train_jobs(settings):
  """The grid's training jobs, in the order the module docstring gives."""
  extra = parse_extra(settings.extra)
  fields = {f.name: f for config in CONFIGS.values() for f in dataclasses.fields(config)}
  given = {k: _value(fields[k], text) for k, text in extra.items() if k in fields}
  batch_field = {f.name: f for f in dataclasses.fields(TrainConfig)}['batch']
  batch = _value(batch_field, extra['batch']) if 'batch' in extra else batch_field.default
  jobs, dirs = [], set()
  for model in (m for m in CONFIGS if m in settings.models):
    for dataset in (d for d in LATENTS if d in settings.datasets):
      for latent, seed in itertools.product(LATENTS[dataset], settings.seeds):
        paper = paper_settings(model, dataset, latent, settings.total_kimg)
        config = model_config(model, dataset, **{**paper, **given})
        run_dir = rundir.run_dir(settings.train_dir, dataset, model, config, batch, seed)
        if run_dir in dirs:
          continue  # flags after -- made two runs one
        dirs.add(run_dir)
        values = {'dataset': dataset, 'train_dir': settings.train_dir,
                  'data_dir': settings.data_dir, 'total_kimg': settings.total_kimg,
                  'report_kimg': settings.report_kimg, 'model': model, 'seed': seed, **paper,
                  **extra}
        if settings.report_kimg is None:
          del values['report_kimg']  # the run's own default: the paper's 256 reports
        argv = ('acai_tf.train', *(_flag(k, v) for k, v in values.items()))
        jobs.append(Job(argv, dataset, run_dir, model, seed))
  return jobs


def eval_jobs(settings, trained):
  """The evaluations of the runs of `trained` (training jobs), as runs/evaluate.sh made them."""
  jobs = []
  data = f'--data_dir={settings.data_dir}'
  for dataset in (d for d in LATENTS if d in settings.datasets):
    runs = [job.run_dir for job in trained if job.dataset == dataset]
    info = DATASETS[dataset]
    if not runs or not (info.line_metrics or info.nclass > 1):
      continue  # celeba32: no labels
    if not info.line_metrics and 'probe' in settings.evals:
      output = os.path.join(settings.train_dir, dataset, f'eval_probe_pixels_{dataset}.json')
      jobs.append(Job(('acai_tf.eval.probe', '--pixels', f'--dataset={dataset}', data,
                       f'--output={output}'), dataset))
    for run_dir in runs:
      export = f'--export={os.path.join(run_dir, "export")}'
      if info.line_metrics:
        programs = {'lines': ('acai_tf.eval.lines', export)}
      else:
        programs = {'probe': ('acai_tf.eval.probe', export, data),
                    'cluster': ('acai_tf.eval.cluster', export, f'--dataset={dataset}', data,
                                f'--n_init={settings.n_init}')}
      jobs.extend(Job(argv, dataset, run_dir) for name, argv in programs.items()
                  if name in settings.evals)
  return jobs


def data_jobs(settings):
  """One data_prep.build per real dataset of the grid."""
  jobs = []
  for dataset in (d for d in LATENTS if d in settings.datasets and DATASETS[d].stem):
    stem = DATASETS[dataset].stem  # the raw source, e.g. mnist for mnist32
    source = (('--source=dir', f'--raw_dir={os.path.join(settings.raw_dir, stem)}')
              if settings.raw_dir else ())
    jobs.append(Job(('data_prep.build', f'--dataset={dataset}', f'--data_dir={settings.data_dir}',
                     *source), dataset))
  return jobs


def jobs(stage, settings):
  """The jobs of `stage` ('data', 'train', 'eval', 'report' or 'all'), in order."""
  if stage == 'all':
    return [job for name in STAGES for job in jobs(name, settings)]
  if stage == 'data':
    return data_jobs(settings)
  if stage == 'train':
    return train_jobs(settings)
  if stage == 'eval':
    return eval_jobs(settings, train_jobs(settings))
  if stage == 'report':
    return [Job(('acai_tf.report', f'--train_dir={settings.train_dir}'))]
  raise UsageError(f'stage={stage!r}; choose one of: {", ".join(STAGES)}, all.')


FLAGS = flags.FLAGS


def define_flags():
  """The program's flags (not defined on import: other programs' flags share names)."""
  flags.DEFINE_enum('stage', 'all', [*STAGES, 'all'], 'Which jobs: data preparation, training, '
                    'evaluation, the report, or all four in that order.')
  flags.DEFINE_list('models', ','.join(PAPER_MODELS), 'Models of the grid (listed in registry '
                    f'order; {", ".join(sorted(set(CONFIGS) - set(PAPER_MODELS)))} only when '
                    'named).')
  flags.DEFINE_list('datasets', ','.join(LATENTS), 'Datasets of the grid (listed in this order).')
  flags.DEFINE_string('train_dir', './experiments', 'Runs go to <train_dir>/<dataset>/<run name>.')
  flags.DEFINE_string('data_dir', default_data_dir(),
                      'TFRecords of the real datasets (default: $ACAI_DATA, else ./data).')
  flags.DEFINE_string('raw_dir', None, 'Data jobs read the official files from <raw_dir>/'
                      '<mnist|svhn|cifar10|celeba> (data_prep --source=dir); unset: download.')
  flags.DEFINE_float('total_kimg', 16384, 'Training length of every run (the paper: 16384).')
  flags.DEFINE_float('report_kimg', None, 'Report, export and checkpoint period of every run; '
                     'unset: total_kimg / 256, the paper\'s 256 reports per run.')
  flags.DEFINE_list('seeds', '0', 'Seeds: every run of the grid once per seed (the paper\'s '
                    'tables give mean and std over reruns, e.g. --seeds=0,1,2).')
  flags.DEFINE_integer('n_init', 1000, 'K-means restarts of the clustering jobs (the paper: 1000).')
  flags.DEFINE_list('evals', ','.join(EVALS), 'Evaluation programs listed by --stage=eval.')
  flags.DEFINE_boolean('count', False, 'Print the number of jobs of --stage instead of them.')
  flags.DEFINE_integer('run', None, 'Run job RUN (from 0) of --stage in place of this program '
                       '(what array task $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX calls).')
  flags.DEFINE_boolean('dirs', False, 'Print the run directories of the training jobs instead.')


def settings_from_flags(extra):
  """The Settings of the flags; `extra` are the arguments after `--`."""
  def names(values):
    return tuple(v.strip() for v in values if v.strip())
  return Settings(models=names(FLAGS.models), datasets=names(FLAGS.datasets),
                  train_dir=FLAGS.train_dir, data_dir=FLAGS.data_dir, raw_dir=FLAGS.raw_dir,
                  total_kimg=FLAGS.total_kimg, report_kimg=FLAGS.report_kimg, n_init=FLAGS.n_init,
                  seeds=_seeds(names(FLAGS.seeds)), evals=names(FLAGS.evals), extra=tuple(extra))


def _seeds(texts):
  try:
    return tuple(int(t) for t in texts)
  except ValueError:
    raise UsageError(f'--seeds={",".join(texts)}: give whole numbers, e.g. --seeds=0,1,2.'
                     ) from None


def main(argv):
  settings = settings_from_flags(argv[1:])
  if FLAGS.dirs:
    print('\n'.join(job.run_dir for job in train_jobs(settings)))
    return
  listed = jobs(FLAGS.stage, settings)
  if FLAGS.run is not None:
    if not 0 <= FLAGS.run < len(listed):
      raise UsageError(f'--run={FLAGS.run}: --stage={FLAGS.stage} has {len(listed)} jobs '
                       f'(0 to {len(listed) - 1}).')
    job = listed[FLAGS.run]
    print(f'job {FLAGS.run} of {len(listed)} ({FLAGS.stage}): {job.command}', file=sys.stderr,
          flush=True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, '-m', *job.argv])
  if FLAGS.count:
    print(len(listed))
  else:
    for job in listed:
      print(job.command)


if __name__ == '__main__':
  define_flags()
  cli.run(main, tensorflow=False)
