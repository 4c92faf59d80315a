"""The operator console: a PySide6 window over a supervisor.

The widgets talk to the engine only through the typed client,
``gui.client.SupervisorClient``: ``LocalClient`` for a supervisor in this
process now, a remote one later, with no widget changed. ``gui.bridge`` turns
the client into Qt signals (snapshots, what changed, events, gaps in the
event stream) and runs its commands, showing a refused one's error. Nothing
in the console but the client and the app imports the engine, save its
constants; the engine never imports Qt. The import contracts of
``pyproject.toml`` hold these layers, top to bottom:

- ``app``: bootstrap (QApplication, qasync loop, supervisor, client, window, exit).
- ``main_window``: the window, its docks, menus and status bar.
- ``widgets/``: the views, one per module.
- ``task_model``: the task table's rows (Qt-free).
- helpers: ``settings`` (the settings, typed: every key read and written
  there), ``theme`` (colours, palettes), ``series`` (recorded time series and
  rates, Qt-free), ``formatting`` (values as text, Qt-free), ``interrupts``
  (Ctrl+C).
- ``bridge``: the client turned into Qt signals.
- ``client``: the door to a supervisor (Qt-free).

Threads: everything here runs on the GUI thread (the Qt loop, which is also
the supervisor's asyncio loop), except what a module's docstring says may run
elsewhere (the client's reads, the Ctrl+C watcher).
"""
