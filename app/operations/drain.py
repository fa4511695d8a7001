"""Draining: what an instance does between SIGTERM and its exit (SPEC §6).

On SIGTERM (or SIGINT) the server (uvicorn) stops taking connections and waits for the requests in
progress, at most `AINAS_SHUTDOWN_GRACE_S` (app/http/server.py). `Drain` is the one place that
says the stop has begun, for whatever must react at once: `/readyz` answers 503, waiting long
polls answer with no items, a background worker stops taking new work and finishes what it
holds within `remaining()`.
"""

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType


class Drain:
    """One process's stop: begun once, by a signal (or by a test)."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self._event = asyncio.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._began_at: float | None = None

    @property
    def draining(self) -> bool:
        """True once the stop has begun."""
        return self._began_at is not None

    def remaining(self) -> float:
        """Seconds left of the grace period (all of it before the stop begins)."""
        if self._began_at is None:
            return self.grace_seconds
        return max(0.0, self._began_at + self.grace_seconds - time.monotonic())

    def on_drain(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) when the stop begins; at once if it has."""
        if self.draining:
            callback()
        else:
            self._callbacks.append(callback)

    async def wait(self) -> None:
        """Until the stop begins (a worker's loop: `await drain.wait()` beside its work)."""
        await self._event.wait()

    def begin(self) -> None:
        """The stop begins (on the event loop): every callback runs once."""
        if self.draining:
            return
        self._began_at = time.monotonic()
        self._event.set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def begin_on_exit_signals(self) -> Callable[[], None]:
        """Begin when the process is told to stop (SIGTERM, SIGINT); the handler in place (the
        server's own, which stops taking connections) still runs after ours. Returns a function
        that puts the previous handlers back. Only the main thread may set signal handlers."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}

        def handle(number: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self.begin)
            chained = previous[signal.Signals(number)]
            if callable(chained):
                chained(number, frame)
            elif chained == signal.SIG_DFL:  # what the process would have done without us
                signal.signal(number, signal.SIG_DFL)
                signal.raise_signal(number)

        for number in previous:
            signal.signal(number, handle)

        def restore() -> None:
            for number, handler in previous.items():
                signal.signal(number, handler)

        return restore
