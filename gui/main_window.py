"""The clerk's main window: quarter picker, entry form with live findings, progress and history."""

from __future__ import annotations

import functools
import html
import logging
import tempfile
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from PySide6.QtCore import QEvent, QObject, QSettings, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QBrush, QCloseEvent, QColor, QDesktopServices, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import DomainError
from core.plans import SAMPLE_MARK
from core.quarters import Quarter
from core.validation import ERROR, LEVEL_NAMES, NOTICE, WARNING, Finding
from gui import receipts as round_trip
from gui.clerk_dialogs import QuarterPicker
from gui.entry_form import EntryForm
from gui.errors import show_error
from gui.setup_dialog import SetupDialog
from gui.tasks import BackgroundTask
from gui.token_dialogs import show_renewal_warning
from gui.window_layout import fit_to_screen, restore_states, save_states

# Printing, verification and the return's files load when first used: the window paints without them.
if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrintPreviewDialog

    from actions.database import Store, StoreReads
    from actions.figures import FiguresChangedElsewhere
    from actions.returns import ExportResult, Identity, ReturnData
    from gui.history_view import HistoryView
    from gui.progress_view import ProgressView
    from gui.verify_dialog import VerifyDialog

log = logging.getLogger(__name__)
APP_TITLE = "镇街人社指标填报系统"
LEVEL_COLOURS = {ERROR: "#c62828", WARNING: "#b35900", NOTICE: "#555555"}
SAVED_STYLE = "QLabel { color: #1a7f37; background: #e6f4ea; border: 1px solid #1a7f37; padding: 3px 8px; }"
PROGRESS_TAB, HISTORY_TAB = 1, 2
TAB_TITLES = {PROGRESS_TAB: "目标进度", HISTORY_TAB: "历史与修改记录"}
UNSAVED_STYLE = "QLabel { color: #7a3d00; background: #fff8e1; border: 1px solid #b35900; padding: 3px 8px; }"


Action = TypeVar("Action", bound=Callable[..., object])


def needs_store(failed: object) -> Callable[[Action], Action]:
    """An action that needs the store (not only the window's first reading of the database) waits for
    it to load; if it cannot open, the clerk has been told why and the action gives `failed`."""

    def decorate(action: Action) -> Action:
        @functools.wraps(action)
        def run(window: MainWindow, *args: object, **kwargs: object) -> object:
            if not window.store_ready():
                return failed
            return action(window, *args, **kwargs)

        return cast(Action, run)

    return decorate


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


def ask_passphrase(parent: QWidget, prompt: str) -> bytes | None:
    text, ok = QInputDialog.getText(parent, "签名证书口令", prompt, QLineEdit.EchoMode.Password)
    return text.encode("utf-8") if ok and text else None


class MainWindow(QMainWindow):
    def __init__(self, store: Store | None, initial_quarter: Quarter | None = None, parent: QWidget | None = None):
        """With a store, the window filled in; with None, its skeleton (frame, menus, the empty form),
        shown while the database opens and greyed out until `attach_store` fills it in."""
        super().__init__(parent)
        self._store: Store | None = store
        self._reads: StoreReads | None = store
        self._await_store: Callable[[], Store] | None = None
        self.town = store.require_town() if store is not None else ""
        self.settings = QSettings()
        self._quarter: Quarter | None = None
        self._build()
        self._connect_signals()
        if store is not None:
            self._fill_and_load(initial_quarter)
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
        self.store = store
        self._fill_in(initial_quarter)

    def attach_reads(self, reads: StoreReads, initial_quarter: Quarter | None, await_store: Callable[[], Store]) -> None:
        """Fill in the skeleton from the database read directly, and let the clerk type while the store
        loads; whatever needs more than reading asks `await_store` for it (see `store`)."""
        self._reads, self._await_store = reads, await_store
        self._fill_in(initial_quarter)

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
            self._refresh_quarter_labels()
            if not self.form.is_dirty():
                self._load_quarter(self.quarter)

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
        show_renewal_warning(self, store)

    @property
    def reads(self) -> StoreReads:
        """What the window reads from: the store, or until it has loaded, the database read directly."""
        reads = self._store or self._reads
        assert reads is not None, "the window has no database yet"
        return reads

    def store_ready(self) -> bool:
        """Wait for the store if it is still loading; False (the clerk told why) if it cannot open,
        or for the skeleton, which has no database yet."""
        if self._reads is None:
            return False
        try:
            self.store  # noqa: B018  # the property loads it
        except DomainError as exc:
            show_error(self, exc)
            return False
        return True

    def has_store(self) -> bool:
        return self._store is not None

    def opened_store(self) -> Store | None:
        """The store if it is open, without waiting for it."""
        return self._store

    def _fill_in(self, initial_quarter: Quarter | None) -> None:
        self.town = self.reads.require_town()
        self.town_label.setText(f"<b style='font-size:15pt'>{self.town}</b>")
        self._fill_and_load(initial_quarter)
        self.statusBar().clearMessage()
        self.setEnabled(True)
        self.focus_first_figure()

    def _fill_and_load(self, initial_quarter: Quarter | None) -> None:
        self._fill_quarters()
        start = initial_quarter or Quarter.latest_ended(self.reads.today())
        index = self.quarter_box.findData(start.code)
        self.quarter_box.setCurrentIndex(index if index >= 0 else self.quarter_box.count() - 1)
        self._load_quarter(Quarter.parse(self.quarter_box.currentData()))

    def _remembered(self) -> dict[str, QSplitter | QHeaderView]:
        """What is remembered between runs, of the views built so far (see `history_view`)."""
        parts: dict[str, QSplitter | QHeaderView] = {"entry_splitter": self.entry_splitter}
        history = self._views.get(HISTORY_TAB)
        if history is not None:
            from gui.history_view import HistoryView

            assert isinstance(history, HistoryView)
            parts["history_splitter"] = history.splitter
            if history.audit_columns_set:  # never sized yet: nothing of the clerk's to keep
                parts["audit_columns"] = history.audit.horizontalHeader()
        return parts

    # --- the progress and history tabs, built when first shown (they are not needed to start typing) ---

    @property
    def progress_view(self) -> ProgressView:
        from gui.progress_view import ProgressView

        view = self._view(PROGRESS_TAB, ProgressView)
        assert isinstance(view, ProgressView)
        return view

    @property
    def history_view(self) -> HistoryView:
        from gui.history_view import HistoryView

        built = HISTORY_TAB in self._views
        view = self._view(HISTORY_TAB, HistoryView)
        assert isinstance(view, HistoryView)
        if not built:
            restored = restore_states(
                self.settings,
                "main_window",
                {"history_splitter": view.splitter, "audit_columns": view.audit.horizontalHeader()},
            )
            view.audit_columns_set = "audit_columns" in restored
        return view

    def _view(self, index: int, make: Callable[[], QWidget]) -> QWidget:
        """The tab's view, made now and put in place of its placeholder if this is the first call."""
        view = self._views.get(index)
        if view is None:
            view = self._views[index] = make()
            placeholder = self.tabs.widget(index)
            current = self.tabs.currentIndex()
            blocked = self.tabs.blockSignals(True)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, view, TAB_TITLES[index])
            self.tabs.setCurrentIndex(current)
            self.tabs.blockSignals(blocked)
            if placeholder is not None:
                placeholder.deleteLater()
        return view

    # --- construction ------------------------------------------------------------------------

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
        self._views: dict[int, QWidget] = {}
        for index in (PROGRESS_TAB, HISTORY_TAB):
            self.tabs.addTab(QWidget(), TAB_TITLES[index])  # the view itself is made when first shown
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self._chain_tabs()

        menu = self.menuBar().addMenu("文件(&F)")
        self.save_action = QAction("保存(&S)", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        menu.addAction(self.save_action)
        menu.addSeparator()
        self.identity_action = QAction("导入签名证书(&C)…", self)
        menu.addAction(self.identity_action)
        self.plan_action = QAction("导入规划(&P)…", self)
        menu.addAction(self.plan_action)
        self.receipt_action = QAction("导入市局回执(&R)…", self)  # receipts and send-backs (gui.receipts)
        menu.addAction(self.receipt_action)
        menu.addSeparator()
        self.backup_action = QAction("备份(&B)…", self)
        menu.addAction(self.backup_action)
        self.restore_action = QAction("从备份恢复(&R)…", self)
        menu.addAction(self.restore_action)
        menu.addSeparator()
        self.profile_action = QAction("单位信息设置(&U)…", self)
        menu.addAction(self.profile_action)
        self.about_action = QAction("关于（版本、数据库位置）(&A)…", self)
        menu.addAction(self.about_action)
        menu.addSeparator()
        returns = self.menuBar().addMenu("季报(&R)")
        self.export_action = QAction("导出季报（Excel、PDF、摘要）…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        returns.addAction(self.export_action)
        self.reopen_action = QAction("退回修改（解除锁定）…", self)
        returns.addAction(self.reopen_action)
        returns.addSeparator()
        self.preview_return_action = QAction("打印预览：季报…", self)
        self.preview_summary_action = QAction("打印预览：一页摘要…", self)
        self.preview_summary_action.setShortcut(QKeySequence.StandardKey.Print)
        returns.addAction(self.preview_return_action)
        returns.addAction(self.preview_summary_action)
        returns.addSeparator()
        self.verify_action = QAction("核验季报签名…", self)
        returns.addAction(self.verify_action)
        self.quit_action = QAction("退出(&Q)", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        self.addAction(self.save_action)
        for action in self.shortcut_actions():
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        app = QApplication.instance()
        if isinstance(app, QApplication):  # a menu shortcut wins over a text box's own use of the keys (Ctrl+E: end of line)
            app.installEventFilter(self)
            app.focusChanged.connect(self._keep_focus_in_view)

    def shortcut_actions(self) -> list[QAction]:
        """The window's actions that have a keyboard shortcut, its menus' and its own."""
        actions = [*self.actions()]
        for menu in self.menuBar().findChildren(QMenu):
            actions += menu.actions()
        return [a for a in dict.fromkeys(actions) if not a.shortcut().isEmpty()]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and isinstance(watched, QWidget)
            and watched.window() is self
        ):
            pressed = QKeySequence(event.keyCombination())
            if any(action.shortcut() == pressed for action in self.shortcut_actions()):
                event.ignore()  # not claimed by the box: the menu's shortcut runs
                return True
        return super().eventFilter(watched, event)

    def _keep_focus_in_view(self, _old: QWidget | None = None, _new: QWidget | None = None) -> None:
        """The focused figure or 说明 box is always scrolled into view (Enter moves focus without scrolling),
        once the form has laid out what typing changed (a 说明 box appearing moves the rows below)."""
        QTimer.singleShot(0, self, self._scroll_to_focus)  # dropped if the window is gone by then

    def _scroll_to_focus(self) -> None:
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

    def _chain_tabs(self) -> None:
        """From the quarter picker, Tab goes to the first figure, not to the tab bar."""
        chain = [self.quarter_box, *self.form.tab_chain]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)

    def _connect_signals(self) -> None:
        self.save_action.triggered.connect(self.save)
        self.save_button.clicked.connect(self.save)
        self.profile_action.triggered.connect(self.edit_profile)
        self.plan_action.triggered.connect(lambda: self.import_plan())
        self.receipt_action.triggered.connect(lambda: self.import_city_answers())
        self.backup_action.triggered.connect(lambda: self.backup())
        self.restore_action.triggered.connect(lambda: self.restore_backup())
        self.about_action.triggered.connect(lambda: self.show_about())
        self.quit_action.triggered.connect(self.close)
        self.export_action.triggered.connect(lambda: self.export_return())
        self.identity_action.triggered.connect(lambda: self.import_identity())
        self.verify_action.triggered.connect(self.open_verifier)
        self.reopen_action.triggered.connect(lambda: self.reopen_quarter())
        self.preview_return_action.triggered.connect(lambda: self.preview("pdf"))
        self.preview_summary_action.triggered.connect(lambda: self.preview("summary"))
        self.quarter_box.activated.connect(self._on_quarter_chosen)
        self.quarter_box.refused_typing.connect(
            lambda: self.statusBar().showMessage("报告期用鼠标选择，或用上下方向键；按 Tab 到第一项数值", 8000)
        )
        self.form.edited.connect(self._on_form_edited)
        self.form.findings_changed.connect(self._on_findings_changed)
        self.form.findings_changed.connect(lambda _findings: self._keep_focus_in_view())
        self.form.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.form.base_requested.connect(lambda code: self.enter_base(code))
        self.findings_list.itemClicked.connect(self._on_finding_clicked)
        self.tabs.currentChanged.connect(self._on_tab_changed)

    def _fill_quarters(self) -> None:
        """The quarters from the first plan's to today's, newest first, each named as `status` names it."""
        from actions.quarters import statuses

        first = min((p.first for p in self.reads.plans()), default=Quarter.latest_ended(self.reads.today()))
        last = Quarter.containing(self.reads.today())
        self.quarter_box.clear()
        for state in reversed(statuses(self.reads)):
            if first <= state.quarter <= last:
                answer = "" if state.status.revision is None else round_trip.city_mark(self.reads, state.quarter, state.status.revision)
                self.quarter_box.addItem(f"{state.quarter.label}（{state.label}{answer}）", state.quarter.code)

    # --- quarter -----------------------------------------------------------------------------

    @property
    def quarter(self) -> Quarter:
        assert self._quarter is not None
        return self._quarter

    def _load_quarter(self, quarter: Quarter) -> None:
        self._quarter = quarter
        status = self.reads.quarter_status(quarter)
        self.form.set_read_only(status.locked)
        self.save_button.setEnabled(not status.locked)
        self.reopen_action.setEnabled(status.locked)
        self.lock_banner.setVisible(status.state != "draft")
        if status.stale_because:
            self.lock_banner.setText(
                f"{quarter.label}{status.label}：{status.stale_because}。请用“季报 → 退回修改”并写明原因，"
                f"再重新导出第 {(status.revision or 0) + 1} 版。"
            )
        elif status.locked:
            self.lock_banner.setText(
                f"{quarter.label}{status.label}，数值已锁定。如需修改，请用“季报 → 退回修改”并写明原因，再次导出将是第 {(status.revision or 0) + 1} 版。"
            )
        else:
            self.lock_banner.setText(
                f"{quarter.label}{status.label}（原第 {status.revision} 版），修改后请重新导出上报。"
            )
        if self.form.set_catalogue(self.reads.catalogue_for(quarter)):
            self._chain_tabs()
        self._show_plan_line(quarter)
        self.form.load(
            self.town,
            quarter,
            self.reads.plan_for(quarter),
            self.reads.history(),
            self.reads.explanations(quarter),
            self.reads.today(),
            self.reads.stock_bases(self.reads.plan_for(quarter)),
            self.reads.migrated_case_quarters(),
        )
        self._show_save_state("", "")
        self._update_title()
        self._refresh_visible_tab()

    def _show_plan_line(self, quarter: Quarter) -> None:
        plan = self.reads.plan_for(quarter)
        if plan is None:
            text = f"{quarter.label}不在任何已导入的规划期内，没有目标（可用“文件 → 导入规划”导入市局下发的规划）"
        else:
            text = f"规划：{html.escape(plan.name)}（{plan.first.label}至{plan.last.label}）"
            if plan.form_number and plan.form_number != SAMPLE_MARK:
                text += f"　表号：{html.escape(plan.form_number)}"
            if plan.sample:
                text += f"　<b style='color:#c62828'>{SAMPLE_MARK}：演示用，不是市局下发的正式目标</b>"
        self.plan_line.setText(text)
        self.plan_line.setToolTip(f"规划编号：{plan.plan_id}" if plan is not None and plan.plan_id else "")

    def _on_quarter_chosen(self, index: int) -> None:
        chosen = Quarter.parse(self.quarter_box.itemData(index))
        if chosen == self._quarter:
            return
        if not self.resolve_unsaved(f"{self.quarter.label}"):
            self.quarter_box.setCurrentIndex(self.quarter_box.findData(self.quarter.code))
            return
        self._load_quarter(chosen)

    def reload(self) -> None:
        """Show the database as it is now, the quarters' states and this quarter's figures, dropping
        edits not saved: after a reopen, an export or an import here, or a change made elsewhere."""
        self._refresh_quarter_labels()
        self._load_quarter(self.quarter)

    def select_quarter(self, quarter: Quarter) -> None:
        """Choose a quarter as the picker would (used by tests and the demo)."""
        index = self.quarter_box.findData(quarter.code)
        self.quarter_box.setCurrentIndex(index)
        self._on_quarter_chosen(index)

    # --- saving ------------------------------------------------------------------------------

    @needs_store(False)
    def enter_base(self, code: str, value: int | None = None) -> bool:
        """录入基期数 of a stock for the quarter's plan (asked for when `value` is not given)."""
        plan = self.store.plan_for(self.quarter)
        if plan is None:
            show_error(self, f"{self.quarter.label}不在任何已导入的规划期内，没有基期数", title="不能录入基期数")
            return False
        if value is None:
            from gui.clerk_dialogs import BaseDialog
            from gui.plan_dialogs import run_modal

            name = plan.catalogue.display_name(code)
            dialog = BaseDialog(self, name, plan.name, plan.first.year - 1, self.store.stock_bases(plan).get(code))
            self.base_dialog = dialog
            accepted = run_modal(dialog)
            typed = dialog.value()
            if not accepted or typed is None:
                return False
            value = typed
        from actions.figures import stock_bases

        try:
            bases = stock_bases(self.store, [(code, value)], self.quarter)
        except DomainError as exc:
            show_error(self, exc, title="不能录入基期数")
            return False
        self.form.set_bases(bases.bases)
        self._refresh_visible_tab()
        self.statusBar().showMessage(f"已保存{plan.catalogue.display_name(code)}基期数 {value:,}", 5000)
        return True

    @needs_store(False)
    def reopen_quarter(self, reason: str | None = None) -> bool:
        if reason is None:
            from gui.clerk_dialogs import ReasonDialog
            from gui.plan_dialogs import run_modal

            dialog = ReasonDialog(self, self.quarter.label)
            self.reason_dialog = dialog
            if not run_modal(dialog):
                return False
            reason = dialog.reason()
        from actions.figures import reopen

        try:
            reopened = reopen(self.store, self.quarter, reason)
        except DomainError as exc:
            show_error(self, exc, title="不能退回修改")
            return False
        self.reload()
        self.statusBar().showMessage(reopened.message, 15000)
        return True

    @needs_store(False)
    def save(self) -> bool:
        if self.store.quarter_status(self.quarter).locked:
            show_error(self, f"{self.quarter.label}已上报，数值已锁定；如需修改请先退回修改", title="不能保存")
            return False
        values, invalid = self.form.parsed()
        blocking = [f for f in self.form.findings() if f.level == ERROR]
        if invalid or blocking:
            reasons = "\n".join(f"· {f.message}" for f in blocking)
            show_error(self, f"{self.quarter.label}有错误，未保存：\n{reasons}", title="不能保存")
            return False
        explanations = self.form.explanations()
        loaded, loaded_explanations = self.form.loaded()
        from actions.figures import FiguresChangedElsewhere, SaveRefused, save_figures

        try:
            try:
                changes = save_figures(self.store, self.quarter, values, explanations, loaded, loaded_explanations)
            except FiguresChangedElsewhere as exc:
                if not self._overwrite_changed_elsewhere(exc):
                    return False
                changes = save_figures(self.store, self.quarter, values, explanations)
        except SaveRefused as exc:
            show_error(self, exc, title="不能保存")
            return False
        except DomainError as exc:
            show_error(self, exc)
            return False
        self.form.mark_saved(values, explanations)
        self._refresh_quarter_labels()
        self._refresh_visible_tab()
        saved = f"已保存 {self.quarter.label}（{datetime.now():%H:%M:%S}，{len(changes)} 项修改）"
        self._show_save_state(f"✓ {saved}", SAVED_STYLE)
        self.statusBar().showMessage(saved, 5000)
        log.info("saved %s: %d changes", self.quarter.code, len(changes))
        return True

    def _overwrite_changed_elsewhere(self, exc: FiguresChangedElsewhere) -> bool:
        """Ask before this window's figures replace ones changed elsewhere since it loaded them."""
        box = QMessageBox(QMessageBox.Icon.Warning, "数据已在别处修改", exc.message, parent=self)
        overwrite = box.addButton("用本窗口的数值覆盖", QMessageBox.ButtonRole.DestructiveRole)
        reload = box.addButton("重新载入（放弃本窗口的修改）", QMessageBox.ButtonRole.ResetRole)
        box.addButton("取消", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        if box.clickedButton() is reload:
            self._load_quarter(self.quarter)
        return box.clickedButton() is overwrite

    def resolve_unsaved(self, what: str) -> bool:
        """True when it is safe to move on: nothing unsaved, saved now, or discarded on purpose."""
        if not self.form.is_dirty():
            return True
        choice = ask_unsaved(self, what)
        if choice is Unsaved.SAVE:
            return self.save()
        return choice is Unsaved.DISCARD

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._quarter is not None and not self.resolve_unsaved(self.quarter.label):
            event.ignore()
            return
        save_states(self.settings, "main_window", self, self._remembered())
        event.accept()

    # --- returns -----------------------------------------------------------------------------

    def _ready_return(self) -> ReturnData | None:
        """The quarter's return as saved for a print preview (an unfinished quarter too, as a draft), or None
        after telling the clerk why it cannot be made."""
        if not self.resolve_unsaved(self.quarter.label):
            return None
        from actions.returns import prepare_export

        try:
            return prepare_export(self.store, self.quarter, preview=True)
        except DomainError as exc:
            show_error(self, exc, title="还不能导出")
            return None

    def _signing_identity(self) -> tuple[bool, Identity | None]:
        """(go on, identity): a signed export asks for the passphrase; without an identity, a draft."""
        from actions.returns import has_identity, open_identity

        if not has_identity(self.store):
            answer = QMessageBox.question(
                self,
                "没有签名证书",
                "尚未导入市局签发的签名证书，只能导出“未签名 草稿”，不能作为正式季报上报。\n要导出草稿吗？",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            return answer == QMessageBox.StandardButton.Yes, None
        from actions.returns import refuse_wrong_clock, signing_notice

        try:
            refuse_wrong_clock(self.store, quarter=self.quarter)
        except DomainError as exc:
            show_error(self, exc, title="电脑时间不对")
            return False, None
        from gui.token_dialogs import ask_pin, signs_with_token

        if signs_with_token(self.store):  # the key is on a USB key: its PIN, tried once
            passphrase = ask_pin(self, self.store, signing_notice(self.quarter))
        else:
            passphrase = ask_passphrase(self, f"{signing_notice(self.quarter)}\n\n请输入签名证书的口令：")
        if passphrase is None:
            return False, None
        try:
            return True, open_identity(self.store, passphrase)
        except DomainError as exc:
            show_error(self, exc, title="不能签名")
            return False, None

    @needs_store(None)
    def export_return(self, folder: Path | None = None) -> BackgroundTask | None:
        if not self.resolve_unsaved(self.quarter.label):
            return None
        from actions.returns import (
            NoPlanForQuarter,
            has_identity,
            missing_sign_off,
            planned_files,
            prepare_export,
            record_signed,
            refuse_no_plan,
            reserve_for_signing,
            write_files,
        )

        try:
            if has_identity(self.store):  # as `export` refuses a signed return no plan covers; a draft may be made
                refuse_no_plan(self.store, self.quarter)
            data = prepare_export(self.store, self.quarter)  # refuse (unfinished quarter, errors) before the passphrase
        except NoPlanForQuarter as exc:
            show_error(self, f"{exc.message}\n请用“文件 → 导入规划…”导入该规划文件，再导出。", title="还不能导出")
            return None
        except DomainError as exc:
            show_error(self, exc, title="还不能导出")
            return None

        if has_identity(self.store) and missing_sign_off(self.store):  # asked before the passphrase, as `export` refuses
            if not self._complete_sign_off():
                return None
            data = prepare_export(self.store, self.quarter)  # again, with the names the sign-off prints
        go_on, identity = self._signing_identity()
        if not go_on:
            return None
        try:
            if identity is not None:
                data = reserve_for_signing(self.store, data)
        except DomainError as exc:
            show_error(self, exc, title="还不能导出")
            return None
        if folder is None:
            start = str(self.settings.value("export/folder", str(Path.home())))
            chosen = QFileDialog.getExistingDirectory(self, "选择保存季报的文件夹", start)
            if not chosen:
                return None
            folder = Path(chosen)
            self.settings.setValue("export/folder", chosen)
        overwrite = False
        if any(p.exists() for p in planned_files(data, folder)):
            answer = QMessageBox.question(
                self,
                "文件已存在",
                f"{folder} 中已有{data.quarter.label}的季报文件，要覆盖吗？",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
            overwrite = True

        def exported(result: ExportResult) -> None:
            if identity is not None:
                try:
                    result = record_signed(self.store, data, result)
                except (DomainError, OSError) as exc:
                    show_error(self, exc, title="导出失败")
                    return
                finally:
                    self.reload()
                self.remember_signed(data.quarter, {"pdf": result.pdf, "summary": result.summary})
            self.show_exported(result)

        task = BackgroundTask(
            self,
            "正在导出季报",
            lambda step: write_files(data, folder, overwrite, step, identity),
            exported,
            lambda error: show_error(self, error, title="导出失败"),
        )
        self.current_task = task
        task.start()
        return task

    def show_exported(self, result: ExportResult) -> QMessageBox:
        """The 导出完成 box: the files written and a button that opens their folder."""
        names = "\n".join(p.name for p in result.paths)
        if not result.signed:
            names += "\n（未签名 草稿）"
        folder = result.workbook.parent
        self.statusBar().showMessage(f"已导出到 {folder}", 10000)
        box = QMessageBox(QMessageBox.Icon.Information, "导出完成", f"已在 {folder} 生成：\n{names}", parent=self)
        box.setObjectName("export_done")
        open_button = box.addButton("打开所在文件夹", QMessageBox.ButtonRole.ActionRole)
        open_button.setObjectName("open_folder")
        box.addButton("确定", QMessageBox.ButtonRole.AcceptRole)
        open_button.clicked.connect(lambda: open_folder(folder))
        self.export_box = box
        box.open()
        return box

    def _signed_key(self, quarter: Quarter, which: str) -> str:
        return f"signed/{self.store.db_id()}/{quarter.code}/{which}"

    def remember_signed(self, quarter: Quarter, paths: dict[str, Path]) -> None:
        """Where this quarter's signed files were written, for printing them later."""
        for which, path in paths.items():
            self.settings.setValue(self._signed_key(quarter, which), str(path))

    def _signed_file(self, data: ReturnData, which: str, revision: int) -> Path | None:
        """The signed PDF of a submitted quarter (where it was exported, or chosen by the clerk), checked
        to be this town's quarter and revision; None after telling the clerk why not."""
        from actions.returns import planned_files

        label = f"{data.quarter.label}第 {revision} 版已签名的{'季报' if which == 'pdf' else '摘要'}"
        candidates = [Path(str(self.settings.value(self._signed_key(data.quarter, which), "")))]
        folder = Path(str(self.settings.value("export/folder", str(Path.home()))))
        planned = planned_files(data, folder)
        candidates.append(planned[1] if which == "pdf" else planned[2])
        path = next((p for p in candidates if str(p) not in ("", ".") and p.is_file()), None)
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, f"选择{label} PDF（打印须用上报的签名文件）", str(folder), "PDF 文件 (*.pdf)"
            )
            if not chosen:
                return None
            path = Path(chosen)
        from actions.city import verify_isolated_files
        from actions.plan_packages import trusted_roots

        try:
            verdict = verify_isolated_files([path], trusted_roots(self.store), None, plans=self.store.plans())[0]
        except DomainError as exc:
            show_error(self, exc, title="不能打印")
            return None
        wanted = (self.town, data.quarter.code, revision)
        if not verdict.valid or (verdict.town, verdict.quarter, verdict.revision) != wanted:
            why = verdict.reason if not verdict.valid else f"它是{verdict.town} {verdict.quarter} 第 {verdict.revision} 版"
            show_error(self, f"{path.name} 不是{label}：{why}", title="不能打印")
            return None
        self.remember_signed(data.quarter, {which: path})
        return path

    @needs_store(None)
    def preview(self, which: str) -> QPrintPreviewDialog | None:
        """打印预览: of a submitted quarter, the signed file itself (its revision, signing time and holder on
        it, no 草稿 mark); of any other quarter, a draft marked as such."""
        data = self._ready_return()
        if data is None:
            return None
        from actions.returns import write_preview
        from gui.printing import preview_pdf, show_page_top

        what = "季报" if which == "pdf" else "摘要"
        status = self.store.quarter_status(self.quarter)
        if status.locked:
            path = self._signed_file(data, which, status.revision or 1)
            if path is None:
                return None
            title = f"打印预览 — {data.town} {data.quarter.label}{what}（已签名上报，第 {status.revision} 版）"
        else:
            path = Path(tempfile.mkdtemp(prefix="town-returns-print-")) / ("return.pdf" if which == "pdf" else "summary.pdf")
            title = f"打印预览 — {data.town} {data.quarter.label}{what}（未签名 草稿）"
        try:
            if not status.locked:
                write_preview(data, which, path)
            dialog = preview_pdf(self, path, title)
        except DomainError as exc:
            show_error(self, exc)
            return None
        dialog.pdf_path = path  # type: ignore[attr-defined]  # what is printed
        dialog.open()
        QTimer.singleShot(0, lambda: show_page_top(dialog))
        return dialog

    @needs_store(False)
    def import_identity(self, path: Path | None = None) -> bool:
        from actions.identity import IdentityCancelled, import_identity

        if path is None:
            from gui.token_dialogs import choose_identity_source, import_token

            source = choose_identity_source(self)
            if source != "file":
                return source == "token" and import_token(self, self.store)
            chosen, _ = QFileDialog.getOpenFileName(self, "选择市局签发的签名证书", "", "签名证书 (*.p12 *.pfx)")
            if not chosen:
                return False
            path = Path(chosen)
        chosen_path = path
        try:
            imported = import_identity(
                self.store, path, lambda: ask_passphrase(self, f"请输入 {chosen_path.name} 的口令：")
            )
        except IdentityCancelled:
            return False
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="导入失败")
            return False
        self.statusBar().showMessage(f"已导入签名证书：{imported.town}", 15000)
        show_renewal_warning(self, self.store)
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "已导入签名证书",
            f"已导入{imported.town}的签名证书。\n\n市局根证书的指纹（SHA-256）：\n{imported.root_fingerprint}\n\n"
            "请与市局公布的指纹逐位核对；不一致时请不要用它签名上报，并联系市局。",
            parent=self,
        )
        box.setObjectName("identity_imported")
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.identity_box = box
        box.exec()
        return True

    @needs_store(False)
    def import_plan(self, path: Path | None = None) -> bool:
        """文件 → 导入规划: a signed .plan from the city, shown before it is recorded; as `plan import` does."""
        from actions.plan_packages import plan_import, plan_preview, trusted_roots

        if not self.resolve_unsaved(self.quarter.label):
            return False
        from actions.returns import has_identity

        if not has_identity(self.store):  # the city's root comes with the certificate: nothing to check a plan by
            show_error(
                self,
                "还没有导入市局签发的签名证书，无法核验规划文件是否由市局签名。"
                "请先用“文件 → 导入签名证书…”导入，再导入规划。",
                title="规划文件不能导入",
            )
            return False
        if path is None:
            start = str(self.settings.value("plan/folder", str(Path.home())))
            chosen, _ = QFileDialog.getOpenFileName(self, "选择市局下发的规划文件", start, "规划文件 (*.plan)")
            if not chosen:
                return False
            path = Path(chosen)
            self.settings.setValue("plan/folder", str(path.parent))
        try:
            preview = plan_preview(path, trusted_roots(self.store), self.town)
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="规划文件不能导入")
            return False
        from gui.plan_dialogs import PlanPreviewDialog, run_modal

        if not run_modal(PlanPreviewDialog(self, preview, "导入此规划", town=self.town)):
            return False
        try:
            imported = plan_import(self.store, path)
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="规划文件不能导入")
            return False
        self.reload()
        QTimer.singleShot(0, self.focus_first_figure)  # once the preview has let go of the focus
        name = imported.summary.name
        self.statusBar().showMessage(
            (f"已导入规划：{name}" if imported.imported else f"此规划已导入过，未作改动：{name}"), 10000
        )
        return True

    @needs_store(False)
    def import_city_answers(self, paths: list[Path] | None = None) -> bool:
        """文件 → 导入市局回执: the city's receipts and send-backs (gui.receipts, as `receipt import`)."""
        if not self.resolve_unsaved(self.quarter.label):
            return False
        if paths is None:
            paths = round_trip.choose_files(self, str(self.settings.value("receipt/folder", str(Path.home()))))
            if not paths:
                return False
            self.settings.setValue("receipt/folder", str(paths[0].parent))
        results = round_trip.import_city_answers(self, self.store, paths)
        self.reload()
        return any(r.imported for r in results)

    @needs_store(None)
    def backup(self, target: Path | None = None) -> Path | None:
        if target is None:
            name = f"town_returns_{self.town}_{datetime.now():%Y%m%d_%H%M}.sqlite3"
            start = Path(str(self.settings.value("backup/folder", str(Path.home())))) / name
            chosen, _ = QFileDialog.getSaveFileName(self, "备份数据库到", str(start), "数据库备份 (*.sqlite3)")
            if not chosen:
                return None
            target = Path(chosen)
            self.settings.setValue("backup/folder", str(target.parent))
        from actions.database import backup

        try:
            written = backup(self.store, target)
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="备份失败")
            return None
        QMessageBox.information(self, "备份完成", f"已备份到：\n{written}")
        return written

    @needs_store(False)
    def restore_backup(self, source: Path | None = None) -> bool:
        """Replace the database with a backup (checked first; the current one is kept as a backup)."""
        from actions.database import restore

        if not self.resolve_unsaved(self.quarter.label):
            return False
        backups = self.store.path.parent / "backups"  # where the daily and pre-submission backups are kept
        if source is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self,
                "选择要恢复的备份",
                str(backups if backups.is_dir() else self.settings.value("backup/folder", str(Path.home()))),
                "数据库备份 (*.sqlite3 *.db);;所有文件 (*)",
            )
            if not chosen:
                return False
            source = Path(chosen)
        answer = QMessageBox.question(
            self,
            "从备份恢复",
            self.restore_question(source),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        path, today = self.store.path, self.store.today
        self.store.close()
        restored = None
        failure: BaseException | None = None
        try:
            restored = restore(path, source)
        except (DomainError, OSError) as exc:
            failure = exc
        from actions.database import open_database

        self.store = open_database(path, today=today)
        if failure is not None:
            show_error(self, failure, title="未恢复")
            return False
        self._fill_quarters()
        self.quarter_box.setCurrentIndex(max(self.quarter_box.findData(self.quarter.code), 0))
        self._load_quarter(Quarter.parse(self.quarter_box.currentData()))
        assert restored is not None
        QMessageBox.information(self, "恢复完成", restored.message)
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

    def about_text(self) -> str:
        from actions import __version__

        plans = "\n".join(f"　{p.name}（{p.first.label}至{p.last.label}）" for p in self.store.plans()) or "　无"
        from actions.database import verify_audit

        audit = verify_audit(self.store)
        return (
            f"{APP_TITLE}　版本 {__version__}\n\n"
            f"镇街：{self.town}\n"
            f"数据库：{self.store.path}\n"
            f"签名证书：{self.store.identity_description() or '尚未导入'}\n"
            f"已导入的规划：\n{plans}\n"
            f"{round_trip.about_lines(self.store)}\n"
            f"修改记录：{audit.check.message}"
        )

    @needs_store(None)
    def show_about(self) -> QMessageBox | None:
        box = QMessageBox(QMessageBox.Icon.Information, "关于", self.about_text(), parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.about_box = box
        box.open()
        return box

    def open_verifier(self) -> VerifyDialog:
        from gui.verify_dialog import VerifyDialog

        dialog = VerifyDialog(self, self.store if self.store_ready() else None)
        dialog.show()
        return dialog

    @needs_store(False)
    def edit_profile(self) -> bool:
        dialog = SetupDialog(self.town, self.store.profile(), self)
        self.current_dialog = dialog
        if not dialog.exec():
            return False
        from actions.database import update_profile

        try:
            update_profile(self.store, dialog.profile().__dict__)
        except DomainError as exc:
            show_error(self, exc)
            return False
        return True

    def _complete_sign_off(self) -> bool:
        """Before the first export: the names the sign-off prints, asked for with the reason."""
        from actions.returns import missing_sign_off

        missing = "、".join(missing_sign_off(self.store))
        show_error(
            self,
            f"季报落款处须有{missing}的姓名，缺少时季报会被退回。\n请在接下来的“单位信息设置”中填写。",
            title="请先填写单位信息",
        )
        if not self.edit_profile():
            return False
        still = missing_sign_off(self.store)
        if still:
            show_error(self, f"仍缺少{'、'.join(still)}，未导出", title="不能导出")
            return False
        return True

    # --- views -------------------------------------------------------------------------------

    def _on_form_edited(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        dirty = self._quarter is not None and self.form.is_dirty()
        self.setWindowTitle(f"{APP_TITLE} — {self.town}" + ("　*未保存" if dirty else ""))
        if dirty:
            self._show_save_state("● 有未保存的修改", UNSAVED_STYLE)
        elif self.save_state.property("state") != "saved":
            self._show_save_state("", "")

    def _show_save_state(self, text: str, style: str) -> None:
        """The save confirmation in the window itself: the status bar is off-screen on a small display."""
        self.save_state.setText(text)
        self.save_state.setStyleSheet(style)
        self.save_state.setProperty("state", "saved" if style == SAVED_STYLE else "unsaved" if style else "")
        self.save_state.setVisible(bool(text))

    def _refresh_quarter_labels(self) -> None:
        current = self.quarter_box.currentIndex()
        self._fill_quarters()
        self.quarter_box.setCurrentIndex(current)

    def _on_findings_changed(self, findings: list[Finding]) -> None:
        self.findings_list.clear()
        counts = {ERROR: 0, WARNING: 0, NOTICE: 0}
        unexplained = 0
        order = {ERROR: 0, WARNING: 1, NOTICE: 2}
        for finding in sorted(findings, key=lambda f: order[f.level]):
            counts[finding.level] += 1
            unexplained += finding.needs_explanation and not finding.explained
            item = QListWidgetItem(f"【{LEVEL_NAMES[finding.level]}】{finding.message}")
            item.setData(Qt.ItemDataRole.UserRole, finding.indicator)
            item.setForeground(QBrush(QColor(LEVEL_COLOURS[finding.level])))
            self.findings_list.addItem(item)
        round_trip.show_city_reasons(self.findings_list, self.reads, self._quarter)  # the city's reasons beside the figures
        summary = f"错误 {counts[ERROR]}　警告 {counts[WARNING]}　提示 {counts[NOTICE]}"
        if counts[ERROR]:
            summary += "<br><span style='color:#c62828'>有错误，不能保存。</span>"
        elif unexplained:
            summary += f"<br><span style='color:#b35900'>{unexplained} 项警告需要填写说明后才能上报。</span>"
        elif not findings:
            summary += "<br><span style='color:#1a7f37'>未发现问题。</span>"
        self.findings_summary.setText(f"<b>检查结果</b>　{summary}")

    def _on_finding_clicked(self, item: QListWidgetItem) -> None:
        self.tabs.setCurrentIndex(0)
        self.form.focus_field(item.data(Qt.ItemDataRole.UserRole))
        self._scroll_to_focus()

    def _on_tab_changed(self, _index: int) -> None:
        self._refresh_visible_tab()

    def _refresh_visible_tab(self) -> None:
        """The progress and history views are filled when shown, not at every start-up or keystroke."""
        if self.tabs.currentIndex() == PROGRESS_TAB:
            self._refresh_progress()
        elif self.tabs.currentIndex() == HISTORY_TAB:
            self._refresh_history()

    @needs_store(None)
    def _refresh_progress(self) -> None:
        from actions.figures import annual, progress

        quarter = self.quarter
        self.progress_view.show_progress(progress(self.store, quarter), self.store.history(), annual(self.store, quarter.year))

    @needs_store(None)
    def _refresh_history(self) -> None:
        quarters = [Quarter.parse(self.quarter_box.itemData(i)) for i in range(self.quarter_box.count())]
        catalogues = {q: self.store.catalogue_for(q) for q in quarters}
        self.history_view.show_history(
            quarters, self.store.history(), list(reversed(self.store.audit_trail())), catalogues, self.store.today()
        )
