"""The ``task-supervisor-console`` command: its options and ``main``.

``main(argv)`` parses the options, sets up logging and runs either the
headless run (``--headless``: ``runner.headless``, never importing Qt) or the
operator console (``gui.app``, imported only then) -- on a supervisor of its
own, or attached to a service's monitor (``--attach ADDRESS``). It returns the process
exit code: the headless run's (see ``runner.headless``) or the console's;
argparse exits with 2 on a bad option. ``main.py`` in a checkout and the
installed console script both call it. Call it from the main thread.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

from .headless import run_headless
from .scenario import MAX_DURATION, builtin_scenarios

PROG = "task-supervisor-console"


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0 and at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds > 0, got {text!r}")
    if value > MAX_DURATION:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_DURATION:,.0f} s (a day), got {text!r}")
    return value


MIN_SIZE = (400, 300)  # px: the least window the console lays out
MAX_SIZE = (16384, 16384)


def window_size(text: str) -> tuple[int, int]:
    """An argparse type: ``WIDTHxHEIGHT`` in pixels (``1440x900``), within
    ``MIN_SIZE`` .. ``MAX_SIZE``."""
    parts = text.strip().lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT in pixels, such as 1440x900, got {text!r}")
    width, height = (int(p) for p in parts)
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise argparse.ArgumentTypeError(
            f"must be from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]} "
            f"pixels, got {text!r}")
    return width, height


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Task supervisor console: live graphs and controls over a supervisor; "
                    "--headless runs a scenario without Qt and prints a summary.",
        epilog="Headless exit codes: 0 every task ended, 1 a task was lost or hung, "
               "2 the scenario cannot be loaded (or a bad option), 3 the scenario raised, "
               "130 interrupted by Ctrl+C.")
    parser.add_argument("--headless", action="store_true",
                        help="run without Qt: start the scenario, print a summary, exit")
    parser.add_argument("--scenario", metavar="NAME|PATH",
                        help=f"a built-in scenario ({', '.join(builtin_scenarios())}; "
                             f"in runner/resources/scenarios) or a .py file")
    parser.add_argument("--duration", type=seconds, metavar="S",
                        help="seconds to run the scenario (default: the scenario's own)")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save the window to PATH just before exiting (with --duration: "
                             "as the run left it, before the stop)")
    parser.add_argument("--size", type=window_size, metavar="WxH",
                        help="the console window's size in pixels, e.g. 1440x900 (instead "
                             "of the saved one; with --screenshot: the image's size)")
    parser.add_argument("--settings", metavar="PATH",
                        help="keep the console's settings in this INI file")
    parser.add_argument("--drain", type=seconds, default=60.0, metavar="S",
                        help="headless: seconds to wait for the scenario's tasks to end "
                             "(default: 60)")
    parser.add_argument("--monitor", nargs="?", const="", metavar="ADDRESS",
                        help="headless: serve the supervisor's monitor during the run at "
                             "unix:PATH or tcp:127.0.0.1:PORT (default: a private Unix "
                             "socket), printed as 'monitor: ADDRESS token-file PATH'")
    parser.add_argument("--attach", metavar="ADDRESS",
                        help="console: watch and control the service whose monitor serves "
                             "at ADDRESS (unix:PATH or tcp:127.0.0.1:PORT, as printed by "
                             "'monitor: ADDRESS token-file PATH') instead of a supervisor of "
                             "its own; closing the console detaches, the service runs on")
    parser.add_argument("--token-file", metavar="PATH",
                        help="with --attach: the file holding the monitor's token (default: "
                             "PATH.token beside a unix:PATH socket)")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    conflict = _attach_conflict(args)
    if conflict:
        print(f"{PROG}: error: {conflict}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)-8s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # the console raises its loggers to INFO
        handler.setLevel(args.log_level)
    if args.headless:
        return run_headless(args.scenario or "mixed", args.duration, drain=args.drain,
                            monitor=args.monitor)
    from gui.app import run_console

    settings_factory = None
    if args.settings:
        def settings_factory():
            from PySide6.QtCore import QSettings
            return QSettings(args.settings, QSettings.IniFormat)
    return run_console(args.scenario, args.duration, args.screenshot, settings_factory,
                       size=args.size, attach=args.attach, token_file=args.token_file)


def _attach_conflict(args: argparse.Namespace) -> str | None:
    """Why ``--attach`` / ``--token-file`` cannot go with the other options, or ``None``."""
    if args.token_file is not None and args.attach is None:
        return "--token-file goes with --attach ADDRESS"
    if args.attach is None:
        return None
    if args.headless:
        return "--attach opens the console on a service: it cannot be --headless"
    if args.scenario:
        return (f"--attach shows the service's own work: --scenario {args.scenario} "
                f"cannot run with it")
    if args.monitor is not None:
        return "--monitor serves a headless run's supervisor: an attached console has none"
    return None
