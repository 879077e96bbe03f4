"""Issue 26 in the window: the entry form takes 仲裁 and 监察 as 上期结转 + 本期受理, as `enter` does; their
应结 is shown computed and nothing typed lands in it; Enter, Tab and a paste from Excel go through the new
rows; a rate's target reads as the plan writes it (78%以上（含本数）), and no target where no plan covers
the quarter."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from core.quarters import Quarter
from gui.clerk_dialogs import PasteDialog
from tests.helpers import WINDOW_QUARTER

TYPED_ORDER = [
    "card_holders",
    "yuecai_certified",
    "nanyue_trained",
    "mediation_cases",
    "mediation_success",
    "arbitration_carried",
    "arbitration_received",
    "arbitration_closed",
    "inspection_carried",
    "inspection_received",
    "inspection_closed",
]


def focused():
    return QApplication.focusWidget()


def test_the_form_takes_carried_and_received_and_shows_due_computed(window):
    form = window.form
    assert list(form.value_edits) == TYPED_ORDER  # what `enter` takes (Catalogue.entry_codes), in this order
    assert set(form.computed_edits) == {"arbitration_due", "inspection_cases"}
    for edit in form.computed_edits.values():
        assert edit.isReadOnly() and edit.focusPolicy() == Qt.FocusPolicy.NoFocus
        assert "相加得出" in edit.toolTip()


def test_enter_walks_through_carried_and_received_and_never_stops_at_due(window, qtbot):
    form = window.form
    form.value_edits["mediation_success"].setFocus()
    walked = []
    for _ in range(6):
        qtbot.keyClick(focused(), Qt.Key.Key_Return)
        walked.append(focused().objectName())
    assert walked == TYPED_ORDER[5:]
    for _ in range(3):  # back up, as Shift+Enter does in Excel
        qtbot.keyClick(focused(), Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert focused() is form.value_edits["arbitration_closed"]
    # Tab from 受理 skips the computed 应结 (and hidden 说明 boxes) to 审结
    form.value_edits["arbitration_received"].setFocus()
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is form.value_edits["arbitration_closed"]
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is form.value_edits["inspection_carried"]


def test_nothing_typed_or_clicked_lands_in_the_computed_due(window, qtbot):
    form = window.form
    due = form.computed_edits["arbitration_due"]
    form.value_edits["arbitration_carried"].setFocus()
    qtbot.keyClicks(focused(), "2")
    qtbot.keyClick(focused(), Qt.Key.Key_Return)
    qtbot.keyClicks(focused(), "9")
    assert due.text() == "11"  # 2 + 9
    qtbot.mouseClick(due, Qt.MouseButton.LeftButton)  # a click does not take the keys there
    assert focused() is not due
    qtbot.keyClicks(due, "99")  # even keys sent to it straight change nothing
    assert due.text() == "11"
    values, invalid = form.parsed()
    assert not invalid and "arbitration_due" not in values
    assert (values["arbitration_carried"], values["arbitration_received"]) == (2, 9)
    qtbot.keyClick(form.value_edits["arbitration_received"], Qt.Key.Key_Backspace)
    assert due.text() == ""  # blank while either of its two is blank


def test_a_paste_of_the_returns_rows_by_name_lands_in_carried_and_received(window, qtbot):
    # the rows of a return's 仲裁 and 监察 blocks, copied with their names as the return prints them
    copied = (
        "劳动人事争议仲裁应结案件数\t16\n其中：上期结转案件数\t10\n　　　本期受理案件数\t6\n其中：审结案件数\t12\n"
        "劳动保障监察举报投诉应结案件数\t4\n其中：上期结转案件数\t1\n　　　本期受理案件数\t3\n其中：结案数\t3\n"
    )
    listed: dict[str, str] = {}

    def read_then_paste():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PasteDialog):
            QTimer.singleShot(20, read_then_paste)
            return
        table = dialog.table
        listed.update({f"{r}": table.item(r, 2).text() for r in range(table.rowCount())})
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, read_then_paste)
    QGuiApplication.clipboard().setText(copied)
    start = window.form.value_edits["arbitration_carried"]
    start.setFocus()
    qtbot.keyClick(start, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert listed["0"].startswith("（不粘贴") and listed["4"].startswith("（不粘贴")  # the two 应结
    values, _ = window.form.parsed()
    assert [values[c] for c in TYPED_ORDER[5:]] == [10, 6, 12, 1, 3, 3]
    assert window.form.computed_edits["arbitration_due"].text() == "16"
    assert window.form.computed_edits["inspection_cases"].text() == "4"
    assert "2 个没有对应的指标" in window.statusBar().currentMessage()


def test_a_rate_target_reads_as_the_plan_writes_it_and_no_plan_shows_none(window, qtbot):
    names = window.form.rate_names
    assert window.quarter == WINDOW_QUARTER  # under the built-in 2021–2025 plan
    assert names["mediation_success_rate"].text() == "劳动人事争议调解成功率　目标 78%以上（含本数）"
    assert names["arbitration_closure_rate"].text().endswith("目标 96%以上（含本数）")
    assert names["inspection_closure_rate"].text().endswith("目标 100%")
    assert not any("≥" in label.text() for label in names.values())
    window.select_quarter(Quarter(2026, 4))  # no plan imported covers it
    assert window.quarter == Quarter(2026, 4)
    assert [label.text() for label in names.values()] == [
        "劳动人事争议调解成功率",
        "劳动人事争议仲裁结案率",
        "劳动保障监察举报投诉案件结案率",
    ]
