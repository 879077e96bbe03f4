"""The city's check in the app: open returns, see each one valid or invalid with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from gui.file_lists import FileListButton, crl_button
from gui.table_model import RowsModel
from gui.tasks import BackgroundTask

if TYPE_CHECKING:
    from actions.database import Store

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
    """核验季报签名: the `verify` command's verdicts. Trusted plans: the database's imported packages (their
    signatures checked again against the chosen root) and the .plan files the clerk adds."""

    def __init__(self, parent: QWidget | None = None, store: Store | None = None):
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("核验季报签名")
        self.resize(980, 520)
        self.settings = QSettings()
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.root_label = QLabel()
        top.addWidget(self.root_label, 1)
        self.root_button = QPushButton("选择受信任的根证书…")
        top.addWidget(self.root_button)
        self.crl_button = crl_button(self)
        top.addWidget(self.crl_button)
        self.plan_button = FileListButton(
            "规划文件", "verify/plans", "选择市局下发的规划文件（可多选；取消则不用）", "规划文件 (*.plan)", self
        )
        self.plan_button.setToolTip("季报按市局下发的规划填报时，核验要用到该规划；本数据库已导入的规划会自动使用")
        top.addWidget(self.plan_button)
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
        self.files_button.clicked.connect(self._choose_files)
        self.task: BackgroundTask | None = None

    def _show_root(self) -> None:
        self.root_label.setText(
            f"受信任的根证书：{self.root}" if self.root else "尚未选择受信任的根证书（city_root.pem）"
        )

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
        from actions.city import imported_plans, issued_plans, revocations, trust_roots, verify_isolated_files

        try:
            roots = trust_roots(self.root)
            plans = issued_plans(self.plan_button.paths, roots)
            if self.store is not None:
                plans += imported_plans(self.store, roots)
            revoked = revocations(self.crl_button.paths, roots, warn=lambda m: show_error(self, m, "吊销列表已过期"))
        except DomainError as exc:
            show_error(self, exc)
            return None

        def work(step):
            # the same bounded workers, revocation lists and plans as `verify`: the same verdicts
            return verify_isolated_files(files, roots, revoked, step, plans=plans)

        self.task = BackgroundTask(self, "正在核验季报", work, self._show, lambda e: show_error(self, e))
        self.task.start()
        return self.task

    def _show(self, verdicts: list) -> None:
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
