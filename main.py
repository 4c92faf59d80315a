"""Entry point in a checkout: ``python main.py [options]`` does what the installed
``task-supervisor-console`` command does (``runner.cli.main``; ``--help`` lists
the options). Not part of the installed package."""

import sys

from runner.cli import main

if __name__ == "__main__":
    sys.exit(main())
