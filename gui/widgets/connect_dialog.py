"""The "Connect to…" dialog (File > Connect to…): the address of a service's
monitor and, optionally, its token file.

The dialog only asks for the two values and shows why they were refused.
``connect_to(address, token_file)`` -- given by the window, which has it
from the app, the one place that builds clients -- opens a console window
on that service, or raises ``ValueError`` naming what is wrong (a bad
address, a token file that cannot be read); the message is shown under the
fields and the dialog stays open. An empty token file means the one a Unix
socket's service writes beside it (``PATH.token``).

Non-modal (``open()``, never ``exec()``: a nested loop breaks qasync), as is
its file chooser. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..theme import FAILED_COLOR

ADDRESS_HINT = "unix:/path/to/monitor.sock  or  tcp:127.0.0.1:PORT"
TOKEN_HINT = "optional for unix: (PATH.token beside it)"


class ConnectDialog(QDialog):
    """Asks for a monitor's address and token file; ``connect_to`` opens it."""

    def __init__(self, connect_to: Callable[[str, str | None], Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to a service")
        self.setModal(False)
        self._connect_to = connect_to
        self._chooser: QFileDialog | None = None
        intro = QLabel("Watch and control the supervisor of another process. A service\n"
                       "serving its monitor prints: monitor: ADDRESS token-file PATH")
        self.address = QLineEdit()
        self.address.setPlaceholderText(ADDRESS_HINT)
        self.address.setMinimumWidth(420)
        self.token_file = QLineEdit()
        self.token_file.setPlaceholderText(TOKEN_HINT)
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._choose_token_file)
        token_row = QHBoxLayout()
        token_row.setContentsMargins(0, 0, 0, 0)
        token_row.addWidget(self.token_file, 1)
        token_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Address:", self.address)
        form.addRow("Token file:", token_row)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {FAILED_COLOR};")
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.connect_button = buttons.addButton("Connect", QDialogButtonBox.AcceptRole)
        self.connect_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def set_values(self, address: str = "", token_file: str | None = None) -> None:
        self.address.setText(address)
        self.token_file.setText(token_file or "")
        self.error.hide()

    def accept(self) -> None:
        """Connect: the dialog closes once ``connect_to`` took the values."""
        address = self.address.text().strip()
        token_file = self.token_file.text().strip() or None
        if not address:
            self._refuse(f"An address is needed: {ADDRESS_HINT}.")
            return
        try:
            self._connect_to(address, token_file)
        except ValueError as exc:
            self._refuse(str(exc))
            return
        self.error.hide()
        super().accept()

    @property
    def error_text(self) -> str:
        """Why the last Connect was refused ("" if it was not)."""
        return self.error.text() if self.error.isVisibleTo(self) else ""

    def _refuse(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.address.setFocus()

    def _choose_token_file(self) -> None:
        if self._chooser is None:
            chooser = QFileDialog(self, "The service's token file")
            chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
            chooser.setOption(QFileDialog.Option.DontUseNativeDialog)  # same everywhere
            chooser.fileSelected.connect(self.token_file.setText)
            self._chooser = chooser
        self._chooser.open()
