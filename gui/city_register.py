"""The city window's 登记簿与催报 page (issue 27): the register of the quarter's returns (accepted, refused,
sent back; which receipt or notice was issued for which revision, which revision a newer one superseded),
生成回执… and 退回… as `city receipts` and `city send-back` do, and the 催报 list of the towns still owed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from actions.receipts import (
    ISSUED_NAMES,
    VERDICT_NAMES,
    Missing,
    ReceiptIssued,
    Receipts,
    RegisterView,
    SentBack,
    city_missing,
    city_receipts,
    send_back,
)
from core.errors import DomainError
from core.indicators import Catalogue
from gui.errors import show_error

if TYPE_CHECKING:
    from gui.city_window import CityWindow

COLUMNS = ("镇街", "版本", "结论", "已签发", "季报文件", "登记时间", "说明")
VERDICT_COLOURS = {"accepted": "#1a7f37", "refused": "#c62828", "sent_back": "#6a1b9a"}
ROOT_FILTER = "市局根证书 (*.p12 *.pfx)"


class SendBackDialog(QDialog):
    """退回…: the reason for the whole return and, for any figure, the reason beside it."""

    def __init__(self, parent: QWidget, town: str, label: str, catalogue: Catalogue):
        super().__init__(parent)
        self.setWindowTitle(f"退回 {town} {label}")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("写明退回原因（整份季报的原因，或某项指标旁的原因，至少写一项，每项至少 4 个字）："))
        self.whole = QLineEdit()
        self.whole.setObjectName("whole_reason")
        form = QFormLayout()
        form.addRow("整份季报：", self.whole)
        self.per_indicator: dict[str, QLineEdit] = {}
        for code in [*catalogue.indicator_codes, *catalogue.rate_codes]:
            field = QLineEdit()
            field.setObjectName(f"reason_{code}")
            self.per_indicator[code] = field
            form.addRow(f"{catalogue.display_name(code)}：", field)
        holder = QWidget()
        holder.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        layout.addWidget(scroll, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("签发退回通知…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 520)

    def reasons(self) -> tuple[str | None, list[tuple[str, str]]]:
        whole = self.whole.text().strip() or None
        return whole, [(code, f.text().strip()) for code, f in self.per_indicator.items() if f.text().strip()]


class RegisterPage(QSplitter):
    def __init__(self, window: CityWindow):
        super().__init__(Qt.Orientation.Vertical)
        self.window_ = window
        self.view: RegisterView | None = None
        self.missing: Missing | None = None
        top = QWidget()
        layout = QVBoxLayout(top)
        bar = QHBoxLayout()
        self.heading = QLabel()
        bar.addWidget(self.heading, 1)
        self.receipts_button = QPushButton("生成回执…")
        self.receipts_button.setToolTip("按汇总的核验结果，为每个镇街被计入的季报签发回执（同 city receipts）")
        self.send_back_button = QPushButton("退回…")
        self.send_back_button.setToolTip("选中一行季报，写明原因后签发退回通知（同 city send-back）")
        self.missing_button = QPushButton("导出催报清单…")
        for button in (self.receipts_button, self.send_back_button, self.missing_button):
            bar.addWidget(button)
        layout.addLayout(bar)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("register")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.addWidget(top)
        self.missing_text = QPlainTextEdit()
        self.missing_text.setObjectName("missing")
        self.missing_text.setReadOnly(True)
        self.addWidget(self.missing_text)
        self.setSizes([480, 220])
        self.receipts_button.clicked.connect(lambda: self.issue_receipts())
        self.send_back_button.clicked.connect(lambda: self.send_back())
        self.missing_button.clicked.connect(lambda: self.write_missing())

    # --- what is shown ------------------------------------------------------------------------

    def refresh(self) -> None:
        window = self.window_
        if not window.quarters:
            return
        quarter = window.quarter
        self.view = RegisterView(quarter, window.store.city_register(quarter))
        self.heading.setText(f"<b>{quarter.label} 登记簿</b>　共 {len(self.view.entries)} 条")
        self.table.setRowCount(len(self.view.entries))
        for row, entry in enumerate(self.view.entries):
            newer = self.view.superseded_by(entry)
            note = entry.reason or ""
            if newer:
                note = f"已被第 {newer} 版取代" + (f"；{note}" if note else "")
            if self.view.replaced_note(entry):
                note = self.view.replaced_note(entry) + (f"；{note}" if note else "")
            cells = (
                entry.town or "",
                str(entry.revision or ""),
                VERDICT_NAMES.get(entry.verdict, entry.verdict),
                f"{ISSUED_NAMES.get(entry.issued or '', '')} {Path(entry.issued_file).name}"
                if entry.issued_file
                else "",
                Path(entry.file).name,
                entry.first_seen,
                note,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text if column != 4 else entry.file)
                if column == 2:
                    item.setForeground(QBrush(QColor(VERDICT_COLOURS.get(entry.verdict, "#000000"))))
                self.table.setItem(row, column, item)
        self.show_missing()

    def show_missing(self) -> None:
        window = self.window_
        if window.collection is None:
            self.missing, text = None, "选择季报文件夹后，这里列出本季度尚未被接收季报的镇街（催报）。"
        else:
            try:
                self.missing = city_missing(
                    window.quarter.code, window.folder or Path(), window.store.path, collection=window.collection
                )
            except (DomainError, OSError) as exc:
                self.missing_text.setPlainText(f"无法列出催报清单：{getattr(exc, 'message', exc)}")
                return
            lines = [f"{self.missing.quarter.label} 催报：{len(self.missing.towns)} 个镇街"]
            for town in self.missing.towns:
                extra = f"（第 {town.revision} 版：{town.reason}）" if town.revision else ""
                lines.append(
                    f"  {town.town}：{town.state}{extra}；{town.unit or '填报单位不详'}，电话 {town.phone or '不详'}"
                )
            text = "\n".join(lines)
        self.missing_text.setPlainText(text)

    def selected_entry_file(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.view is None:
            return None
        entry = self.view.entries[rows[0].row()]
        return Path(entry.file) if entry.town else None

    # --- what the city does -------------------------------------------------------------------

    def _root(self, root: Path | None) -> tuple[Path, bytes] | None:
        from gui.city_window import ask_root_passphrase

        if root is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "选择市局根证书（签发回执、退回通知用）", "", ROOT_FILTER)
            if not chosen:
                return None
            root = Path(chosen)
        passphrase = ask_root_passphrase(self, root.name)
        return None if passphrase is None else (root, passphrase)

    def issue_receipts(self, root: Path | None = None, out: Path | None = None) -> Receipts | None:
        window = self.window_
        if window.folder is None:
            show_error(self, "请先选择季报文件夹", title="不能生成回执")
            return None
        signer = self._root(root)
        if signer is None:
            return None
        if out is None:
            chosen = QFileDialog.getExistingDirectory(self, "选择保存回执的文件夹", str(window.folder))
            if not chosen:
                return None
            out = Path(chosen)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            result = city_receipts(window.quarter.code, window.folder, signer[0], signer[1], out,
                                   crls=window.crl_button.paths, db=window.store.path)  # fmt: skip
        except (DomainError, OSError) as exc:
            QApplication.restoreOverrideCursor()
            show_error(self, exc, title="未生成回执")
            return None
        QApplication.restoreOverrideCursor()
        self.refresh()
        lines = [
            f"{r.town} 第 {r.revision} 版：{r.file.name}{'' if r.new else '（此前已签发）'}" for r in result.receipts
        ]
        lines += [f"拒收 {Path(r.file).name}：{r.reason}" for r in result.refused]
        QMessageBox.information(
            self,
            "已生成回执",
            f"{result.quarter.label}：回执 {len(result.receipts)} 份，拒收 {len(result.refused)} 个文件\n保存在：{out}\n\n"
            + "\n".join(lines),
        )
        return result

    def send_back(
        self,
        return_file: Path | None = None,
        reasons: tuple[str | None, list[tuple[str, str]]] | None = None,
        root: Path | None = None,
        out: Path | None = None,
    ) -> SentBack | None:
        window = self.window_
        return_file = return_file or self.selected_entry_file()
        if return_file is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "选择要退回的季报", str(window.folder or ""), "季报 (*.xlsx *.pdf)"
            )
            if not chosen:
                return None
            return_file = Path(chosen)
        if reasons is None:
            plan = next((p for p in window.plans if p.contains(window.quarter)), None)
            if plan is None:
                show_error(self, f"{window.quarter.label}没有规划，无法列出指标", title="不能退回")
                return None
            dialog = SendBackDialog(self, return_file.name, window.quarter.label, plan.catalogue)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            reasons = dialog.reasons()
        signer = self._root(root)
        if signer is None:
            return None
        if out is None:
            start = return_file.with_name(f"退回通知_{return_file.stem}.notice")
            chosen, _ = QFileDialog.getSaveFileName(self, "保存退回通知", str(start), "退回通知 (*.notice)")
            if not chosen:
                return None
            out = Path(chosen)
        withdraw = False
        while True:
            try:
                sent = send_back(return_file, reasons[0], reasons[1], signer[0], signer[1], out,
                                 crls=window.crl_button.paths, db=window.store.path,
                                 withdraw_receipt=withdraw)  # fmt: skip
                break
            except ReceiptIssued as exc:
                question = exc.message.split("；确要")[0] + "。\n\n撤回这份回执、退回这一版吗？"
                answer = QMessageBox.question(self, "撤回回执", question)
                if answer != QMessageBox.StandardButton.Yes:
                    return None
                withdraw = True
            except (DomainError, OSError) as exc:
                show_error(self, exc, title="未签发退回通知")
                return None
        self.refresh()
        QMessageBox.information(
            self,
            "已签发退回通知",
            f"{sent.answer.describe()}\n已保存到：{sent.file}\n\n请将此文件交给镇街，镇街用“文件 → 导入市局回执…”导入。",
        )
        return sent

    def write_missing(self, out: Path | None = None) -> Path | None:
        window = self.window_
        if window.collection is None:
            show_error(self, "请先选择季报文件夹", title="不能导出催报清单")
            return None
        overwrite = out is None  # the save dialog has asked already
        if out is None:
            start = Path(str(window.folder or Path.home())) / f"{window.quarter.code}_催报清单.xlsx"
            chosen, _ = QFileDialog.getSaveFileName(self, "保存催报清单", str(start), "Excel 工作簿 (*.xlsx)")
            if not chosen:
                return None
            out = Path(chosen)
        try:
            missing = city_missing(window.quarter.code, window.folder or Path(), window.store.path, out, overwrite,
                                   collection=window.collection)  # fmt: skip
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="未导出催报清单")
            return None
        window.statusBar().showMessage(f"已导出催报清单：{missing.file}", 15000)
        return missing.file
