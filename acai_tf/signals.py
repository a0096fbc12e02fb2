"""SIGTERM and SIGINT, while a run trains: a request to stop at the next step boundary."""

import signal
import threading


class StopSignals:
  """While active, SIGTERM and SIGINT ask training to stop at the next step boundary.

  `requested` names the signal received. A second signal stops at once (KeyboardInterrupt).
  """

  def __init__(self):
    self.requested = None
    self.saved = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for number in (signal.SIGTERM, signal.SIGINT):
        self.saved[number] = signal.signal(number, self._handle)
    return self

  def _handle(self, number, frame):
    del frame
    if self.requested:
      raise KeyboardInterrupt
    self.requested = signal.Signals(number).name

  def __exit__(self, *exc):
    for number, handler in self.saved.items():
      signal.signal(number, handler)
