"""Start-up: the font, the single-instance lock, the database, first-run set-up, the main window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QTimer, QTranslator
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox

from actions.database import default_db_path
from core.errors import DomainError
from core.quarters import Quarter
from gui.errors import show_error
from gui.fonts import install_app_font
from gui.main_window import APP_TITLE, MainWindow
from gui.setup_dialog import SetupDialog

if TYPE_CHECKING:
    from actions.database import DatabaseLock, Store

log = logging.getLogger(__name__)


def make_application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    QCoreApplication.setOrganizationName("town-returns")
    QCoreApplication.setApplicationName("town-returns")
    app.setApplicationDisplayName(APP_TITLE)
    install_app_font(app)
    install_qt_translation(app)
    return app


def install_qt_translation(app: QApplication) -> None:
    """Qt's own buttons and dialogs in Chinese (确定/取消, 是/否, the print preview's toolbar)."""
    if getattr(app, "_qt_zh_translator", None) is not None:
        return
    import PySide6

    translator = QTranslator(app)
    package = Path(PySide6.__file__).parent
    folders = [QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)]
    folders += [str(package / "Qt" / "translations"), str(package / "translations")]  # a PyInstaller bundle
    for folder in folders:
        if translator.load("qtbase_zh_CN", folder):
            app.installTranslator(translator)
            app._qt_zh_translator = translator  # type: ignore[attr-defined]  # kept alive with the app
            return
    log.warning("qtbase_zh_CN translation not found in %s", folders)


class Session:
    """What stays open while the window is: the lock, the store and the window itself."""

    def __init__(self, lock: DatabaseLock, store: Store, window: QMainWindow):
        self.lock, self.store, self.window = lock, store, window

    def close(self) -> None:
        self.store.close()
        reopened = getattr(self.window, "store", self.store)  # after 从备份恢复 the window holds a new Store
        if reopened is not self.store:
            reopened.close()
        self.lock.release()


def open_or_recover(db_path: Path) -> Store | None:
    """Open the database; a damaged one is not opened, and the newest good backup is offered instead."""
    from actions.database import DatabaseDamaged, newest_good_backup, open_database, restore

    try:
        return open_database(db_path)
    except DatabaseDamaged as exc:
        backup = newest_good_backup(db_path)
        if backup is None:
            raise
        answer = QMessageBox.question(
            None,
            APP_TITLE,
            f"{exc.message}\n\n最近的完好备份是 {backup.name}。要用它恢复吗？（损坏的文件会原样另存一份，不会删除）",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
        kept = restore(db_path, backup).previous
        QMessageBox.information(
            None, APP_TITLE, f"已从 {backup.name} 恢复。" + (f"\n损坏的文件已原样另存在 {kept}。" if kept else "")
        )
        return open_database(db_path)


def check_on_start_up(store: Store) -> None:
    """A daily backup, and a warning when the audit trail was altered outside the app."""
    try:
        if store.town() is not None:
            store.daily_backup()
    except (OSError, DomainError) as exc:
        log.warning("daily backup failed: %s", exc)
    result = store.verify_audit()
    if not result.ok:
        log.warning("audit chain broken: %s", result.message)
        QMessageBox.warning(
            None, APP_TITLE, f"审计记录校验未通过：{result.message}。\n数据库可能在本软件之外被改动过，请联系市局。"
        )


def open_session(db_path: Path, initial_quarter: Quarter | None = None) -> Session | None:
    """Lock and open the database, run first-run set-up if needed; None when the user gave up."""
    from gui.instance_lock import acquire_instance_lock

    try:
        lock = acquire_instance_lock(db_path)
    except DomainError as exc:
        QMessageBox.critical(None, APP_TITLE, exc.message)
        return None
    return _open_locked(lock, db_path, initial_quarter, None)


def _open_locked(
    lock: DatabaseLock, db_path: Path, initial_quarter: Quarter | None, skeleton: MainWindow | None
) -> Session | None:
    """Open the locked database (offering the newest good backup if it is damaged), run first-run
    set-up if needed, and fill in the skeleton window (or make the window); None when the user gave up."""
    try:
        store = open_or_recover(db_path)
    except DomainError as exc:
        lock.release()
        QMessageBox.critical(None, APP_TITLE, exc.message)
        return None
    if store is None:
        lock.release()
        return None
    check_on_start_up(store)
    try:
        if store.town() is None and store.mode() != "city":
            dialog = SetupDialog(None, store.profile())
            if not dialog.exec():
                store.close()
                lock.release()
                return None
            if dialog.city_root() is not None:
                store.set_city_mode(dialog.city_root() or "")
            else:
                store.bind_town(dialog.town())
                store.set_profile(dialog.profile())
        window = _make_window(store, initial_quarter, skeleton)
    except DomainError as exc:
        show_error(None, exc)
        store.close()
        lock.release()
        return None
    return Session(lock, store, window)


def _make_window(store: Store, initial_quarter: Quarter | None, skeleton: MainWindow | None) -> QMainWindow:
    """The city's window or the town's; a stored plan edited outside the program is repaired first by
    importing the city's .plan file again, which the clerk is offered here (the window needs the plan)."""
    from actions.plan_packages import is_altered_plan

    while True:
        try:
            if store.mode() == "city":
                from gui.city_window import CityWindow

                return CityWindow(store)
            if skeleton is not None:
                skeleton.attach_store(store, initial_quarter)
                return skeleton
            return MainWindow(store, initial_quarter)
        except DomainError as exc:
            if not is_altered_plan(exc) or not reimport_plan(store, exc.message):
                raise


def reimport_plan(store: Store, reason: str) -> bool:
    """Offer to import the city's plan file again; True when it was imported."""
    from actions.plan_packages import plan_import

    question = f"{reason}\n\n要现在选择市局下发的规划文件（.plan）重新导入吗？"
    if QMessageBox.question(None, APP_TITLE, question) != QMessageBox.StandardButton.Yes:
        return False
    chosen, _ = QFileDialog.getOpenFileName(None, "选择市局下发的规划文件", "", "规划文件 (*.plan)")
    if not chosen:
        return False
    try:
        plan_import(store, Path(chosen))
    except DomainError as exc:
        QMessageBox.critical(None, APP_TITLE, exc.message)
        return False
    return True


class Starting:
    """The window on its way: its skeleton painted, greyed out; `finish` locks the database, opens it
    (importing the database layer only now) and fills the window in, which only then takes input."""

    def __init__(self, db_path: Path, initial_quarter: Quarter | None, skeleton: MainWindow):
        self.db_path, self.initial_quarter, self.skeleton = db_path, initial_quarter, skeleton

    def finish(self) -> Session | None:
        from gui.instance_lock import acquire_instance_lock

        try:
            lock = acquire_instance_lock(self.db_path)
        except DomainError as exc:  # another window or command has the database
            QMessageBox.critical(None, APP_TITLE, exc.message)
            self.skeleton.close()
            return None
        session = _open_locked(lock, self.db_path, self.initial_quarter, self.skeleton)
        if session is not None:
            session.window.show()
        if session is None or session.window is not self.skeleton:
            self.skeleton.close()  # gave up, or a city database: its own window replaces the skeleton
        return session


def start_session(db_path: Path, initial_quarter: Quarter | None = None) -> Starting:
    """Paint the window's skeleton at once, before the database lock and the database layer are imported
    (they take longer than the window on a slow office PC); `Starting.finish` does the rest."""
    skeleton = MainWindow(None)
    skeleton.show()
    QApplication.processEvents()  # paint it now, not after the database has opened
    return Starting(db_path, initial_quarter, skeleton)


def run_app(db_path: Path | None, demo: bool = False) -> int:
    app = make_application()
    initial: Quarter | None = None
    if demo:
        from actions.database import demo_database

        db_path, initial = demo_database()
    path = db_path or default_db_path()
    starting = start_session(path, initial)
    opened: list[Session] = []

    def finish() -> None:
        session = starting.finish()
        if session is None:
            app.exit(1)
        else:
            opened.append(session)

    QTimer.singleShot(0, finish)  # after the skeleton has been painted
    try:
        return app.exec()
    finally:
        for session in opened:
            session.close()
