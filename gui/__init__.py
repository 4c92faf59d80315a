"""The operator console: a PySide6 window over an in-process supervisor.

Widgets talk to the engine only through its public API and ``bridge``; the
engine never imports Qt.
"""
