"""Entry point: the operator console, or ``--headless`` scenario runs without Qt."""

from __future__ import annotations

import argparse
import logging
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="task-supervisor-console",
        description="Task supervisor console: live graphs and controls over a supervisor; "
                    "--headless runs a scenario without Qt and prints a summary.")
    parser.add_argument("--headless", action="store_true",
                        help="run without Qt: start the scenario, print a summary, exit")
    parser.add_argument("--scenario", metavar="NAME|PATH",
                        help="built-in scenario name (resources/scenarios) or a .py file")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="seconds to run the scenario (default: the scenario's own)")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save the window to PATH just before exiting (with --duration: "
                             "as the run left it, before the stop)")
    parser.add_argument("--settings", metavar="PATH",
                        help="keep the console's settings in this INI file")
    parser.add_argument("--drain", type=float, default=60.0, metavar="S",
                        help="headless: seconds to wait for the scenario's tasks to end")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    args = parser.parse_args(argv)
    if args.duration is not None and args.duration <= 0:
        parser.error(f"--duration must be > 0, got {args.duration}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)-8s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # the console raises its loggers to INFO
        handler.setLevel(args.log_level)
    if args.headless:
        from runner.headless import run_headless

        return run_headless(args.scenario or "mixed", args.duration, drain=args.drain)
    from gui.app import run_console

    settings_factory = None
    if args.settings:
        def settings_factory():
            from PySide6.QtCore import QSettings
            return QSettings(args.settings, QSettings.IniFormat)
    return run_console(args.scenario, args.duration, args.screenshot, settings_factory)


if __name__ == "__main__":
    sys.exit(main())
