"""Burn CPU: sum squares for a number of iterations or a number of seconds.

With ``seconds`` > 0 it burns for that long (``iterations`` is ignored),
else it does exactly ``iterations`` multiplications. As a thread task it
competes for the GIL; as an mp task it uses a whole process.
"""

import time

PARAMS = {"iterations": 200_000, "seconds": 0.0}


def burn(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def run(iterations, seconds):
    if seconds <= 0:
        return burn(iterations)
    deadline = time.perf_counter() + seconds
    rounds = 0
    while time.perf_counter() < deadline:
        burn(2000)
        rounds += 1
    return rounds
