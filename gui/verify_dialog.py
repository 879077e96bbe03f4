"""The city's check in the app: open returns, see each one valid or invalid with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSettings, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.errors import DomainError
from core.quarters import Quarter
from gui.errors import show_error
from gui.table_model import RowsModel
from gui.tasks import BackgroundTask

ModelIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class VerdictRow:
    file: str
    valid: bool
    reason: str
    town: str
    quarter: str
    revision: str
    status: str = ""

    @property
    def status_text(self) -> str:
        return self.status or ("有效" if self.valid else "无效")


class VerdictModel(RowsModel[VerdictRow]):
    HEADERS = ("文件", "结果", "原因", "镇街", "季度", "版本")

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                Path(row.file).name,
                row.status_text,
                "" if row.valid else row.reason,
                row.town,
                row.quarter,
                row.revision,
            )[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.file if index.column() == 0 else row.reason
        if role == Qt.ItemDataRole.ForegroundRole and index.column() in (1, 2):
            return QBrush(QColor("#1a7f37" if row.valid else "#c62828"))
        return None


class VerifyDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("核验季报签名")
        self.resize(980, 520)
        self.settings = QSettings()
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.root_label = QLabel()
        top.addWidget(self.root_label, 1)
        self.root_button = QPushButton("选择受信任的根证书…")
        top.addWidget(self.root_button)
        self.crl_button = QPushButton("吊销列表…")
        self.crl_button.setToolTip("市局吊销列表（city revoke 写出的 .crl），与市局窗口共用；取消选择则不使用")
        top.addWidget(self.crl_button)
        self.files_button = QPushButton("选择季报文件…")
        top.addWidget(self.files_button)
        layout.addLayout(top)
        self.model = VerdictModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table)
        self.summary = QLabel()
        layout.addWidget(self.summary)
        stored = self.settings.value("verify/root")
        self.root: Path | None = Path(str(stored)) if stored else None
        self._show_root()
        self.root_button.clicked.connect(self._choose_root)
        self.crl_button.clicked.connect(self._choose_crl)
        self._show_crl()
        self.files_button.clicked.connect(self._choose_files)
        self.task: BackgroundTask | None = None

    def _show_root(self) -> None:
        self.root_label.setText(
            f"受信任的根证书：{self.root}" if self.root else "尚未选择受信任的根证书（city_root.pem）"
        )

    @property
    def crl(self) -> Path | None:
        value = self.settings.value("city/crl", "")
        return Path(str(value)) if value else None

    def set_crl(self, path: Path | None) -> None:
        self.settings.setValue("city/crl", str(path) if path else "")
        self._show_crl()

    def _show_crl(self) -> None:
        self.crl_button.setText(f"吊销列表：{self.crl.name}" if self.crl else "吊销列表…")

    def _choose_crl(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "选择市局吊销列表（取消则不使用）", "", "吊销列表 (*.crl *.pem)")
        self.set_crl(Path(chosen) if chosen else None)

    def _choose_root(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "选择市局根证书", "", "证书 (*.pem *.crt *.cer)")
        if chosen:
            self.set_root(Path(chosen))

    def set_root(self, path: Path) -> None:
        self.root = path
        self.settings.setValue("verify/root", str(path))
        self._show_root()

    def _choose_files(self) -> None:
        chosen, _ = QFileDialog.getOpenFileNames(self, "选择要核验的季报", "", "季报 (*.xlsx *.pdf)")
        if chosen:
            self.verify_files([Path(p) for p in chosen])

    def verify_files(self, files: list[Path]) -> BackgroundTask | None:
        if self.root is None:
            show_error(self, "请先选择受信任的市局根证书（city_root.pem）")
            return None
        from actions.city import revocations, trust_roots, verify_isolated_files

        try:
            roots = trust_roots(self.root)
            revoked = revocations([self.crl] if self.crl else [], roots, warn=lambda m: show_error(self, m, "吊销列表已过期"))
        except DomainError as exc:
            show_error(self, exc)
            return None

        def work(step):  # type: ignore[no-untyped-def]
            # the same bounded workers and revocation list as the city's window: the same verdicts
            return verify_isolated_files(files, roots, revoked, step)

        self.task = BackgroundTask(self, "正在核验季报", work, self._show, lambda e: show_error(self, e))
        self.task.start()
        return self.task

    def _show(self, verdicts: list) -> None:  # type: ignore[type-arg]
        rows = [
            VerdictRow(
                v.file,
                v.valid,
                v.reason,
                v.town or "",
                Quarter.parse(v.quarter).label if v.quarter else "",
                str(v.revision or ""),
            )
            for v in verdicts
        ]
        self.model.set_rows(rows)
        valid = sum(r.valid for r in rows)
        self.summary.setText(f"共 {len(rows)} 个文件：有效 {valid} 个，无效 {len(rows) - valid} 个")
