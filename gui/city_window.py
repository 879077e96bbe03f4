"""The city bureau's window: collect a folder of returns, see who is valid or missing, consolidate."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    QSettings,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import QAction, QBrush, QCloseEvent, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from actions.city import columns, summary_cell_text, table_rows
from core.consolidation import CitySummary
from core.errors import DomainError
from core.indicators import SHIPPED, Catalogue
from core.plans import TOWNS
from core.progress import percent
from core.quarters import Quarter
from gui import questions
from gui.errors import show_error
from gui.file_lists import crl_button
from gui.progress_view import STATUS_COLOURS
from gui.tasks import BackgroundTask
from gui.verify_dialog import VerdictModel, VerdictRow
from gui.window_layout import fit_to_screen, restore_states, save_states

if TYPE_CHECKING:
    from actions.city import Collection, Consolidated
    from actions.database import Store
    from actions.plan_packages import CheckedWorkbook

log = logging.getLogger(__name__)
ModelIndex = QModelIndex | QPersistentModelIndex
VALID, INVALID, CONFLICT, MISSING = "valid", "invalid", "conflict", "missing"
CELL_COLOURS = {VALID: "#e6f4ea", INVALID: "#ffe0b2", CONFLICT: "#fff1a8", MISSING: "#f4b4b4"}
TEXT_COLOURS = {VALID: "#1a7f37", INVALID: "#8a4b00", CONFLICT: "#7a5c00", MISSING: "#8b0000"}
MISSING_TEXT = "缺报"
MISSING_BACKGROUND = "#f4b4b4"


def ask_root_passphrase(parent: QWidget, root_name: str) -> bytes | None:
    """The city root's passphrase (tests replace this function, as they do the town's ask_passphrase)."""
    text, ok = QInputDialog.getText(
        parent, "市局根证书口令", f"请输入 {root_name} 的口令：", QLineEdit.EchoMode.Password
    )
    return text.encode("utf-8") if ok and text else None


@dataclass(frozen=True)
class GridCell:
    state: str
    text: str
    detail: str


class CollectionGridModel(QAbstractTableModel):
    """33 towns down, the plan's quarters across."""

    def __init__(self) -> None:
        super().__init__()
        self.quarters: list[Quarter] = []
        self.cells: dict[tuple[str, Quarter], GridCell] = {}

    def set_collection(self, quarters: list[Quarter], collection: Collection | None) -> None:
        self.beginResetModel()
        self.quarters = quarters
        self.cells = grid_cells(collection) if collection else {}
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(TOWNS)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.quarters)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            quarter = self.quarters[section]
            return f"{quarter.year}\nQ{quarter.q}"
        return TOWNS[section]

    def cell(self, index: ModelIndex) -> GridCell:
        key = (TOWNS[index.row()], self.quarters[index.column()])
        return self.cells.get(key, GridCell(MISSING, MISSING_TEXT, "缺报：未收到该季度的有效季报"))

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        cell = self.cell(index)
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.detail
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(CELL_COLOURS[cell.state]))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(TEXT_COLOURS[cell.state]))
        if role == Qt.ItemDataRole.FontRole and cell.state != VALID:
            return _bold()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None


def _bold() -> QFont:
    font = QFont()
    font.setBold(True)
    return font


def grid_cells(collection: Collection) -> dict[tuple[str, Quarter], GridCell]:
    cells: dict[tuple[str, Quarter], GridCell] = {}
    for verdict in collection.invalid:
        if verdict.payload:
            key = (verdict.payload.town, verdict.payload.quarter)
            cells[key] = GridCell(INVALID, "无效", f"{Path(verdict.file).name}：{verdict.reason}")
    for verdict in collection.conflicts:
        if verdict.payload:
            key = (verdict.payload.town, verdict.payload.quarter)
            cells[key] = GridCell(CONFLICT, "冲突", f"第 {verdict.payload.revision} 版有内容不同的多份季报，未计入")
    for (town, quarter), verdict in collection.chosen.items():
        assert verdict.payload is not None
        revision = verdict.payload.revision
        cells[(town, quarter)] = GridCell(
            VALID, "✓" if revision == 1 else f"✓{revision}", f"有效：{Path(verdict.file).name}（第 {revision} 版）"
        )
    return cells


class SummaryModel(QAbstractTableModel):
    """The 汇总表 of one quarter as text, 全市 first."""

    def __init__(self) -> None:
        super().__init__()
        self.headers = ["序号", "镇街"] + [f"{c.short}\n{c.title}" if c.title else c.short for c in columns()]
        self.rows: list[list[str]] = []
        self.colours: dict[tuple[int, int], str] = {}

    def set_summary(self, summary: CitySummary | None, conflicted: set[str]) -> None:
        self.beginResetModel()
        self.rows, self.colours = [], {}
        if summary is not None:
            cols = columns(summary.catalogue)  # the indicator list of the quarter's plan
            self.headers = ["序号", "镇街"] + [f"{c.short}\n{c.title}" if c.title else c.short for c in cols]
            for seq, town, cells in table_rows(summary, conflicted):
                if cells is None:
                    self.rows.append([seq, town, "冲突" if town in conflicted else "缺报"] + [""] * (len(cols) - 1))
                    continue
                self.rows.append([seq, town, *(summary_cell_text(v, c.kind) for v, c in zip(cells, cols, strict=True))])
                for offset, value in enumerate(cells):
                    if isinstance(value, str) and value in STATUS_COLOURS:
                        self.colours[(len(self.rows) - 1, offset + 2)] = STATUS_COLOURS[value]
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self.rows):
            # 序号 and 镇街 again as the row header, which stays put while the grid scrolls sideways.
            if role == Qt.ItemDataRole.DisplayRole:
                seq, town, first = self.rows[section][0], self.rows[section][1], self.rows[section][2]
                flag = f"（{first}）" if first in (MISSING_TEXT, "冲突") else ""
                return f"{seq:>3}  {town}{flag}"
            if role == Qt.ItemDataRole.ForegroundRole and self.rows[section][2] in (MISSING_TEXT, "冲突"):
                return QBrush(QColor("#8b0000"))
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.BackgroundRole and self.rows[index.row()][2] in (MISSING_TEXT, "冲突"):
            return QBrush(QColor(MISSING_BACKGROUND if self.rows[index.row()][2] == MISSING_TEXT else "#fff1a8"))
        if role == Qt.ItemDataRole.FontRole and self.rows[index.row()][index.column()] in (MISSING_TEXT, "冲突"):
            return _bold()
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = self.colours.get((index.row(), index.column()))
            if colour:
                return QBrush(QColor(colour))
            if self.rows[index.row()][index.column()] in ("缺报", "冲突"):
                return QBrush(QColor("#8b0000"))
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CompletionChart(QWidget):
    """Each town's 完成率 for one indicator as a bar, with the time-progress line across."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(240)
        self.summary: CitySummary | None = None
        self.catalogue = SHIPPED
        self.code = SHIPPED.planned_codes[1]

    def show_summary(self, summary: CitySummary | None, code: str, catalogue: Catalogue = SHIPPED) -> None:
        self.summary, self.code, self.catalogue = summary, code, catalogue
        self.update()

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        area = QRectF(self.rect()).adjusted(48, 26, -10, -40)
        summary = self.summary
        painter.setPen(QColor("#222"))
        title = f"各镇街{self.catalogue.display_name(self.code)}完成率（虚线为时间进度）"
        painter.drawText(QRectF(0, 2, self.width(), 20), Qt.AlignmentFlag.AlignCenter, title)
        if summary is None:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "请先选择季报文件夹")
            return
        values = {t: p.indicators[self.code] for t, p in summary.towns.items() if self.code in p.indicators}
        top = max([1.2] + [float(v.completion or 0) for v in values.values()])
        slot = area.width() / len(TOWNS)
        painter.setPen(QPen(QColor("#dddddd"), 1))
        for step in range(0, int(top * 100) + 1, 20):
            y = area.bottom() - area.height() * step / 100 / top
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(QColor("#555"))
            painter.drawText(QRectF(0, y - 8, 44, 16), Qt.AlignmentFlag.AlignRight, f"{step}%")
            painter.setPen(QPen(QColor("#dddddd"), 1))
        for i, town in enumerate(TOWNS):
            x = area.left() + i * slot
            item = values.get(town)
            if item is not None and item.completion is not None:
                height = area.height() * float(item.completion) / top
                painter.fillRect(
                    QRectF(x + slot * 0.15, area.bottom() - height, slot * 0.7, height),
                    QColor(STATUS_COLOURS.get(item.status or "", "#888")),
                )
            painter.save()
            painter.setPen(QColor("#c62828" if item is None else "#333"))
            painter.translate(x + slot / 2, area.bottom() + 4)
            painter.rotate(60)
            painter.drawText(QPointF(0, 8), town)
            painter.restore()
        if summary.city.time_progress is not None:
            y = area.bottom() - area.height() * float(summary.city.time_progress) / top
            painter.setPen(QPen(QColor("#111"), 1.5, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.drawText(QPointF(area.right() - 120, y - 4), f"时间进度 {percent(summary.city.time_progress)}")


class CityWindow(QMainWindow):
    def __init__(self, store: Store, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.settings = QSettings()
        self.collection: Collection | None = None
        self.summary: CitySummary | None = None
        self.consolidated: Consolidated | None = None
        self.folder: Path | None = None
        self.task: BackgroundTask | None = None
        self.setWindowTitle("镇街人社指标填报系统 — 市局汇总")
        self._build()
        self._connect_signals()
        fit_to_screen(self, self.settings, "city_window", QSize(1280, 840))
        restore_states(self.settings, "city_window", self._remembered())
        self._refresh()
        last = self.settings.value("city/folder")
        if last and Path(str(last)).is_dir():
            # The folder of the last session is opened and verified again: files may have come in since.
            QTimer.singleShot(0, lambda: self._reopen(Path(str(last))))

    def _reopen(self, folder: Path) -> None:
        if self.folder is None:  # a folder chosen before this ran is the one the user wants
            self.collect_folder(folder)

    def _remembered(self) -> dict[str, QSplitter | QHeaderView]:
        return {"collect_splitter": self.collect_splitter, "summary_splitter": self.summary_splitter}

    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("<b style='font-size:15pt'>市局汇总</b>"))
        self.folder_label = QLabel("尚未选择季报文件夹")
        bar.addWidget(self.folder_label, 1)
        self.folder_button = QPushButton("选择季报文件夹…")
        self.reload_button = QPushButton("重新核验")
        bar.addWidget(self.folder_button)
        bar.addWidget(self.reload_button)
        self.crl_button = crl_button(self)
        bar.addWidget(self.crl_button)
        bar.addWidget(QLabel("汇总季度："))
        self.quarter_box = QComboBox()
        from actions.city import measured_plans, stored_trust_roots

        self.plans_problem = ""
        try:  # the plans `consolidate --db` measures against, each signature verified again
            self.plans = measured_plans(self.store, stored_trust_roots(self.store))
        except DomainError as exc:
            self.plans, self.plans_problem = [], exc.message
        quarters = [q for plan in self.plans for q in plan.quarters]
        self.quarters = quarters
        for quarter in reversed(quarters):
            self.quarter_box.addItem(quarter.label, quarter.code)
        bar.addWidget(self.quarter_box)
        self.export_button = QPushButton("导出汇总表…")
        bar.addWidget(self.export_button)
        layout.addLayout(bar)
        self.counts = QLabel()
        self.counts.setObjectName("counts")
        self.counts.setWordWrap(True)
        layout.addWidget(self.counts)
        self.tabs = QTabWidget()
        collected = self.collect_splitter = QSplitter(Qt.Orientation.Vertical)
        self.grid_model = CollectionGridModel()
        self.grid = QTableView()
        self.grid.setModel(self.grid_model)
        self.grid.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.grid.horizontalHeader().setMinimumSectionSize(40)
        self.grid.verticalHeader().setDefaultSectionSize(22)
        collected.addWidget(self.grid)
        self.files_model = VerdictModel()
        self.files = QTableView()
        self.files.setModel(self.files_model)
        self.files.verticalHeader().setVisible(False)
        self.files.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.files.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        collected.addWidget(self.files)
        collected.setSizes([560, 200])
        self.tabs.addTab(collected, "收集情况（镇街 × 季度）")
        summary_page = self.summary_splitter = QSplitter(Qt.Orientation.Vertical)
        self.summary_model = SummaryModel()
        self.summary_table = QTableView()
        self.summary_table.setModel(self.summary_model)
        # 序号 and 镇街 live in the row header, so they stay in view while the wide table scrolls sideways.
        self.summary_table.setColumnHidden(0, True)
        self.summary_table.setColumnHidden(1, True)
        self.summary_table.verticalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        self.summary_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        summary_page.addWidget(self.summary_table)
        chart_box = QWidget()
        chart_layout = QVBoxLayout(chart_box)
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("图表指标："))
        self.chart_indicator = QComboBox()
        self.chart_indicator.setObjectName("chart_indicator")
        self.chart_catalogue: Catalogue | None = None
        self._fill_chart_indicators(SHIPPED)
        self.chart_indicator.setCurrentIndex(1)
        chooser.addWidget(self.chart_indicator)
        chooser.addStretch(1)
        chart_layout.addLayout(chooser)
        self.chart = CompletionChart()
        chart_layout.addWidget(self.chart, 1)
        summary_page.addWidget(chart_box)
        summary_page.setSizes([470, 300])
        self.tabs.addTab(summary_page, "汇总表与完成率")
        from gui.city_register import RegisterPage  # 登记簿与催报: receipts, send-backs, 催报 (issue 27)

        self.register_page = RegisterPage(self)
        self.tabs.addTab(self.register_page, "登记簿与催报")
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        plans = self.menuBar().addMenu("规划(&P)")
        self.template_action = QAction("生成规划模板(&T)…", self)
        self.template_action.setToolTip("写出空白的指标任务分解表（33 个镇街，附填写说明），在 Excel 中填写")
        plans.addAction(self.template_action)
        self.build_action = QAction("制作签名规划(&B)…", self)
        self.build_action.setToolTip("检查填好的分解表，核对后用市局根证书签名，生成下发给镇街的 .plan 文件")
        plans.addAction(self.build_action)
        self.plan_line = QLabel()
        self.plan_line.setObjectName("plan_line")
        self.statusBar().addPermanentWidget(self.plan_line)

    def _fill_chart_indicators(self, catalogue: Catalogue) -> None:
        """The chart's choices: the figures with a plan target in the shown quarter's plan, the chosen one kept."""
        if catalogue == self.chart_catalogue:
            return
        self.chart_catalogue = catalogue
        chosen = self.chart_indicator.currentData()
        self.chart_indicator.blockSignals(True)
        self.chart_indicator.clear()
        for code in catalogue.planned_codes:
            self.chart_indicator.addItem(catalogue.display_name(code), code)
        self.chart_indicator.setCurrentIndex(max(self.chart_indicator.findData(chosen), 0))
        self.chart_indicator.blockSignals(False)

    def _connect_signals(self) -> None:
        self.folder_button.clicked.connect(lambda: self.choose_folder())
        self.crl_button.clicked.connect(lambda: self.folder and self.collect_folder(self.folder))
        self.reload_button.clicked.connect(lambda: self.collect_folder(self.folder) if self.folder else None)
        self.quarter_box.currentIndexChanged.connect(self._refresh)
        self.chart_indicator.currentIndexChanged.connect(self._refresh)
        self.export_button.clicked.connect(lambda: self.export_summary())
        self.template_action.triggered.connect(lambda: self.write_plan_template())
        self.build_action.triggered.connect(lambda: self.build_plan())

    @property
    def quarter(self) -> Quarter:
        return Quarter.parse(self.quarter_box.currentData())

    def choose_folder(self) -> None:
        start = str(self.settings.value("city/folder", str(Path.home())))
        chosen = QFileDialog.getExistingDirectory(self, "选择存放季报的文件夹（含子文件夹）", start)
        if chosen:
            self.settings.setValue("city/folder", chosen)
            self.collect_folder(Path(chosen))

    def set_crls(self, paths: list[Path]) -> None:
        """The revocation lists every later verification uses (the button's choice, `--crl` repeated)."""
        self.crl_button.set_paths(paths)

    def collect_folder(self, folder: Path) -> BackgroundTask | None:
        from actions.city import collect_returns, revocations, stored_trust_roots

        try:
            roots = stored_trust_roots(self.store)
        except DomainError as exc:
            show_error(self, exc)
            return None
        if self.plans_problem:
            show_error(self, self.plans_problem, title="规划核验不通过，不能汇总")
            return None
        try:
            revoked = revocations(self.crl_button.paths, roots, warn=lambda m: show_error(self, m, "吊销列表已过期"))
        except DomainError as exc:
            show_error(self, exc, title="吊销列表不可用")
            return None
        self.folder = folder
        self.settings.setValue("city/folder", str(folder))
        self.folder_label.setText(f"季报文件夹：{folder}")
        earlier = self.task
        if earlier is not None:
            try:
                earlier.cancelled.set()  # a newer folder replaces a collection still running
            except RuntimeError:
                pass

        def collected(result: Collection) -> None:
            if self.task is task:
                self._on_collected(result)

        def failed(error: BaseException) -> None:
            if self.task is task:
                show_error(self, error, title="核验失败")

        task = BackgroundTask(
            self,
            "正在核验季报",
            lambda step: collect_returns(folder, roots, revoked, step, plans=self.plans),
            collected,
            failed,
        )
        self.task = task
        task.start()
        return task

    def _totals_note(self) -> str:
        """Which towns the 全市 row leaves out, and each town whose signed totals its returns present do not bear out."""
        if self.summary is None:
            return ""
        lines = []
        if self.summary.city_label != "全市":
            lines.append(f"合计行为{self.summary.city_label}，与已报送镇街自己的目标之和比较")
        flagged = [f"{town}：{'；'.join(flags)}" for town, flags in self.summary.checks.items() if flags]
        if flagged:
            lines.append(
                f"累计数核对（{len(flagged)} 个镇街）：" + "　".join(flagged[:5]) + ("等" if len(flagged) > 5 else "")
            )
        return "".join(f"<br>{html.escape(line)}" for line in lines)

    def _on_collected(self, collection: Collection) -> None:
        self.collection = collection
        self._refresh()

    def _refresh(self) -> None:
        self.register_page.refresh()
        collection = self.collection
        self.grid_model.set_collection(self.quarters, collection)
        plan = next((p for p in self.plans if p.contains(self.quarter)), None) if self.quarters else None
        catalogue = plan.catalogue if plan is not None else SHIPPED
        self._fill_chart_indicators(catalogue)
        self.plan_line.setText(f"汇总季度的规划：{plan.name}" if plan is not None else "")
        if collection is None:
            self.counts.setText(
                f"<span style='color:#c62828'>{html.escape(self.plans_problem)}</span>"
                if self.plans_problem
                else "选择季报文件夹后，软件会核验其中（含子文件夹）所有 .xlsx 和 .pdf 季报。"
            )
            self.summary_model.set_summary(None, set())
            self.chart.show_summary(None, self.chart_indicator.currentData(), catalogue)
            return
        from actions.city import summarise

        quarter = self.quarter
        self.consolidated = summarise(collection, quarter, self.plans, self.folder or Path())
        self.summary, conflicted = self.consolidated.summary, self.consolidated.conflicted
        self.summary_model.set_summary(self.summary, conflicted)
        self.chart.show_summary(self.summary, self.chart_indicator.currentData(), catalogue)
        in_quarter = [v for v in collection.superseded + collection.conflicts if v.quarter == quarter.code]
        self.counts.setText(
            f"<b>{quarter.label}</b>　有效 {len(self.summary.reporting)} 个镇街　"
            f"无效文件 {len(collection.invalid)}　被取代 {sum(v in collection.superseded for v in in_quarter)}　"
            f"冲突 {sum(v in collection.conflicts for v in in_quarter)}　"
            f"<span style='color:#c62828'>缺报 {len(self.summary.missing)}：{'、'.join(self.summary.missing) or '无'}</span>"
            f"　跳过 {len(collection.skipped)} 个非季报文件" + self._totals_note()
        )
        rows = []
        for status, verdicts in (
            ("无效", collection.invalid),
            ("冲突", collection.conflicts),
            ("被取代", collection.superseded),
            ("跳过", collection.skipped),
        ):
            for v in verdicts:
                label = Quarter.parse(v.quarter).label if v.quarter else ""
                rows.append(
                    VerdictRow(
                        v.file,
                        False,
                        v.reason if status in ("无效", "跳过") else status,
                        v.town or "",
                        label,
                        str(v.revision or ""),
                        status,
                    )
                )
        self.files_model.set_rows(rows)

    def export_summary(self, folder: Path | None = None) -> list[Path]:
        from actions.city import summary_files, write_city_summary

        if self.consolidated is None or self.collection is None:
            show_error(self, "请先选择季报文件夹并完成核验")
            return []
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(self, "选择保存汇总表的文件夹", str(Path.home()))
            if not chosen:
                return []
            folder = Path(chosen)
        consolidated = self.consolidated
        overwrite = False
        if any(p.exists() for p in summary_files(consolidated.quarter, folder)):
            answer = QMessageBox.question(
                self, "文件已存在", f"{folder} 中已有{consolidated.quarter.label}的汇总表，要覆盖吗？"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return []
            overwrite = True
        try:
            targets = write_city_summary(consolidated, folder, overwrite)
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="导出失败")
            return []
        self.statusBar().showMessage(f"已导出 {targets[0].name}、{targets[1].name}", 10000)
        return targets

    # --- the city's plan: template, then the signed package ---------------------------------------

    def write_plan_template(self, out: Path | None = None) -> Path | None:
        """规划 → 生成规划模板: the blank split the city fills in Excel, as `plan template` writes it."""
        from actions.plan_packages import plan_template

        overwrite = out is None  # the save dialog has asked already
        if out is None:
            start = Path(str(self.settings.value("plan/folder", str(Path.home())))) / "规划指标任务分解表（模板）.xlsx"
            chosen, _ = QFileDialog.getSaveFileName(self, "生成规划模板", str(start), "Excel 工作簿 (*.xlsx)")
            if not chosen:
                return None
            out = Path(chosen)
            self.settings.setValue("plan/folder", str(out.parent))
        elif out.exists():
            answer = QMessageBox.question(self, "文件已存在", f"{out.name} 已存在，要覆盖吗？")
            if answer != QMessageBox.StandardButton.Yes:
                return None
            overwrite = True
        try:
            written = plan_template(out, overwrite=overwrite)
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="未生成模板")
            return None
        self.statusBar().showMessage(f"已生成规划模板：{written}（填好后用“规划 → 制作签名规划”）", 15000)
        return written

    def build_plan(
        self, workbook: Path | None = None, root_p12: Path | None = None, out: Path | None = None
    ) -> BackgroundTask | None:
        """规划 → 制作签名规划: check the filled workbook (off the GUI thread), show the split, then ask for the
        root and its passphrase and write the signed .plan; `plan build` on the command line. The paths may be
        given (tests, scripts); otherwise file dialogs ask."""
        from actions.plan_packages import plan_check

        if workbook is None:
            workbook = questions.choose_file(
                self, self.settings, "plan/folder", "选择填好的规划分解表", "Excel 工作簿 (*.xlsx)"
            )
            if workbook is None:
                return None
        chosen_workbook = workbook

        def failed(error: BaseException) -> None:
            problems = getattr(error, "problems", None)
            if isinstance(problems, list) and problems:
                from gui.plan_dialogs import WorkbookProblemsDialog, run_modal

                run_modal(WorkbookProblemsDialog(self, chosen_workbook.name, problems))
            else:
                show_error(self, error, title="未签名")

        task = BackgroundTask(
            self,
            "正在检查规划分解表",
            lambda step: plan_check(chosen_workbook),
            lambda checked: self._sign_checked(checked, root_p12, out),
            failed,
        )
        self.plan_task = task
        task.start()
        return task

    def _sign_checked(self, checked: CheckedWorkbook, root_p12: Path | None, out: Path | None) -> None:
        from actions.plan_packages import plan_sign
        from gui.plan_dialogs import PlanPreviewDialog, run_modal

        if not run_modal(PlanPreviewDialog(self, checked.preview, "核对无误，签名…")):
            return
        if root_p12 is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "选择市局根证书", "", "市局根证书 (*.p12 *.pfx)")
            if not chosen:
                return
            root_p12 = Path(chosen)
        passphrase = ask_root_passphrase(self, root_p12.name)
        if passphrase is None:
            return
        overwrite = out is None  # the save dialog has asked already
        if out is None:
            name = f"{checked.package.name}.plan".replace("/", "／")
            start = checked.workbook.parent / name
            chosen, _ = QFileDialog.getSaveFileName(self, "保存签名规划", str(start), "规划文件 (*.plan)")
            if not chosen:
                return
            out = Path(chosen)
        elif out.exists():
            answer = QMessageBox.question(self, "文件已存在", f"{out.name} 已存在，要覆盖吗？")
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        try:
            built = plan_sign(checked, root_p12, passphrase, out, overwrite=overwrite)
        except (DomainError, OSError) as exc:
            show_error(self, exc, title="未签名")
            return
        self.built_plan = built
        self.statusBar().showMessage(f"已生成签名规划：{built.out}（下发各镇街，用“文件 → 导入规划”导入）", 20000)
        QMessageBox.information(
            self,
            "已生成签名规划",
            f"{built.summary.name}（{built.summary.period}）\n已保存到：{built.out}\n\n"
            "请将此文件下发各镇街，镇街在软件中用“文件 → 导入规划”导入。",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        save_states(self.settings, "city_window", self, self._remembered())
        event.accept()
