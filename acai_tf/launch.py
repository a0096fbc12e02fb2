"""Runs N training workers on this machine: python -m acai_tf.launch --workers=2 -- <train flags>

Each worker is `python -m acai_tf.train --strategy=multi_worker <train flags>` with its own
$TF_CONFIG naming N free ports on 127.0.0.1, so a multi-worker run can be tried on one machine
before a cluster. Worker 0 is the chief: its output is shown as is, the others' lines are
prefixed with `[worker i]`. SIGINT/SIGTERM are passed on to every worker (they checkpoint and
stop together). If a worker fails, the others are stopped; the exit code is the first
failure's (see acai_tf/errors.py), 0 when all succeed.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_integer('workers', 2, 'Worker processes to start.')
  flags.DEFINE_string('host', '127.0.0.1', 'Address the workers listen on (this machine).')
  flags.DEFINE_float('grace_seconds', 60, 'After a worker fails, how long the others may take '
                     'to stop by themselves before they are killed.')


def free_ports(count, host):
  """`count` distinct TCP ports free on `host` right now."""
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind((host, 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def tf_configs(count, host):
  """The $TF_CONFIG of each of `count` workers on `host`."""
  cluster = {'worker': [f'{host}:{port}' for port in free_ports(count, host)]}
  return [json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': i}})
          for i in range(count)]


def _relay(stream, prefix):
  for line in stream:
    sys.stdout.write(prefix + line)
    sys.stdout.flush()


def launch(train_args, workers, host='127.0.0.1', grace_seconds=60):
  """Starts the workers, relays their output, returns the exit code (first failure's, or 0)."""
  procs, relays = [], []
  for index, tf_config in enumerate(tf_configs(workers, host)):
    env = {**os.environ, 'TF_CONFIG': tf_config}
    proc = subprocess.Popen(
        [sys.executable, '-m', 'acai_tf.train', '--strategy=multi_worker', *train_args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    relay = threading.Thread(target=_relay, args=(proc.stdout, f'[worker {index}] ' if index
                                                  else ''), daemon=True)
    relay.start()
    procs.append(proc)
    relays.append(relay)

  def forward(number, frame):
    del frame
    for proc in procs:
      if proc.poll() is None:
        proc.send_signal(number)

  saved = {n: signal.signal(n, forward) for n in (signal.SIGINT, signal.SIGTERM)}
  try:
    first_failure = None
    while any(p.poll() is None for p in procs):
      failed = [p for p in procs if p.poll() not in (None, 0)]
      if failed and first_failure is None:
        first_failure = failed[0].returncode
        deadline = time.monotonic() + grace_seconds
      if first_failure is not None and time.monotonic() > deadline:
        for proc in procs:
          if proc.poll() is None:
            proc.kill()
      time.sleep(0.2)
    for relay in relays:
      relay.join(timeout=5)
    codes = [p.returncode for p in procs]
    return first_failure or next((c for c in codes if c), 0)
  finally:
    for number, handler in saved.items():
      signal.signal(number, handler)


def main(argv):
  if FLAGS.workers < 1:
    raise app.UsageError('--workers must be >= 1.')
  train_args = argv[1:]
  if any(a.startswith('--strategy') for a in train_args):
    raise app.UsageError('leave --strategy out: every worker runs --strategy=multi_worker.')
  sys.exit(launch(train_args, FLAGS.workers, FLAGS.host, FLAGS.grace_seconds))


if __name__ == '__main__':
  define_flags()
  app.run(main)
