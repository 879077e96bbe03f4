"""The quarter's entry form: the figures of the quarter's plan in the return's groups, live rates and live findings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from core.errors import NumberError
from core.indicators import SHIPPED, Catalogue, Kind
from core.numbers import parse_count, parse_counts
from core.plans import Plan
from core.progress import History, Progress, case_totals, compute_progress, rate_text, target_words
from core.quarters import Quarter
from core.validation import ERROR, Finding, check_quarter, merged, quarter_input, with_computed_dues

COLUMNS = ("指标", "本季度", "单位", "上季度", "本年累计", "说明")
INVALID_STYLE = "QLineEdit { border: 2px solid #c62828; background: #fff3f3; }"
NEEDS_NOTE_STYLE = "QLineEdit { border: 2px solid #b35900; background: #fff8e1; }"
ERROR_LABEL_STYLE = "QLabel { color: #c62828; background: #fff3f3; border: 2px solid #c62828; padding: 0 4px; }"
WARNING_LABEL_STYLE = "QLabel { color: #7a3d00; background: #fff8e1; border: 2px solid #b35900; padding: 0 4px; }"
LOCKED_STYLE = "QLineEdit { background: #eceff1; color: #455a64; border: 1px dashed #90a4ae; }"
LOCKED_TIP = "已上报，数值已锁定；如需修改，请用“季报 → 退回修改”并写明原因"
COMPUTED_STYLE = "QLineEdit { background: #f1f3f5; color: #222; border: 1px solid #d0d4da; }"
COMPUTED_TIP = "由上期结转 + 本期受理相加得出，不能直接填写"
IMPOSSIBLE_RATE = "有误"
# The level a cell is marked with, also kept as the widget's "mark" property ("error", "warning" or "").
MARK_ERROR, MARK_WARNING = "error", "warning"


class EntryForm(QWidget):
    """Shows and asks; every rule it applies comes from `core`."""

    edited = Signal()
    findings_changed = Signal(list)
    message = Signal(str)
    base_requested = Signal(str)  # a stock's code: the clerk wants to enter its 基期数

    def __init__(self, parent: QWidget | None = None, catalogue: Catalogue = SHIPPED):
        super().__init__(parent)
        self.catalogue = catalogue
        self._rows: QWidget | None = None
        self._outer = QVBoxLayout(self)
        self._outer.setContentsMargins(0, 0, 0, 0)
        self.value_edits: dict[str, QLineEdit] = {}  # the figures a town types: the list's entry_codes
        self.computed_edits: dict[str, QLineEdit] = {}  # each case flow's 应结, shown computed, never typed
        self.explain_edits: dict[str, QLineEdit] = {}
        self.last_labels: dict[str, QLabel] = {}
        self.ytd_labels: dict[str, QLabel] = {}
        self.rate_quarter_labels: dict[str, QLabel] = {}
        self.rate_ytd_labels: dict[str, QLabel] = {}
        self.base_buttons: dict[str, QPushButton] = {}
        self.rate_names: dict[str, QLabel] = {}
        self._bases: dict[str, int] = {}
        self._quarter: Quarter | None = None
        self._town = ""
        self._plan: Plan | None = None
        self._today = date.today()
        self._history: dict[Quarter, dict[str, int]] = {}
        self._saved_values: dict[str, int] = {}
        self._saved_explanations: dict[str, str] = {}
        self._findings: list[Finding] = []
        self._migrated: frozenset[Quarter] = frozenset()
        self._loading = False
        self._read_only = False
        self._build()

    # --- layout ------------------------------------------------------------------------------

    def set_catalogue(self, catalogue: Catalogue) -> bool:
        """Rebuild the rows for another plan's indicator list; False when the list is the one shown."""
        if catalogue == self.catalogue:
            return False
        self.catalogue = catalogue
        self._build()
        return True

    def _build(self) -> None:
        for edits in (self.value_edits, self.explain_edits, self.last_labels, self.ytd_labels):
            edits.clear()
        for labels in (self.rate_quarter_labels, self.rate_ytd_labels, self.base_buttons, self.computed_edits):
            labels.clear()
        if self._rows is not None:
            self._outer.removeWidget(self._rows)
            self._rows.hide()
            self._rows.deleteLater()
        self._rows = QWidget()
        self._rows.setObjectName("entry_rows")
        catalogue = self.catalogue
        grid = QGridLayout(self._rows)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(6)
        for column, title in enumerate(COLUMNS):
            header = QLabel(f"<b>{title}</b>")
            grid.addWidget(header, 0, column)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(5, 5)  # the 说明 column: wide enough to read what was written
        row = 1
        order: list[QWidget] = []
        self._explain_row: dict[QLineEdit, int] = {}  # a 说明 box -> index of the next figure below it
        for group in catalogue.groups:
            line = QFrame()
            line.setFrameShape(QFrame.Shape.HLine)
            line.setStyleSheet("color: #c8ccd2;")
            grid.addWidget(line, row, 0, 1, len(COLUMNS))
            row += 1
            group_title = QLabel(f"<b>{group}</b>")
            group_title.setStyleSheet("color: #0b4a8b;")
            grid.addWidget(group_title, row, 0, 1, len(COLUMNS))
            row += 1
            for indicator in catalogue.in_group(group):
                flow = catalogue.case_flow(indicator.code)
                if flow is not None and flow.due == indicator.code:
                    # laid out as the return prints it: 应结 (computed), 其中 上期结转 and 本期受理 (typed)
                    lines = [
                        (indicator.code, indicator.name, True),
                        (flow.carried, "　　其中：上期结转案件数", False),
                        (flow.received, "　　　　　本期受理案件数", False),
                    ]
                else:
                    lines = [(indicator.code, ("　　" if indicator.parent else "") + indicator.name, False)]
                for code, text, computed in lines:
                    name = QLabel(text)
                    name.setWordWrap(True)  # a long name takes two lines rather than pushing 说明 off a small screen
                    name.setMinimumWidth(140)
                    edit = QLineEdit()
                    edit.setObjectName(code)
                    edit.setAlignment(Qt.AlignmentFlag.AlignRight)
                    edit.setMinimumWidth(96)
                    edit.setMaximumWidth(180)
                    edit.setAccessibleName(catalogue.display_name(code))
                    if computed:
                        # never a stop for Tab, Enter, a click or a paste: nothing typed can land here
                        edit.setReadOnly(True)
                        edit.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                        edit.setPlaceholderText("自动计算")
                        edit.setStyleSheet(COMPUTED_STYLE)
                        edit.setToolTip(COMPUTED_TIP)
                        self.computed_edits[code] = edit
                    else:
                        edit.setPlaceholderText("未填")
                        edit.installEventFilter(self)
                        edit.textChanged.connect(self._on_text_changed)
                        edit.editingFinished.connect(self._on_editing_finished)
                        name.setBuddy(edit)
                        self.value_edits[code] = edit
                    self.last_labels[code] = _number_label()
                    self.ytd_labels[code] = _number_label()
                    beside: QWidget = self.ytd_labels[code]
                    if indicator.kind is Kind.STOCK:
                        # a 季末数 has no 本年累计; beside it stands its 基期数, which its pace is measured from
                        button = QPushButton("基期数：未录入")
                        button.setObjectName(f"base_{code}")
                        button.setToolTip("规划期初（上一规划期末）的数，完成率按较基期的增长计算")
                        button.clicked.connect(lambda _=False, c=code: self.base_requested.emit(c))
                        self.base_buttons[code] = button
                        beside = button
                    explain = self._explain_edit(code)
                    for column, widget in enumerate(
                        (name, edit, QLabel(indicator.unit), self.last_labels[code], beside, explain)
                    ):
                        grid.addWidget(widget, row, column)
                    order += [explain] if computed else [edit, explain]
                    self._explain_row[explain] = len(self.value_edits)
                    row += 1
            for rate in (r for r in catalogue.rates if catalogue.by_code[r.denominator].group == group):
                name = QLabel(rate.name)  # its target, as the plan writes it, is added when a quarter is loaded
                name.setObjectName(f"rate_name_{rate.code}")
                name.setWordWrap(True)
                name.setMinimumWidth(140)
                name.setStyleSheet("color: #444;")
                self.rate_names[rate.code] = name
                self.rate_quarter_labels[rate.code] = _number_label()
                self.rate_ytd_labels[rate.code] = _number_label()
                explain = self._explain_edit(rate.code)
                grid.addWidget(name, row, 0)
                grid.addWidget(self.rate_quarter_labels[rate.code], row, 1)
                grid.addWidget(self.rate_ytd_labels[rate.code], row, 4)
                grid.addWidget(explain, row, 5)
                order.append(explain)
                self._explain_row[explain] = len(self.value_edits)
                row += 1
        grid.setRowStretch(row, 1)
        # shown now, filled: widgets put into a form already on screen would otherwise show a turn later
        self._outer.addWidget(self._rows)
        self._rows.show()
        self.tab_chain: list[QWidget] = order  # figures and 说明 boxes in reading order
        for first, second in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(first, second)

    def _explain_edit(self, code: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(f"explain_{code}")
        edit.setPlaceholderText("请说明原因（至少 6 个字）")
        edit.setMinimumWidth(260)
        edit.setAccessibleName(f"{self.catalogue.display_name(code)}的说明")
        edit.textChanged.connect(lambda text, e=edit: e.setToolTip(text))
        edit.setVisible(False)
        edit.installEventFilter(self)
        edit.textChanged.connect(self._on_text_changed)
        self.explain_edits[code] = edit
        return edit

    # --- loading and reading -----------------------------------------------------------------

    def load(
        self,
        town: str,
        quarter: Quarter,
        plan: Plan | None,
        history: History,
        explanations: Mapping[str, str],
        today: date,
        bases: Mapping[str, int] | None = None,
        migrated_case_quarters: frozenset[Quarter] = frozenset(),
    ) -> None:
        """Show a quarter. `migrated_case_quarters` are those whose 上期结转 the database migration wrote
        (Store.migrated_case_quarters): the check leaves their carry-over alone, as `check` does."""
        self._loading = True
        self._migrated = migrated_case_quarters
        self.set_bases(bases or {})
        self._town, self._quarter, self._plan, self._today = town, quarter, plan, today
        self._history = {q: _entered(v) for q, v in history.items() if q != quarter}
        self._saved_values = _entered(history.get(quarter, {}))
        self._saved_explanations = dict(explanations)
        previous = history.get(quarter.previous(), {})
        for code, edit in self.value_edits.items():
            value = self._saved_values.get(code)
            edit.setText("" if value is None else f"{value:,}")
        for code, label in self.last_labels.items():
            last = previous.get(code)
            label.setText("—" if last is None else f"{last:,}")
        for code, edit in self.explain_edits.items():
            edit.setText(self._saved_explanations.get(code, ""))
        self._loading = False
        self._refresh()

    def set_bases(self, bases: Mapping[str, int]) -> None:
        self._bases = dict(bases)
        for code, button in self.base_buttons.items():
            base = self._bases.get(code)
            button.setText("基期数：未录入" if base is None else f"基期数：{base:,}")
        if not self._loading:
            self._refresh()

    def set_read_only(self, read_only: bool) -> None:
        """A submitted quarter's boxes: read-only, and looking it (grey, dashed), with the way out in the tip."""
        self._read_only = read_only
        for edit in (*self.value_edits.values(), *self.explain_edits.values()):
            edit.setReadOnly(read_only)
            edit.setProperty("locked", read_only)
            if read_only:
                edit.setStyleSheet(LOCKED_STYLE)
                edit.setToolTip(LOCKED_TIP)
            elif edit.styleSheet() == LOCKED_STYLE:
                edit.setStyleSheet("")
                edit.setToolTip("")

    @property
    def quarter(self) -> Quarter | None:
        return self._quarter

    def parsed(self) -> tuple[dict[str, int | None], dict[str, str]]:
        return parse_counts({code: edit.text() for code, edit in self.value_edits.items()})

    def explanations(self) -> dict[str, str | None]:
        return {code: (edit.text().strip() or None) for code, edit in self.explain_edits.items()}

    def findings(self) -> list[Finding]:
        return list(self._findings)

    def loaded(self) -> tuple[dict[str, int], dict[str, str]]:
        """The figures and explanations as the database had them when loaded or last saved here."""
        return dict(self._saved_values), dict(self._saved_explanations)

    def is_dirty(self) -> bool:
        values, invalid = self.parsed()
        if invalid:
            return True
        saved_values = {c: self._saved_values.get(c) for c in self.value_edits}
        saved_notes = {c: self._saved_explanations.get(c) for c in self.explain_edits}
        return values != saved_values or self.explanations() != saved_notes

    def mark_saved(self, values: Mapping[str, int | None], explanations: Mapping[str, str | None]) -> None:
        """What saving `values` (as parsed()) and `explanations` stored: with each 应结 computed, as the save did."""
        figures = merged(self._saved_values, with_computed_dues(self.catalogue, self._saved_values, values))
        self._saved_values = _entered(figures)
        self._saved_explanations = {c: t for c, t in merged(self._saved_explanations, explanations).items() if t}
        self.edited.emit()

    def focus_field(self, code: str | None) -> None:
        if code is None:
            return
        flow = self.catalogue.case_flow(code)
        target: QLineEdit
        if code in self.computed_edits and flow is not None:  # a finding on a computed 应结: its 说明, else its 结转
            note = self.explain_edits[code]
            target = note if note.isVisible() and self._needs_note(code) else self.value_edits[flow.carried]
        elif code in self.value_edits:
            edit = self.value_edits[code]
            note = self.explain_edits[code]
            target = (
                note if note.isVisible() and edit.styleSheet() != INVALID_STYLE and self._needs_note(code) else edit
            )
        else:
            target = self.explain_edits[code]
        target.setFocus(Qt.FocusReason.OtherFocusReason)
        target.selectAll()

    def _needs_note(self, code: str) -> bool:
        return any(f.indicator == code and f.needs_explanation and not f.explained for f in self._findings)

    # --- live behaviour ----------------------------------------------------------------------

    def _on_text_changed(self) -> None:
        if self._loading:
            return
        self._refresh()
        self.edited.emit()

    def _on_editing_finished(self) -> None:
        edit = self.sender()
        if isinstance(edit, QLineEdit):
            self._on_editing_finished_for(edit)

    def _on_editing_finished_for(self, edit: QLineEdit) -> None:
        try:
            value = parse_count(edit.text())
        except NumberError:
            return
        shown = "" if value is None else f"{value:,}"
        if edit.text() != shown:
            edit.setText(shown)

    def _refresh(self) -> None:
        if self._quarter is None:
            return
        typed, invalid = self.parsed()
        # what `enter` and saving check: the saved quarter with the typed changes, each 应结 computed
        data = quarter_input(
            self._town,
            self._quarter,
            self._today,
            self._plan,
            {**self._history, self._quarter: self._saved_values},
            self._saved_explanations,
            values=with_computed_dues(self.catalogue, self._saved_values, typed),
            explanations=self.explanations(),
            invalid=invalid,
            bases=self._bases,
            catalogue=self.catalogue,
            migrated_case_quarters=self._migrated,
        )
        figures = data.values
        history: dict[Quarter, Mapping[str, int | None]] = dict(self._history)
        history[self._quarter] = figures
        self._findings = check_quarter(data)
        # the numbers shown are those `progress` computes from the same figures
        progress = compute_progress(
            self._plan, self._town, self._quarter, history, self._bases, catalogue=self.catalogue
        )
        self._show_year_to_date(history, progress)
        for code, edit in self.computed_edits.items():
            value = figures.get(code)
            edit.setText("" if value is None else f"{value:,}")
        errors = {f.indicator: f.message for f in self._findings if f.level == ERROR and f.indicator}
        unexplained = {
            f.indicator: f.message for f in self._findings if f.needs_explanation and not f.explained and f.indicator
        }
        for code, edit in self.value_edits.items():
            if self._read_only:
                _mark(edit, MARK_WARNING if code in unexplained else "", LOCKED_STYLE, LOCKED_TIP)
            elif code in errors:
                _mark(edit, MARK_ERROR, INVALID_STYLE, errors[code])
            elif code in unexplained:
                _mark(edit, MARK_WARNING, NEEDS_NOTE_STYLE, unexplained[code])
            else:
                _mark(edit, "", "", "")
        for code, edit in self.computed_edits.items():
            if code in errors:
                _mark(edit, MARK_ERROR, INVALID_STYLE, errors[code])
            elif code in unexplained:
                _mark(edit, MARK_WARNING, NEEDS_NOTE_STYLE, unexplained[code])
            else:
                _mark(edit, "", COMPUTED_STYLE, COMPUTED_TIP)
        for rate in self.catalogue.rates:
            target = progress.rates_ytd[rate.code].target
            # the target as the plan writes it (78%以上（含本数）); none where no plan covers the quarter
            self.rate_names[rate.code].setText(rate.name if target is None else f"{rate.name}　目标 {target_words(target)}")
            impossible = _impossible_pair(self.catalogue, figures, rate.numerator, rate.denominator)
            for label, result in (
                (self.rate_quarter_labels[rate.code], progress.rates_quarter[rate.code]),
                (self.rate_ytd_labels[rate.code], progress.rates_ytd[rate.code]),
            ):
                if impossible:
                    label.setText(IMPOSSIBLE_RATE)
                    _mark(label, MARK_ERROR, ERROR_LABEL_STYLE, f"{impossible}，比率无法计算")
                    continue
                label.setText(rate_text(result))
                warned = rate.code in unexplained and label is self.rate_ytd_labels[rate.code]
                _mark(
                    label,
                    MARK_WARNING if warned else "",
                    WARNING_LABEL_STYLE if warned else "",
                    unexplained.get(rate.code, "") if warned else "",
                )
        needing = {f.indicator for f in self._findings if f.needs_explanation and f.indicator}
        for code, edit in self.explain_edits.items():
            edit.setVisible(code in needing or bool(edit.text().strip()))
            edit.setStyleSheet(LOCKED_STYLE if self._read_only else NEEDS_NOTE_STYLE if code in unexplained else "")
        self.findings_changed.emit(self._findings)

    def _show_year_to_date(self, history: History, progress: Progress) -> None:
        """本年累计 as the return prints it: a flow's total (a case flow's 应结: 年初结转 + 全年受理), and
        beside 上期结转 and 本期受理 the year's opening carry-over and received cases; a 季末数 has none."""
        assert self._quarter is not None
        for code, item in progress.indicators.items():
            if code in self.ytd_labels:
                stock = self.catalogue.by_code[code].kind is Kind.STOCK
                self.ytd_labels[code].setText("—" if stock or item.ytd is None else f"{item.ytd:,}")
        for flow in self.catalogue.case_flows:
            totals = case_totals(history, self._quarter.year_to_date(), flow)
            for code, total in ((flow.carried, totals and totals.opening), (flow.received, totals and totals.received)):
                if code in self.ytd_labels:
                    self.ytd_labels[code].setText("—" if total is None else f"{total:,}")

    # --- keyboard ----------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress and isinstance(watched, QLineEdit) and isinstance(event, QKeyEvent):
            key_event = event
            if watched.isReadOnly() and key_event.text().strip() and not key_event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.message.emit(LOCKED_TIP)
            if key_event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                up = bool(key_event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                self._move_down_the_figures(watched, up)
                return True
            if key_event.matches(QKeySequence.StandardKey.Paste) and watched in self.value_edits.values():
                return self.paste_cells(watched, QGuiApplication.clipboard().text())
        return super().eventFilter(watched, event)

    def _move_down_the_figures(self, edit: QLineEdit, up: bool = False) -> None:
        """Enter moves down the 本季度 column only, as in Excel; a 说明 box is never an Enter stop."""
        edits = list(self.value_edits.values())
        if edit in self._explain_row:
            index = self._explain_row[edit] - (1 if up else 0)
        else:
            index = edits.index(edit) + (-1 if up else 1)
        if index >= len(edits):
            self.message.emit("已到最后一项，按 Ctrl+S 保存")
            target = edits[-1]
        else:
            target = edits[max(index, 0)]
        target.setFocus(Qt.FocusReason.OtherFocusReason)
        target.selectAll()

    def paste_cells(self, start: QLineEdit, text: str) -> bool:
        """Fill the figures from a row or column copied from Excel. A bare block exactly as long as the rows
        from the focused figure down lands at once; anything else (another count, names copied along) is
        shown first, each value beside the indicator it would go to. False lets Qt paste as usual."""
        from gui.clerk_dialogs import PasteDialog, plan_paste
        from gui.plan_dialogs import run_modal

        if self._read_only or start.isReadOnly():  # setText would change a locked box as typing cannot
            self.message.emit(LOCKED_TIP)
            return True
        order = list(self.value_edits)
        names = {code: self.catalogue.display_name(code) for code in order}
        start_code = next(code for code, edit in self.value_edits.items() if edit is start)
        plan = plan_paste(text, order, names, start_code)
        if plan is None:
            return False
        if not plan.plain_fit and not run_modal(PasteDialog(self.window(), plan, names)):
            self.message.emit("未粘贴，数值没有改动")
            start.setFocus()
            return True
        assignments = plan.assignments()
        for code, cell in assignments.items():
            self.value_edits[code].setText(cell)
        skipped = len(plan.cells) - len(assignments)
        self.message.emit(
            f"已粘贴 {len(assignments)} 个数值" + (f"，{skipped} 个没有对应的指标，未粘贴" if skipped else "")
        )
        if assignments:
            last = max(assignments, key=order.index)
            self.value_edits[last].setFocus()
        return True

def _mark(widget: QWidget, level: str, style: str, tip: str) -> None:
    """Colour a cell for the finding it carries: red for an error, amber for a warning that needs a 说明."""
    if widget.property("mark") != level or widget.styleSheet() != style:
        widget.setProperty("mark", level)
        widget.setStyleSheet(style)
    widget.setToolTip(tip)


def _impossible_pair(catalogue: Catalogue, values: Mapping[str, int | None], part: str, whole: str) -> str | None:
    """Why a rate cannot be computed from this quarter's counts (a sub-count above its total), if so."""
    numerator, denominator = values.get(part), values.get(whole)
    if numerator is not None and denominator is not None and numerator > denominator:
        return f"{catalogue.display_name(part)} {numerator:,} 大于{catalogue.display_name(whole)} {denominator:,}"
    return None


def _number_label() -> QLabel:
    label = QLabel("—")
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setMinimumWidth(64)
    return label


def _entered(figures: Mapping[str, int | None]) -> dict[str, int]:
    """The figures that were entered; a blank one is simply absent, as mark_saved keeps them."""
    return {code: value for code, value in figures.items() if value is not None}
