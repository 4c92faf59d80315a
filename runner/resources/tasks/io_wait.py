"""Simulated I/O: write a temporary file, then read it back in chunks with pauses.

The pauses (``seconds`` spread over the chunks) stand for a slow device;
the thread is blocked, not busy, so the GIL stays free.
"""

import os
import tempfile
import time

PARAMS = {"seconds": 0.5, "size_kb": 256, "chunk_kb": 32}


def run(seconds, size_kb, chunk_kb):
    chunk = max(1, chunk_kb) * 1024
    with tempfile.TemporaryFile() as f:
        f.write(os.urandom(max(0, size_kb) * 1024))
        f.seek(0)
        chunks = max(1, -(-size_kb * 1024 // chunk))
        total = 0
        while data := f.read(chunk):
            total += len(data)
            time.sleep(seconds / chunks)
    return total
