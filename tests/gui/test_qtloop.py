"""gui.qtloop.ConsoleLoop: every callback it runs sees it as the running loop,
including those of the last pass ``run_until_complete`` makes after its run."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject

from gui.qtloop import ConsoleLoop


@pytest.fixture
def loop(qapp):
    """A ConsoleLoop that is the running loop only while it runs (as in the console)."""
    loop = ConsoleLoop(qapp)
    yield loop
    loop.close()


class Recorder(QObject):
    """Records, for each event it gets, the running loop and whether ``loop`` runs."""

    def __init__(self, loop):
        super().__init__()
        self.loop = loop
        self.seen: list = []

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.User:
            self.seen.append((asyncio.events._get_running_loop(), self.loop.is_running()))
            return True
        return super().event(event)


def test_the_last_pass_after_a_run_has_the_loop_running(qapp):
    """An event pending when the run ends is handled in that pass, with the loop set."""
    class Probe(ConsoleLoop):
        def run_forever(self):
            try:
                return super().run_forever()
            finally:  # the run is over: only the last pass can handle this event
                QCoreApplication.postEvent(recorder, QEvent(QEvent.Type.User))

    loop = Probe(qapp)
    recorder = Recorder(loop)
    try:
        assert loop.run_until_complete(asyncio.sleep(0, "done")) == "done"
        assert recorder.seen == [(loop, False)]
        assert asyncio.events._get_running_loop() is None
    finally:
        loop.close()


def test_an_event_waited_in_the_last_pass_works(loop):
    """A scenario sleeping on its stop event, whose step lands after the run."""
    event = asyncio.Event()
    results: list = []

    async def wait_briefly():
        try:
            await asyncio.wait_for(event.wait(), 0.001)  # binds the event to the loop
        except TimeoutError:
            results.append("timed out")

    async def main():
        await wait_briefly()
        loop.call_soon(lambda: results.append(loop.create_task(wait_briefly())))

    loop.run_until_complete(main())
    task = results[1]
    loop.run_until_complete(task)  # raised "bound to a different event loop" before
    assert results == ["timed out", task, "timed out"]


def test_result_and_errors_of_run_until_complete(loop):
    async def fails():
        raise ValueError("boom")

    assert loop.run_until_complete(asyncio.sleep(0, 42)) == 42
    with pytest.raises(ValueError, match="boom"):
        loop.run_until_complete(fails())

    async def nested():
        loop.run_until_complete(loop.create_future())

    with pytest.raises(RuntimeError, match="already running"):
        loop.run_until_complete(nested())
