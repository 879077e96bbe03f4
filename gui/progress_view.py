"""Progress against the plan: completion bars with the time-progress mark, rates, and a trend chart."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.indicators import SHIPPED, Catalogue, Kind
from core.plans import Plan
from core.progress import (
    BEHIND,
    DONE,
    ON_PACE,
    SEVERELY_BEHIND,
    UNFINISHED,
    History,
    Progress,
    YearResult,
    base_notice,
    percent,
    rate_text,
    target_words,
)
from core.quarters import Quarter
from gui.table_model import RowsModel

LABEL_WIDTH = 120  # "2026年第3季度" on the chart's axis
STATUS_COLOURS = {DONE: "#1a7f37", ON_PACE: "#0b5cad", BEHIND: "#b35900", SEVERELY_BEHIND: "#c62828", UNFINISHED: "#c62828"}
ModelIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ProgressRow:
    name: str
    unit: str
    target: int | None
    cumulative: int | None
    completion: Fraction | None
    time_progress: Fraction | None
    status: str | None
    needs_base: bool = False  # a stock without 基期数: no pace status


@dataclass(frozen=True)
class RateRow:
    name: str
    quarter: str
    ytd: str
    target: str
    verdict: str


class ProgressModel(RowsModel[ProgressRow]):
    HEADERS = ("指标", "目标", "规划累计／季末数", "完成率（竖线为时间进度）", "时间进度", "状态")
    BAR_COLUMN = 3

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                row.name,
                _count(row.target, row.unit),
                _count(row.cumulative, row.unit),
                percent(row.completion),
                percent(row.time_progress),
                row.status or ("不判断进度" if row.needs_base else "未填报"),
            )[column]
        if role == Qt.ItemDataRole.UserRole and column == self.BAR_COLUMN:
            return (row.completion, row.time_progress, row.status)
        if role == Qt.ItemDataRole.ForegroundRole and column == 5 and row.status:
            return QBrush(QColor(STATUS_COLOURS[row.status]))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, 2, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RateModel(RowsModel[RateRow]):
    HEADERS = ("比率", "本季度", "本年累计", "目标", "年度是否达标")

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.quarter, row.ytd, row.target, row.verdict)[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 4:
            return QBrush(
                QColor("#1a7f37" if row.verdict == "达标" else "#c62828" if row.verdict == "未达标" else "#555")
            )
        return None


@dataclass(frozen=True)
class YearRow:
    name: str
    numerator: str
    denominator: str
    rate: str
    target: str
    verdict: str


class YearModel(RowsModel[YearRow]):
    """年度: the three rates over the calendar year (annual targets) and the year's flow totals."""

    HEADERS = ("年度项目", "分子", "分母／本年累计", "全年比率", "年度目标", "是否达标")

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.numerator, row.denominator, row.rate, row.target, row.verdict)[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 5:
            return QBrush(
                QColor("#1a7f37" if row.verdict == "达标" else "#c62828" if row.verdict == "未达标" else "#555")
            )
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (1, 2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def year_rows(result: YearResult, catalogue: Catalogue = SHIPPED) -> list[YearRow]:
    rows = []
    for rate in catalogue.rates:
        r = result.rates.get(rate.code)
        if r is None:
            continue
        verdict = "—" if r.met is None else ("达标" if r.met else "未达标")
        rows.append(
            YearRow(
                rate.name,
                "—" if r.numerator is None else f"{r.numerator:,}",
                "—" if r.denominator is None else f"{r.denominator:,}",
                rate_text(r),
                target_words(r.target),
                verdict,
            )
        )
    for code, total in result.totals.items():
        if code in catalogue.by_code:
            unit = catalogue.by_code[code].unit
            rows.append(YearRow(f"{catalogue.display_name(code)}（本年累计）", "", _count(total, unit), "", "", ""))
    return rows


class CompletionBarDelegate(QStyledItemDelegate):
    """Draws 完成率 as a bar, with a vertical mark at 时间进度."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        completion, time_progress, status = index.data(Qt.ItemDataRole.UserRole) or (None, None, None)
        painter.save()
        rect = QRectF(option.rect).adjusted(6, 6, -70, -6)
        painter.setPen(QPen(QColor("#c8ccd2")))
        painter.setBrush(QColor("#f1f3f5"))
        painter.drawRect(rect)
        if completion is not None:
            width = rect.width() * min(float(completion), 1.0)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(STATUS_COLOURS.get(status or "", "#888")))
            painter.drawRect(QRectF(rect.left(), rect.top(), width, rect.height()))
        if time_progress is not None:
            x = rect.left() + rect.width() * float(time_progress)
            painter.setPen(QPen(QColor("#222"), 2))
            painter.drawLine(QPointF(x, rect.top() - 3), QPointF(x, rect.bottom() + 3))
        painter.setPen(QColor("#222"))
        text_rect = QRectF(rect.right() + 6, option.rect.top(), 64, option.rect.height())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, percent(completion))
        painter.restore()


class TrendChart(QWidget):
    """Cumulative actual per quarter of the plan against the straight line to the target."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(220)
        self.points: list[tuple[Quarter, int | None]] = []
        self.target: int | None = None
        self.title = ""
        self.stock = False

    def set_series(
        self, title: str, points: list[tuple[Quarter, int | None]], target: int | None, stock: bool = False
    ) -> None:
        """A stock's target is a level to reach (flat line); a flow's is a total to accumulate on pace."""
        self.title, self.points, self.target, self.stock = title, points, target, stock
        self.update()

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        area = QRectF(self.rect()).adjusted(70, 30, -20, -40)
        painter.setPen(QColor("#222"))
        painter.drawText(QRectF(0, 4, self.width(), 22), Qt.AlignmentFlag.AlignCenter, self.title)
        if not self.points:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "没有数据")
            return
        values = [v for _, v in self.points if v is not None]
        top = max([*values, self.target or 0, 1])
        n = len(self.points)

        def xy(i: int, value: float) -> QPointF:
            x = area.left() + area.width() * (i + 0.5) / n
            return QPointF(x, area.bottom() - area.height() * value / top)

        painter.setPen(QPen(QColor("#c8ccd2"), 1))
        for step in range(5):
            y = area.bottom() - area.height() * step / 4
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.drawText(QRectF(0, y - 9, 64, 18), Qt.AlignmentFlag.AlignRight, f"{top * step / 4:,.0f}")
        if self.target:
            painter.setPen(QPen(QColor("#888"), 1.5, Qt.PenStyle.DashLine))
            if self.stock:
                painter.drawLine(
                    QPointF(area.left(), xy(0, self.target).y()), QPointF(area.right(), xy(0, self.target).y())
                )
            else:
                painter.drawLine(xy(-1, 0) + QPointF(area.width() / n / 2, 0), xy(n - 1, self.target))
        path = QPainterPath()
        started = False
        painter.setPen(QPen(QColor("#0b5cad"), 2))
        for i, (_, value) in enumerate(self.points):
            if value is None:
                continue
            point = xy(i, value)
            if started:
                path.lineTo(point)
            else:
                path.moveTo(point)
                started = True
            painter.drawEllipse(point, 2.5, 2.5)
        painter.drawPath(path)
        painter.setPen(QColor("#444"))
        every = 1 if area.width() / n >= LABEL_WIDTH else 2  # quarters named in words need room
        for i, (quarter, _) in enumerate(self.points):
            if (quarter.q == 1 if n > 8 else i % every == 0):
                x = xy(i, 0).x()
                box = QRectF(x - LABEL_WIDTH / 2, area.bottom() + 6, LABEL_WIDTH, 18)
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, quarter.label)
        painter.drawText(
            QRectF(area.left(), area.bottom() + 22, area.width(), 18),
            Qt.AlignmentFlag.AlignRight,
            "蓝线：季末持卡人数　虚线：规划期末目标"
            if self.stock
            else "蓝线：规划累计实际数　虚线：按时间进度应达到的数",
        )


class ProgressView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # the page scrolls on a small or scaled screen (1366×768 at 125 %) instead of making the window taller
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.page_scroll = QScrollArea()
        self.page_scroll.setObjectName("progress_scroll")
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer.addWidget(self.page_scroll)
        page = QWidget()
        layout = QVBoxLayout(page)
        self.heading = QLabel()
        self.heading.setObjectName("progress_heading")
        layout.addWidget(self.heading)
        self.notice = QLabel()
        self.notice.setObjectName("progress_notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b35900;")
        self.notice.setVisible(False)
        layout.addWidget(self.notice)
        self.model = ProgressModel()
        self.table = _table(self.model)
        self.table.setItemDelegateForColumn(ProgressModel.BAR_COLUMN, CompletionBarDelegate(self.table))
        self.table.horizontalHeader().setSectionResizeMode(ProgressModel.BAR_COLUMN, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table)
        self.rate_model = RateModel()
        self.rate_table = _table(self.rate_model)
        layout.addWidget(self.rate_table)
        # 年度 on the left, the trend on the right: side by side so the page is no taller than before
        bottom = QHBoxLayout()
        year_box = QVBoxLayout()
        self.year_heading = QLabel()
        self.year_heading.setObjectName("year_heading")
        self.year_heading.setWordWrap(True)
        year_box.addWidget(self.year_heading)
        self.year_model = YearModel()
        self.year_table = _table(self.year_model, rows=5)
        year_box.addWidget(self.year_table)
        year_box.addStretch(1)
        bottom.addLayout(year_box)
        trend_box = QVBoxLayout()
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("趋势："))
        self.series_box = QComboBox()
        self.series_box.setObjectName("series")
        self.catalogue: Catalogue | None = None
        self._fill_series(SHIPPED)
        self.series_box.currentIndexChanged.connect(self._draw_trend)
        chooser.addWidget(self.series_box)
        chooser.addStretch(1)
        trend_box.addLayout(chooser)
        self.chart = TrendChart()
        trend_box.addWidget(self.chart, 1)
        bottom.addLayout(trend_box, 1)
        layout.addLayout(bottom, 1)
        self.page_scroll.setWidget(page)
        self._plan: Plan | None = None
        self._town = ""
        self._history: History = {}
        self._quarter: Quarter | None = None

    def _fill_series(self, catalogue: Catalogue) -> None:
        """The trend's choices: the figures with a plan target in the quarter's plan, the chosen one kept."""
        if catalogue == self.catalogue:
            return
        self.catalogue = catalogue
        chosen = self.series_box.currentData()
        self.series_box.blockSignals(True)
        self.series_box.clear()
        for code in catalogue.planned_codes:
            self.series_box.addItem(catalogue.display_name(code), code)
        self.series_box.setCurrentIndex(max(self.series_box.findData(chosen), 0))
        self.series_box.blockSignals(False)

    def show_progress(self, progress: Progress, history: History, year: YearResult) -> None:
        """The quarter's progress and its year as `progress` and `annual` compute them (actions.figures)."""
        self._plan, self._town, self._history, self._quarter = progress.plan, progress.town, history, progress.quarter
        catalogue = progress.catalogue  # the quarter's list, as `progress` reports it (after the last plan too)
        self._fill_series(catalogue)
        if progress.plan is None:
            self.heading.setText(
                f"<b>{progress.town} {progress.quarter.label}</b>　本季度不在已导入的规划期内，没有目标。"
            )
        else:
            self.heading.setText(
                f"<b>{progress.town} {progress.quarter.label}</b>　{progress.plan.name}　"
                f"时间进度 <b>{percent(progress.time_progress)}</b>"
            )
        rows = []
        notices = []
        for code in catalogue.planned_codes:
            if code not in progress.indicators:
                continue
            item = progress.indicators[code]
            name = catalogue.display_name(code)
            if catalogue.by_code[code].kind is Kind.STOCK and item.target is not None:
                # completion of a stock is its growth from the base: (季末数 − 基期数) ÷ (目标 − 基期数)
                name += "，基期数 未录入" if item.base is None else f"，基期数 {item.base:,}"
                if item.needs_base:
                    notices.append(base_notice(code, progress.plan) + "（在“填报”页该指标旁点“基期数”录入）")
            rows.append(
                ProgressRow(
                    name,
                    catalogue.by_code[code].unit,
                    item.target,
                    item.cumulative,
                    item.completion,
                    progress.time_progress,
                    item.status,
                    item.needs_base,
                )
            )
        self.model.set_rows(rows)
        fit_rows(self.table, len(rows))
        self.notice.setText("\n".join(notices))
        self.notice.setVisible(bool(notices))
        rate_rows = []
        for rate in catalogue.rates:
            if rate.code not in progress.rates_ytd:
                continue
            ytd = progress.rates_ytd[rate.code]
            verdict = "—" if ytd.met is None else ("达标" if ytd.met else "未达标")
            rate_rows.append(
                RateRow(
                    rate.name,
                    rate_text(progress.rates_quarter[rate.code]),
                    rate_text(ytd),
                    target_words(ytd.target),
                    verdict,
                )
            )
        self.rate_model.set_rows(rate_rows)
        fit_rows(self.rate_table, len(rate_rows))
        self.year_heading.setText(f"<b>年度（{year.year}年）</b>　比率为年度目标，按全年计算；{year.scope}")
        self.year_model.set_rows(year_rows(year, year.catalogue))
        self.year_table.resizeColumnsToContents()
        header = self.year_table.horizontalHeader()
        self.year_table.setMinimumWidth(header.length() + 2 * self.year_table.frameWidth() + 24)
        self._draw_trend()

    def _draw_trend(self) -> None:
        code = self.series_box.currentData()
        catalogue = self.catalogue or SHIPPED
        if self._plan is None or code is None or self._quarter is None:
            self.chart.set_series(catalogue.display_name(code) if code else "", [], None)
            return
        points: list[tuple[Quarter, int | None]] = []
        running = 0
        stock = catalogue.by_code[code].kind is Kind.STOCK
        for quarter in self._plan.quarters:
            value = self._history.get(quarter, {}).get(code)
            if stock:
                points.append((quarter, value if quarter <= self._quarter else None))
                continue
            running += value or 0
            points.append((quarter, running if quarter <= self._quarter and value is not None else None))
        self.chart.set_series(
            f"{catalogue.display_name(code)}：{'季末数' if stock else '规划累计'}与目标"
            f"（{self._plan.targets_for(self._town).counts[code]:,} {catalogue.by_code[code].unit}）",
            points,
            self._plan.targets_for(self._town).counts[code],
            stock,
        )


def _count(value: int | None, unit: str) -> str:
    return "—" if value is None else f"{value:,} {unit}"


def _table(model: QAbstractTableModel, rows: int = 3) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setDefaultSectionSize(30)
    fit_rows(table, rows)
    return table


def fit_rows(table: QTableView, rows: int) -> None:
    """As tall as its rows: a plan's list may have more or fewer than the shipped three of each."""
    table.setFixedHeight(table.horizontalHeader().sizeHint().height() + 30 * max(rows, 1) + 4)
