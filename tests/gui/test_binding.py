"""The Qt binding must not leak references to None: a console calls setters
all day, and an interpreter whose None count reaches zero aborts."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QCheckBox, QSpinBox


def test_void_setters_keep_none_alive(qtbot):
    box, spin = QCheckBox(), QSpinBox()
    qtbot.addWidget(box)
    qtbot.addWidget(spin)
    before = sys.getrefcount(None)
    for i in range(500):
        box.setChecked(i % 2 == 0)
        spin.setValue(i % 10)
    assert sys.getrefcount(None) - before > -50, "the Qt binding drops references to None"
