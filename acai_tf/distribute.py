"""Devices and tf.distribute strategies: one device, several (mirrored), several machines, TPU.

Strategy names (`--strategy`):
  auto          mirrored over the local GPUs if there are several, else one device
  default       one device
  mirrored      every local GPU (or every logical CPU of --cpu_devices)
  multi_worker  MultiWorkerMirroredStrategy over the machines of $TF_CONFIG
  tpu           TPUStrategy on --tpu (written to TF's documentation; untested here)

Multi-worker rules followed here: every worker runs every step and every collective (checkpoint
saves and exports included, non-chief workers into a temp folder they delete); only the chief
writes the run directory; each worker reads only its share of every global batch.
"""

import functools
import json
import os

import tensorflow as tf

from acai_tf import schema
from acai_tf.config import STRATEGIES
from acai_tf.errors import UsageError


def split_cpu(count):
  """Splits the host CPU into `count` logical devices (stand-ins for GPUs, for tests and laptops).

  Must run before TensorFlow initialises its devices (before any op runs).
  """
  if count < 1:
    raise UsageError(f'cpu_devices={count} must be >= 1.')
  cpu = tf.config.list_physical_devices('CPU')[0]
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
  except RuntimeError:
    current = len(tf.config.list_logical_devices('CPU'))
    if current != count:
      raise UsageError(f'cannot split the CPU into {count} devices: TensorFlow already runs '
                       f'with {current}. Split it before any TensorFlow op runs.') from None


def _local_devices():
  gpus = tf.config.list_logical_devices('GPU')
  return [d.name for d in (gpus or tf.config.list_logical_devices('CPU'))]


def make_strategy(name, tpu=None):
  """The tf.distribute strategy called `name` (one of STRATEGIES)."""
  if name == 'auto':
    name = 'mirrored' if len(tf.config.list_logical_devices('GPU')) > 1 else 'default'
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy(_local_devices())
  if name == 'multi_worker':
    if 'TF_CONFIG' not in os.environ:
      raise UsageError('--strategy=multi_worker reads the cluster from $TF_CONFIG, which is not '
                       'set. Start the workers with python -m acai_tf.launch, or see '
                       'docs/scaling.md for a TF_CONFIG example.')
    read_tf_config(os.environ['TF_CONFIG'])
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == 'tpu':
    if not tpu:
      raise UsageError('--strategy=tpu needs --tpu=ADDRESS (a TPU name, grpc:// address or local).')
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise UsageError(f'strategy={name!r}; choose one of: {", ".join(STRATEGIES)}.')


TF_CONFIG_SHAPE = ('{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", '
                   '"index": 0}}')


def read_tf_config(text):
  """The cluster description $TF_CONFIG holds (`text`); a UsageError if it is not one."""
  try:
    config = json.loads(text)
  except ValueError as e:
    problem = f'not valid JSON ({e})'
  else:
    problem = _tf_config_problem(config)
  if problem:
    raise UsageError(f'$TF_CONFIG is {problem}; expected {TF_CONFIG_SHAPE} (docs/scaling.md).')
  return config


def _tf_config_problem(config):
  """What keeps `config` (parsed JSON) from describing a cluster and this worker's task."""
  problem = schema.shape_problem(config, {'cluster': dict, 'task': dict})
  if problem is None:
    problem = schema.shape_problem(config['task'], {'type': str, 'index': int}, '"task" ')
  if problem:
    return f'not a cluster description ({problem})'
  cluster, task = config['cluster'], config['task']
  for job, addresses in cluster.items():
    if not (isinstance(addresses, list) and addresses and
            all(isinstance(a, str) for a in addresses)):
      return f'not a cluster description ("cluster" job "{job}" is not a list of addresses)'
  if not 0 <= task['index'] < len(cluster.get(task['type'], [])):
    return (f'not a cluster description (no task {task["type"]!r} {task["index"]} in '
            '"cluster")')
  return None


def is_multi_worker(strategy):
  return getattr(strategy.extended, '_num_workers', 1) > 1


def worker(strategy):
  """(index, count) of this process among the workers (0, 1 without a cluster)."""
  if not is_multi_worker(strategy):
    return 0, 1
  resolver = strategy.cluster_resolver
  spec = resolver.cluster_spec().as_dict()
  order = [('chief', i) for i in range(len(spec.get('chief', [])))]
  order += [('worker', i) for i in range(len(spec.get('worker', [])))]
  return order.index((resolver.task_type, resolver.task_id)), len(order)


def is_chief(strategy):
  """Whether this process writes the run directory (the chief, or worker 0 without one)."""
  return worker(strategy)[0] == 0


def agree(strategy, flag):
  """True on every worker if `flag` is true on any (one all-reduce with several workers).

  Decisions taken between steps (save a checkpoint now, stop now) must be the same on every
  worker, or the workers deadlock in the next collective.
  """
  if not is_multi_worker(strategy):
    return bool(flag)
  return bool(_count_true(strategy)(tf.constant(1.0 if flag else 0.0)) > 0)


def replica_id():
  """This replica's index in its sync group inside a replicated step (0 outside one)."""
  context = tf.distribute.get_replica_context()
  return context.replica_id_in_sync_group if context else 0


def replicas_in_sync():
  """How many replicas run each step (1 without a distribution strategy)."""
  return tf.distribute.get_strategy().num_replicas_in_sync


def sum_over_replicas(*tensors):
  """`tensors` summed over the replicas of a replicated step (as they are with one replica)."""
  context = tf.distribute.get_replica_context()
  if context is None or context.num_replicas_in_sync == 1:
    return tensors
  return tuple(context.all_reduce('sum', list(tensors)))


@functools.lru_cache(maxsize=None)
def _count_true(strategy):
  """A compiled all-reduce summing one float over every replica (eager ones are slow)."""
  @tf.function
  def count(value):
    return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(value,)),
                           axis=None)
  return count


def barrier(strategy):
  """Returns when every worker has reached it (so none exits while others still need it)."""
  agree(strategy, True)


def distribute_batches(strategy, batches, global_batch):
  """A distributed dataset for `fit` from `batches(rows) -> tf.data.Dataset`.

  `batches(rows)` yields, for step s = start, start + 1, ..., the rows `rows` (a slice) of the
  global batch of step s. Replica r (in sync-group order, across workers) gets the r-th of
  `num_replicas` equal slices, as a single device would have split the batch, so results do not
  depend on how replicas are spread over machines; each worker reads only its replicas' rows.
  """
  replicas = strategy.num_replicas_in_sync
  if global_batch % replicas:
    raise UsageError(f'batch={global_batch} must be divisible by the {replicas} replicas.')
  if replicas == 1:
    return batches(slice(0, global_batch))
  per_replica = global_batch // replicas

  def dataset_fn(context):
    local = replicas // context.num_input_pipelines
    first = context.input_pipeline_id * local * per_replica
    block = batches(slice(first, first + local * per_replica))  # this worker's rows
    if local == 1:
      return block
    # One element per local replica, in replica order (each takes the next element in turn).
    return block.flat_map(lambda x, y: tf.data.Dataset.from_tensor_slices(
        (tf.reshape(x, [local, per_replica, *x.shape[1:]]), tf.reshape(y, [local, per_replica]))))

  options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
  return strategy.distribute_datasets_from_function(dataset_fn, options)


class ReplicatedTrainLoop:
  """Mixed into a keras.Model: the train function `fit` calls, fit for every strategy."""

  def set_steps_per_execution(self, steps):
    """Train steps per call of the compiled train function (re-traced when this changes).

    Each call has a fixed cost (Keras' Python loop, the call into TensorFlow);
    several steps per call amortise it: docs/performance.md.
    """
    if steps != self.steps_per_execution:
      self.steps_per_execution = steps
      self.train_function = None

  def traced_train_step(self):
    """The tf.function of one training step that `fit` runs (traced once per batch spec):
    its graph is what a step computes (acai_tf.throughput counts its FLOPs)."""
    self.make_train_function()
    return self._traced_step

  def make_train_function(self, force=False):
    """The compiled function `fit` calls: `steps_per_execution` steps, one `strategy.run` each.

    Replaces Keras' version, whose loop over `get_next_as_optional` fails with several
    replicas and more than one step per execution (keras-team/keras#19246), and which reduces
    scalar logs along an axis under MultiWorkerMirroredStrategy (keras#20585). Logs (of the
    execution's last step only) are the mean over replicas of each replica's running mean.
    """
    if self.train_function is not None and not force:
      return self.train_function
    strategy = self.distribute_strategy
    # One traced step, called by the loop and by the last step alike (a Python function would
    # be traced twice, once for each). The step has no Python control flow on tensors:
    # AutoGraph's rewrite of it and of every model function it calls would only cost time.
    step_fn = tf.function(self.train_step, autograph=False, jit_compile=bool(self.jit_compile))
    self._traced_step = step_fn

    def one_step(iterator):
      logs = strategy.run(step_fn, args=(next(iterator),))
      return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
              for k, v in logs.items()}

    steps = self.steps_per_execution

    @tf.function
    def train_function(iterator):
      if steps > 1:  # logs of these steps are not needed: no cross-replica reduction for them
        for _ in tf.range(steps - 1):
          strategy.run(step_fn, args=(next(iterator),))
      return one_step(iterator)

    self.train_function = train_function
    return train_function

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Nothing to do: every network and optimizer is built in __init__ and compile.

    (Keras' symbolic build averages a batch of (images, labels) across workers, which fails
    under MultiWorkerMirroredStrategy: keras-team/keras#20329.)
    """
    del iterator, data_batch
