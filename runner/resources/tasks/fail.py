"""Fail on purpose after an optional pause: the task ends FAILED with the given message."""

import time

PARAMS = {"message": "failed on purpose", "after": 0.0}


def run(message, after):
    if after > 0:
        time.sleep(after)
    raise RuntimeError(message)
