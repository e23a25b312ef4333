"""SIGINT/SIGTERM as an exception that stops a run between Blender calls, never inside one.

A plain KeyboardInterrupt raised while Cycles' render callback (Python
code Blender calls from C) is on the stack is swallowed by Blender: it
prints a traceback, saves the image and carries on, so the run goes on to
the end. Here the handler raises :class:`Interrupted` only when no Blender
add-on frame is on the stack; otherwise it notes the signal and a helper
thread re-delivers it every few milliseconds until the main thread is back
in our code (at the latest when the current frame's render returns).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from types import FrameType
from typing import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)
_REDELIVER_S = 0.05
_BLENDER_CALLBACK_MARKERS = (f"{os.sep}addons_core{os.sep}", f"{os.sep}addons{os.sep}")


class Interrupted(BaseException):
    """The run was asked to stop (SIGINT or SIGTERM). Not an FFNError: nothing retries it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)  # args = (signum,): it survives pickling from a worker process
        self.signum = signum

    def __str__(self) -> str:
        return f"interrupted by {signal.Signals(self.signum).name}"

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as a shell reports them


def _inside_blender_callback(frame: FrameType | None) -> bool:
    while frame is not None:
        if any(marker in frame.f_code.co_filename for marker in _BLENDER_CALLBACK_MARKERS):
            return True
        frame = frame.f_back
    return False


class _Handler:
    def __init__(self) -> None:
        self.pending: int | None = None  # the first signal received
        self.raised = False  # Interrupted has been raised: stop re-delivering
        self._redeliverer: threading.Thread | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.raised:  # already stopping: let the clean-up finish
            return
        if self.pending is None:
            self.pending = signum
        if _inside_blender_callback(frame):
            self._start_redelivery()
            return
        self.raised = True
        raise Interrupted(self.pending)

    def _start_redelivery(self) -> None:
        if self._redeliverer is not None and self._redeliverer.is_alive():
            return

        def redeliver() -> None:
            while not self.raised and self.pending is not None and signal.getsignal(self.pending) is self:
                time.sleep(_REDELIVER_S)
                os.kill(os.getpid(), self.pending)

        self._redeliverer = threading.Thread(target=redeliver, name="ffn-interrupt", daemon=True)
        self._redeliverer.start()

    def stop(self) -> None:
        """Stop re-delivering; wait for the helper thread, whose last kill may follow its last check, so that no
        re-delivered signal meets the default handler once the block has restored it (it would kill the process)."""
        self.raised = True
        if self._redeliverer is not None:
            self._redeliverer.join()


@contextlib.contextmanager
def raise_on_signals(signals: tuple[int, ...] = HANDLED) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM raise :class:`Interrupted` in the main thread (outside Blender)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _Handler()
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        handler.stop()
        for signum, old in previous.items():
            signal.signal(signum, old)
