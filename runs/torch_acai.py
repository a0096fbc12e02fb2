"""The ACAI training step in PyTorch, timed like `python -m acai_tf.bench --model=acai`.

A peer to compare acai_tf's speed against (docs/performance.md), not part of
the package: it needs `pip install torch` (CPU: torch==2.13.0 was measured).

  python runs/torch_acai.py [--batch=64] [--steps=50] [--windows=3] [--threads=2]
      [--no-channels_last]

Same networks as acai_tf.nets at the lines32 defaults (depth 16, latent 16,
latent_width 2: encoder, decoder, critic = encoder averaged to a scalar), same
losses (MSE + 0.5 * critic(mix)^2 for the autoencoder; (critic(mix) - alpha)^2 +
critic(0.2 x + 0.8 x_hat)^2 for the critic), the tandem probe on the detached
latent, one Adam (lr 1e-4, eps 1e-8) per group, all gradients from one forward
pass before any update. Times a fixed lines32 batch (no input pipeline), so it
is the peer of acai_tf.bench's "train step alone" and, since that pipeline is
~100x faster than training, of its end-to-end figure too. The last line is one
JSON object.
"""

import argparse
import json
import math
import resource
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from acai_tf import autotune, line_renderer

LEAK = 0.2


def conv(c_in, c_out, kernel, activation=True):
  layer = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
  # acai_tf.nets' init: N(0, 1/((1 + 0.2^2) fan_in)), zero bias.
  nn.init.normal_(layer.weight, std=1 / math.sqrt((1 + LEAK**2) * c_in * kernel * kernel))
  nn.init.zeros_(layer.bias)
  return [layer, nn.LeakyReLU(LEAK)] if activation else [layer]


def encoder(colors, scales, depth, latent):
  layers = conv(colors, depth, 1, activation=False)
  c = depth
  for i in range(scales):
    layers += conv(c, depth << i, 3) + conv(depth << i, depth << i, 3) + [nn.AvgPool2d(2)]
    c = depth << i
  layers += conv(c, depth << scales, 3) + conv(depth << scales, latent, 3, activation=False)
  return nn.Sequential(*layers)


def decoder(colors, scales, depth, latent):
  layers, c = [], latent
  for i in reversed(range(scales)):
    layers += conv(c, depth << i, 3) + conv(depth << i, depth << i, 3)
    layers += [nn.Upsample(scale_factor=2, mode='nearest')]
    c = depth << i
  layers += conv(c, depth, 3) + conv(depth, colors, 3, activation=False)
  return nn.Sequential(*layers)


def conv_macs(net, shape):
  """Multiply-accumulates of one forward pass per image (convs and linear layers)."""
  total = 0

  def hook(module, inputs, output):
    nonlocal total
    if isinstance(module, nn.Conv2d):
      kh, kw = module.kernel_size
      pixels = output.shape[2] * output.shape[3]
      total += pixels * kh * kw * module.in_channels * module.out_channels
    elif isinstance(module, nn.Linear):
      total += module.in_features * module.out_features

  handles = [m.register_forward_hook(hook) for m in net.modules()]
  with torch.no_grad():
    net(torch.zeros((1,) + shape))
  for h in handles:
    h.remove()
  return total


class ACAIStep:
  def __init__(self, depth=16, latent=16, latent_width=2, colors=1, nclass=10, lr=1e-4,
               advweight=0.5, reg=0.2, channels_last=True):
    scales = int(round(math.log2(32 // latent_width)))
    self.encoder = encoder(colors, scales, depth, latent)
    self.decoder = decoder(colors, scales, depth, latent)
    self.critic = encoder(colors, scales, depth, latent)
    self.classifier = nn.Linear(latent * latent_width**2, nclass)
    self.advweight, self.reg = advweight, reg
    self.format = torch.channels_last if channels_last else torch.contiguous_format
    for net in (self.encoder, self.decoder, self.critic):
      net.to(memory_format=self.format)
    self.groups = {
        'ae': list(self.encoder.parameters()) + list(self.decoder.parameters()),
        'critic': list(self.critic.parameters()),
        'classifier': list(self.classifier.parameters())}
    self.optimizers = {g: torch.optim.Adam(p, lr=lr, eps=1e-8) for g, p in self.groups.items()}
    e, d, c = (conv_macs(net, shape) for net, shape in (
        (self.encoder, (colors, 32, 32)),
        (self.decoder, (latent, latent_width, latent_width)),
        (self.critic, (colors, 32, 32))))
    # The same count as acai_tf.throughput.nominal_flops of ACAI (3E + 6D + 7C).
    self.flops_per_image = 2 * (3 * e + 6 * d + 7 * c)

  def __call__(self, x, label):
    x = x.contiguous(memory_format=self.format)
    z = self.encoder(x)
    x_hat = self.decoder(z)
    alpha = torch.rand(x.shape[0], 1, 1, 1)
    alpha = 0.5 - (alpha - 0.5).abs()
    x_mix = self.decoder(alpha * z + (1 - alpha) * z.flip(0))
    critic_mix = self.critic(x_mix).mean((1, 2, 3))
    critic_real = self.critic(x_hat + self.reg * (x - x_hat)).mean((1, 2, 3))
    loss_ae = F.mse_loss(x_hat, x)
    loss_ae_disc = critic_mix.square().mean()
    loss_disc = (critic_mix - alpha.flatten()).square().mean()
    loss_disc_real = critic_real.square().mean()
    loss_classify = F.cross_entropy(self.classifier(z.detach().flatten(1)), label)
    losses = {'ae': loss_ae + self.advweight * loss_ae_disc,
              'critic': loss_disc + loss_disc_real, 'classifier': loss_classify}
    # Every gradient from this one forward pass, then every update (as acai_tf does).
    grads = {g: torch.autograd.grad(losses[g], self.groups[g], retain_graph=g != 'classifier')
             for g in ('ae', 'critic', 'classifier')}
    for group, params in self.groups.items():
      for p, g in zip(params, grads[group]):
        p.grad = g
      self.optimizers[group].step()
    return loss_ae


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--warmup', type=int, default=20)
  parser.add_argument('--steps', type=int, default=50, help='steps per timed window')
  parser.add_argument('--windows', type=int, default=3, help='timed windows; median reported')
  parser.add_argument('--threads', type=int, default=2)
  parser.add_argument('--channels_last', action=argparse.BooleanOptionalAction, default=True)
  args = parser.parse_args()
  torch.manual_seed(0)
  torch.set_num_threads(args.threads)
  torch.set_num_interop_threads(1)
  step = ACAIStep(channels_last=args.channels_last)
  angles = np.random.default_rng(0).uniform(0, 2 * np.pi, args.batch)
  images = line_renderer.draw_lines(angles).astype(np.float32)
  x = torch.from_numpy(images.reshape(args.batch, 1, 32, 32))
  label = torch.from_numpy(line_renderer.angle_labels(angles))
  for _ in range(args.warmup):
    step(x, label)
  rates = []
  for _ in range(args.windows):
    start = time.perf_counter()
    for _ in range(args.steps):
      loss = step(x, label)
    float(loss)
    rates.append(args.steps * args.batch / (time.perf_counter() - start))
  img_s = statistics.median(rates)
  gflops = img_s * step.flops_per_image / 1e9
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f'torch {torch.__version__} ACAI step, batch {args.batch}, {args.threads} threads, '
        f'channels_last={args.channels_last}: {step.flops_per_image / 1e6:.1f} MFLOP/img')
  print(f'  CPU: {autotune.cpu_line()}, ATen {torch.backends.cpu.get_cpu_capability()}')
  print(f'  train step  {img_s:8.1f} img/s  ({gflops:6.1f} GFLOP/s), peak RSS {rss:.0f} MB')
  print(json.dumps({'framework': 'torch', 'torch': torch.__version__, 'batch': args.batch,
                    'channels_last': args.channels_last, 'train_step_img_s': round(img_s, 1),
                    'gflops': round(gflops, 2),
                    'mflop_per_image': round(step.flops_per_image / 1e6, 1),
                    'peak_rss_mb': round(rss), 'cpu': autotune.cpu_line(),
                    'aten_cpu_capability': torch.backends.cpu.get_cpu_capability()}), flush=True)


if __name__ == '__main__':
  main()
