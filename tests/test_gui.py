"""The real window, driven offscreen with pytest-qt."""

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QInputMethodEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

import gui.questions as questions
from cli import main as cli_main
from core.quarters import Quarter
from gui.app import open_session
from gui.instance_lock import AlreadyOpen, acquire_instance_lock
from gui.main_window import MainWindow
from gui.questions import Unsaved
from storage.store import Profile, Store
from tests.helpers import FULL_QUARTER, TODAY
from tests.pki import PASSPHRASE

Q = Quarter(2024, 3)


@pytest.fixture
def warnings(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    return shown


def field(win, code) -> QLineEdit:
    return win.form.value_edits[code]


def commit_text(widget, text):
    """Type text as an input method commits it (keyClicks cannot send Chinese or full-width characters)."""
    widget.setFocus()
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)


def test_first_run_binds_the_town_and_records_the_profile(app, qtbot, db_path, dialogs):
    dialogs.expect('绑定石龙后不能更改', answer=QMessageBox.StandardButton.Yes)
    def fill_dialog():
        dialog = QApplication.activeModalWidget()
        dialog.town_box.setCurrentText("石龙")
        dialog.fields["head"].setText("张三")
        dialog.fields["preparer"].setText("李四")
        dialog.fields["phone"].setText("0769-8888")
        dialog.accept()

    QTimer.singleShot(0, fill_dialog)
    session = open_session(db_path)
    assert session is not None
    try:
        assert session.store.town() == "石龙"
        profile = session.store.profile()
        assert (profile.unit_name, profile.head, profile.preparer) == (
            "东莞市人力资源和社会保障局石龙分局",
            "张三",
            "李四",
        )
        assert "石龙" in session.window.windowTitle()
    finally:
        session.window.close()
        session.close()


def test_the_quarter_picker_defaults_to_the_latest_ended_quarter(app, qtbot, store):
    win = MainWindow(store)
    qtbot.addWidget(win)
    assert win.quarter == Quarter.latest_ended(TODAY) == Quarter(2026, 3)


def test_keyboard_only_entry_and_ctrl_s(window, qtbot, store):
    first = field(window, "card_holders")
    first.setFocus()
    for code in ("card_holders", "yuecai_certified", "nanyue_trained", "mediation_cases", "mediation_success"):
        assert QApplication.focusWidget() is field(window, code)
        qtbot.keyClicks(QApplication.focusWidget(), str(FULL_QUARTER[code] if code != "card_holders" else 151000))
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
        if QApplication.focusWidget().objectName() == f"explain_{code}":  # a warning opened the 说明 box
            qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert "未保存" in window.windowTitle()
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert store.figures(Q) == {
        "card_holders": 151_000,
        "yuecai_certified": 8,
        "nanyue_trained": 70,
        "mediation_cases": 50,
        "mediation_success": 40,
    }
    assert "未保存" not in window.windowTitle()
    assert store.audit_trail(Q)[-1].clerk == "李四"


def test_full_width_and_comma_separated_entries(window, qtbot, store):
    commit_text(field(window, "card_holders"), "１５２，３４５")
    commit_text(field(window, "nanyue_trained"), "1,234")
    assert window.form.parsed()[0]["card_holders"] == 152_345
    assert window.save()
    assert store.figures(Q)["card_holders"] == 152_345
    assert store.figures(Q)["nanyue_trained"] == 1_234


def test_an_error_blocks_saving_with_the_reason(window, qtbot, store, warnings):
    field(window, "mediation_cases").setText("10")
    field(window, "mediation_success").setText("12")
    field(window, "yuecai_certified").setText("5")
    items = [window.findings_list.item(i).text() for i in range(window.findings_list.count())]
    assert any("错误" in t and "调解成功案件数 12 大于" in t for t in items)
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert warnings and "调解成功案件数 12 大于" in warnings[0]
    assert store.figures(Q) == {}


def test_an_unparsable_value_is_marked_and_blocks_saving(window, warnings, store):
    field(window, "yuecai_certified").setText("12.5")
    assert "小数" in field(window, "yuecai_certified").toolTip()
    assert not window.save()
    assert store.figures(Q) == {}


def test_a_warning_demands_an_explanation_beside_its_field(window, qtbot, store):
    note = window.form.explain_edits["card_holders"]
    assert not note.isVisible()
    field(window, "card_holders").setText("149000")  # fewer than last quarter's 150,000
    assert note.isVisible()
    finding = next(f for f in window.form.findings() if f.rule == "card_holders_decreased")
    assert not finding.explained
    item = next(
        window.findings_list.item(i)
        for i in range(window.findings_list.count())
        if "少于上季度" in window.findings_list.item(i).text()
    )
    rect = window.findings_list.visualItemRect(item)
    qtbot.mouseClick(window.findings_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert QApplication.focusWidget() is note
    commit_text(note, "辖区企业外迁导致转出")
    assert next(f for f in window.form.findings() if f.rule == "card_holders_decreased").explained
    assert window.save()
    assert store.explanations(Q) == {"card_holders": "辖区企业外迁导致转出"}


def test_unsaved_changes_guard_on_switching_quarter(window, monkeypatch, store):
    answers = []
    monkeypatch.setattr(questions, "ask_unsaved", lambda parent, what: answers.pop(0))
    field(window, "yuecai_certified").setText("9")
    answers.append(Unsaved.CANCEL)
    window.select_quarter(Quarter(2024, 1))
    assert window.quarter == Q and field(window, "yuecai_certified").text() == "9"
    assert window.quarter_box.currentData() == Q.code
    answers.append(Unsaved.SAVE)
    window.select_quarter(Quarter(2024, 1))
    assert window.quarter == Quarter(2024, 1) and store.figures(Q)["yuecai_certified"] == 9
    field(window, "yuecai_certified").setText("3")
    answers.append(Unsaved.DISCARD)
    window.select_quarter(Q)
    assert store.figures(Quarter(2024, 1)) == {}


def test_unsaved_changes_guard_on_closing(window, monkeypatch, store):
    answers = [Unsaved.CANCEL, Unsaved.SAVE]
    monkeypatch.setattr(questions, "ask_unsaved", lambda parent, what: answers.pop(0))
    field(window, "nanyue_trained").setText("77")
    assert not window.close()
    assert window.isVisible()
    assert window.close()
    assert store.figures(Q)["nanyue_trained"] == 77


def test_pasting_a_row_from_excel_fills_consecutive_fields(window, qtbot):
    from gui.clerk_dialogs import PasteDialog

    QGuiApplication.clipboard().setText("151,000\t9\t80\t40\t35\r\n")
    start = field(window, "card_holders")
    start.setFocus()

    def confirm():  # five values over nine rows: shown first (tests/test_window_figures_land_right.py)
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, PasteDialog):
            dialog.ok.click()
        else:
            QTimer.singleShot(20, confirm)

    QTimer.singleShot(0, confirm)
    qtbot.keyClick(start, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    values, invalid = window.form.parsed()
    assert not invalid
    assert [
        values[c]
        for c in ("card_holders", "yuecai_certified", "nanyue_trained", "mediation_cases", "mediation_success")
    ] == [
        151_000,
        9,
        80,
        40,
        35,
    ]
    assert values["arbitration_carried"] is None


def test_pasting_a_column_starts_at_the_focused_field(window, qtbot):
    # from 仲裁's 上期结转 down: 结转, 受理, 审结, then 监察's 结转, 受理, 结案 (each 应结 is computed, no stop)
    QGuiApplication.clipboard().setText("1\n20\n19\n0\n5\n5\n")
    start = field(window, "arbitration_carried")
    start.setFocus()
    qtbot.keyClick(start, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    values, _ = window.form.parsed()
    assert [
        values[c]
        for c in (
            "arbitration_carried",
            "arbitration_received",
            "arbitration_closed",
            "inspection_carried",
            "inspection_received",
            "inspection_closed",
        )
    ] == [1, 20, 19, 0, 5, 5]
    assert window.form.computed_edits["arbitration_due"].text() == "21"
    assert window.form.computed_edits["inspection_cases"].text() == "5"


def test_progress_view_matches_the_command_line(window, store, capsys):
    store.save_quarter(Q, dict(FULL_QUARTER, card_holders=152_000, yuecai_certified=30))
    window.tabs.setCurrentWidget(window.progress_view)  # the tab is filled when the clerk opens it
    cli_main(["--db", str(store.path), "progress", "--quarter", Q.code, "--json"])
    data = json.loads(capsys.readouterr().out)
    model = window.progress_view.model
    for row, code in zip(model.rows, ("card_holders", "yuecai_certified", "nanyue_trained"), strict=True):
        expected = data["indicators"][code]
        assert row.target == expected["target"]
        assert row.cumulative == expected["actual"]
        assert round(float(row.completion), 6) == expected["completion"]
        assert row.status == expected["status"]
        assert float(row.time_progress) == data["time_progress"]
    shown_rates = {r.name: r for r in window.progress_view.rate_model.rows}
    mediation = data["indicators"]["mediation_success_rate"]
    assert shown_rates["劳动人事争议调解成功率"].ytd == f"{mediation['rate'] * 100:.1f}%"


def test_history_view_shows_blanks_and_filters_the_audit(window, store):
    store.save_quarter(Q, {"card_holders": 151_000})
    window.tabs.setCurrentWidget(window.history_view)  # the tab is filled when the clerk opens it
    grid = window.history_view.grid_model
    row = next(i for i, r in enumerate(grid.rows) if r.quarter == Q)
    assert grid.data(grid.index(row, 0)) == "151,000"
    assert grid.data(grid.index(row, 1)) == "未填"
    view = window.history_view
    view.quarter_filter.setCurrentIndex(view.quarter_filter.findData(Q.code))
    assert {r.quarter for r in view.audit_model.rows} == {Q.code}
    view.indicator_filter.setCurrentIndex(view.indicator_filter.findData("yuecai_certified"))
    assert view.audit_model.rows == []


HOLD_LOCK = """
import sys, time
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from gui.instance_lock import acquire_instance_lock
app = QCoreApplication([])
lock = acquire_instance_lock(Path({db!r}))
print("locked", flush=True)
time.sleep(30)
"""


def test_a_second_copy_on_the_same_database_is_refused(app, qtbot, db_path, monkeypatch):
    Store(db_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK.format(db=str(db_path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyOpen) as caught:
            acquire_instance_lock(db_path)
        assert "已由填报软件窗口打开（自 " in caught.value.message
        assert "进程" not in caught.value.message and "计算机" not in caught.value.message
        shown = []
        monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append(text))
        assert open_session(db_path) is None
        assert shown and "填报软件窗口" in shown[0]
    finally:
        holder.kill()
        holder.wait()
    # A lock left by a killed copy does not block for ever (the system frees it as the process ends).
    locks = []

    def acquired() -> bool:
        try:
            locks.append(acquire_instance_lock(db_path))
        except AlreadyOpen:
            return False
        return True

    qtbot.waitUntil(acquired, timeout=5000)
    locks[0].release()


@pytest.fixture
def ready_window(app, qtbot, store):
    from tests.helpers import on_pace_history

    store.set_profile(Profile("东莞市莞城人力资源和社会保障分局", "张三", "王五", "李四", "0769-22001234"))
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    win = MainWindow(store, initial_quarter=Q)
    qtbot.addWidget(win)
    win.show()
    return win


def test_export_runs_off_the_gui_thread_and_writes_the_three_files(ready_window, qtbot, tmp_path, dialogs):
    dialogs.expect('只能导出“未签名 草稿”', answer=QMessageBox.StandardButton.Yes)
    out = tmp_path / "returns"
    task = ready_window.export_return(folder=out)
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=20000):
        pass
    names = sorted(p.name for p in out.iterdir())
    assert names == ["2024Q3_莞城_季报.pdf", "2024Q3_莞城_季报.xlsx", "2024Q3_莞城_摘要.pdf"]
    qtbot.waitUntil(lambda: ready_window.export_box.isVisible())
    assert "2024Q3_莞城_季报.xlsx" in ready_window.export_box.text()
    ready_window.export_box.close()


def test_export_is_refused_in_the_window_with_the_reasons(window, warnings, tmp_path):
    field(window, "card_holders").setText("151000")
    window.save()
    out = tmp_path / "returns"
    assert window.export_return(folder=out) is None
    assert warnings and "尚未填写" in warnings[-1]
    assert not out.exists()


def test_print_preview_renders_every_page_to_a_printer(ready_window, tmp_path):
    from pypdf import PdfReader
    from PySide6.QtPrintSupport import QPrinter

    from gui.printing import paint_pdf

    for which, pages in (("summary", 1), ("pdf", 3)):  # the return (renderer 3): page 1, 同比、环比, 指标解释
        dialog = ready_window.preview(which)
        assert dialog is not None and dialog.isVisible()
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(tmp_path / f"printed_{which}.pdf"))
        assert paint_pdf(dialog.pages, printer) == pages
        assert len(PdfReader(tmp_path / f"printed_{which}.pdf").pages) == pages
        dialog.close()


@pytest.fixture
def town_identity(tmp_path, city_keys):
    """The session's city root and town identities (tests/pki.py), with a folder of this test's own."""
    return {"p12": city_keys["p12"], "root": city_keys["city_cert"], "folder": tmp_path}


def test_signed_export_and_verification_in_the_app(
    ready_window, qtbot, town_identity, monkeypatch, warnings, dialogs
):
    import re

    prompts: list[str] = []
    monkeypatch.setattr(
        questions, "ask_passphrase", lambda parent, prompt: prompts.append(prompt) or PASSPHRASE
    )
    monkeypatch.setattr(QMessageBox, "information", lambda *a: None)
    assert not ready_window.import_identity(town_identity["p12"]["石龙"])
    assert warnings and "属于石龙" in warnings[-1]
    dialogs.expect("逐位核对", answer=QMessageBox.StandardButton.Ok)  # the root's fingerprint, in the box itself
    assert ready_window.import_identity(town_identity["p12"]["莞城"])
    shown = dialogs.texts()[-1]
    assert "市局根证书的指纹（SHA-256）" in shown and re.search(r"[0-9A-Fa-f:]{40,}", shown)
    out = town_identity["folder"] / "returns"
    task = ready_window.export_return(folder=out)
    with qtbot.waitSignal(task.finished, timeout=30000):
        pass
    files = sorted(out.iterdir())
    assert len(files) == 3
    assert ready_window.store.last_revision(Q) == 1
    # Before signing, the computer's date and the quarter's end in words (issue 24).
    assert "本机日期：" in prompts[-1] and f"{Q.label}，{Q.last_day.year}年{Q.last_day.month}月{Q.last_day.day}日结束" in prompts[-1]
    tampered = out / "tampered.xlsx"
    wb = openpyxl_load(next(f for f in files if f.suffix == ".xlsx"))
    wb["季报"]["C7"] = 1
    wb.save(tampered)

    dialog = ready_window.imports.open_verifier()
    dialog.set_root(town_identity["root"])
    task = dialog.verify_files([*files, tampered])
    with qtbot.waitSignal(task.finished, timeout=30000):
        pass
    rows = {Path(r.file).name: r for r in dialog.model.rows}
    assert all(rows[f.name].valid for f in files)
    assert not rows["tampered.xlsx"].valid and rows["tampered.xlsx"].reason.startswith("签名后文件被修改")
    assert "有效 3 个，无效 1 个" in dialog.summary.text()
    dialog.close()


def test_a_wrong_passphrase_in_the_app_writes_nothing(ready_window, town_identity, monkeypatch, warnings, dialogs):
    monkeypatch.setattr(questions, "ask_passphrase", lambda parent, prompt: PASSPHRASE)
    dialogs.expect("逐位核对", answer=QMessageBox.StandardButton.Ok)
    assert ready_window.import_identity(town_identity["p12"]["莞城"])
    monkeypatch.setattr(questions, "ask_passphrase", lambda parent, prompt: b"wrong")
    out = town_identity["folder"] / "returns"
    assert ready_window.export_return(folder=out) is None
    assert "口令不对" in warnings[-1]
    assert not out.exists()


def openpyxl_load(path):
    import openpyxl

    return openpyxl.load_workbook(path)


def test_thousands_of_edits_do_not_wear_out_none_true_and_false(window):
    """PySide6 6.12.0 drops a reference to None/True/False on every call returning one, and the app
    aborts after a few thousand edits; pyproject.toml keeps it out, and this catches a bad version."""
    edit = field(window, "yuecai_certified")
    gc.collect()  # earlier tests' garbage, freed during the loop, would drop references to None too
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for n in range(1500):
        edit.setText(str(n))
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    assert all(a >= b - 100 for a, b in zip(after, before, strict=True)), (before, after)


def test_a_submitted_quarter_is_read_only_in_the_window(window, store, warnings):
    store.save_quarter(Q, FULL_QUARTER)
    store.record_export(Q, 1, "hash", ["a.xlsx"])
    window.reload()  # as after a change made by the command line
    assert "已上报（第 1 版）" in window.quarter_box.currentText()
    assert field(window, "card_holders").isReadOnly() and not window.save_button.isEnabled()
    assert window.lock_banner.isVisible() and "锁定" in window.lock_banner.text()
    assert not window.save() and "锁定" in warnings[-1]
    assert not window.reopen_quarter("改")  # a reason of one character is not enough
    assert window.reopen_quarter("培训人数录入有误")
    assert not field(window, "card_holders").isReadOnly()
    assert "已退回修改" in window.quarter_box.currentText()


def test_every_grid_model_passes_the_model_tester(ready_window, qtmodeltester, store):
    ready_window.tabs.setCurrentWidget(ready_window.progress_view)
    ready_window.tabs.setCurrentWidget(ready_window.history_view)
    for model in (
        ready_window.progress_view.model,
        ready_window.progress_view.rate_model,
        ready_window.history_view.grid_model,
        ready_window.history_view.audit_model,
    ):
        assert model.rowCount() > 0
        qtmodeltester.check(model)


# --- start-up: the skeleton window first, the database after ----------------------------------------

SKELETON_FIRST = """
import json, sys, time
from pathlib import Path
from gui.app import make_application, start_session
from storage.lock import is_held_here
app = make_application()
starting = start_session(Path({db!r}))
skeleton = starting.skeleton
enabled_while_locked = []
layer_when_enabled = []
enable = skeleton.setEnabled
def watch(on):
    if on:
        enabled_while_locked.append(is_held_here(Path({db!r})))
        layer_when_enabled.append(sorted(m for m in sys.modules if m.split(".")[0] == "sqlalchemy"))
    enable(on)
skeleton.setEnabled = watch
seen = {{
    "painted": skeleton.isVisible(),
    "accepts_input": skeleton.isEnabled(),
    "menus": [a.text() for a in skeleton.menuBar().actions()],
    "fields": len(skeleton.form.value_edits),
    "database_layer": sorted(m for m in sys.modules if m.split(".")[0] == "sqlalchemy" or m == "storage.store"),
    "deferred": sorted(m for m in ("gui.printing", "gui.verify_dialog", "reports.export", "openpyxl") if m in sys.modules),
}}
session = starting.finish()
seen["same_window"] = session.window is skeleton
seen["ready"] = skeleton.isEnabled()
seen["title"] = skeleton.windowTitle()
seen["card_holders"] = skeleton.form.value_edits["card_holders"].text()
seen["layer_when_enabled"] = layer_when_enabled
seen["enabled_while_locked"] = enabled_while_locked
deadline = time.monotonic() + 120
while skeleton.database.ready(wait=False) is None and time.monotonic() < deadline:  # the store loads on its own
    app.processEvents()
    time.sleep(0.01)
seen["store_loaded"] = skeleton.database.ready(wait=False) is not None and "sqlalchemy" in sys.modules
seen["same_figures"] = session.store.figures(skeleton.quarter)["card_holders"]
session.window.close()
session.close()
print(json.dumps(seen, ensure_ascii=False))
"""


def test_the_window_is_painted_before_the_database_layer_is_imported(tmp_path):
    db = tmp_path / "town.sqlite3"
    with Store(db) as store:  # today's date: the window in the other process opens on it
        store.bind_town("莞城")
        store.save_quarter(Quarter.latest_ended(store.today()), FULL_QUARTER)
    done = subprocess.run(
        [sys.executable, "-c", SKELETON_FIRST.format(db=str(db))],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["painted"] and not seen["accepts_input"]
    assert seen["menus"] == ["文件(&F)", "季报(&R)"] and seen["fields"] == 11  # 仲裁, 监察: 结转 and 受理 typed
    assert seen["database_layer"] == [] and seen["deferred"] == []
    assert seen["same_window"] and seen["ready"]
    assert seen["enabled_while_locked"] == [True]  # input only once the database's lock is held
    # The figures are in and the window takes input before SQLAlchemy is imported; the store follows.
    assert seen["layer_when_enabled"] == [[]]
    assert seen["store_loaded"] and seen["same_figures"] == FULL_QUARTER["card_holders"]
    assert "莞城" in seen["title"] and seen["card_holders"] == f"{FULL_QUARTER['card_holders']:,}"


def test_first_run_set_up_from_the_skeleton_window(app, qtbot, db_path, dialogs):
    dialogs.expect('绑定虎门后不能更改', answer=QMessageBox.StandardButton.Yes)
    from gui.app import start_session
    from storage.lock import is_held_here

    def fill_dialog():
        dialog = QApplication.activeModalWidget()
        dialog.town_box.setCurrentText("虎门")
        dialog.fields["preparer"].setText("李四")
        dialog.accept()

    starting = start_session(db_path)
    assert not starting.skeleton.isEnabled()
    QTimer.singleShot(0, fill_dialog)
    session = starting.finish()
    assert session is not None
    try:
        assert session.window is starting.skeleton and session.window.isEnabled() and is_held_here(db_path)
        assert session.store.town() == "虎门" and "虎门" in session.window.windowTitle()
    finally:
        session.window.close()
        session.close()
    assert not is_held_here(db_path)


def test_giving_up_first_run_set_up_closes_the_skeleton_and_frees_the_lock(app, qtbot, db_path):
    from gui.app import start_session
    from storage.lock import is_held_here

    starting = start_session(db_path)
    QTimer.singleShot(0, lambda: QApplication.activeModalWidget().reject())
    assert starting.finish() is None
    assert not starting.skeleton.isVisible() and not is_held_here(db_path)


def test_the_skeleton_ignores_a_save_before_the_database_is_open(app, qtbot):
    skeleton = MainWindow(None)
    qtbot.addWidget(skeleton)
    assert not skeleton.isEnabled() and skeleton.save() is False


def test_the_skeleton_window_is_refused_a_database_in_use(app, db_path, monkeypatch):
    from gui.app import start_session

    Store(db_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK.format(db=str(db_path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        shown = []
        monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append(text))
        starting = start_session(db_path)
        assert starting.finish() is None
        assert shown and "填报软件窗口" in shown[0] and not starting.skeleton.isVisible()
    finally:
        holder.kill()
        holder.wait()
