"""Ctrl-C (SIGINT) or SIGTERM during training: finish the step, save a checkpoint, stop.

    with StopRequest() as stop:
        for step in ...:
            ...
            if stop.requested: save and break

The first signal only sets ``requested``; the handlers that were there before come back at once, so a
second Ctrl-C interrupts as usual. Outside the main thread (where Python cannot install handlers)
nothing is installed and ``requested`` stays False. DataLoader workers call ``ignore_stop_signals``, so
a terminal's Ctrl-C, which reaches the whole process group, does not kill them mid-batch.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    def __init__(self):
        self.requested = False
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        self._restore()

    def _handle(self, number: int, frame) -> None:
        self.requested = True
        self.signal_name = signal.Signals(number).name
        self._restore()

    def _restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}


def ignore_stop_signals(worker_id: int | None = None) -> None:
    """A DataLoader ``worker_init_fn``: workers leave SIGINT and SIGTERM to the training process."""
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)
