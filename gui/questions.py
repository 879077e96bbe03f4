"""The small questions the clerk's window asks: unsaved edits, a passphrase; and showing a folder.

Its parts call them through this module (`questions.ask_passphrase(...)`), so a test answers them
by replacing them here."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from PySide6.QtCore import QSettings, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget


class Unsaved(Enum):
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


def ask_unsaved(parent: QWidget, what: str) -> Unsaved:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("有未保存的修改")
    box.setText(f"{what}有未保存的修改，要保存吗？")
    save = box.addButton("保存", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("不保存", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("取消", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(save)
    box.exec()
    clicked = box.clickedButton()
    return Unsaved.SAVE if clicked is save else Unsaved.DISCARD if clicked is discard else Unsaved.CANCEL


def open_folder(folder: Path) -> bool:
    """Show a folder in the system's file manager (Explorer on the town's PC)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """A yes/no question whose default is 否: Enter alone never overwrites, binds or gives up anything."""
    answer = QMessageBox.question(
        parent,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def choose_file(parent: QWidget, settings: QSettings, key: str, title: str, file_filter: str) -> Path | None:
    """A file to open, the dialog starting in the folder last chosen for `key` (remembered for next time)."""
    start = str(settings.value(key, str(Path.home())))
    chosen, _ = QFileDialog.getOpenFileName(parent, title, start, file_filter)
    if not chosen:
        return None
    path = Path(chosen)
    settings.setValue(key, str(path.parent))
    return path


def ask_passphrase(parent: QWidget, prompt: str) -> bytes | None:
    text, ok = QInputDialog.getText(parent, "签名证书口令", prompt, QLineEdit.EchoMode.Password)
    return text.encode("utf-8") if ok and text else None
