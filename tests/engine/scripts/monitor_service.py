"""A service embedding the engine and serving its monitor, for the monitor tests.

    python monitor_service.py ADDRESS [--read-only] [--stuck]

Prints ``monitor: ADDRESS token-file PATH`` once it serves, then runs until
its supervisor is stopped (through the monitor, or SIGTERM). It has a worker
named ``ticker`` and keeps one delayed task, ``later``, for the commands to act on.
With ``--stuck`` it also runs a thread task named ``stuck`` blocked in
``stuck_in_the_service`` until the service ends, for the live stack.
"""

import signal
import sys
import threading
import time

from engine import BackgroundIntervalWorker, TaskSupervisor

_ending = threading.Event()


def stuck_in_the_service(ending: threading.Event) -> None:
    ending.wait(3600)


def main() -> None:
    supervisor = TaskSupervisor(supervisor_id="service", pool_size=3)
    supervisor.start()
    signal.signal(signal.SIGTERM, lambda *_: (_ending.set(), supervisor.stop(wait=False)))
    BackgroundIntervalWorker("ticker", lambda **_: None, interval=0.2,
                             supervisor=supervisor).start()
    supervisor.submit(time.sleep, 0.01)
    supervisor.submit(time.sleep, 0, _delay=3600, _name="later")
    if "--stuck" in sys.argv:
        supervisor.submit(stuck_in_the_service, _ending, _name="stuck")
    monitor = supervisor.serve_monitor(sys.argv[1], read_only="--read-only" in sys.argv)
    print(f"monitor: {monitor.address} token-file {monitor.token_file}", flush=True)
    supervisor.block()
    _ending.set()  # stopped through the monitor: the stuck task ends too


if __name__ == "__main__":
    main()
