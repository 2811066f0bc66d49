"""Where Ctrl-C (SIGINT) and SIGTERM stop ingest_dsr: at once while the current file can still be
rolled back, after its commit once that has begun, so that the command can say which.

The command catches both signals for its whole run (`caught`). A signal then interrupts only
inside `interruptible()`, which the service wraps around everything before a file's commit:
there it raises `Interrupted`, and the file is rolled back. Anywhere else (the commit, the
report, between files) it is kept in `received`, and the command stops before the next file.
Without `caught` (a test, the benchmark), Python's own behaviour stands.
"""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal stopped the current file before its commit: nothing of it is stored."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Signals:
    def __init__(self) -> None:
        self.received: int | None = None
        self.interruptible = False

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self.interruptible:
            self.interruptible = False  # a second signal waits: it must not break the rollback
            raise Interrupted(signum)


_caught: Signals | None = None


@contextmanager
def caught() -> Iterator[Signals]:
    """Catch SIGINT and SIGTERM while inside; the handlers before are back after."""
    global _caught
    signals = Signals()
    previous = {signum: signal.signal(signum, signals) for signum in SIGNALS}
    _caught = signals
    try:
        yield signals
    finally:
        _caught = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside, a caught signal raises Interrupted at once, as does one received before."""
    signals = _caught
    if signals is None:
        yield
        return
    if signals.received is not None:
        raise Interrupted(signals.received)
    signals.interruptible = True
    try:
        yield
    finally:
        signals.interruptible = False
