"""Sleep for a while: an idle task that holds its pool slot.

The simplest load: watch slots fill and queues drain by priority.
"""

import time

PARAMS = {"seconds": 0.5}


def run(seconds):
    time.sleep(seconds)
    return seconds
