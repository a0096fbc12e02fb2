"""Past one device, in one process: mirrored replicas, seeds, the data split (several workers:
test_multi_worker.py)."""

import numpy as np
import pytest

from acai_tf import distribute, errors, trainer
from acai_tf.data import get_dataset
from helpers import checkpoint_values, fit_from, make, tiny_settings, tiny_train, weights


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
  """Weights, data order and per-step draws (the denoising model's noise; ACAI's mixing
  weights are drawn the same way, and follow the step: the next test) all follow --seed: a
  second run of the same seed ends bit for bit where the first did; another seed starts from
  other weights."""
  runs = [tiny_train(tmp_path / name, seed=3, model='denoising', total_kimg=0.125)  # one report
          for name in ('a', 'b')]
  a, b = (checkpoint_values(run.dir) for run in runs)
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)
  first = {seed: trainer.Run(*tiny_settings(tmp_path / f'seed{seed}', 'denoising',
                                            seed=seed)).build()
           for seed in (3, 4)}
  assert any(not np.array_equal(p, q) for p, q in zip(first[3].get_weights(),
                                                       first[4].get_weights()))


@pytest.mark.slow
def test_several_steps_per_execution_on_two_replicas_match_one(mirrored):
  """ACAI trains on two replicas, and 16 steps run as 16 executions of one step or one of 16
  end at the same weights (reports on their steps whatever the execution size:
  tests/test_speed.py)."""
  init = make('acai').get_weights()
  dataset = get_dataset('lines32')  # fed as a training run feeds it
  data = distribute.distribute_batches(mirrored, lambda rows: dataset.train(8, 5, 0, rows), 8)
  one, sixteen = (fit_from('acai', init, data, 16, mirrored, steps_per_execution)
                  for steps_per_execution in (1, 16))
  assert one.steps_done() == sixteen.steps_done() == 16
  moved = max(np.abs(a - b).max() for a, b in zip(one.get_weights(), init))
  assert moved > 1e-4 and all(np.isfinite(w).all() for w in one.get_weights())
  for a, b in zip(weights(one.variables), weights(sixteen.variables)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
