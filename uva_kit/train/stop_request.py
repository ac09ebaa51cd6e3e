"""Ctrl-C (SIGINT) or SIGTERM during training: finish the step, save a checkpoint, stop.

    with StopRequest() as stop:
        for step in ...:
            ...
            if stop.requested: save and break

The first signal only sets ``requested``. Ctrl-C's previous handler comes back at once, so a second
Ctrl-C interrupts as usual; further SIGTERMs are absorbed (a cluster may send one to every process, and
torchrun forwards its own), so they cannot kill the run before it saves. A signal ignored when training
starts (``nohup``) stays ignored. Outside the main thread (where Python cannot install handlers) nothing is
installed and ``requested`` stays False. DataLoader workers call ``ignore_stop_signals``, so a terminal's
Ctrl-C, which reaches the whole process group, does not kill them mid-batch.
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
            for number in SIGNALS:
                if signal.getsignal(number) is not signal.SIG_IGN:
                    self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        self._restore(*list(self._previous))

    def _handle(self, number: int, frame) -> None:
        if not self.requested:
            self.requested = True
            self.signal_name = signal.Signals(number).name
        self._restore(signal.SIGINT)

    def _restore(self, *numbers: int) -> None:
        for number in numbers:
            if number in self._previous:
                signal.signal(number, self._previous.pop(number))


def ignore_stop_signals(worker_id: int | None = None) -> None:
    """A DataLoader ``worker_init_fn``: workers leave SIGINT and SIGTERM to the training process."""
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)
