"""Every quarter of the plan in one grid, and the audit trail with filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.indicators import SHIPPED, Catalogue, Indicator
from core.quarters import Quarter
from gui.table_model import RowsModel

if TYPE_CHECKING:
    from actions.database import AuditRow

ModelIndex = QModelIndex | QPersistentModelIndex
BLANK_BRUSH = QBrush(QColor("#fdecea"))


@dataclass(frozen=True)
class QuarterRow:
    quarter: Quarter
    values: dict[str, int]
    codes: frozenset[str] = frozenset(SHIPPED.indicator_codes)  # the figures of the quarter's plan
    running: bool = False  # the quarter has not ended: a blank is not yet missing


NOT_IN_PLAN = "不适用"


class QuarterGridModel(RowsModel[QuarterRow]):
    """Quarters down, figures across (of every plan shown); a blank is shown as a tinted 未填 cell, a figure
    the quarter's plan does not have as 不适用."""

    def __init__(self) -> None:
        super().__init__()
        self.indicators: tuple[Indicator, ...] = SHIPPED.indicators

    def set_indicators(self, indicators: tuple[Indicator, ...]) -> None:
        self.beginResetModel()
        self.indicators = indicators
        self.endResetModel()

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.indicators)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            indicator = self.indicators[section]
            return f"{indicator.short_name}\n（{indicator.unit}）"
        return self.rows[section].quarter.label

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, code = self.rows[index.row()], self.indicators[index.column()].code
        if code not in row.codes:
            if role == Qt.ItemDataRole.DisplayRole:
                return NOT_IN_PLAN
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor("#999"))
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignCenter)
            return None
        value = row.values.get(code)
        if role == Qt.ItemDataRole.DisplayRole:
            return ("—" if row.running else "未填") if value is None else f"{value:,}"
        if role == Qt.ItemDataRole.ToolTipRole and value is None and row.running:
            return f"{row.quarter.label}尚未结束"
        if role == Qt.ItemDataRole.BackgroundRole and value is None and not row.running:
            return BLANK_BRUSH
        if role == Qt.ItemDataRole.ForegroundRole and value is None:
            return QBrush(QColor("#999" if row.running else "#a33"))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class AuditModel(RowsModel["AuditRow"]):
    HEADERS = ("序号", "时间", "操作人", "操作", "季度", "项目", "原值", "新值")

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        row = self.rows[index.row()]
        who = row.os_user + (f"（{row.clerk}）" if row.clerk else "")
        quarter = Quarter.parse(row.quarter).label if row.quarter else ""
        return (
            row.id,
            row.at.replace("T", " ")[:19],
            who,
            row.action_name,
            quarter,
            row.subject,
            row.old_value or "（空）",
            row.new_value or "（空）",
        )[index.column()]


class HistoryView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        splitter = self.splitter = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(QLabel("<b>各季度数值</b>（未填的格子标为浅红色）"))
        self.grid_model = QuarterGridModel()
        self.grid = QTableView()
        self.grid.setObjectName("quarter_grid")
        self.grid.setModel(self.grid_model)
        self.grid.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        # each column as wide as its two-line heading and figures (never clipped); the grid scrolls if it must
        self.grid.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.grid.horizontalHeader().setStretchLastSection(True)
        top_layout.addWidget(self.grid)
        splitter.addWidget(top)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("<b>修改记录</b>　季度："))
        self.quarter_filter = QComboBox()
        self.quarter_filter.setObjectName("audit_quarter")
        filters.addWidget(self.quarter_filter)
        filters.addWidget(QLabel("指标："))
        self.indicator_filter = QComboBox()
        self.indicator_filter.setObjectName("audit_indicator")
        self._fill_indicator_filter(SHIPPED.indicators)
        filters.addWidget(self.indicator_filter)
        filters.addStretch(1)
        bottom_layout.addLayout(filters)
        self.audit_model = AuditModel()
        self.audit = QTableView()
        self.audit.setObjectName("audit_table")
        self.audit.setModel(self.audit_model)
        self.audit.verticalHeader().setVisible(False)
        self.audit.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.audit.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.audit.horizontalHeader().setDefaultSectionSize(120)
        self.audit.horizontalHeader().setStretchLastSection(True)
        bottom_layout.addWidget(self.audit)
        splitter.addWidget(bottom)
        splitter.setSizes([420, 260])
        layout.addWidget(splitter)
        self._all_audit: list[AuditRow] = []
        self.audit_columns_set = False  # True once sized, or restored from the last session
        self.quarter_filter.currentIndexChanged.connect(self._apply_filters)
        self.indicator_filter.currentIndexChanged.connect(self._apply_filters)

    def _fill_indicator_filter(self, indicators: tuple[Indicator, ...]) -> None:
        chosen = self.indicator_filter.currentData()
        self.indicator_filter.blockSignals(True)
        self.indicator_filter.clear()
        self.indicator_filter.addItem("全部", None)
        names = Catalogue(indicators, ())
        for indicator in indicators:
            self.indicator_filter.addItem(names.display_name(indicator.code), indicator.code)
        self.indicator_filter.setCurrentIndex(max(self.indicator_filter.findData(chosen), 0))
        self.indicator_filter.blockSignals(False)

    def show_history(
        self,
        quarters: list[Quarter],
        history: dict[Quarter, dict[str, int]],
        audit: list[AuditRow],
        catalogues: dict[Quarter, Catalogue] | None = None,
        today: date | None = None,
    ) -> None:
        """`catalogues`: each quarter's indicator list (the shipped one where not given); the grid's columns
        are the figures of all of them, each list's own order kept, the older plans' first."""
        lists = catalogues or {}
        columns: dict[str, Indicator] = {}
        for quarter in sorted(quarters):
            for indicator in lists.get(quarter, SHIPPED).indicators:
                columns.setdefault(indicator.code, indicator)
        indicators = tuple(columns.values())
        if indicators != self.grid_model.indicators:
            self.grid_model.set_indicators(indicators)
            self._fill_indicator_filter(indicators)
        self.grid_model.set_rows(
            [
                QuarterRow(
                    q,
                    history.get(q, {}),
                    frozenset(lists.get(q, SHIPPED).indicator_codes),
                    running=today is not None and q.last_day >= today,
                )
                for q in quarters
            ]
        )
        self._all_audit = audit
        chosen = self.quarter_filter.currentData()
        self.quarter_filter.blockSignals(True)
        self.quarter_filter.clear()
        self.quarter_filter.addItem("全部", None)
        for quarter in sorted({Quarter.parse(r.quarter) for r in audit if r.quarter}, reverse=True):
            self.quarter_filter.addItem(quarter.label, quarter.code)
        index = self.quarter_filter.findData(chosen)
        self.quarter_filter.setCurrentIndex(max(index, 0))
        self.quarter_filter.blockSignals(False)
        self._apply_filters()
        if not self.audit_columns_set and audit:
            # Sized to their contents the first time; after that the clerk's own widths are kept.
            self.audit.resizeColumnsToContents()
            self.audit_columns_set = True

    def _apply_filters(self) -> None:
        quarter, code = self.quarter_filter.currentData(), self.indicator_filter.currentData()
        self.audit_model.set_rows(
            [
                r
                for r in self._all_audit
                if (quarter is None or r.quarter == quarter) and (code is None or r.code == code)
            ]
        )
