"""What a plan package holds, shown before a town imports it or before the city signs it."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.window_layout import fit_dialog

if TYPE_CHECKING:
    from actions.plan_packages import PlanPreview

SAMPLE_STYLE = "QLabel { color: #c62828; background: #fff3f3; border: 2px solid #c62828; padding: 6px; }"
TOTAL_ROWS_BRUSH = QBrush(QColor("#e8f0fe"))
# The package's kinds in a clerk's words (the city's workbook keeps its own terms).
CLERK_KINDS = {"流量": "按季填报、累计", "季末数": "季末数", "成对计数": "案件数及其中项（算比率）"}


def check_code(digest: str) -> str:
    """A digest as a check code a person can read out: its first 16 characters in groups of four."""
    head = digest[:16].upper()
    return " ".join(head[i : i + 4] for i in range(0, len(head), 4)) if head else "（无）"


class PlanPreviewDialog(QDialog):
    """The package's name, period, issuer and indicators, and either this town's targets (import) or the
    whole split, 33 towns and 全市 (the city's build). 确定 is the one button that goes on."""

    def __init__(self, parent: QWidget | None, preview: PlanPreview, accept_text: str, town: str | None = None):
        super().__init__(parent)
        summary = preview.summary
        self.setObjectName("plan_preview")
        self.setWindowTitle(f"规划：{summary.name}")
        layout = QVBoxLayout(self)
        facts = [
            f"<b style='font-size:13pt'>{html.escape(summary.name)}</b>",
            f"规划期：{summary.period}　　发布单位：{html.escape(summary.issuer)}",
            f"表号：{html.escape(summary.form_number or '（无）')}　　批准文号：{html.escape(summary.approval_number or '（无）')}"
            f"　　批准机关：{html.escape(summary.approval_authority or '（无）')}"
            f"　　有效期至：{html.escape(summary.valid_until or '（无）')}",
            f"指标解释：{f'{len(summary.definitions)} 项（印在季报和汇总表的最后一页，指向此处可看全文）' if summary.definitions else '规划未给出'}",
        ]
        if summary.id or summary.content_hash:
            # the plan's id and a short check code, as the city's notice names them; the full digest in the tip
            facts.append(
                f"规划编号：{html.escape(summary.id or '（无）')}　　校验码：{check_code(summary.content_hash or '')}"
            )
        if summary.signed_at:
            facts.append(f"市局签名时间：{summary.signed_at}（已核验：由本软件登记的市局证书签名）")
        self.facts = QLabel("<br>".join(facts))
        self.facts.setObjectName("plan_facts")
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setWordWrap(True)
        tips = [f"{name}：{text}" for name, text in summary.definitions]
        if summary.content_hash:
            tips += [f"完整校验码：{summary.content_hash}", f"市局证书指纹：{summary.root_sha256 or '—'}"]
        if tips:
            self.facts.setToolTip("\n".join(tips))
        layout.addWidget(self.facts)
        self.sample_warning = QLabel("示例（非正式目标）：这是演示用的规划，目标不是市局下发的正式目标。")
        self.sample_warning.setObjectName("sample_warning")
        self.sample_warning.setStyleSheet(SAMPLE_STYLE)
        self.sample_warning.setVisible(summary.sample)
        layout.addWidget(self.sample_warning)
        if town is not None:
            layout.addWidget(
                QLabel(f"<b>指标 {len(summary.indicators)} 项</b>（全市目标与{html.escape(town)}的目标）：")
            )
            self.table = self._indicator_table(preview, town)
        else:
            layout.addWidget(
                QLabel(
                    f"<b>分解表</b>：{len(summary.indicators)} 项指标 × 33 个镇街，末两行为镇街合计与全市目标。"
                    "请核对无误后再签名。"
                )
            )
            self.table = self._split_table(preview)
        self.table.setObjectName("plan_table")
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox()
        self.accept_button = buttons.addButton(accept_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.accept_button.setObjectName("plan_accept")
        buttons.addButton("取消", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        fit_dialog(self, QSize(980, 640) if town is None else QSize(820, 480))

    @staticmethod
    def _indicator_table(preview: PlanPreview, town: str) -> QTableWidget:
        lines = preview.summary.indicators
        table = QTableWidget(len(lines), 6)
        table.setHorizontalHeaderLabels(["指标", "分组", "类型", "单位", "全市目标", f"{town}目标"])
        for row, line in enumerate(lines):
            cells = (line.name, line.group, CLERK_KINDS.get(line.kind_name, line.kind_name), line.unit, line.city_target)
            for column, text in enumerate((*cells, preview.town_targets.get(line.code, "—"))):
                item = QTableWidgetItem(_short_target(text) if column >= 4 else text)
                item.setToolTip(text)
                if column >= 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, column, item)
        return _finish(table, row_headers=False)

    @staticmethod
    def _split_table(preview: PlanPreview) -> QTableWidget:
        split = preview.split
        table = QTableWidget(len(split.rows), len(split.headers))
        table.setHorizontalHeaderLabels([h.replace("（", "\n（", 1) for h in split.headers])
        table.setVerticalHeaderLabels([town for town, _ in split.rows])
        bold = QFont()
        bold.setBold(True)
        totals = len(split.rows) - 2  # 镇街合计 and 全市 close the table
        for row, (_town, cells) in enumerate(split.rows):
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row >= totals:
                    item.setFont(bold)
                    item.setBackground(TOTAL_ROWS_BRUSH)
                table.setItem(row, column, item)
        return _finish(table, row_headers=True)


def _short_target(text: str) -> str:
    """A count pair's target without its rate's name, which its line already says: "≥78%"."""
    return text.rsplit(" ", 1)[-1] if "≥" in text else text


def _finish(table: QTableWidget, row_headers: bool) -> QTableWidget:
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setWordWrap(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setVisible(row_headers)
    return table


class WorkbookProblemsDialog(QDialog):
    """Every fault found in the city's workbook, each naming its sheet, row and column; nothing was signed."""

    def __init__(self, parent: QWidget | None, workbook_name: str, problems: list[str]):
        super().__init__(parent)
        self.setObjectName("workbook_problems")
        self.setWindowTitle("规划工作簿有误，未签名")
        layout = QVBoxLayout(self)
        heading = QLabel(
            f"<b>{html.escape(workbook_name)}</b> 中发现 {len(problems)} 处错误，未签名。请在 Excel 中改正后再制作："
        )
        heading.setWordWrap(True)
        layout.addWidget(heading)
        self.problems = QListWidget()
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.problems.addItems(problems)
        layout.addWidget(self.problems, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText("关闭")
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        fit_dialog(self, QSize(720, 420))


def run_modal(dialog: QDialog) -> bool:
    """Show a dialog modally and let it go afterwards (focus goes back to the window); True if accepted."""
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    dialog.deleteLater()
    return accepted
