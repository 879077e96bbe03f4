"""The clerk's main window: its layout, and the parts that do its jobs, wired together.

Each job is a small object the window owns (composition, not mixins), reached by name:
- `database` (gui/window_database.py): the store's life cycle, the one question whether it is ready
  (`database.ready()`), backup and restore, 单位信息设置 and 关于;
- `entry` (gui/window_entry.py): the quarter shown, its figures and findings, saving, 基期数, 退回修改;
- `returns` (gui/window_returns.py): export and the print preview;
- `imports` (gui/window_imports.py): the city's files (identity, plan, receipts) and 核验季报签名;
- `views` (gui/window_views.py): the 目标进度 and 历史与修改记录 tabs, built when first shown;
- `menus` (gui/window_menus.py): the menus and their shortcuts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.quarters import Quarter
from gui import APP_TITLE
from gui.clerk_dialogs import QuarterPicker
from gui.entry_form import EntryForm
from gui.token_dialogs import show_renewal_warning
from gui.window_database import WindowDatabase
from gui.window_entry import FigureEntry
from gui.window_imports import Imports
from gui.window_layout import fit_to_screen, restore_states, save_states
from gui.window_menus import WindowMenus
from gui.window_returns import Returns
from gui.window_views import TabViews

if TYPE_CHECKING:
    from actions.database import Store, StoreReads
    from gui.history_view import HistoryView
    from gui.progress_view import ProgressView


class MainWindow(QMainWindow):
    # The boxes and dialogs last shown, kept for tests and so that Python does not drop them.
    export_box: QMessageBox
    identity_box: QMessageBox
    about_box: QMessageBox
    current_task: object
    current_dialog: QWidget
    base_dialog: QWidget
    reason_dialog: QWidget

    def __init__(self, store: Store | None, initial_quarter: Quarter | None = None, parent: QWidget | None = None):
        """With a store, the window filled in; with None, its skeleton (frame, menus, the empty form),
        shown while the database opens and greyed out until `database.attach_store` fills it in."""
        super().__init__(parent)
        self.town = store.require_town() if store is not None else ""
        self.settings = QSettings()
        self._build()
        self.views = TabViews(self)
        self.chain_tabs()
        self.menus = WindowMenus(self)
        self.database = WindowDatabase(self, store)
        self.entry = FigureEntry(self)
        self.returns = Returns(self)
        self.imports = Imports(self)
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

    @property
    def store(self) -> Store:
        """The database's store, waited for if it is still loading (see `WindowDatabase.ready`)."""
        return self.database.store

    @property
    def reads(self) -> StoreReads:
        return self.database.reads

    @property
    def quarter(self) -> Quarter:
        assert self.entry.quarter is not None
        return self.entry.quarter

    @property
    def progress_view(self) -> ProgressView:
        return self.views.progress

    @property
    def history_view(self) -> HistoryView:
        return self.views.history

    def _remembered(self) -> dict[str, QSplitter | QHeaderView]:
        """What is remembered between runs, of the views built so far."""
        return {"entry_splitter": self.entry_splitter, **self.views.remembered()}

    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        bar = QHBoxLayout()
        self.town_label = QLabel(f"<b style='font-size:15pt'>{self.town}</b>")
        bar.addWidget(self.town_label)
        bar.addSpacing(16)
        bar.addWidget(QLabel("报告期："))
        self.quarter_box = QuarterPicker()
        self.quarter_box.setObjectName("quarter")
        self.quarter_box.setMinimumWidth(280)
        bar.addWidget(self.quarter_box)
        bar.addStretch(1)
        self.save_state = QLabel()
        self.save_state.setObjectName("save_state")
        bar.addWidget(self.save_state)
        self.save_button = QPushButton("保存（Ctrl+S）")
        self.save_button.setObjectName("save")
        self.save_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar.addWidget(self.save_button)
        layout.addLayout(bar)
        self.plan_line = QLabel()
        self.plan_line.setObjectName("plan_line")
        self.plan_line.setTextFormat(Qt.TextFormat.RichText)
        self.plan_line.setWordWrap(True)
        layout.addWidget(self.plan_line)
        self.lock_banner = QLabel()
        self.lock_banner.setObjectName("lock_banner")
        self.lock_banner.setStyleSheet("background:#e8f0fe; color:#0b4a8b; padding:6px; border-radius:4px;")
        self.lock_banner.setWordWrap(True)  # a long 需重新上报 reason wraps instead of widening the window
        self.lock_banner.setVisible(False)
        layout.addWidget(self.lock_banner)

        self.tabs = QTabWidget()
        entry_page = self.entry_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.form = EntryForm()
        scroll = self.entry_scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        entry_page.addWidget(scroll)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        self.findings_summary = QLabel()
        self.findings_summary.setObjectName("findings_summary")
        self.findings_summary.setWordWrap(True)
        side_layout.addWidget(self.findings_summary)
        self.findings_list = QListWidget()
        self.findings_list.setObjectName("findings")
        self.findings_list.setWordWrap(True)
        self.findings_list.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        side_layout.addWidget(self.findings_list)
        entry_page.addWidget(side)
        entry_page.setStretchFactor(0, 3)
        entry_page.setStretchFactor(1, 1)
        entry_page.setSizes([900, 260])
        self.tabs.addTab(entry_page, "填报")
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

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
        self.tabs.currentChanged.connect(self.views.refresh_visible)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self.keep_focus_in_view)

    # --- focus: typing starts in the first figure, and the focused box is always in view ----------

    def keep_focus_in_view(self, _old: QWidget | None = None, _new: QWidget | None = None) -> None:
        """The focused figure or 说明 box is always scrolled into view (Enter moves focus without scrolling),
        once the form has laid out what typing changed (a 说明 box appearing moves the rows below)."""
        QTimer.singleShot(0, self, self.scroll_to_focus)  # dropped if the window is gone by then

    def scroll_to_focus(self) -> None:
        focused = QApplication.focusWidget()
        if focused is not None and self.form.isAncestorOf(focused):
            self.entry_scroll.ensureWidgetVisible(focused, 40, 40)

    def focus_first_figure(self) -> None:
        """Typing starts in the first figure of the quarter shown, never in the quarter picker."""
        edits = list(self.form.value_edits.values())
        if edits:
            self.tabs.setCurrentIndex(0)
            edits[0].setFocus(Qt.FocusReason.OtherFocusReason)
            edits[0].selectAll()

    def chain_tabs(self) -> None:
        """From the quarter picker, Tab goes to the first figure, not to the tab bar."""
        chain = [self.quarter_box, *self.form.tab_chain]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.entry.quarter is not None and not self.entry.resolve_unsaved():
            event.ignore()
            return
        save_states(self.settings, "main_window", self, self._remembered())
        event.accept()
