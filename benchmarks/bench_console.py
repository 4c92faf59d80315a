"""The console under load: refresh cost, loop lag and the engine's throughput.

Runs the ``burst`` scenario twice for the same duration: headless (the
engine's main loop in its own thread, the scenario on ``asyncio.run``), then
in the console (window open offscreen, refresh at 10 Hz, the supervisor on
the Qt loop). Prints the median refresh (snapshot + graph update + table
append), the p99 lag of the Qt/asyncio loop, and the tasks finished per
second in both runs with their ratio.

    python benchmarks/bench_console.py [--duration S] [--scenario NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import TaskSupervisor  # noqa: E402
from runner.scenario import ScenarioContext, load  # noqa: E402


def finished(sup: TaskSupervisor) -> int:
    s = sup.stats()
    return sum(p.completed + p.failed for p in (s.thread, s.mp, s.coroutine))


def headless(name: str, duration: float) -> float:
    sup = TaskSupervisor(supervisor_id="bench-headless")
    sup.start()
    scenario = load(name)

    async def drive() -> None:
        await scenario.run(ScenarioContext(sup, duration, name))

    t0 = time.monotonic()
    asyncio.run(drive())
    rate = finished(sup) / (time.monotonic() - t0)
    sup.stop(wait=10, cancel_tasks=True)
    return rate


def console(name: str, duration: float, hz: float) -> dict:
    from PySide6.QtCore import QSettings

    from gui.app import Console

    ini = os.path.join(tempfile.mkdtemp(), "bench.ini")
    sup = TaskSupervisor(supervisor_id="bench-console")
    app = Console(supervisor=sup, settings=QSettings(ini, QSettings.IniFormat))
    app.window.bridge.set_refresh_rate(hz)
    result: dict = {}

    def measure() -> None:
        bridge = app.window.bridge
        result["rate"] = finished(sup) / (time.monotonic() - result["t0"])
        result["refresh_median"] = statistics.median(bridge.refresh_durations)
        result["refresh_p95"] = sorted(bridge.refresh_durations)[
            int(len(bridge.refresh_durations) * 0.95)]
        result["refreshes"] = len(bridge.refresh_durations)
        result["lag_p99"] = bridge.lag_p99()
        app.exit_cleanly()

    def begin() -> None:
        app.window.bridge.refresh_durations.clear()
        app.window.bridge.lags.clear()
        result["t0"] = time.monotonic()
        app.start_scenario(name, duration)
        app.loop.call_later(duration, measure)

    app.loop.call_soon(begin)
    app.run()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--scenario", default="burst")
    parser.add_argument("--hz", type=float, default=10.0)
    args = parser.parse_args()
    base = headless(args.scenario, args.duration)
    gui = console(args.scenario, args.duration, args.hz)
    print(f"console under '{args.scenario}' for {args.duration:g} s at {args.hz:g} Hz "
          f"(offscreen), {gui['refreshes']} refreshes")
    print(f"  refresh (snapshot + plots + table)  median {gui['refresh_median'] * 1e3:6.1f} ms"
          f"   p95 {gui['refresh_p95'] * 1e3:6.1f} ms   (target median <= 10 ms)")
    print(f"  Qt/asyncio loop lag                  p99 {gui['lag_p99'] * 1e3:6.1f} ms"
          f"   (target <= 50 ms)")
    print(f"  engine throughput headless          {base:8,.0f} tasks/s")
    print(f"  engine throughput with the console  {gui['rate']:8,.0f} tasks/s"
          f"   ratio {gui['rate'] / base:.2f}   (target >= 0.8)")


if __name__ == "__main__":
    main()
