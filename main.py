"""Entry point: the operator console, or ``--headless`` scenario runs without Qt."""

from __future__ import annotations

import argparse
import logging
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="task-supervisor-console",
        description="Task supervisor: run a scenario headless and print a summary.")
    parser.add_argument("--headless", action="store_true",
                        help="run without Qt: start the scenario, print a summary, exit")
    parser.add_argument("--scenario", metavar="NAME|PATH",
                        help="built-in scenario name (resources/scenarios) or a .py file")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="seconds to run the scenario (default: the scenario's own)")
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
    if not args.headless:
        print("error: the operator console is not available in this version; "
              "use --headless --scenario NAME", file=sys.stderr)
        return 2
    from runner.headless import run_headless

    return run_headless(args.scenario or "mixed", args.duration, drain=args.drain)


if __name__ == "__main__":
    sys.exit(main())
