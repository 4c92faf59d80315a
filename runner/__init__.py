"""Scenario loading and the headless run, shared by ``main.py`` and the console."""
