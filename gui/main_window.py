"""The clerk's main window: its frame (gui/window_frame.py), and the parts that do its jobs, wired here.

Each job is a small object the window owns, given the frame and the other parts it uses:
- `database` (gui/window_database.py): the store's life cycle, the one question whether it is ready
  (`database.ready()`), backup and restore, 单位信息设置 and 关于;
- `entry` (gui/window_entry.py): the quarter shown, its figures and findings, saving, 基期数, 退回修改;
- `returns` (gui/window_returns.py): export and the print preview;
- `imports` (gui/window_imports.py): the city's files (identity, plan, receipts) and 核验季报签名;
- `views` (gui/window_views.py): the 目标进度 and 历史与修改记录 tabs, built when first shown;
- `menus` (gui/window_menus.py): the menus and their shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QHeaderView, QSplitter, QWidget

from core.quarters import Quarter
from gui import APP_TITLE
from gui.token_dialogs import show_renewal_warning
from gui.window_database import WindowDatabase
from gui.window_entry import FigureEntry
from gui.window_frame import ClerkFrame
from gui.window_imports import Imports
from gui.window_layout import fit_to_screen, restore_states, save_states
from gui.window_menus import WindowMenus
from gui.window_returns import Returns
from gui.window_views import TabViews

if TYPE_CHECKING:
    from actions.database import Store, StoreReads
    from gui.history_view import HistoryView
    from gui.progress_view import ProgressView


class MainWindow(ClerkFrame):
    def __init__(self, store: Store | None, initial_quarter: Quarter | None = None, parent: QWidget | None = None):
        """With a store, the window filled in; with None, its skeleton (frame, menus, the empty form),
        shown while the database opens and greyed out until `attach_store` fills it in."""
        super().__init__(store.require_town() if store is not None else "", parent)
        self.chain_tabs()
        self.menus = WindowMenus(self)
        self.database = WindowDatabase(self, store, resolve_unsaved=lambda: self.entry.resolve_unsaved())
        self.views = TabViews(self, self.database)
        self.entry = FigureEntry(self, self.database, self.views, self.menus.reopen_action)
        self.returns = Returns(self, self.database, self.entry)
        self.imports = Imports(self, self.database, self.entry)
        # What the clerk does, by the names the menus, the demo and tests use.
        self.save = self.entry.save
        self.reload = self.entry.reload
        self.select_quarter = self.entry.select_quarter
        self.reopen_quarter = self.entry.reopen_quarter
        self.enter_base = self.entry.enter_base
        self.export_return = self.returns.export_return
        self.preview = self.returns.preview
        self.import_identity = self.imports.import_identity
        self.import_plan = self.imports.import_plan
        self.import_city_answers = self.imports.import_city_answers
        self.backup = self.database.backup
        self.restore_backup = self.database.restore_backup
        self._connect_signals()
        if store is not None:
            self.entry.fill_and_load(initial_quarter)
            self.focus_first_figure()
            show_renewal_warning(self, store)
        fit_to_screen(self, self.settings, "main_window", QSize(1180, 820))
        restore_states(self.settings, "main_window", self._remembered())
        if store is None:
            self.setWindowTitle(APP_TITLE)
            self.setEnabled(False)  # no input before the database (and its lock) is ready
            self.statusBar().showMessage("正在打开数据库……")

    def attach_store(self, store: Store, initial_quarter: Quarter | None = None) -> None:
        """Fill in the skeleton once the database is open, and let the clerk type."""
        self.database.store = store
        self.entry.fill_in(initial_quarter)

    def attach_reads(self, reads: StoreReads, initial_quarter: Quarter | None, await_store: Callable[[], Store]) -> None:
        """Fill in the skeleton from the database read directly, and let the clerk type while the store
        loads; whatever needs more than reading asks `await_store` for it (see `WindowDatabase.store`)."""
        self.database.read_until_loaded(reads, await_store)
        self.entry.fill_in(initial_quarter)

    @property
    def store(self) -> Store:
        """The database's store, waited for if it is still loading (see `WindowDatabase.ready`)."""
        return self.database.store

    @property
    def reads(self) -> StoreReads:
        return self.database.reads

    @property
    def quarter(self) -> Quarter:
        return self.entry.shown

    @property
    def progress_view(self) -> ProgressView:
        return self.views.progress

    @property
    def history_view(self) -> HistoryView:
        return self.views.history

    def _remembered(self) -> dict[str, QSplitter | QHeaderView]:
        """What is remembered between runs, of the views built so far."""
        return {"entry_splitter": self.entry_splitter, **self.views.remembered()}

    def _connect_signals(self) -> None:
        menus, entry = self.menus, self.entry
        menus.save_action.triggered.connect(self.save)
        self.save_button.clicked.connect(self.save)
        menus.profile_action.triggered.connect(self.database.edit_profile)
        menus.plan_action.triggered.connect(lambda: self.import_plan())
        menus.receipt_action.triggered.connect(lambda: self.import_city_answers())
        menus.backup_action.triggered.connect(lambda: self.backup())
        menus.restore_action.triggered.connect(lambda: self.restore_backup())
        menus.about_action.triggered.connect(lambda: self.database.show_about())
        menus.quit_action.triggered.connect(self.close)
        menus.export_action.triggered.connect(lambda: self.export_return())
        menus.identity_action.triggered.connect(lambda: self.import_identity())
        menus.verify_action.triggered.connect(self.imports.open_verifier)
        menus.reopen_action.triggered.connect(lambda: self.reopen_quarter())
        menus.preview_return_action.triggered.connect(lambda: self.preview("pdf"))
        menus.preview_summary_action.triggered.connect(lambda: self.preview("summary"))
        self.database.changed_elsewhere.connect(entry.show_changed_elsewhere)
        self.database.restored.connect(entry.show_restored)
        self.quarter_box.activated.connect(entry.on_quarter_chosen)
        self.quarter_box.refused_typing.connect(
            lambda: self.statusBar().showMessage("报告期用鼠标选择，或用上下方向键；按 Tab 到第一项数值", 8000)
        )
        self.form.edited.connect(entry.update_title)
        self.form.findings_changed.connect(entry.show_findings)
        self.form.findings_changed.connect(lambda _findings: self.keep_focus_in_view())
        self.form.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.form.base_requested.connect(lambda code: self.enter_base(code))
        self.findings_list.itemClicked.connect(entry.on_finding_clicked)
        self.tabs.currentChanged.connect(lambda _index: self.views.refresh_visible(entry.quarter))
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self.keep_focus_in_view)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.entry.quarter is not None and not self.entry.resolve_unsaved():
            event.ignore()
            return
        save_states(self.settings, "main_window", self, self._remembered())
        event.accept()
