"""Start-up: the font, the single-instance lock, the database, first-run set-up, the main window."""

from __future__ import annotations

import linecache
import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QObject, Qt, QTimer, QTranslator, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox

from actions.database import default_db_path
from core.errors import DomainError
from core.quarters import Quarter
from gui import APP_TITLE
from gui.errors import show_error
from gui.fonts import install_app_font
from gui.main_window import MainWindow
from gui.setup_dialog import SetupDialog

if TYPE_CHECKING:
    from actions.database import DatabaseLock, Store, StoreReads

log = logging.getLogger(__name__)


def make_application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    QCoreApplication.setOrganizationName("town-returns")
    QCoreApplication.setApplicationName("town-returns")
    app.setApplicationDisplayName(APP_TITLE)
    install_app_font(app)
    install_qt_translation(app)
    linecache.clearcache()  # the sources PySide6's import hook read (see actions.database.load_database_layer)
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
    missing = MissingQtWords(app)  # installed first, so consulted after Qt's own translation
    app.installTranslator(missing)
    app._qt_missing_words = missing  # type: ignore[attr-defined]
    for folder in folders:
        if translator.load("qtbase_zh_CN", folder):
            app.installTranslator(translator)
            app._qt_zh_translator = translator  # type: ignore[attr-defined]  # kept alive with the app
            return
    log.warning("qtbase_zh_CN translation not found in %s", folders)


class MissingQtWords(QTranslator):
    """The words Qt's own zh_CN translation lacks (its file dialog's "Look in:" and "Files of type:"),
    so Qt's file dialog is Chinese throughout where the system's own dialog is not used."""

    WORDS = {
        ("QFileDialog", "&Look in:"): "查找范围(&L)：",
        ("QFileDialog", "Files of &type:"): "文件类型(&T)：",
    }

    def translate(
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        return self.WORDS.get((context, source))  # None: not this translator's word

    def isEmpty(self) -> bool:  # noqa: N802 (Qt's name)
        return False


class Session:
    """What stays open while the window is: the lock, the store (or what loads it) and the window itself."""

    def __init__(self, lock: DatabaseLock, store: Store | None, window: QMainWindow, loader: StoreLoader | None = None):
        self.lock, self.window, self.loader = lock, window, loader
        self._store = store

    @property
    def store(self) -> Store:
        if self.loader is not None:
            return self.loader.store()
        assert self._store is not None
        return self._store

    def close(self) -> None:
        opened = self.loader.close() if self.loader is not None else self._store
        if opened is not None:
            opened.close()
        # After 从备份恢复 the window holds a new Store.
        reopened = self.window.database.ready(wait=False) if isinstance(self.window, MainWindow) else getattr(self.window, "store", opened)
        if reopened is not None and reopened is not opened:
            reopened.close()
        self.lock.release()


class StoreLoader(QObject):
    """The store, loaded while the window (filled in from the database read directly) already takes
    input: SQLAlchemy is imported on another thread, then the store is opened on this one."""

    loaded = Signal()  # emitted from the loading thread; Qt delivers it on the GUI thread

    def __init__(self, db_path: Path, view: StoreReads):
        super().__init__()
        self.db_path, self.view = db_path, view
        self.identity = (view.db_id(), view.town())  # what the window was filled in from
        self._store: Store | None = None
        self._failure: BaseException | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._load, name="load-database-layer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _load(self) -> None:
        from actions.database import load_database_layer

        try:
            load_database_layer()
        except BaseException as exc:  # told where the store is wanted, on the GUI thread
            self._failure = exc
        self.loaded.emit()

    def store(self) -> Store:
        """The store, waiting for the import if it is still running (the first write can come early).
        Raises DomainError, saying what to do, when it cannot be had: the window keeps what it shows."""
        if self._store is not None:
            return self._store
        if self.closed:
            raise DomainError("窗口已关闭，数据库未打开")
        if self._thread.ident is None:
            self._thread.start()
        if self._thread.is_alive():
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self._thread.join()
            finally:
                QApplication.restoreOverrideCursor()
        if self._failure is not None:
            raise DomainError(
                f"本软件的数据库模块载入失败（{type(self._failure).__name__}：{self._failure}），现在不能保存。"
                f"{KEEP_WHAT_YOU_TYPED}如再次出现，请重新安装本软件（杀毒软件可能隔离了其中的文件）。"
            ) from self._failure
        from actions.database import open_database

        try:
            store = open_database(self.db_path, today=self.view.today)
        except DomainError as exc:
            raise DomainError(
                f"{exc.message}\n\n窗口中的数值是打开时读到的，现在不能保存。{KEEP_WHAT_YOU_TYPED}"
                "（数据库如已损坏，重新打开时会提示用备份恢复。）"
            ) from exc
        opened = (store.db_id(), store.town())
        if opened != self.identity:
            store.close()
            raise DomainError(
                f"打开过程中，{self.db_path} 被换成了另一个数据库（{opened[1] or '未绑定镇街'}），"
                f"为免把数值存进别的数据库，现在不能保存。{KEEP_WHAT_YOU_TYPED}"
            )
        self._store = store  # before the checks: a dialog they show lets the `loaded` signal in
        check_on_start_up(store)
        return store

    def close(self) -> Store | None:
        """Stop using the database; gives the store if it was opened (the caller closes it)."""
        self.closed = True
        if self._thread.ident is not None:
            self._thread.join()  # a window closed at once: let the import finish before the interpreter does
        self.view.close()
        return self._store


KEEP_WHAT_YOU_TYPED = "请记下尚未保存的数值，关闭软件后重新打开。"


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
    """The start-up duties (actions.database.start_up: daily backup, audit check, clock, a log set aside),
    and what they found told in one box; a clock earlier than a recorded time can be confirmed right."""
    from actions.database import confirm_clock, start_up

    found = start_up(store)
    notices = found.notices()
    if not notices:
        return
    log.warning("start-up: %s", " / ".join(notices))
    if not found.clock:
        QMessageBox.warning(None, APP_TITLE, "\n\n".join(notices))
        return
    box = QMessageBox(QMessageBox.Icon.Warning, APP_TITLE, "\n\n".join(notices))
    confirm = box.addButton("电脑时间是对的（以前保存时时间有误）", QMessageBox.ButtonRole.ActionRole)
    box.addButton("确定", QMessageBox.ButtonRole.AcceptRole)
    box.exec()
    if box.clickedButton() is confirm:
        try:
            confirm_clock(store)
        except DomainError as exc:
            show_error(None, exc)


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
            from actions.database import set_up_city, set_up_town

            if dialog.city_root() is not None:
                set_up_city(store, dialog.city_root() or "")
            else:
                set_up_town(store, dialog.town(), dialog.profile().__dict__)
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
        session = self._fill_in_quickly(lock) or _open_locked(lock, self.db_path, self.initial_quarter, self.skeleton)
        if session is not None:
            session.window.show()
        if session is None or session.window is not self.skeleton:
            self.skeleton.close()  # gave up, or a city database: its own window replaces the skeleton
        return session

    def _fill_in_quickly(self, lock: DatabaseLock) -> Session | None:
        """The window filled in from the database read directly while the store loads (see
        storage.glance); None where opening needs the store first (first run, damage, an older
        structure, a city database, a plan to repair)."""
        from actions.database import glance_database

        view = glance_database(self.db_path)
        if view is None:
            return None
        try:
            loader = StoreLoader(self.db_path, view)
            self.skeleton.attach_reads(view, self.initial_quarter, loader.store)
        except DomainError:  # e.g. a stored plan edited outside the program: the store's path offers the repair
            view.close()
            return None
        window = self.skeleton

        def adopt() -> None:
            if window.database.ready(wait=False) is not None or loader.closed:
                return
            try:
                window.database.adopt_store(loader.store())
            except DomainError as exc:
                show_error(window, exc)

        loader.loaded.connect(adopt)
        loader.start()
        return Session(lock, None, window, loader)


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
