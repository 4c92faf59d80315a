"""Fixtures for the engine tests; the helpers live in ``engine_testkit``.

Every supervisor a test creates goes through ``make_supervisor`` (or the
``sup`` fixture built on it), so teardown always releases the gates the test
opened and stops the supervisor, even when the test fails.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from engine_testkit import WAIT, SupervisorFactory

import engine
from engine import TaskSupervisor


@pytest.fixture
def make_supervisor(request: pytest.FixtureRequest):
    name = "".join(c for c in request.node.name if c.isalnum())[:24]
    factory = SupervisorFactory(name)
    yield factory
    factory.close()


@pytest.fixture
def sup(make_supervisor: SupervisorFactory) -> TaskSupervisor:
    """A started supervisor with a pool of 2 and one reserve slot each."""
    return make_supervisor(pool_size=2, reserve_normal=1, reserve_high=1)


@pytest.fixture
def external_loop(make_supervisor: SupervisorFactory):
    """An asyncio loop run forever by a thread of the test (not the engine).

    Supervisors are stopped before the loop, so they never outlive it.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test_external_loop", daemon=True)
    thread.start()
    yield loop
    make_supervisor.close()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT)
    if not thread.is_alive():
        loop.close()


@pytest.fixture
def default_supervisor():
    """``engine.task_supervisor`` (id "default"), started for one test only."""
    supervisor = engine.task_supervisor
    assert supervisor.id == "default"
    assert not supervisor.is_active()
    supervisor.start()
    yield supervisor
    supervisor.stop(wait=2, cancel_tasks=True)
