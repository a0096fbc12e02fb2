"""How a run's steps are cut into Keras `fit` calls: at reports and at phase boundaries."""


def execution_size(steps, most):
  """Steps per execution for a `fit` of `steps` steps: the largest divisor of `steps` <= `most`.

  Keras runs whole executions, so a divisor keeps every report, phase boundary
  and the end of training exact.
  """
  return max(k for k in range(1, min(most, steps) + 1) if steps % k == 0)


def segments(step, total, every, boundaries=()):
  """Splits [step, total) at multiples of `every` and at `boundaries`, in closed form.

  Returns:
    [(epochs, steps_per_epoch), ...]: runs of equal epochs, one `fit` call each; a phase
    boundary always ends one.
  """
  out = []
  phase_start = 0  # segments of an earlier phase are never merged with this one's

  def add(epochs, steps):
    if steps == every and len(out) > phase_start and out[-1][1] == every:
      out[-1] = (out[-1][0] + epochs, every)
    else:
      out.append((epochs, steps))

  for end in sorted({b for b in boundaries if step < b < total} | {total}):
    phase_start = len(out)
    first = min((step // every + 1) * every, end)  # up to the next report
    if first > step:
      add(1, first - step)
      step = first
    whole = (end - step) // every
    if whole:
      add(whole, every)
      step += whole * every
    if end > step:
      add(1, end - step)
      step = end
  return out
