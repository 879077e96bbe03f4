"""The window as a town clerk uses it: keyboard first, on a small screen (issue 16)."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

import gui.questions as questions
from core.quarters import Quarter
from gui.main_window import MainWindow
from storage.store import Profile

Q = Quarter(2024, 3)
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


def type_figures_with_enter(qtbot, window, figures):
    window.form.value_edits[ORDER[0]].setFocus()
    for text in figures:
        qtbot.keyClicks(QApplication.focusWidget(), text)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)


def test_enter_never_carries_a_figure_into_a_note_box(window, qtbot, store):
    # 149,000 cards is fewer than last quarter's 150,000, and the three rates fall below target:
    # four 说明 boxes appear while the clerk types, each between two figures in the tab order.
    figures = ["149000", "8", "70", "50", "30", "0", "25", "20", "0", "12", "10"]
    type_figures_with_enter(qtbot, window, figures)
    form = window.form
    for code in ("card_holders", "mediation_success_rate", "arbitration_closure_rate", "inspection_closure_rate"):
        assert form.explain_edits[code].isVisible(), code
        assert form.explain_edits[code].text() == "", code
    values, invalid = form.parsed()
    assert not invalid
    assert [values[c] for c in ORDER] == [int(f) for f in figures]
    assert QApplication.focusWidget() is form.value_edits["inspection_closed"]


def test_enter_from_a_note_box_goes_to_the_next_figure_and_tab_reaches_the_note(window, qtbot):
    form = window.form
    type_figures_with_enter(qtbot, window, ["149000"])
    assert QApplication.focusWidget() is form.value_edits["yuecai_certified"]
    form.value_edits["card_holders"].setFocus()
    qtbot.keyClick(form.value_edits["card_holders"], Qt.Key.Key_Tab)
    note = form.explain_edits["card_holders"]
    assert QApplication.focusWidget() is note
    qtbot.keyClicks(note, "abcdefg")
    qtbot.keyClick(note, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is form.value_edits["yuecai_certified"]
    qtbot.keyClick(form.value_edits["yuecai_certified"], Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is form.value_edits["card_holders"]


def field(window, code):
    return window.form.value_edits[code]


def test_cells_are_marked_red_for_errors_and_amber_for_unexplained_warnings(window, qtbot):
    form = window.form
    type_figures_with_enter(qtbot, window, ["149000", "8", "70", "40", "45"])
    assert field(window, "mediation_success").property("mark") == "error"
    assert "大于" in field(window, "mediation_success").toolTip()
    assert field(window, "card_holders").property("mark") == "warning"
    assert field(window, "mediation_cases").property("mark") == ""
    # 45 of 40 cases is no rate at all: never shown as 112.5%.
    for label in (form.rate_quarter_labels["mediation_success_rate"], form.rate_ytd_labels["mediation_success_rate"]):
        assert label.text() == "有误" and label.property("mark") == "error"
    assert "%" not in form.rate_quarter_labels["mediation_success_rate"].text()
    field(window, "mediation_success").setFocus()
    field(window, "mediation_success").selectAll()
    qtbot.keyClicks(field(window, "mediation_success"), "20")
    assert field(window, "mediation_success").property("mark") == ""
    assert form.rate_quarter_labels["mediation_success_rate"].text() == "50.0%"
    assert form.rate_ytd_labels["mediation_success_rate"].property("mark") == "warning"  # 60/90 below 78%
    note = form.explain_edits["card_holders"]
    note.setFocus()
    qtbot.keyClicks(note, "abcdef")
    assert field(window, "card_holders").property("mark") == ""


def test_tab_from_the_quarter_picker_goes_to_the_first_figure(window, qtbot):
    window.quarter_box.setFocus()
    qtbot.keyClick(window.quarter_box, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is field(window, "card_holders")


def test_each_save_is_confirmed_in_the_window(window, qtbot):
    assert not window.save_state.isVisible()
    field(window, "card_holders").setFocus()
    qtbot.keyClicks(field(window, "card_holders"), "151000")
    assert window.save_state.isVisible() and "未保存" in window.save_state.text()
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.save_state.isVisible()
    assert "已保存 2024年第3季度" in window.save_state.text() and "1 项修改" in window.save_state.text()
    qtbot.keyClicks(field(window, "yuecai_certified"), "5")
    assert "未保存" in window.save_state.text()


def test_first_start_preselects_no_town_and_asks_before_binding(app, qtbot, db_path, monkeypatch):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QDialogButtonBox, QLabel

    from core.plans import TOWNS
    from gui.app import open_session

    asked, warned, seen = [], [], {}

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: warned.append(text))

    def fill_dialog():
        dialog = QApplication.activeModalWidget()
        seen["start"] = (dialog.town_box.currentIndex(), dialog.town_box.placeholderText())
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)  # no town chosen yet
        seen["refused"] = (dialog.isVisible(), list(warned), list(asked))
        dialog.town_box.setCurrentIndex(TOWNS.index("道滘"))
        seen["unit"] = dialog.fields["unit_name"].text()
        seen["labels"] = [label.text() for label in dialog.findChildren(QLabel)]
        dialog.fields["head"].setText("张三")
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, fill_dialog)
    session = open_session(db_path)
    assert session is not None
    try:
        assert seen["start"] == (-1, "请选择镇街")
        still_open, warned_then, asked_then = seen["refused"]
        assert still_open and warned_then and not asked_then
        assert seen["unit"] == "东莞市人力资源和社会保障局道滘分局"
        for label in ("单位负责人 *", "统计负责人 *", "填表人 *"):
            assert label in seen["labels"]
        assert any("首次导出季报前必须填写" in text for text in seen["labels"])
        assert asked == ["绑定道滘后不能更改，确定？"]
        assert session.store.town() == "道滘"
    finally:
        session.window.close()
        session.close()


@pytest.fixture
def ready_store(store):
    from tests.helpers import on_pace_history

    store.set_profile(Profile(unit_name="东莞市人力资源和社会保障局莞城分局", preparer="李四"))
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    return store


def test_the_first_signed_export_asks_for_the_sign_off_names_and_offers_the_folder(
    app, qtbot, ready_store, tmp_path, monkeypatch, dialogs, city_keys
):
    """A signed return needs the names its sign-off prints (as `export` refuses without them); a draft
    does not, through either door."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QDialogButtonBox

    from tests.pki import PASSPHRASE

    p12 = city_keys["p12"]["莞城"]
    ready_store.set_identity(p12.read_bytes(), "莞城")
    warned, opened = [], []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: warned.append(text))
    monkeypatch.setattr(questions, "open_folder", lambda folder: opened.append(folder))
    monkeypatch.setattr(questions, "ask_passphrase", lambda parent, prompt: PASSPHRASE)
    win = MainWindow(ready_store, initial_quarter=Q)
    qtbot.addWidget(win)
    win.show()

    def fill_profile():
        dialog = QApplication.activeModalWidget()
        dialog.fields["head"].setText("张三")
        dialog.fields["stats_head"].setText("王五")
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, fill_profile)
    out = tmp_path / "returns"
    task = win.export_return(folder=out)
    assert warned and "单位负责人、统计负责人" in warned[0]
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=20000):
        pass
    assert ready_store.profile().head == "张三"
    qtbot.waitUntil(lambda: win.export_box.isVisible())
    button = next(b for b in win.export_box.buttons() if b.text() == "打开所在文件夹")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert opened == [out]
    from pypdf import PdfReader

    assert "单位负责人：张三" in PdfReader(out / "2024Q3_莞城_季报.pdf").pages[0].extract_text()


def test_qt_file_dialogs_are_chinese_throughout(app, qtbot):
    from PySide6.QtWidgets import QFileDialog, QLabel

    dialog = QFileDialog(None, "选择市局下发的规划文件")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # Qt's own dialog, as on Linux
    qtbot.addWidget(dialog)
    labels = [label.text() for label in dialog.findChildren(QLabel) if label.text()]
    assert "查找范围(&L)：" in labels and "文件类型(&T)：" in labels
    assert not [text for text in labels if any("a" <= c.lower() <= "z" for c in text.replace("&", "")[:1])]


def test_qt_texts_are_chinese(app, qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    box = QMessageBox()
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    assert [b.text().split("(")[0] for b in box.buttons()] == ["是", "否"]
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    assert sorted(b.text() for b in buttons.buttons()) == sorted(["确定", "取消"])


def test_the_print_preview_opens_maximised_at_fit_to_width(app, qtbot, ready_store):
    from PySide6.QtGui import QAction
    from PySide6.QtPrintSupport import QPrintPreviewWidget

    ready_store.set_profile(Profile("东莞市人力资源和社会保障局莞城分局", "张三", "王五", "李四", "0769-22001234"))
    win = MainWindow(ready_store, initial_quarter=Q)
    qtbot.addWidget(win)
    win.show()
    dialog = win.preview("pdf")
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.isMaximized()
    assert dialog.findChild(QPrintPreviewWidget).zoomMode() == QPrintPreviewWidget.ZoomMode.FitToWidth
    assert "打印" in [a.text() for a in dialog.findChildren(QAction)]
    from PySide6.QtWidgets import QGraphicsView

    view = dialog.findChild(QGraphicsView)
    qtbot.waitUntil(lambda: view.verticalScrollBar().maximum() > 0)  # the page is taller than the view
    bar = view.verticalScrollBar()
    qtbot.wait(500)  # the window system maximises the dialog late, which lays the pages out again
    assert bar.value() == bar.minimum()  # and it opens at the top of page 1
    bar.triggerAction(bar.SliderAction.SliderPageStepAdd)  # the clerk scrolls down: the preview stays there
    scrolled = bar.value()
    assert scrolled > bar.minimum()
    dialog.resize(dialog.width() - 40, dialog.height())
    qtbot.wait(200)
    assert bar.value() != bar.minimum()
    dialog.close()


def test_the_window_never_opens_larger_than_the_screen_and_remembers_its_splitter(app, qtbot, store):
    win = MainWindow(store, initial_quarter=Q)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    available = win.screen().availableGeometry()
    assert win.isMaximized()  # the offscreen screen (800×800) is smaller than the window's preferred size
    assert win.geometry().width() <= available.width() and win.geometry().height() <= available.height()
    win.entry_splitter.setSizes([500, 280])
    sizes = win.entry_splitter.sizes()
    win.close()
    again = MainWindow(store, initial_quarter=Q)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.entry_splitter.sizes() == sizes
    assert again.form.explain_edits["card_holders"].minimumWidth() >= 240


def test_the_file_menu_reaches_what_the_command_line_does(window, qtbot, store, tmp_path, monkeypatch, dialogs):
    import shutil

    from PySide6.QtWidgets import QFileDialog

    from core.resources import resource_path

    texts = [a.text() for a in window.menuBar().actions()[0].menu().actions() if a.text()]
    for wanted in ("导入签名证书", "导入规划", "备份", "从备份恢复", "单位信息设置", "关于（版本、数据库位置）"):
        assert any(t.startswith(wanted) for t in texts), wanted
    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text, *a: shown.append(text))

    # 导入规划…: only a signed .plan; a CSV split is refused with the reason (tests/test_plan_window.py imports one).
    plan_file = tmp_path / "指标任务分解_2026_2030.csv"
    shutil.copy(resource_path("plans", "targets_2021_2025.csv"), plan_file)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(plan_file), ""))
    # refused in menu words: no certificate imported yet, so no city root to check a signature against
    dialogs.expect("请先用“文件 → 导入签名证书…”导入")
    window.menus.plan_action.trigger()
    assert [p.first.code for p in store.plans()] == ["2021Q1"]

    # 备份… then 从备份恢复…: figures saved after the backup are gone again.
    field(window, "yuecai_certified").setText("9")
    assert window.save()
    backup = tmp_path / "备份.sqlite3"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(backup), ""))
    window.menus.backup_action.trigger()
    assert backup.exists() and str(backup) in shown[-1]
    field(window, "yuecai_certified").setText("12")
    assert window.save()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(backup), ""))
    dialogs.expect("替换当前数据库", answer=QMessageBox.StandardButton.Yes)
    window.menus.restore_action.trigger()
    assert "已从 备份.sqlite3 恢复" in shown[-1]
    assert window.store.figures(Q)["yuecai_certified"] == 9
    assert field(window, "yuecai_certified").text() == "9"

    window.menus.about_action.trigger()
    qtbot.waitUntil(lambda: window.about_box.isVisible())
    about = window.about_box.text()
    assert str(window.store.path) in about and "版本" in about and "莞城" in about and "审计记录完整" in about
    window.about_box.close()
    window.store.close()  # the Store the window reopened after the restore


def test_audit_columns_fit_their_contents_then_keep_the_clerks_widths(window, qtbot, store):
    field(window, "yuecai_certified").setText("9")
    assert window.save()
    window.tabs.setCurrentIndex(2)
    header = window.history_view.audit.horizontalHeader()
    time_column = 1
    assert header.sectionSize(time_column) >= window.history_view.audit.sizeHintForColumn(time_column) > 120
    header.resizeSection(time_column, 222)
    window.close()
    again = MainWindow(store, initial_quarter=Q)
    qtbot.addWidget(again)
    again.show()
    again.tabs.setCurrentIndex(2)
    assert again.history_view.audit.horizontalHeader().sectionSize(time_column) == 222


def test_keyboard_only_walk_through_from_the_quarter_picker_to_a_saved_quarter(window, qtbot, store):
    from PySide6.QtGui import QInputMethodEvent

    qtbot.waitUntil(lambda: QApplication.focusWidget() is field(window, "card_holders"))  # where the window starts
    figures = ["149000", "8", "70", "50", "40", "0", "25", "25", "0", "12", "12"]
    for text in figures:
        qtbot.keyClicks(QApplication.focusWidget(), text)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    for _ in range(10):  # back up the column to the card holders, as Shift+Enter does in Excel
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is field(window, "card_holders")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    note = window.form.explain_edits["card_holders"]
    assert QApplication.focusWidget() is note
    event = QInputMethodEvent()
    event.setCommitString("辖区企业外迁导致转出")
    QApplication.sendEvent(note, event)
    qtbot.keyClick(note, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is field(window, "yuecai_certified")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "已保存" in window.save_state.text()
    typed = {code: int(text) for code, text in zip(ORDER, figures, strict=True)}
    # each 应结 stored as 上期结转 + 本期受理 (0 + 25, 0 + 12), never typed
    assert store.figures(Q) == {**typed, "arbitration_due": 25, "inspection_cases": 12}
    assert store.explanations(Q) == {"card_holders": "辖区企业外迁导致转出"}
