"""The clerk's main window: quarter picker, entry form with live findings, progress and history."""

from __future__ import annotations

import logging
import tempfile
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QBrush, QCloseEvent, QColor, QKeySequence
from PySide6.QtPrintSupport import QPrintPreviewDialog
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import DomainError
from core.progress import compute_progress
from core.quarters import Quarter, quarter_range
from core.validation import ERROR, LEVEL_NAMES, NOTICE, WARNING, Finding
from gui.entry_form import EntryForm
from gui.errors import show_error
from gui.history_view import HistoryView
from gui.printing import preview_pdf
from gui.progress_view import ProgressView
from gui.setup_dialog import SetupDialog
from gui.tasks import BackgroundTask
from gui.verify_dialog import VerifyDialog
from reports.export import ExportResult, planned_paths, prepare_return, record_signed_export, write_return_files
from reports.returns import ReturnData
from storage.store import SaveRefused, Store

if TYPE_CHECKING:
    from reports.identity import Identity

log = logging.getLogger(__name__)
APP_TITLE = "镇街人社指标填报系统"
LEVEL_COLOURS = {ERROR: "#c62828", WARNING: "#b35900", NOTICE: "#555555"}


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


def ask_passphrase(parent: QWidget, prompt: str) -> bytes | None:
    text, ok = QInputDialog.getText(parent, "签名证书口令", prompt, QLineEdit.EchoMode.Password)
    return text.encode("utf-8") if ok and text else None


class MainWindow(QMainWindow):
    def __init__(self, store: Store, initial_quarter: Quarter | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.town = store.require_town()
        self.settings = QSettings()
        self._quarter: Quarter | None = None
        self._build()
        self._connect_signals()
        self._fill_quarters()
        start = initial_quarter or Quarter.latest_ended(store.today())
        index = self.quarter_box.findData(start.code)
        self.quarter_box.setCurrentIndex(index if index >= 0 else self.quarter_box.count() - 1)
        self._load_quarter(Quarter.parse(self.quarter_box.currentData()))
        geometry = self.settings.value("main_window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1180, 820)

    # --- construction ------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        bar = QHBoxLayout()
        self.town_label = QLabel(f"<b style='font-size:15pt'>{self.town}</b>")
        bar.addWidget(self.town_label)
        bar.addSpacing(16)
        bar.addWidget(QLabel("报告期："))
        self.quarter_box = QComboBox()
        self.quarter_box.setObjectName("quarter")
        self.quarter_box.setMinimumWidth(280)
        bar.addWidget(self.quarter_box)
        bar.addStretch(1)
        self.save_button = QPushButton("保存（Ctrl+S）")
        self.save_button.setObjectName("save")
        self.save_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar.addWidget(self.save_button)
        layout.addLayout(bar)
        self.lock_banner = QLabel()
        self.lock_banner.setObjectName("lock_banner")
        self.lock_banner.setStyleSheet("background:#e8f0fe; color:#0b4a8b; padding:6px; border-radius:4px;")
        self.lock_banner.setVisible(False)
        layout.addWidget(self.lock_banner)

        self.tabs = QTabWidget()
        entry_page = QSplitter(Qt.Orientation.Horizontal)
        self.form = EntryForm()
        scroll = QScrollArea()
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
        entry_page.setSizes([760, 400])
        self.tabs.addTab(entry_page, "填报")
        self.progress_view = ProgressView()
        self.tabs.addTab(self.progress_view, "目标进度")
        self.history_view = HistoryView()
        self.tabs.addTab(self.history_view, "历史与修改记录")
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        menu = self.menuBar().addMenu("文件(&F)")
        self.save_action = QAction("保存(&S)", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        menu.addAction(self.save_action)
        self.profile_action = QAction("单位信息设置…", self)
        menu.addAction(self.profile_action)
        self.identity_action = QAction("导入签名证书…", self)
        menu.addAction(self.identity_action)
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
        menu.addAction(self.quit_action)
        self.addAction(self.save_action)

    def _connect_signals(self) -> None:
        self.save_action.triggered.connect(self.save)
        self.save_button.clicked.connect(self.save)
        self.profile_action.triggered.connect(self.edit_profile)
        self.quit_action.triggered.connect(self.close)
        self.export_action.triggered.connect(lambda: self.export_return())
        self.identity_action.triggered.connect(lambda: self.import_identity())
        self.verify_action.triggered.connect(self.open_verifier)
        self.reopen_action.triggered.connect(lambda: self.reopen_quarter())
        self.preview_return_action.triggered.connect(lambda: self.preview("pdf"))
        self.preview_summary_action.triggered.connect(lambda: self.preview("summary"))
        self.quarter_box.activated.connect(self._on_quarter_chosen)
        self.form.edited.connect(self._on_form_edited)
        self.form.findings_changed.connect(self._on_findings_changed)
        self.form.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.findings_list.itemClicked.connect(self._on_finding_clicked)
        self.tabs.currentChanged.connect(self._on_tab_changed)

    def _fill_quarters(self) -> None:
        plans = self.store.plans()
        first = min((p.first for p in plans), default=Quarter.latest_ended(self.store.today()))
        last = Quarter.containing(self.store.today())
        history = self.store.history()
        statuses = self.store.quarter_statuses()
        self.quarter_box.clear()
        for quarter in reversed(quarter_range(first, last)):
            entered = len(history.get(quarter, {}))
            if quarter in statuses:
                mark = f"（{statuses[quarter].label}）"
            else:
                mark = "（草稿）" if entered == 9 else "（未填）" if entered == 0 else f"（草稿，已填 {entered}/9）"
            self.quarter_box.addItem(quarter.label + mark, quarter.code)

    # --- quarter -----------------------------------------------------------------------------

    @property
    def quarter(self) -> Quarter:
        assert self._quarter is not None
        return self._quarter

    def _load_quarter(self, quarter: Quarter) -> None:
        self._quarter = quarter
        status = self.store.quarter_status(quarter)
        self.form.set_read_only(status.locked)
        self.save_button.setEnabled(not status.locked)
        self.reopen_action.setEnabled(status.locked)
        self.lock_banner.setVisible(status.state != "draft")
        if status.locked:
            self.lock_banner.setText(
                f"{quarter.label}{status.label}，数值已锁定。如需修改，请用“季报 → 退回修改”并写明原因，再次导出将是第 {(status.revision or 0) + 1} 版。"
            )
        else:
            self.lock_banner.setText(
                f"{quarter.label}{status.label}（原第 {status.revision} 版），修改后请重新导出上报。"
            )
        self.form.load(
            self.town,
            quarter,
            self.store.plan_for(quarter),
            self.store.history(),
            self.store.explanations(quarter),
            self.store.today(),
        )
        self._update_title()
        self._refresh_visible_tab()

    def _on_quarter_chosen(self, index: int) -> None:
        chosen = Quarter.parse(self.quarter_box.itemData(index))
        if chosen == self._quarter:
            return
        if not self.resolve_unsaved(f"{self.quarter.label}"):
            self.quarter_box.setCurrentIndex(self.quarter_box.findData(self.quarter.code))
            return
        self._load_quarter(chosen)

    def select_quarter(self, quarter: Quarter) -> None:
        """Choose a quarter as the picker would (used by tests and the demo)."""
        index = self.quarter_box.findData(quarter.code)
        self.quarter_box.setCurrentIndex(index)
        self._on_quarter_chosen(index)

    # --- saving ------------------------------------------------------------------------------

    def reopen_quarter(self, reason: str | None = None) -> bool:
        if reason is None:
            text, ok = QInputDialog.getText(self, "退回修改", f"请写明{self.quarter.label}退回修改的原因：")
            if not ok:
                return False
            reason = text
        try:
            self.store.reopen(self.quarter, reason)
        except DomainError as exc:
            show_error(self, exc, title="不能退回修改")
            return False
        self._refresh_quarter_labels()
        self._load_quarter(self.quarter)
        return True

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
        try:
            changes = self.store.save_quarter(self.quarter, values, explanations)
        except SaveRefused as exc:
            show_error(self, exc, title="不能保存")
            return False
        except DomainError as exc:
            show_error(self, exc)
            return False
        self.form.mark_saved(values, explanations)
        self._refresh_quarter_labels()
        self._refresh_visible_tab()
        self.statusBar().showMessage(f"已保存 {self.quarter.label}，{len(changes)} 项修改", 5000)
        log.info("saved %s: %d changes", self.quarter.code, len(changes))
        return True

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
        self.settings.setValue("main_window/geometry", self.saveGeometry())
        event.accept()

    # --- returns -----------------------------------------------------------------------------

    def _ready_return(self) -> ReturnData | None:
        """The quarter's return as saved for a print preview (an unfinished quarter too, as a draft), or None
        after telling the clerk why it cannot be made."""
        if not self.resolve_unsaved(self.quarter.label):
            return None
        try:
            return prepare_return(self.store, self.quarter, preview=True)
        except DomainError as exc:
            show_error(self, exc, title="还不能导出")
            return None

    def _signing_identity(self) -> tuple[bool, Identity | None]:
        """(go on, identity): a signed export asks for the passphrase; without an identity, a draft."""
        from reports.export import open_town_identity

        if self.store.identity_p12() is None:
            answer = QMessageBox.question(
                self,
                "没有签名证书",
                "尚未导入市局签发的签名证书，只能导出“未签名 草稿”，不能作为正式季报上报。\n要导出草稿吗？",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            return answer == QMessageBox.StandardButton.Yes, None
        passphrase = ask_passphrase(self, "请输入签名证书的口令：")
        if passphrase is None:
            return False, None
        try:
            return True, open_town_identity(self.store, passphrase)
        except DomainError as exc:
            show_error(self, exc, title="不能签名")
            return False, None

    def export_return(self, folder: Path | None = None) -> BackgroundTask | None:
        if not self.resolve_unsaved(self.quarter.label):
            return None
        try:
            prepare_return(self.store, self.quarter)  # refuse (unfinished quarter, errors) before asking the passphrase
        except DomainError as exc:
            show_error(self, exc, title="还不能导出")
            return None
        go_on, identity = self._signing_identity()
        if not go_on:
            return None
        try:
            data = prepare_return(self.store, self.quarter, signed=identity is not None)
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
        planned = planned_paths(data, folder)
        overwrite = False
        if any(p.exists() for p in planned.paths):
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
                record_signed_export(self.store, data, result)
                self._refresh_quarter_labels()
                self._load_quarter(self.quarter)
            self._on_exported(result)

        task = BackgroundTask(
            self,
            "正在导出季报",
            lambda step: write_return_files(data, folder, overwrite, step, identity),
            exported,
            lambda error: show_error(self, error, title="导出失败"),
        )
        self.current_task = task
        task.start()
        return task

    def _on_exported(self, result: ExportResult) -> None:
        names = "\n".join(p.name for p in result.paths)
        if not result.signed:
            names += "\n（未签名 草稿）"
        self.statusBar().showMessage(f"已导出到 {result.workbook.parent}", 10000)
        QMessageBox.information(self, "导出完成", f"已在 {result.workbook.parent} 生成：\n{names}")

    def preview(self, which: str) -> QPrintPreviewDialog | None:
        data = self._ready_return()
        if data is None:
            return None
        from reports.pdf import write_return_pdf, write_summary_pdf

        folder = Path(tempfile.mkdtemp(prefix="town-returns-print-"))
        path = folder / ("return.pdf" if which == "pdf" else "summary.pdf")
        try:
            (write_return_pdf if which == "pdf" else write_summary_pdf)(data, path)
            title = f"打印预览 — {data.town} {data.quarter.label}" + ("季报" if which == "pdf" else "摘要")
            dialog = preview_pdf(self, path, title)
        except DomainError as exc:
            show_error(self, exc)
            return None
        dialog.open()
        return dialog

    def import_identity(self, path: Path | None = None) -> bool:
        from reports.identity import IdentityCancelled, import_identity_file

        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "选择市局签发的签名证书", "", "签名证书 (*.p12 *.pfx)")
            if not chosen:
                return False
            path = Path(chosen)
        chosen_path = path
        try:
            checked = import_identity_file(
                self.store, path, lambda: ask_passphrase(self, f"请输入 {chosen_path.name} 的口令："), self.town
            )
        except IdentityCancelled:
            return False
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="导入失败")
            return False
        self.statusBar().showMessage(
            f"已导入签名证书：{checked.identity.town}；市局根证书 SHA-256 指纹 {checked.root_fingerprint}", 15000
        )
        return True

    def open_verifier(self) -> VerifyDialog:
        dialog = VerifyDialog(self)
        dialog.show()
        return dialog

    def edit_profile(self) -> None:
        dialog = SetupDialog(self.town, self.store.profile(), self)
        if dialog.exec():
            try:
                self.store.set_profile(dialog.profile())
            except DomainError as exc:
                show_error(self, exc)

    # --- views -------------------------------------------------------------------------------

    def _on_form_edited(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        dirty = self._quarter is not None and self.form.is_dirty()
        self.setWindowTitle(f"{APP_TITLE} — {self.town}" + ("　*未保存" if dirty else ""))

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

    def _on_tab_changed(self, _index: int) -> None:
        self._refresh_visible_tab()

    def _refresh_visible_tab(self) -> None:
        """The progress and history views are filled when shown, not at every start-up or keystroke."""
        if self.tabs.currentWidget() is self.progress_view:
            self._refresh_progress()
        elif self.tabs.currentWidget() is self.history_view:
            self._refresh_history()

    def _refresh_other_tabs(self) -> None:
        self._refresh_progress()
        self._refresh_history()

    def _refresh_progress(self) -> None:
        history = self.store.history()
        plan = self.store.plan_for(self.quarter)
        self.progress_view.show_progress(compute_progress(plan, self.town, self.quarter, history), history)

    def _refresh_history(self) -> None:
        quarters = [Quarter.parse(self.quarter_box.itemData(i)) for i in range(self.quarter_box.count())]
        self.history_view.show_history(quarters, self.store.history(), list(reversed(self.store.audit_trail())))
