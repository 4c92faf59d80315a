"""``LoopThread``: an asyncio loop running in a thread of its own.

The supervisor's main loop (headless) and every aloop run in one. It owns
the loop and the thread, and it makes both survive the user code they run:

* **Nothing user code raises ends the loop.** asyncio re-raises
  ``SystemExit`` and ``KeyboardInterrupt`` out of ``run_forever`` when a
  callback or a task step raises them; the thread logs that (see
  ``usercode``) and runs the loop again. Only ``request_stop()`` ends it.
* **Stopping is bounded.** On the way out the thread cancels what is left
  on the loop and gives it ``SHUTDOWN_GRACE`` seconds; tasks that swallow
  the cancellation are logged by name and abandoned, and the loop is closed.
  ``join(timeout)`` waits at most ``timeout``: a loop blocked by a coroutine
  that never yields is logged and abandoned by its stopper. ``on_closed``
  runs on the thread once the loop is closed (the supervisor then ends the
  coroutine tasks that can no longer run).

``start``, ``request_stop`` and ``join`` may be called from any thread
(``join`` from the loop's own thread returns ``False`` at once). Also here:
``running_on(loop)``, whether the calling thread is running ``loop`` now.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from .usercode import log_contained

log = logging.getLogger(__name__)

#: Seconds a stopping loop gives the tasks it cancels before abandoning them.
SHUTDOWN_GRACE = 0.3


def running_on(loop: asyncio.AbstractEventLoop | None) -> bool:
    """Whether ``loop`` is the loop running in the calling thread (callable anywhere)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class LoopThread:
    """One asyncio loop and the thread that runs it."""

    def __init__(self, name: str, daemon: bool = True,
                 on_closed: Callable[[], Any] | None = None) -> None:
        self.name = name
        self._on_closed = on_closed  # engine code, run on the thread once the loop is closed
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name=name, daemon=daemon)
        self._ready = threading.Event()
        # Set once, by request_stop(); read by the thread when run_forever returns.
        self._stop_requested = threading.Event()

    def start(self) -> None:
        """Start the thread and return once its loop runs.

        If the OS refuses the thread, or the wait is interrupted, nothing is
        left running and the error is raised.
        """
        try:
            self.thread.start()
        except RuntimeError:  # the OS refused the thread: it never ran
            self.loop.close()
            raise
        except BaseException:  # interrupted (Ctrl+C) while the thread starts
            self.request_stop()
            raise
        try:
            self._ready.wait()
        except BaseException:  # interrupted: do not leave it behind
            self.request_stop()
            raise

    def is_current(self) -> bool:
        return threading.current_thread() is self.thread

    def request_stop(self) -> None:
        """Ask the loop to stop; it cancels what is left, then closes."""
        self._stop_requested.set()
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # already closed
            pass

    def join(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds for the thread to end; ``True`` if it did."""
        if self.is_current():
            return False
        if self.thread.ident is None:  # never started
            return True
        self.thread.join(timeout)
        return not self.thread.is_alive()

    # -- the thread ------------------------------------------------------------
    def _main(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        try:
            while True:
                try:
                    loop.run_forever()
                except BaseException as exc:  # noqa: BLE001 - see the module docstring
                    log_contained(f"a callback on loop {self.name!r}", exc, log)
                if self._stop_requested.is_set():
                    break
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        loop = self.loop
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                _, stuck = loop.run_until_complete(asyncio.wait(pending, timeout=SHUTDOWN_GRACE))
                for task in stuck:
                    log.warning("loop %r closed while %r ignores its cancellation; it is "
                                "abandoned", self.name, task)
            loop.run_until_complete(
                asyncio.wait([loop.create_task(loop.shutdown_asyncgens())],
                             timeout=SHUTDOWN_GRACE))
        except BaseException as exc:  # noqa: BLE001 - a cancellation handler raised
            log_contained(f"the shutdown of loop {self.name!r}", exc, log)
        finally:
            loop.close()
            if self._on_closed is not None:
                self._on_closed()


__all__ = ["SHUTDOWN_GRACE", "LoopThread"]
