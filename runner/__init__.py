"""Scenario loading and the headless run, shared by ``main.py`` and the console.

Threads: see each module (a scenario runs on its host's loop; batches may be
submitted from any thread).
"""
