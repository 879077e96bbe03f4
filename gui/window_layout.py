"""Window size for the screen at hand, and splitters and column widths remembered between runs."""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtWidgets import QHeaderView, QSplitter, QWidget

Remembered = QSplitter | QHeaderView


def fit_to_screen(window: QWidget, settings: QSettings, key: str, preferred: QSize) -> None:
    """Restore the last geometry, but never larger than the screen's available area.

    When the screen is smaller than the preferred size (a 1366×768 laptop), the window opens maximised.
    """
    geometry = settings.value(f"{key}/geometry")
    restored = geometry is not None and window.restoreGeometry(geometry)
    screen = window.screen()
    available = screen.availableGeometry() if screen is not None else None
    if available is None:
        if not restored:
            window.resize(preferred)
        return
    too_big = window.width() > available.width() or window.height() > available.height()
    if restored and not too_big:
        return
    if preferred.width() > available.width() or preferred.height() > available.height():
        window.resize(min(preferred.width(), available.width()), min(preferred.height(), available.height()))
        window.move(available.topLeft())
        window.setWindowState(window.windowState() | Qt.WindowState.WindowMaximized)
    else:
        window.resize(preferred)


def restore_states(settings: QSettings, key: str, parts: dict[str, Remembered]) -> set[str]:
    """Restore what was saved last time; returns the names of the parts restored."""
    restored = set()
    for name, part in parts.items():
        state = settings.value(f"{key}/{name}")
        if state is not None and part.restoreState(state):
            restored.add(name)
    return restored


def save_states(settings: QSettings, key: str, window: QWidget, parts: dict[str, Remembered]) -> None:
    settings.setValue(f"{key}/geometry", window.saveGeometry())
    for name, part in parts.items():
        settings.setValue(f"{key}/{name}", part.saveState())


def fit_dialog(dialog: QWidget, preferred: QSize) -> None:
    """A dialog at its preferred size, but never larger than the screen it opens on (a 1366×768 laptop
    at 150 % leaves about 910×465): what does not fit scrolls inside it."""
    screen = dialog.screen()
    if screen is None:
        dialog.resize(preferred)
        return
    room = screen.availableGeometry()
    dialog.resize(min(preferred.width(), room.width()), min(preferred.height(), room.height() - 8))
