"""Past one device, in one process: mirrored replicas, seeds, the data split (several workers:
test_multi_worker.py)."""

import numpy as np
import pytest

from acai_tf import distribute, errors, rundir
from acai_tf.data import get_dataset
from helpers import checkpoint_values, tiny_train


def test_each_replica_gets_its_slice_of_the_global_batch(mirrored):
  dataset = get_dataset('lines32')
  whole = next(iter(dataset.train(8, seed=5, start_step=3)))
  strategy = mirrored
  data = distribute.distribute_batches(
      strategy, lambda rows: dataset.train(8, 5, 3, rows), 8)
  first = next(iter(data))
  parts = [strategy.experimental_local_results(first[i]) for i in range(2)]
  for replica in range(2):
    np.testing.assert_array_equal(parts[0][replica], whole[0][4 * replica:4 * replica + 4])
    np.testing.assert_array_equal(parts[1][replica], whole[1][4 * replica:4 * replica + 4])
  with pytest.raises(errors.UsageError, match='divisible by the 2 replicas'):
    distribute.distribute_batches(strategy, lambda rows: None, 7)


@pytest.mark.slow
def test_same_seed_gives_the_same_weights(tmp_path):
  runs = [tiny_train(tmp_path / name, seed=seed, model='acai', total_kimg=0.125)  # one report
          for name, seed in (('a', 3), ('b', 3), ('c', 4))]
  a, b, c = (checkpoint_values(run.dir) for run in runs)
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)
  assert any(not np.array_equal(a[k], c[k]) for k in a)


@pytest.mark.slow
def test_several_steps_per_execution_on_two_replicas_match_one(tmp_path, mirrored):
  one = tiny_train(tmp_path / 'one', model='acai', strategy=mirrored, steps_per_execution=1,
                   total_kimg=0.125)  # one report: 16 executions against one
  sixteen = tiny_train(tmp_path / 'sixteen', model='acai', strategy=mirrored,
                       steps_per_execution=16, total_kimg=0.125)
  a, b = checkpoint_values(one.dir), checkpoint_values(sixteen.dir)
  for key in a:
    np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-6, err_msg=key)
  assert [r['step'] for r in rundir.read_metrics(sixteen.dir)] == [16]
