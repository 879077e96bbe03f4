"""The small questions the clerk's window asks: the quarter picker that typing cannot change, a 基期数
with no figure filled in for the clerk, a 退回修改 reason with its rule shown first, and a paste shown
before it lands when what was copied does not match the rows it would fill."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import NumberError
from core.numbers import parse_count
from core.submission import MIN_REOPEN_REASON
from gui import questions
from gui.window_layout import fit_dialog

# The keys that move through a combo box's list; everything else typed there is refused.
_PICKER_KEYS = {
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_F4,
    Qt.Key.Key_Tab,
    Qt.Key.Key_Backtab,
    Qt.Key.Key_Escape,
}


class QuarterPicker(QComboBox):
    """报告期: chosen with the mouse, or with the arrow keys once the clerk has moved to it. Typed
    text never selects a quarter (a combo box's type-ahead would turn "2…" into another quarter), and
    the wheel turns it only when it has focus (scrolling the page over it changes nothing)."""

    refused_typing = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        alt_down = event.key() == Qt.Key.Key_Down and bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if event.key() in _PICKER_KEYS or alt_down or event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().keyPressEvent(event)
            return
        event.accept()  # swallowed: neither a type-ahead jump nor a key for the window behind
        if event.text().strip():
            self.refused_typing.emit()

    def keyboardSearch(self, text: str) -> None:  # noqa: N802 (Qt's name) — the popup's type-ahead too
        return

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()  # the scroll area behind scrolls


def _ok_cancel(dialog: QDialog, ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    buttons = QDialogButtonBox()
    ok = buttons.addButton(ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
    ok.setObjectName("ok")
    buttons.addButton("取消", QDialogButtonBox.ButtonRole.RejectRole)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons, ok


class BaseDialog(QDialog):
    """录入基期数: the box starts empty (never a figure the clerk did not type); 确定 waits for a number,
    and 0 is saved only after the clerk confirms it is really 0."""

    def __init__(self, parent: QWidget | None, name: str, plan_name: str, year: int, current: int | None):
        super().__init__(parent)
        self.setObjectName("base_dialog")
        self.setWindowTitle("录入基期数")
        layout = QVBoxLayout(self)
        text = f"{name}的基期数（{plan_name}期初，即 {year} 年末的数）："
        if current is not None:
            text += f"<br>现在的基期数：{current:,}（输入新的数替换它）"
        label = QLabel(text)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.edit = QLineEdit()
        self.edit.setObjectName("base_value")
        self.edit.setPlaceholderText("请输入基期数")
        self.edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.edit)
        self.problem = QLabel()
        self.problem.setObjectName("base_problem")
        self.problem.setStyleSheet("color:#c62828;")
        layout.addWidget(self.problem)
        buttons, self.ok = _ok_cancel(self, "确定")
        layout.addWidget(buttons)
        self.edit.textChanged.connect(self._check)
        self._check()

    def value(self) -> int | None:
        try:
            return parse_count(self.edit.text())
        except NumberError:
            return None

    def _check(self) -> None:
        """The reason `base` gives for the same text (core.numbers.parse_count's), shown under the box."""
        try:
            value = parse_count(self.edit.text())
            problem = ""
        except NumberError as exc:
            value, problem = None, exc.message
        self.ok.setEnabled(value is not None)
        self.problem.setText(problem)

    def accept(self) -> None:
        value = self.value()
        if value is None:
            return
        if value == 0:
            if not questions.confirm(
                self,
                "基期数为 0",
                "基期数填 0 表示规划期初没有一张社保卡，完成率将按全部季末数计算。确定基期数是 0 吗？",
            ):
                return
        super().accept()


class ReasonDialog(QDialog):
    """退回修改: the rule for the reason is shown before the clerk types, with a count as they type."""

    def __init__(self, parent: QWidget | None, quarter_label: str):
        super().__init__(parent)
        self.setObjectName("reason_dialog")
        self.setWindowTitle("退回修改")
        layout = QVBoxLayout(self)
        rule = QLabel(
            f"请写明{quarter_label}退回修改的原因（至少 {MIN_REOPEN_REASON} 个字）。原因记入修改记录，"
            "退回后数值解除锁定，修改后须重新导出上报。"
        )
        rule.setObjectName("reason_rule")
        rule.setWordWrap(True)
        layout.addWidget(rule)
        self.edit = QPlainTextEdit()
        self.edit.setObjectName("reason")
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(90)
        layout.addWidget(self.edit)
        self.count = QLabel()
        self.count.setObjectName("reason_count")
        layout.addWidget(self.count)
        buttons, self.ok = _ok_cancel(self, "退回修改")
        layout.addWidget(buttons)
        self.edit.textChanged.connect(self._check)
        self._check()

    def reason(self) -> str:
        return self.edit.toPlainText().strip()

    def _check(self) -> None:
        length = len(self.reason())
        enough = length >= MIN_REOPEN_REASON
        self.count.setText(f"已写 {length} 个字" + ("" if enough else f"，还差 {MIN_REOPEN_REASON - length} 个字"))
        self.count.setStyleSheet("" if enough else "color:#b35900;")
        self.ok.setEnabled(enough)


# --- paste -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PastedCell:
    label: str  # the indicator's name copied along with the value, or ""
    text: str  # the value as copied
    target: str | None  # the code of the indicator it goes to, or None: not pasted


@dataclass(frozen=True)
class PastePlan:
    cells: tuple[PastedCell, ...]
    labelled: bool
    rows_below: int  # the figures from the focused one down

    @property
    def plain_fit(self) -> bool:
        """A bare column or row exactly as long as the rows from the focused one down: applied at once."""
        return not self.labelled and len(self.cells) == self.rows_below

    def assignments(self) -> dict[str, str]:
        return {c.target: c.text for c in self.cells if c.target is not None}


_ASIDE = re.compile(r"[（(][^）)]*[）)]")
_NOT_A_NAME = re.compile(r"[\s\"'“”‘’：:、，,。·]|其中|人数|人次|数量")


def _name_key(text: str) -> str:
    """A name as compared: without what stands in brackets, quotes, 其中 and the unit-like endings."""
    return _NOT_A_NAME.sub("", _ASIDE.sub("", text))


def _is_number(text: str) -> bool:
    if not text.strip():
        return True  # an empty cell is a blank figure
    try:
        parse_count(text)
    except NumberError:
        return False
    return True


def plan_paste(text: str, order: list[str], names: dict[str, str], start: str) -> PastePlan | None:
    """Where each copied value would go, from the figure `start` down (`order` is the form's, `names`
    each code's name). Labels copied with the values (a name beside each value, or a row of names above a
    row of values) are matched to the indicators by name. None: a single value, pasted as Qt pastes."""
    rows = [row.split("\t") for row in text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")]
    rows = [[cell.strip() for cell in row] for row in rows]
    below = order[order.index(start) :]
    pairs: list[tuple[str, str]] | None = None
    if rows and all(len(row) >= 2 for row in rows) and all(
        not _is_number(row[0]) and all(_is_number(c) for c in row[1:]) for row in rows
    ):
        pairs = [(row[0], row[-1]) for row in rows]  # a name, then its value (the last column)
    elif len(rows) == 2 and len(rows[0]) == len(rows[1]) and not all(_is_number(c) for c in rows[0]):
        if all(_is_number(c) for c in rows[1]):
            pairs = list(zip(rows[0], rows[1], strict=True))  # a row of names over a row of values
    if pairs is not None:
        keys = {code: _name_key(name) for code, name in names.items()}
        cells = []
        taken: set[str] = set()
        for label, value in pairs:
            key = _name_key(label)
            target = next((c for c in order if c not in taken and key and keys[c] == key), None)
            if target is None:
                target = next(
                    (c for c in order if c not in taken and key and (key in keys[c] or keys[c] in key)), None
                )
            if target is not None:
                taken.add(target)
            cells.append(PastedCell(label, value, target))
        return PastePlan(tuple(cells), True, len(below))
    values = [cell for row in rows for cell in row]
    if len(values) < 2:
        return None
    cells = [PastedCell("", value, below[i] if i < len(below) else None) for i, value in enumerate(values)]
    return PastePlan(tuple(cells), False, len(below))


class PasteDialog(QDialog):
    """Each copied value beside the indicator it will go to; 粘贴 applies them, 取消 changes nothing."""

    def __init__(self, parent: QWidget | None, plan: PastePlan, names: dict[str, str]):
        super().__init__(parent)
        self.setObjectName("paste_dialog")
        self.setWindowTitle("确认粘贴")
        layout = QVBoxLayout(self)
        count, goes = len(plan.cells), sum(c.target is not None for c in plan.cells)
        if plan.labelled:
            why = f"复制的 {count} 个数值带有指标名称，已按名称对应到本季度的指标"
        else:
            why = f"复制了 {count} 个数值，而从当前格往下有 {plan.rows_below} 项指标，数目不一致"
        heading = QLabel(f"{why}。请核对每个数值将填入的指标，无误后再粘贴（{goes} 个填入，{count - goes} 个不粘贴）：")
        heading.setObjectName("paste_heading")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        self.table = QTableWidget(count, 3 if plan.labelled else 2)
        self.table.setObjectName("paste_table")
        titles = ["复制的指标名称", "数值", "将填入"] if plan.labelled else ["数值", "将填入"]
        self.table.setHorizontalHeaderLabels(titles)
        for row, cell in enumerate(plan.cells):
            texts = [cell.label] if plan.labelled else []
            texts += [cell.text or "（空）", names[cell.target] if cell.target else "（不粘贴：没有对应的指标）"]
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if cell.target is None:
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, column, item)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        buttons, self.ok = _ok_cancel(self, "粘贴")
        self.ok.setEnabled(goes > 0)
        layout.addWidget(buttons)
        fit_dialog(self, QSize(560, 420))
