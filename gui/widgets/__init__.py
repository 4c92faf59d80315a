"""One widget per module; each receives the ``EngineBridge`` and nothing else of the engine.

Threads: the GUI thread only, like every Qt widget.
"""
