"""Training throughput, as acai_tf.bench measures and prints it (TensorFlow).

Times the same `fit` path training uses, after warm-up, as the median of
several windows:
  - train step alone (a fixed batch repeated, so no input work),
  - input pipeline alone (batches pulled from the dataset, no training),
  - end to end (the dataset feeding the train step, as in training),
and converts them to GFLOP/s with two counts of FLOPs (2 x multiply-adds of
convolutions and matrix products) per training image:
  - work done (`gflops`, `mflop_per_image`; `work_done_flops`): the step's
    graph, counting only the ops its results and updates need (no gradient
    with respect to the images) and only conv taps on image pixels;
  - nominal (`gflops_nominal`, `mflop_per_image_nominal`; the model's
    `nominal_flops`): every tap of every conv, zero padding included,
    and the backward pass as twice every forward pass it goes through.
"""

import math
import resource
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from acai_tf import autotune, conv_layers, nets, trainer
from acai_tf.data import get_dataset
from acai_tf.models import MODELS


class _StepClock(keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.times = []

  def on_train_batch_end(self, batch, logs=None):
    self.times.append(time.perf_counter())


def time_fit(model, data, warmup, window, windows):
  """Median steps/s of `fit` on `data`, over `windows` windows of `window` executions.

  Keras calls back once per execution (`model.steps_per_execution` steps), so
  warm-up and windows count executions.
  """
  clock = _StepClock()
  model.fit(data, epochs=1, callbacks=[clock], verbose=0, shuffle=False,
            steps_per_epoch=(warmup + window * windows) * model.steps_per_execution)
  t = clock.times[warmup - 1:]
  steps = window * model.steps_per_execution
  return statistics.median(steps / (t[(i + 1) * window] - t[i * window]) for i in range(windows))


def time_pipeline(data, warmup, window, windows):
  """Median batches/s pulled from `data` alone."""
  it = iter(data)
  for _ in range(warmup):
    next(it)
  rates = []
  for _ in range(windows):
    start = time.perf_counter()
    for _ in range(window):
      batch = next(it)
    np.asarray(batch[0][:1])  # make sure the last batch really arrived
    rates.append(window / (time.perf_counter() - start))
  return statistics.median(rates)


def work_done_flops(step_function, batch_spec):
  """FLOPs (2 x multiply-adds) per image of one training step, as the step's graph does them.

  Traces `step_function` (a tf.function of one training step, e.g. a model's
  `traced_train_step()`, whose trace `fit` then reuses) on a batch of
  `batch_spec` (a static batch size) and adds up the multiply-adds of the
  convolutions (forward, input-gradient and filter-gradient ops) and matrix
  products that the step's outputs and variable updates depend on, so
  gradients TensorFlow prunes (with respect to the images, or through a network
  whose weights no loss trains) are left out.
  Of each convolution only the taps on image pixels count, not those on the
  zero padding. Ops inside control-flow branches are not entered; in these
  models they only apply optimizer updates.
  """
  graph = step_function.get_concrete_function(batch_spec).graph
  needed, todo = set(), [t.op for t in graph.outputs] + list(graph.control_outputs)
  while todo:
    op = todo.pop()
    if op not in needed:
      needed.add(op)
      todo += [t.op for t in op.inputs] + list(op.control_inputs)
  batch = tf.nest.flatten(batch_spec)[0].shape[0]
  return 2 * sum(op_macs(op) for op in needed) / batch


# For each conv op type: its forward convolution's (input, output, filter) among the op's tensors.
_CONV_TENSORS = {
    'Conv2D': lambda op: (op.inputs[0], op.outputs[0], op.inputs[1]),
    'Conv2DBackpropInput': lambda op: (op.outputs[0], op.inputs[2], op.inputs[1]),
    'Conv2DBackpropFilter': lambda op: (op.inputs[0], op.inputs[2], op.outputs[0]),
}
for _conv in list(_CONV_TENSORS):
  _CONV_TENSORS[_conv.replace('Conv2D', 'DepthwiseConv2dNative')] = _CONV_TENSORS[_conv]


def op_macs(op):
  """Multiply-adds of one graph op: MatMul, or a (depthwise) conv or its gradient; else 0.

  A convolution and both its gradients each do, per image, C_in x C_out (or x
  the depth multiplier) multiply-adds for every (output pixel, kernel tap) pair
  whose tap falls on an image pixel ('SAME' padding, stride 1, NHWC only).
  """
  if op.type == 'MatMul':
    (m, k), n = op.inputs[0].shape, op.inputs[1].shape[0 if op.get_attr('transpose_b') else 1]
    return m * k * n
  if op.type not in _CONV_TENSORS:
    return 0
  if (op.get_attr('padding') != b'SAME' or set(op.get_attr('strides')) != {1}
      or set(op.get_attr('dilations')) != {1} or op.get_attr('data_format') != b'NHWC'):
    raise ValueError(f'{op.name}: only stride-1 NHWC convs with SAME padding are counted.')
  x, y, kernel = (t.shape for t in _CONV_TENSORS[op.type](op))
  kh, kw, c_in, c_out = kernel
  return y[0] * nets.taps_inside(x[1], kh) * nets.taps_inside(x[2], kw) * c_in * c_out


def _autoencoder(model):
  """Forward through encoder and decoder, backward twice that."""
  return 2 * 3 * (nets.conv_macs(model.encoder) + nets.conv_macs(model.decoder))


def _denoising(model):  # the noisy images' encoder pass besides
  return _autoencoder(model) + 2 * nets.conv_macs(model.encoder)


def _vae(model):  # two d_z x d_z dense layers, forward and backward
  return _autoencoder(model) + 2 * 3 * 2 * math.prod(model.latent_shape) ** 2


def _vqvae(model):
  size, c = math.prod(model.latent_shape), model.config
  dense = (size * size * c.num_latents + size * c.num_latents * c.filter_size
           + c.filter_size * size)
  search = c.num_latents * (1 << c.z_log_size) * size  # forward only
  return 2 * 3 * (nets.conv_macs(model.encoder) + nets.conv_macs(model.decoder) + dense) + (
      2 * search)


def _acai(model):
  # Forward E + 2D + 2C; the AE backward runs through E, 2D and critic(mix);
  # the critic backward (weights and inputs) through both critic calls.
  e, d, c = (nets.conv_macs(m) for m in (model.encoder, model.decoder, model.critic))
  return 2 * (3 * e + 6 * d + 7 * c)


def _advai(model):
  # Phase 2 (the long one): forward E + 4D + 4C; backward as ACAI's, per extra path.
  e, d, c = (nets.conv_macs(m) for m in (model.encoder, model.decoder, model.critic))
  r = (2 * nets.conv_macs(model.r_encoder) + nets.conv_macs(model.r_decoder)
       + 2 * nets.conv_macs(model.r_alpha))
  return 2 * (3 * e + 12 * d + 14 * c + 2 * 3 * r)


# Nominal FLOPs (2 x multiply-adds, every conv tap) of one training step per image, by model;
# a model not listed is counted as its encoder and decoder alone.
NOMINAL_FLOPS = {'denoising': _denoising, 'vae': _vae, 'vqvae': _vqvae, 'acai': _acai,
                 'advai': _advai}


def nominal_flops(model_name, model):
  return NOMINAL_FLOPS.get(model_name, _autoencoder)(model)


def benchmark(model_name, model_config, dataset_name, batch, xla=None, precision='float32',
              warmup=20, window=50, windows=3, data_dir=None,
              steps_per_execution=trainer.STEPS_PER_EXECUTION, conv_paths='auto', log=print):
  """Measures one model; returns the dict printed as the last JSON line.

  `warmup` and `window` are in steps, rounded up to whole executions. `conv_paths` (one of
  config.CONV_PATHS) chooses the networks' layer paths before the model is built
  (conv_layers.choose).
  """
  dataset = get_dataset(dataset_name, data_dir)
  dataset.check()

  def make(conv_paths):
    return MODELS[model_name](model_config, dataset.image_shape, dataset.nclass,
                              precision=precision, conv_paths=conv_paths)

  model = make(conv_layers.choose(conv_paths, make))
  model.compile(jit_compile=trainer.jit_compile(xla))
  model.enter_phase(len(model.phase_kimg()))  # time the main (last) training phase
  model.set_steps_per_execution(steps_per_execution)
  executions = lambda steps: -(-steps // steps_per_execution)  # noqa: E731 - rounded up
  data = dataset.train(batch, seed=0)
  fixed = tf.data.Dataset.from_tensors(next(iter(data))).repeat()
  flops = work_done_flops(model.traced_train_step(), fixed.element_spec)
  nominal = nominal_flops(model_name, model)
  xla_text = {None: 'auto (off on CPU)', True: 'on', False: 'off'}[xla]
  log(f'{model_name} on {dataset_name}, batch {batch}, {precision}, XLA {xla_text}, '
      f'{steps_per_execution} steps per execution, conv paths {model.conv_paths.mode}')
  log(f'  {autotune.cpu_line()}; {autotune.summary()}')
  log(f'  MFLOP per training image: {flops / 1e6:.1f} work done (conv taps on image pixels, '
      f'gradients the step needs), {nominal / 1e6:.1f} nominal (every tap, backward = 2x forward)')

  def gflops(img_s):
    return f'({img_s * flops / 1e9:6.1f} GFLOP/s work done, {img_s * nominal / 1e9:.1f} nominal)'

  timing = (executions(warmup), executions(window), windows)
  step = time_fit(model, fixed, *timing) * batch
  log(f'  train step alone   {step:8.1f} img/s  {gflops(step)}')
  pipeline = time_pipeline(data, warmup, window, windows) * batch
  log(f'  input pipeline     {pipeline:8.1f} img/s')
  end_to_end = time_fit(model, data, *timing) * batch
  log(f'  end to end         {end_to_end:8.1f} img/s  {gflops(end_to_end)}')
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  log(f'  peak resident memory {rss:.0f} MB')
  return {'model': model_name, 'dataset': dataset_name, 'batch': batch, 'xla': xla,
          'precision': precision, 'steps_per_execution': steps_per_execution,
          'conv_paths': model.conv_paths.mode, 'kernels': autotune.summary(),
          'cpu': autotune.cpu_line(), 'train_step_img_s': round(step, 1),
          'pipeline_img_s': round(pipeline, 1),
          'end_to_end_img_s': round(end_to_end, 1),
          'gflops': round(end_to_end * flops / 1e9, 2),
          'gflops_nominal': round(end_to_end * nominal / 1e9, 2),
          'train_step_gflops': round(step * flops / 1e9, 2),
          'train_step_gflops_nominal': round(step * nominal / 1e9, 2),
          'mflop_per_image': round(flops / 1e6, 1),
          'mflop_per_image_nominal': round(nominal / 1e6, 1), 'peak_rss_mb': round(rss)}
