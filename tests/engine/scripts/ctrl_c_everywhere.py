"""Ctrl+C at random moments of start / submit / create_aloop / stop cycles.

Run as a script by ``test_edges_interrupts``; exits 0 when, after every
cycle, the supervisor is stopped (so it starts again), every task accepted
ended exactly once, the counters reconcile and no engine thread is left.
"""

import asyncio
import random
import signal
import sys
import threading
import time

from engine import TASK_CRITICAL, TASK_HIGH, TASK_LOW, TaskSupervisor


def main(seed: int, cycles: int) -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = random.Random(seed)
    main_id = threading.main_thread().ident
    sup = TaskSupervisor("ctrlc", pool_size=3, reserve_normal=1, reserve_high=1)
    accepted = []
    interrupts = 0

    async def nap(seconds):
        await asyncio.sleep(seconds)

    for cycle in range(cycles):
        timer = threading.Timer(rng.random() * 0.05,
                                lambda: signal.pthread_kill(main_id, signal.SIGINT))
        try:
            timer.start()
            if not sup.is_active():
                sup.start()
            for _ in range(rng.randint(0, 200)):
                accepted.append(sup.submit(time.sleep, rng.random() * 0.01,
                                           _priority=rng.choice([TASK_LOW, TASK_HIGH,
                                                                 TASK_CRITICAL])))
            if rng.random() < 0.5:
                aloop = sup.create_aloop(f"a{cycle}", daemon=True)
                accepted.append(aloop.background_task(nap(rng.random() * 0.05)))
            sup.stop(wait=rng.choice([True, 0.01, 0.2, False]), cancel_tasks=rng.random() < 0.3)
        except KeyboardInterrupt:
            interrupts += 1
        finally:
            timer.cancel()
        try:
            timer.join()
            time.sleep(0.06)  # a late Ctrl+C lands here, not in the engine
            if sup.is_active():
                sup.stop(wait=1)
        except KeyboardInterrupt:
            interrupts += 1
            sup.stop(wait=1)
        if "stopped" not in repr(sup):
            print(f"cycle {cycle}: left {sup!r}")
            return 1
    unfinished = [t for t in accepted if not t.wait(10)]
    stats = sup.stats()
    deadline = time.monotonic() + 15  # loops stopped with wait=False finish closing
    while True:
        left = [t.name for t in threading.enumerate() if t.name.startswith("supervisor_")]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    print(f"tasks {len(accepted)} interrupts {interrupts} unfinished {len(unfinished)} "
          f"threads left {left}")
    ok = (not unfinished and not left and stats.thread.reconciles()
          and stats.coroutine.reconciles() and interrupts > 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
