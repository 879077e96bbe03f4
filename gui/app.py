"""Start-up: the font, the single-instance lock, the database, first-run set-up, the main window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLockFile
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from core.errors import DomainError
from core.quarters import Quarter
from gui.errors import show_error
from gui.fonts import install_app_font
from gui.instance_lock import acquire_instance_lock
from gui.main_window import APP_TITLE, MainWindow
from gui.setup_dialog import SetupDialog
from storage.store import Store, default_db_path

log = logging.getLogger(__name__)


def make_application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    QCoreApplication.setOrganizationName("town-returns")
    QCoreApplication.setApplicationName("town-returns")
    app.setApplicationDisplayName(APP_TITLE)
    install_app_font(app)
    return app


class Session:
    """What stays open while the window is: the lock, the store and the window itself."""

    def __init__(self, lock: QLockFile, store: Store, window: QMainWindow):
        self.lock, self.store, self.window = lock, store, window

    def close(self) -> None:
        self.store.close()
        self.lock.unlock()


def open_session(db_path: Path, initial_quarter: Quarter | None = None) -> Session | None:
    """Lock and open the database, run first-run set-up if needed; None when the user gave up."""
    try:
        lock = acquire_instance_lock(db_path)
    except DomainError as exc:
        QMessageBox.critical(None, APP_TITLE, exc.message)
        return None
    try:
        store = Store(db_path)
    except DomainError as exc:
        lock.unlock()
        QMessageBox.critical(None, APP_TITLE, exc.message)
        return None
    try:
        if store.town() is None and store.mode() != "city":
            dialog = SetupDialog(None, store.profile())
            if not dialog.exec():
                store.close()
                lock.unlock()
                return None
            if dialog.city_root() is not None:
                store.set_city_mode(dialog.city_root() or "")
            else:
                store.bind_town(dialog.town())
                store.set_profile(dialog.profile())
        window: QMainWindow
        if store.mode() == "city":
            from gui.city_window import CityWindow

            window = CityWindow(store)
        else:
            window = MainWindow(store, initial_quarter)
    except DomainError as exc:
        show_error(None, exc)
        store.close()
        lock.unlock()
        return None
    return Session(lock, store, window)


def run_app(db_path: Path | None, demo: bool = False) -> int:
    app = make_application()
    initial: Quarter | None = None
    if demo:
        from storage.demo import ensure_demo_database

        db_path, initial = ensure_demo_database()
    path = db_path or default_db_path()
    session = open_session(path, initial)
    if session is None:
        return 1
    session.window.show()
    try:
        return app.exec()
    finally:
        session.close()
