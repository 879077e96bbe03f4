"""The clerk's window's database: the store's life cycle (read directly first, the store adopted when
loaded, reopened after a restore), the one question whether it is ready, backup and restore, the profile
and 关于."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.errors import DomainError
from gui import APP_TITLE, questions
from gui import receipts as round_trip
from gui.errors import show_error
from gui.setup_dialog import SetupDialog
from gui.token_dialogs import show_renewal_warning

if TYPE_CHECKING:
    from actions.database import Store, StoreReads
    from gui.window_frame import ClerkFrame


class WindowDatabase(QObject):
    """What the window reads from and writes to. Until the store has loaded, the window reads the
    database directly (`reads`); whatever needs more asks `ready()`, which waits for the store."""

    changed_elsewhere = Signal()  # the store, once loaded, showed another program had written meanwhile
    restored = Signal()  # 从备份恢复 replaced the database: what is shown must be read again

    def __init__(self, frame: ClerkFrame, store: Store | None, resolve_unsaved: Callable[[], bool]):
        super().__init__(frame)
        self.frame, self.resolve_unsaved = frame, resolve_unsaved
        self._store: Store | None = store
        self._reads: StoreReads | None = store
        self._await_store: Callable[[], Store] | None = None

    def read_until_loaded(self, reads: StoreReads, await_store: Callable[[], Store]) -> None:
        """Read the database directly while the store loads; `await_store` gives it (see `store`)."""
        self._reads, self._await_store = reads, await_store

    def adopt_store(self, store: Store) -> None:
        """The store has loaded: everything goes through it from now on. The figures shown were read
        from the same database with the same queries, so nothing is filled in again (nor typed lost) —
        unless the database changed in between (another program wrote to it), then the quarters are
        listed again and an unedited quarter is shown again."""
        view = self._reads
        self.store = store
        self._await_store = None
        if view is None or view is store:
            return
        same = view.shows_the_same_as(store)
        view.close()
        if not same:
            self.changed_elsewhere.emit()

    @property
    def store(self) -> Store:
        """The database's store; a window filled in before it loaded waits for it here, which only a
        write or a view that needs more than reading does."""
        if self._store is None:
            assert self._await_store is not None, "the window has no database yet"
            self.adopt_store(self._await_store())
        assert self._store is not None
        return self._store

    @store.setter
    def store(self, store: Store) -> None:
        self._store = self._reads = store
        show_renewal_warning(self.frame, store)

    @property
    def reads(self) -> StoreReads:
        """What the window reads from: the store, or until it has loaded, the database read directly."""
        reads = self._store or self._reads
        assert reads is not None, "the window has no database yet"
        return reads

    def ready(self, wait: bool = True) -> Store | None:
        """The one question whether the database is ready: its store, or None.

        An action about to use the store asks with `wait` (the default): a store still loading is waited
        for; None, after telling the clerk why, when it cannot open (the skeleton, which has no database
        yet, gives None silently). Start-up, closing and tests ask without `wait`: the store only if it has
        already been opened, never waiting nor telling."""
        if not wait or self._reads is None:
            return self._store
        try:
            return self.store
        except DomainError as exc:
            show_error(self.frame, exc)
            return None

    # --- the database's own files: backup and restore -------------------------------------------

    def backup(self, target: Path | None = None) -> Path | None:
        store = self.ready()
        if store is None:
            return None
        settings = self.frame.settings
        if target is None:
            name = f"town_returns_{self.frame.town}_{datetime.now():%Y%m%d_%H%M}.sqlite3"
            start = Path(str(settings.value("backup/folder", str(Path.home())))) / name
            chosen, _ = QFileDialog.getSaveFileName(self.frame, "备份数据库到", str(start), "数据库备份 (*.sqlite3)")
            if not chosen:
                return None
            target = Path(chosen)
            settings.setValue("backup/folder", str(target.parent))
        from actions.database import backup

        try:
            written = backup(store, target)
        except (DomainError, OSError) as exc:
            show_error(self.frame, exc, title="备份失败")
            return None
        QMessageBox.information(self.frame, "备份完成", f"已备份到：\n{written}")
        return written

    def restore_backup(self, source: Path | None = None) -> bool:
        """Replace the database with a backup (checked first; the current one is kept as a backup)."""
        store = self.ready()
        if store is None or not self.resolve_unsaved():
            return False
        from actions.database import restore

        window = self.frame
        backups = store.path.parent / "backups"  # where the daily and pre-submission backups are kept
        if source is None:
            chosen, _ = QFileDialog.getOpenFileName(
                window,
                "选择要恢复的备份",
                str(backups if backups.is_dir() else window.settings.value("backup/folder", str(Path.home()))),
                "数据库备份 (*.sqlite3 *.db);;所有文件 (*)",
            )
            if not chosen:
                return False
            source = Path(chosen)
        if not questions.confirm(window, "从备份恢复", self.restore_question(source)):
            return False
        path, today = store.path, store.today
        store.close()
        restored = None
        failure: BaseException | None = None
        try:
            restored = restore(path, source)
        except (DomainError, OSError) as exc:
            failure = exc
        from actions.database import open_database

        self.store = open_database(path, today=today)
        if failure is not None:
            show_error(window, failure, title="未恢复")
            return False
        self.restored.emit()
        assert restored is not None
        QMessageBox.information(window, "恢复完成", restored.message)
        return True

    def restore_question(self, source: Path) -> str:
        """What a restore replaces, in words: the database now (its quarters, last change) and the backup."""
        history = self.store.history()
        entered = [q for q in sorted(history) if history[q]]
        latest = self.store.latest_recorded_time()
        try:
            made = f"，文件时间 {datetime.fromtimestamp(source.stat().st_mtime):%Y-%m-%d %H:%M}"
        except OSError:
            made = ""
        now = f"现有 {len(entered)} 个季度的数值" + (f"（最近填到{entered[-1].label}）" if entered else "")
        if latest is not None:
            now += f"，最后一次修改于 {latest:%Y-%m-%d %H:%M}"
        return (
            f"将用备份 {source.name}（{source.parent}{made}）替换当前数据库：\n{self.store.path}\n\n"
            f"当前数据库{now}。恢复后，备份之后保存的数值、导入的规划和证书都会回到备份时的样子。\n"
            "当前数据库会先另存为一份备份，需要时可以再恢复回来。\n\n确定恢复吗？"
        )

    # --- what the database says of the town: 单位信息设置 and 关于 ----------------------------------

    def edit_profile(self) -> bool:
        store = self.ready()
        if store is None:
            return False
        dialog = SetupDialog(self.frame.town, store.profile(), self.frame)
        self.frame.current_dialog = dialog
        if not dialog.exec():
            return False
        from actions.database import update_profile

        try:
            update_profile(store, dialog.profile().__dict__)
        except DomainError as exc:
            show_error(self.frame, exc)
            return False
        return True

    def about_text(self) -> str:
        from actions import __version__

        store = self.store
        plans = "\n".join(f"　{p.name}（{p.first.label}至{p.last.label}）" for p in store.plans()) or "　无"
        from actions.database import verify_audit

        audit = verify_audit(store)
        return (
            f"{APP_TITLE}　版本 {__version__}\n\n"
            f"镇街：{self.frame.town}\n"
            f"数据库：{store.path}\n"
            f"签名证书：{store.identity_description() or '尚未导入'}\n"
            f"已导入的规划：\n{plans}\n"
            f"{round_trip.about_lines(store)}\n"
            f"修改记录：{audit.check.message}"
        )

    def show_about(self) -> QMessageBox | None:
        if self.ready() is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Information, "关于", self.about_text(), parent=self.frame)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.frame.about_box = box
        box.open()
        return box
