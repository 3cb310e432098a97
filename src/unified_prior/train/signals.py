"""SIGINT/SIGTERM: finish the current update, save a complete checkpoint, then stop.

A preempted job (SLURM, torchrun's launcher, Ctrl-C) must lose nothing: the handler only
sets a flag, and the loop checks it between updates.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into ``.signum`` for the loop to poll."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C means "now"
        self.signum = signum

    def __enter__(self) -> StopRequest:
        # Handlers can only be installed from the main thread (tests may run us elsewhere).
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
