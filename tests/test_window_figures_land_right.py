"""Issue 25, items 1–3 and the keyboard: a figure cannot land in the wrong place. Pasting a block that
does not match the rows below is shown first, typing right after the window opens goes into the first
figure (never into the quarter picker), and no dialog offers a figure the clerk did not type."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QKeyCombination, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from core.quarters import Quarter
from gui.clerk_dialogs import BaseDialog, PasteDialog, ReasonDialog
from tests.helpers import WINDOW_QUARTER

ORDER = (
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
)
_WATCHING: list[list[bool]] = []


def on_modal(kind, act):
    """Run `act` on the next modal dialog of `kind` once it is open (its exec() blocks the test's line)."""
    seen: list = []
    watch = [True]
    _WATCHING.append(watch)

    def check():
        if not watch[0]:
            return
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, kind) and not seen:
            seen.append(dialog)
            act(dialog)
        else:
            QTimer.singleShot(20, check)

    QTimer.singleShot(0, check)
    return seen


def teardown_function():
    for watch in _WATCHING:
        watch[0] = False
    _WATCHING.clear()


def figures(window):
    values, invalid = window.form.parsed()
    assert not invalid
    return [values[code] for code in ORDER]


def paste_with_keys(qtbot, window, code, text):
    QGuiApplication.clipboard().setText(text)
    start = window.form.value_edits[code]
    start.setFocus()
    qtbot.keyClick(start, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


# --- 1. paste ---------------------------------------------------------------------------------------


def test_a_row_shorter_than_the_rows_below_is_shown_and_cancelling_changes_nothing(window, qtbot):
    before = figures(window)
    texts = {}

    def look_then_cancel(dialog):
        table = dialog.table
        texts["rows"] = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    seen = on_modal(PasteDialog, look_then_cancel)
    # 9 values, 11 rows (the nine figures of an old template, 应结 typed: they no longer fit the rows)
    paste_with_keys(qtbot, window, "card_holders", "151,000\t9\t80\t40\t35\t20\t19\t5\t5\r\n")
    assert seen, "no confirmation was shown for 9 values pasted over 11 rows"
    assert texts["rows"][0] == ("151,000", "社会保障卡持卡人数（季末数）")
    assert texts["rows"][5] == ("20", "劳动人事争议仲裁上期结转案件数")
    assert texts["rows"][8] == ("5", "劳动保障监察举报投诉上期结转案件数")
    assert figures(window) == before
    assert "未粘贴" in window.statusBar().currentMessage()


def test_confirming_the_shown_paste_fills_the_rows_it_listed(window, qtbot):
    on_modal(PasteDialog, lambda d: qtbot.mouseClick(d.ok, Qt.MouseButton.LeftButton))
    paste_with_keys(qtbot, window, "card_holders", "151,000\t9\t80\t40\t35\r\n")
    assert figures(window)[:6] == [151_000, 9, 80, 40, 35, None]


def test_labels_copied_along_put_each_value_beside_its_own_indicator(window, qtbot):
    # An older template's rows in another order, one of them an indicator this plan does not have.
    copied = "“南粤家政”培训人数\t80\n技能人才培养人数\t7\n社会保障卡持卡人数\t151000\n其中：调解成功案件数\t30\n"
    listed = {}

    def read_then_paste(dialog):
        table = dialog.table
        listed.update({table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())})
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    on_modal(PasteDialog, read_then_paste)
    paste_with_keys(qtbot, window, "card_holders", copied)
    assert listed["技能人才培养人数"].startswith("（不粘贴")
    assert listed["社会保障卡持卡人数"] == "社会保障卡持卡人数（季末数）"
    values = dict(zip(ORDER, figures(window), strict=True))
    assert (values["card_holders"], values["nanyue_trained"], values["mediation_success"]) == (151_000, 80, 30)
    assert values["yuecai_certified"] is None  # the 7 meant for 技能人才 went nowhere
    assert "1 个没有对应的指标" in window.statusBar().currentMessage()


def test_a_plain_column_that_matches_the_rows_below_is_applied_at_once(window, qtbot, dialogs):
    # eight values, eight rows: 调解 two, 仲裁 结转/受理/审结, 监察 结转/受理/结案 (no stop at a computed 应结)
    paste_with_keys(qtbot, window, "mediation_cases", "40\n35\n0\n20\n19\n1\n5\n5\n")
    assert figures(window)[3:] == [40, 35, 0, 20, 19, 1, 5, 5]
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, PasteDialog) and w.isVisible()]


# --- 2. focus and the quarter picker -----------------------------------------------------------------


def test_typing_right_after_the_window_opens_fills_the_first_figure_not_the_quarter(window, qtbot, store):
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.form.value_edits["card_holders"])
    qtbot.keyClicks(QApplication.focusWidget(), "205000")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert window.quarter == WINDOW_QUARTER
    assert figures(window)[0] == 205_000
    assert QApplication.focusWidget() is window.form.value_edits["yuecai_certified"]


def test_digits_typed_in_the_quarter_picker_never_change_the_quarter_arrows_do(window, qtbot):
    picker = window.quarter_box
    qtbot.mouseClick(picker, Qt.MouseButton.LeftButton)  # the popup opens; Esc closes it again
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    picker.setFocus()
    shown = picker.currentText()
    for key in "2052":
        qtbot.keyClicks(picker, key)
    qtbot.keyClick(picker, Qt.Key.Key_Return)
    assert window.quarter == WINDOW_QUARTER and picker.currentText() == shown
    assert "方向键" in window.statusBar().currentMessage()
    qtbot.keyClick(picker, Qt.Key.Key_Down)  # the list runs newest first: Down is the quarter before
    assert window.quarter == WINDOW_QUARTER.previous()


def test_scrolling_the_page_over_the_picker_does_not_turn_it(window, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    window.form.value_edits["card_holders"].setFocus()
    picker = window.quarter_box
    centre = QPointF(picker.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(picker.mapToGlobal(picker.rect().center())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(picker, event)
    assert window.quarter == WINDOW_QUARTER and picker.currentData() == WINDOW_QUARTER.code


# --- 3. no figure filled in for the clerk ------------------------------------------------------------


def test_the_base_dialog_starts_empty_and_enter_alone_saves_nothing(window, qtbot, store):
    plan = store.plan_for(WINDOW_QUARTER)
    state = {}

    def press_enter_then_cancel(dialog):
        state["text"] = dialog.edit.text()
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)
        state["still_open"] = dialog.isVisible()
        state["ok_enabled"] = dialog.ok.isEnabled()
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Escape)

    on_modal(BaseDialog, press_enter_then_cancel)
    qtbot.mouseClick(window.form.base_buttons["card_holders"], Qt.MouseButton.LeftButton)
    assert state == {"text": "", "still_open": True, "ok_enabled": False}
    assert store.stock_bases(plan) == {}
    assert window.form.base_buttons["card_holders"].text() == "基期数：未录入"


def test_a_base_of_zero_is_saved_only_once_confirmed(window, qtbot, store, dialogs):
    plan = store.plan_for(WINDOW_QUARTER)
    dialogs.expect("确定基期数是 0", answer=QMessageBox.StandardButton.No)
    dialogs.expect("确定基期数是 0", answer=QMessageBox.StandardButton.Yes)
    state = {}

    def type_zero_twice(dialog):
        qtbot.keyClicks(dialog.edit, "0")
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)  # asked; answered No: still open
        state["after_no"] = dialog.isVisible()
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)  # asked again; Yes

    on_modal(BaseDialog, type_zero_twice)
    qtbot.mouseClick(window.form.base_buttons["card_holders"], Qt.MouseButton.LeftButton)
    assert state["after_no"] is True
    assert store.stock_bases(plan) == {"card_holders": 0}


def test_a_base_typed_is_saved(window, qtbot, store):
    plan = store.plan_for(WINDOW_QUARTER)

    def type_base(dialog):
        qtbot.keyClicks(dialog.edit, "140000")
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)

    on_modal(BaseDialog, type_base)
    qtbot.mouseClick(window.form.base_buttons["card_holders"], Qt.MouseButton.LeftButton)
    assert store.stock_bases(plan) == {"card_holders": 140_000}
    assert window.form.base_buttons["card_holders"].text() == "基期数：140,000"


def test_the_base_dialog_gives_the_reason_base_gives(window, qtbot, store, tmp_path):
    """Found attacking from outside: the dialog said 请输入不带小数的非负整数 for every refused text, where
    `base` names what is wrong (a space inside, above the upper limit, a minus sign, a decimal)."""
    from tests.helpers import run_main

    reasons = {}

    def type_each(dialog):
        for text in ("999999999", "-5", "140 000", "1.5"):
            dialog.edit.setText(text)
            reasons[text] = (dialog.problem.text(), dialog.ok.isEnabled())
        dialog.edit.setText("１４０，０００")  # full-width, as an IME types it: accepted by both
        reasons["full-width"] = (dialog.problem.text(), dialog.ok.isEnabled())
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Escape)

    on_modal(BaseDialog, type_each)
    qtbot.mouseClick(window.form.base_buttons["card_holders"], Qt.MouseButton.LeftButton)
    assert reasons.pop("full-width") == ("", True)
    db = tmp_path / "命令行.sqlite3"
    assert run_main(db, "init", "--town", "莞城").returncode == 0
    for text, (shown, ok) in reasons.items():
        said = run_main(db, "base", f"card_holders={text}")
        assert said.returncode == 2 and not ok
        assert shown and shown in said.stderr, (text, shown, said.stderr)
    assert "空格" in reasons["140 000"][0] and reasons["140 000"][0] != reasons["1.5"][0]


# --- 7. the reason's rule before typing, locked cells, Ctrl+E from a figure -----------------------------


def test_the_reopen_reason_rule_is_shown_before_typing(window, qtbot, store):
    from core.demo import FULL_QUARTER

    store.save_quarter(WINDOW_QUARTER, FULL_QUARTER)
    store.reserve_revision(WINDOW_QUARTER, "x" * 64)
    store.record_export(WINDOW_QUARTER, 1, "x" * 64, ["2024Q3_莞城_季报.pdf"])
    window.reload()
    state = {}

    def type_reason(dialog):
        state["rule"] = dialog.findChild(type(dialog.count), "reason_rule").text()
        state["ok_before"] = dialog.ok.isEnabled()
        qtbot.keyClicks(dialog.edit, "abc")
        state["count"] = dialog.count.text()
        state["ok_short"] = dialog.ok.isEnabled()
        qtbot.keyClicks(dialog.edit, "d")
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    on_modal(ReasonDialog, type_reason)
    window.menus.reopen_action.trigger()
    assert "至少 4 个字" in state["rule"] and not state["ok_before"]
    assert state["count"] == "已写 3 个字，还差 1 个字" and not state["ok_short"]
    assert store.quarter_status(WINDOW_QUARTER).state != "submitted"


def test_locked_cells_look_locked_and_say_so_when_typed_in(window, qtbot, store):
    from core.demo import FULL_QUARTER

    store.save_quarter(WINDOW_QUARTER, FULL_QUARTER)
    store.reserve_revision(WINDOW_QUARTER, "x" * 64)
    store.record_export(WINDOW_QUARTER, 1, "x" * 64, ["2024Q3_莞城_季报.pdf"])
    window.reload()
    edit = window.form.value_edits["yuecai_certified"]
    assert edit.isReadOnly() and edit.property("locked") is True
    assert "锁定" in edit.toolTip() and "background" in edit.styleSheet()
    edit.setFocus()
    qtbot.keyClicks(edit, "5")
    assert edit.text() == f"{FULL_QUARTER['yuecai_certified']:,}"
    assert "已锁定" in window.statusBar().currentMessage()


class ClaimsCtrlE(QObject):
    """What a QLineEdit does under X11 (emacs keys: Ctrl+E is "end of line"): it claims Ctrl+E before any
    shortcut. Qt's offscreen platform has no such binding, so the test gives the box this X11 behaviour."""

    def eventFilter(self, watched, event):  # noqa: N802
        if event.type() == QEvent.Type.ShortcutOverride and event.keyCombination() == QKeyCombination(
            Qt.KeyboardModifier.ControlModifier, Qt.Key.Key_E
        ):
            event.accept()
            return True
        return False


def test_ctrl_e_from_a_figure_box_starts_the_export(window, qtbot, dialogs):
    dialogs.expect("有未保存的修改", answer="取消")  # the export started: it asks about the typed figure first
    edit = window.form.value_edits["card_holders"]
    claims = ClaimsCtrlE(edit)
    edit.installEventFilter(claims)
    edit.setFocus()
    qtbot.keyClicks(edit, "12")
    edit.setCursorPosition(0)
    qtbot.keyClick(edit, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert edit.cursorPosition() == 0  # the box did not take Ctrl+E as "end of line"
    assert dialogs.texts() == ["2024年第3季度有未保存的修改，要保存吗？"]


def test_every_menu_shortcut_has_the_application_wide_context(window):
    actions = window.menus.shortcut_actions()
    assert {a.shortcut().toString() for a in actions} >= {"Ctrl+S", "Ctrl+E", "Ctrl+P"}
    assert all(a.shortcutContext() == Qt.ShortcutContext.ApplicationShortcut for a in actions)


def test_quarters_in_the_picker_read_as_words(window):
    texts = [window.quarter_box.itemText(i) for i in range(window.quarter_box.count())]
    assert texts and all("年第" in t and "Q" not in t for t in texts)
    assert Quarter(2024, 3).label in " ".join(texts)


def test_history_keeps_red_for_missing_figures_not_for_a_quarter_still_running(window, store, qtbot):
    from PySide6.QtGui import QFontMetrics

    from tests.helpers import TODAY

    running = Quarter.containing(TODAY)
    window.tabs.setCurrentWidget(window.history_view)
    grid = window.history_view.grid_model
    rows = {r.quarter: i for i, r in enumerate(grid.rows)}
    now, ended = grid.index(rows[running], 0), grid.index(rows[WINDOW_QUARTER], 0)
    assert grid.data(now) == "—" and grid.data(now, Qt.ItemDataRole.BackgroundRole) is None
    assert "尚未结束" in grid.data(now, Qt.ItemDataRole.ToolTipRole)
    assert grid.data(ended) == "未填" and grid.data(ended, Qt.ItemDataRole.BackgroundRole) is not None
    header = window.history_view.grid.horizontalHeader()
    metrics = QFontMetrics(header.font())
    for column in range(grid.columnCount()):
        text = grid.headerData(column, Qt.Orientation.Horizontal)
        widest = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
        assert header.sectionSize(column) >= widest, text  # the heading is not clipped


def test_pasting_into_a_submitted_quarter_changes_no_figure(window, qtbot, store):
    """Found attacking from outside: Ctrl+V of an Excel column into a submitted (locked) quarter filled
    every box, marked the quarter unsaved and showed an error for a signed return; typing into a locked
    box was already refused. Now the paste is refused the same way."""
    from core.demo import FULL_QUARTER

    store.save_quarter(WINDOW_QUARTER, FULL_QUARTER)
    store.record_export(WINDOW_QUARTER, store.revision_for(WINDOW_QUARTER, "签名"), "签名", ["2024Q3.xlsx"])
    window.reload()
    before = {code: edit.text() for code, edit in window.form.value_edits.items()}
    assert window.form.value_edits["card_holders"].isReadOnly() and before["card_holders"]
    QGuiApplication.clipboard().setText("\n".join(str(n) for n in range(1, len(ORDER) + 1)))
    edit = window.form.value_edits["card_holders"]
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert {code: edit.text() for code, edit in window.form.value_edits.items()} == before
    assert not window.form.is_dirty()
    assert "已锁定" in window.statusBar().currentMessage()


def test_ctrl_q_quits_where_the_platform_gives_no_quit_key(window, qtbot):
    """Qt's standard Quit key is empty on Windows (and offscreen): 文件 → 退出 shows and takes Ctrl+Q."""
    from PySide6.QtGui import QKeySequence

    assert window.menus.quit_action.shortcut() == QKeySequence("Ctrl+Q") or QKeySequence.keyBindings(
        QKeySequence.StandardKey.Quit
    )
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.form.value_edits["card_holders"], Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible())
