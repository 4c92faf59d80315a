"""A service embedding the engine and serving its monitor, for the monitor tests.

    python monitor_service.py ADDRESS [--read-only]

Prints ``monitor: ADDRESS token-file PATH`` once it serves, then runs until
its supervisor is stopped (through the monitor, or SIGTERM). It has a worker
named ``ticker`` and keeps one delayed task, ``later``, for the commands to act on.
"""

import signal
import sys
import time

from engine import BackgroundIntervalWorker, TaskSupervisor


def main() -> None:
    supervisor = TaskSupervisor(supervisor_id="service", pool_size=3)
    supervisor.start()
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stop(wait=False))
    BackgroundIntervalWorker("ticker", lambda **_: None, interval=0.2,
                             supervisor=supervisor).start()
    supervisor.submit(time.sleep, 0.01)
    supervisor.submit(time.sleep, 0, _delay=3600, _name="later")
    monitor = supervisor.serve_monitor(sys.argv[1], read_only="--read-only" in sys.argv)
    print(f"monitor: {monitor.address} token-file {monitor.token_file}", flush=True)
    supervisor.block()


if __name__ == "__main__":
    main()
