"""The console's forms as an operator uses them: the wheel only changes a
focused field, Return applies, rows stay put while editing, derived values are
shown as derived, and the engine's refusals and precision come through."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.form_kit import guard_wheel
from gui.widgets.pool_controls import AUTO_TEXT, FIXED_TEXT, PoolControls
from gui.widgets.timeouts import TimeoutsPanel


def type_into(qtbot, box, value) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), str(value))
    box.interpretText()


def wheel(widget, steps: int = 1) -> bool:
    """One wheel notch up over ``widget``: whether a widget accepted it."""
    center = QPointF(widget.rect().center())
    event = QWheelEvent(center, QPointF(widget.mapToGlobal(center.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.NoButton, Qt.NoModifier,
                        Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def focus(qtbot, window, widget) -> None:
    window.activateWindow()
    widget.setFocus(Qt.OtherFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=2000)


@pytest.fixture
def scroller(qtbot):
    """A scrollable panel with a spin box, a double spin box and a combo box."""
    area = QScrollArea()
    inner = QWidget()
    layout = QVBoxLayout(inner)
    spin, dspin, combo = QSpinBox(), QDoubleSpinBox(), QComboBox()
    spin.setRange(0, 100)
    spin.setValue(12)
    dspin.setValue(12.0)
    combo.addItems(["a", "b", "c"])
    combo.setCurrentIndex(1)
    guard_wheel(spin, dspin, combo)
    for widget in (spin, dspin, combo):
        layout.addWidget(widget)
    layout.addSpacing(2000)  # something to scroll
    area.setWidget(inner)
    area.resize(300, 200)
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    return area, spin, dspin, combo


def test_the_wheel_over_an_unfocused_field_passes_it_on_and_leaves_the_value(scroller):
    area, spin, dspin, combo = scroller
    area.setFocus()
    for widget in (spin, dspin, combo):
        assert widget.focusPolicy() == Qt.StrongFocus  # the wheel never gives focus
    for widget in (spin, dspin, combo):
        # Left unaccepted: Qt hands a real wheel event on to the scroll area.
        assert not wheel(widget)
    assert (spin.value(), dspin.value(), combo.currentIndex()) == (12, 12.0, 1)


def test_the_wheel_changes_a_focused_field(scroller, qtbot):
    area, spin, dspin, combo = scroller
    focus(qtbot, area, spin)
    assert wheel(spin)
    assert spin.value() == 13
    focus(qtbot, area, combo)
    wheel(combo, -1)
    assert combo.currentIndex() == 2


def test_console_forms_guard_every_spin_and_combo_box(bridge, qtbot):
    from gui.widgets.scenario_panel import ScenarioPanel
    from gui.widgets.stop_dialog import StopDialog
    from gui.widgets.task_script_panel import TaskScriptPanel

    widgets = [PoolControls(bridge, "thread"), PoolControls(bridge, "mp"),
               TimeoutsPanel(bridge), TaskScriptPanel(bridge), ScenarioPanel(bridge),
               StopDialog(bridge)]
    for widget in widgets:
        qtbot.addWidget(widget)
        boxes = widget.findChildren(QSpinBox) + widget.findChildren(QDoubleSpinBox) \
            + widget.findChildren(QComboBox)
        assert boxes, widget
        for box in boxes:
            assert box.focusPolicy() == Qt.StrongFocus, (widget, box.objectName())
            before = box.value() if hasattr(box, "value") else box.currentIndex()
            wheel(box)
            after = box.value() if hasattr(box, "value") else box.currentIndex()
            assert after == before, (widget, box.objectName())


def test_the_wheel_leaves_an_unfocused_pool_field_alone(supervisor, bridge, qtbot):
    panel = PoolControls(bridge, "thread")
    qtbot.addWidget(panel)
    panel.show()
    box = panel.fields["pool_size"]
    wheel(box)
    assert box.value() == 4 and not panel.apply_button.isEnabled()
    focus(qtbot, panel, box)
    wheel(box)
    assert box.value() == 5 and panel.apply_button.isEnabled()


def test_return_in_a_field_applies_the_form(supervisor, bridge, qtbot):
    panel = PoolControls(bridge, "thread")
    qtbot.addWidget(panel)
    panel.show()
    box = panel.fields["reserve_high"]
    focus(qtbot, panel, box)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "3")
    qtbot.keyClick(box, Qt.Key_Return)
    assert supervisor.stats().thread.reserve_high == 3
    assert not panel.apply_button.isEnabled()
    timeouts = TimeoutsPanel(bridge)
    qtbot.addWidget(timeouts)
    timeouts.show()
    box = timeouts.fields["timeout_warning"]
    focus(qtbot, timeouts, box)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "2.5")
    qtbot.keyClick(box, Qt.Key_Enter)
    assert supervisor.timeout_warning == 2.5


def test_rows_and_buttons_stay_put_while_editing(bridge, qtbot):
    for panel in (PoolControls(bridge, "thread"), TimeoutsPanel(bridge)):
        qtbot.addWidget(panel)
        panel.resize(360, 300)
        panel.show()
        qtbot.waitExposed(panel)

        def places(panel=panel):
            QApplication.processEvents()
            return ([box.geometry() for box in panel.fields.values()]
                    + [panel.apply_button.geometry(), panel.revert_button.geometry()])

        before = places()
        for box in panel.fields.values():
            box.setValue(box.value() + 1)
        assert panel.apply_button.isEnabled()
        assert all(box.font().bold() for box in panel.fields.values())
        assert places() == before
        panel.revert()
        assert places() == before


def test_changing_pool_size_shows_and_says_the_derived_max_size(supervisor, bridge, qtbot):
    panel = PoolControls(bridge, "thread")
    qtbot.addWidget(panel)
    panel.show()
    assert supervisor.stats().thread.max_size == 8  # 4 + 2 + 2, derived
    assert panel.derived_label.text() == AUTO_TEXT
    applied = []
    bridge.action_applied.connect(applied.append)
    type_into(qtbot, panel.fields["pool_size"], 6)
    assert panel.fields["max_size"].value() == 10  # what the engine will derive
    assert panel.changes() == {"pool_size": 6}     # not sent as an explicit max
    assert panel.apply()
    assert supervisor.stats().thread.max_size == 10
    assert applied == ["thread pool: pool_size 4 → 6, max_size 8 → 10 "
                       "(derived: pool + reserves)"]
    assert panel.fields["max_size"].value() == 10
    assert panel.derived_label.text() == AUTO_TEXT
    # A max_size typed by the operator is explicit: it no longer follows.
    type_into(qtbot, panel.fields["max_size"], 20)
    assert panel.derived_label.text() == FIXED_TEXT
    assert panel.changes() == {"max_size": 20}
    assert panel.apply()
    assert panel.derived_label.text() == FIXED_TEXT
    type_into(qtbot, panel.fields["pool_size"], 7)
    assert panel.fields["max_size"].value() == 20
    assert panel.apply()
    assert applied[-1] == "thread pool: pool_size 6 → 7"
    assert supervisor.stats().thread.max_size == 20


def test_an_explicit_max_size_equal_to_the_sum_is_said_to_stay(supervisor, bridge, qtbot):
    supervisor.set_thread_pool(max_size=8)  # explicit, yet equal to 4 + 2 + 2
    bridge.refresh()
    panel = PoolControls(bridge, "thread")
    qtbot.addWidget(panel)
    applied = []
    bridge.action_applied.connect(applied.append)
    type_into(qtbot, panel.fields["pool_size"], 5)
    assert panel.apply()
    assert supervisor.stats().thread.max_size == 8
    assert applied[-1] == "thread pool: max_size stays 8 (set explicitly)"
    assert panel.fields["max_size"].value() == 8


def test_poll_delay_zero_shows_the_engine_refusal_and_its_value(supervisor, bridge, qtbot,
                                                                 caplog):
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    refused = []
    bridge.error_raised.connect(lambda what, why: refused.append(why))
    box = panel.fields["poll_delay"]
    type_into(qtbot, box, 0)
    assert box.value() == 0 and panel.apply_button.isEnabled()  # not reverted silently
    with caplog.at_level(logging.WARNING, logger="gui"):
        assert not panel.apply()
    assert supervisor.poll_delay == 0.1
    assert panel.error_label.isVisible()
    assert "poll_delay must be > 0" in panel.error_label.text()
    assert "The engine keeps poll_delay 0.1 s" in panel.error_label.text()
    assert refused and "poll_delay" in refused[0]
    assert "Refused: set poll_delay 0" in caplog.text
    assert box.value() == 0.1 and box.text() == "0.1 s"  # the engine's value again
    assert not panel.apply_button.isEnabled()


def test_poll_delay_takes_the_precision_the_engine_takes(supervisor, bridge, qtbot):
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    box = panel.fields["poll_delay"]
    type_into(qtbot, box, 0.0001)
    assert box.text() == "0.0001 s"
    assert panel.apply_button.isEnabled()
    assert panel.apply()
    assert supervisor.poll_delay == pytest.approx(0.0001)
    assert box.text() == "0.0001 s" and not panel.apply_button.isEnabled()
    type_into(qtbot, box, 0.000125)
    assert panel.apply()
    assert supervisor.poll_delay == pytest.approx(0.000125)


def test_a_rounded_engine_value_is_not_an_edit(supervisor, bridge, qtbot):
    supervisor.poll_delay = 0.12345678  # finer than the field
    bridge.refresh()
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    assert panel.changes() == {} and not panel.apply_button.isEnabled()
