"""Issue 14 in the window: 文件 → 导入规划 of a signed package, the entry form under each quarter's plan,
and the city's 规划 menu (template, then the split shown before it is signed)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMessageBox

import gui.city_window as city_window_module
import gui.questions as questions
from cli import main as cli_main
from core.plan_package import PlanPackage, TownSplit, canonical_json, sample_package
from core.quarters import Quarter
from gui.app import make_application
from gui.city_window import CityWindow
from gui.main_window import MainWindow
from gui.plan_dialogs import PlanPreviewDialog, WorkbookProblemsDialog
from gui.questions import Unsaved
from reports.plan_file import open_root, read_plan_file, write_plan_file
from reports.plan_workbook import write_template, write_workbook
from storage.store import Store
from tests.helpers import FULL_QUARTER, SIGN_OFF_FLAGS, TODAY
from tests.pki import PASSPHRASE

ADDED, DROPPED = "skilled_trained", "nanyue_trained"
Q_NEW, Q_OLD = Quarter(2026, 1), Quarter(2025, 4)
SHORT = {ADDED: "技能人才培养", DROPPED: "南粤家政培训"}


def next_plan() -> PlanPackage:
    """A 2026–2030 plan that adds 技能人才培养人数 and drops 南粤家政培训人数 (not marked 示例)."""
    sample = sample_package()

    def without(split: TownSplit) -> TownSplit:
        return replace(split, targets={c: v for c, v in split.targets.items() if c != DROPPED})

    return replace(
        sample,
        name="东莞市人社“十五五”规划（测试）",
        indicators=tuple(i for i in sample.indicators if i.code != DROPPED),
        towns=tuple(without(t) for t in sample.towns),
        city=without(sample.city),
        form_number="人社季报1表",
        approval_number="东统字〔2026〕1号",
        sample=False,
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory, city_keys):
    """The session's city root and 莞城's identity (tests/pki.py); this module's own plan, signed by that root."""
    base = tmp_path_factory.mktemp("城市 密钥")
    (base / "pw.txt").write_text(PASSPHRASE.decode(), encoding="utf-8")
    city_cert, city_key, town_p12 = city_keys["city_cert"], city_keys["city_key"], city_keys["town_p12"]
    plan = base / "十五五 规划.plan"
    write_plan_file(next_plan(), open_root(city_key, PASSPHRASE), plan)
    return {"base": base, "city_cert": city_cert, "city_key": city_key, "town_p12": town_p12, "plan": plan}


@pytest.fixture(autouse=True)
def _no_blocking_questions(monkeypatch):
    monkeypatch.setattr(questions, "ask_unsaved", lambda parent, what: Unsaved.DISCARD)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)


@pytest.fixture
def warnings(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    return shown


@pytest.fixture
def town_store(tmp_path, keys):
    """莞城's database with its identity imported (the city root pinned), 2025Q4 filled in."""
    db = tmp_path / "镇街 数据库.sqlite3"
    assert cli_main(["--db", str(db), "init", "--town", "莞城"]) == 0
    assert cli_main(["--db", str(db), "profile", *SIGN_OFF_FLAGS]) == 0
    passphrase_file = keys["base"] / "pw.txt"
    assert (
        cli_main(
            ["--db", str(db), "identity", "import", str(keys["town_p12"]), "--passphrase-file", str(passphrase_file)]
        )
        == 0
    )
    store = Store(db, today=lambda: TODAY)
    store.save_quarter(Q_OLD, FULL_QUARTER)
    yield store
    store.close()


@pytest.fixture
def window(qapp, qtbot, town_store):
    make_application()
    win = MainWindow(town_store, initial_quarter=Q_NEW)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


_WATCHES: list[list[bool]] = []  # each test's watches for a modal dialog, switched off at its end


@pytest.fixture(autouse=True)
def _stop_watching():
    yield
    for watch in _WATCHES:
        watch[0] = False
    _WATCHES.clear()


def answer_modal(kind, act):
    """Act on the next modal dialog of `kind` once it is open (exec() blocks the test's own line)."""
    seen = []
    watch = [True]
    _WATCHES.append(watch)

    def check():
        if not watch[0]:
            return
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, kind):
            seen.append(dialog)
            act(dialog)
        else:
            QTimer.singleShot(20, check)

    QTimer.singleShot(0, check)
    return seen


def import_through_the_menu(window, monkeypatch, path: Path, act=lambda d: d.accept_button.click()):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    seen = answer_modal(PlanPreviewDialog, act)
    window.menus.plan_action.trigger()
    return seen


def test_a_signed_plan_imported_through_the_file_menu_gives_2026_its_rows(
    window, qtbot, monkeypatch, town_store, keys, warnings
):
    # before: 2026Q1 falls under no plan and is shown with the shipped rows
    assert "不在任何已导入的规划期内" in window.plan_line.text()
    assert DROPPED in window.form.value_edits
    seen = import_through_the_menu(window, monkeypatch, keys["plan"])
    assert len(seen) == 1 and not warnings
    dialog = seen[0]
    shown = "\n".join(dialog.table.item(r, c).text() for r in range(dialog.table.rowCount()) for c in range(6))
    assert "技能人才培养人数" in shown and "南粤家政" not in shown
    mine = next(t for t in next_plan().towns if t.town == "莞城").targets[ADDED]
    assert f"{mine:,}" in shown  # this town's own target, not only the city's
    assert "东统字〔2026〕1号" in dialog.facts.text() and not dialog.sample_warning.isVisibleTo(dialog)
    assert [p.name for p in town_store.plan_packages()] == [next_plan().name]

    # 2026Q1: the added row, not the dropped one; the plan line names the plan
    window.select_quarter(Q_NEW)
    assert ADDED in window.form.value_edits and DROPPED not in window.form.value_edits
    assert next_plan().name in window.plan_line.text()
    labels = [w.text() for w in window.form.findChildren(QLabel) if w.isVisibleTo(window.form)]
    assert "<b>技能人才</b>" in labels and "<b>南粤家政</b>" not in labels  # the group heading came with the row
    # Tab from the picker reaches the first figure; Enter walks down the new list
    assert window.form.tab_chain[0] is window.form.value_edits["card_holders"]
    codes = list(window.form.value_edits)
    assert codes.index(ADDED) == codes.index("yuecai_certified") + 1
    window.activateWindow()  # the preview has gone; the window has the keyboard again
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.form.value_edits["yuecai_certified"].setFocus()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert QApplication.focusWidget() is window.form.value_edits[ADDED]

    # 2025Q4: the shipped rows, with its saved figures
    window.select_quarter(Q_OLD)
    assert DROPPED in window.form.value_edits and ADDED not in window.form.value_edits
    assert window.form.value_edits[DROPPED].text() == "70"
    assert "2021" in window.plan_line.text()

    # 历史: the columns of both lists; a figure a quarter's plan does not have is 不适用, not 未填
    window.tabs.setCurrentIndex(2)
    grid = window.history_view.grid_model
    headers = [grid.headerData(c, Qt.Orientation.Horizontal) for c in range(grid.columnCount())]
    rows = {grid.headerData(r, Qt.Orientation.Vertical): r for r in range(grid.rowCount())}

    def cell(quarter, code):
        column = next(c for c, h in enumerate(headers) if h.startswith(SHORT[code]))
        return grid.data(grid.index(rows[quarter.label], column))

    assert cell(Q_NEW, DROPPED) == "不适用" and cell(Q_NEW, ADDED) == "未填"
    assert cell(Q_OLD, ADDED) == "不适用" and cell(Q_OLD, DROPPED) == "70"


def test_a_figure_typed_in_the_added_row_is_saved(window, monkeypatch, town_store, keys, warnings):
    import_through_the_menu(window, monkeypatch, keys["plan"])
    window.select_quarter(Q_NEW)
    window.form.value_edits[ADDED].setText("1,234")
    window.form.value_edits["yuecai_certified"].setText("9")
    assert window.form.ytd_labels[ADDED].text() == "1,234"  # 年度累计 of the added flow, live
    assert window.save(), warnings
    with Store(town_store.path, today=lambda: TODAY) as again:
        figures = again.figures(Q_NEW)
    assert figures[ADDED] == 1234 and figures["yuecai_certified"] == 9 and DROPPED not in figures


def test_cancelling_the_preview_imports_nothing(window, monkeypatch, town_store, keys):
    seen = import_through_the_menu(window, monkeypatch, keys["plan"], act=lambda d: d.reject())
    assert len(seen) == 1
    assert town_store.plan_packages() == [] and DROPPED in window.form.value_edits


def doctored(keys, tmp_path) -> Path:
    """The signed file with 莞城's target for the added indicator lowered after signing."""
    envelope = json.loads(keys["plan"].read_text(encoding="utf-8"))
    content = json.loads(envelope["content"])
    split = content["towns"]["莞城"]
    assert split["targets"][ADDED] > 1
    split["targets"][ADDED] = 1
    envelope["content"] = canonical_json(content).decode("utf-8")
    out = tmp_path / "改过的 规划.plan"
    out.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    return out


@pytest.mark.parametrize("bad", ["doctored", "unsigned_csv"])
def test_a_doctored_or_unsigned_file_is_refused_with_its_reason_and_nothing_changes(
    bad, window, monkeypatch, town_store, keys, tmp_path, warnings
):
    if bad == "doctored":
        path = doctored(keys, tmp_path)
    else:
        from core.resources import resource_path

        path = tmp_path / "指标任务分解_2026_2030.csv"
        path.write_bytes(resource_path("plans", "targets_2021_2025.csv").read_bytes())
    trail = len(town_store.audit_trail())
    labels = [window.quarter_box.itemText(i) for i in range(window.quarter_box.count())]
    seen = import_through_the_menu(window, monkeypatch, path)
    assert seen == []  # refused before anything is shown as importable
    assert len(warnings) == 1 and warnings[0]
    if bad == "doctored":
        assert "签名" in warnings[0] or "改动" in warnings[0] or "篡改" in warnings[0], warnings[0]
    assert town_store.plan_packages() == [] and len(town_store.audit_trail()) == trail
    assert [p.first.code for p in town_store.plans()] == ["2021Q1"]
    assert [window.quarter_box.itemText(i) for i in range(window.quarter_box.count())] == labels
    assert DROPPED in window.form.value_edits


# --- the city's window ------------------------------------------------------------------------


@pytest.fixture
def city_window(qapp, qtbot, tmp_path, keys, monkeypatch):
    make_application()
    store = Store(tmp_path / "市局 汇总.sqlite3", today=lambda: TODAY)
    store.set_city_mode(keys["city_cert"].read_text())
    QSettings().remove("city/folder")  # no returns folder of an earlier test to collect again in the background
    win = CityWindow(store)
    qtbot.addWidget(win)
    win.show()
    yield win
    store.close()


def test_the_city_builds_a_signed_plan_from_its_workbook_after_seeing_the_split(
    city_window, qtbot, monkeypatch, tmp_path, keys
):
    template = city_window.write_plan_template(tmp_path / "模板 规划.xlsx")
    assert template is not None and template.exists()
    workbook = write_workbook(tmp_path / "十五五 分解表.xlsx", next_plan())  # the city's filled-in split
    asked = []
    monkeypatch.setattr(
        city_window_module, "ask_root_passphrase", lambda parent, name: asked.append(name) or PASSPHRASE
    )
    informed = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text, *a: informed.append(text))
    previews = []

    def read_and_sign(dialog):
        previews.append(
            {
                "headers": [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())],
                "towns": [dialog.table.verticalHeaderItem(r).text() for r in range(dialog.table.rowCount())],
            }
        )
        assert asked == []  # the split is shown before the passphrase is asked for
        dialog.accept_button.click()

    answer_modal(PlanPreviewDialog, read_and_sign)
    out = tmp_path / "十五五 规划（签名）.plan"
    city_window.build_plan(workbook, keys["city_key"], out)
    qtbot.waitUntil(lambda: bool(informed), timeout=20000)
    (preview,) = previews
    assert any(h.startswith("技能人才培养人数") for h in preview["headers"])
    assert not any("南粤家政" in h for h in preview["headers"])
    assert len(preview["towns"]) == 33 + 2 and preview["towns"][-1] == "全市"
    assert asked == [keys["city_key"].name]
    verified = read_plan_file(out, [x509.load_pem_x509_certificate(keys["city_cert"].read_bytes())])
    assert verified.package == next_plan()


def test_a_faulty_workbook_is_listed_by_sheet_row_and_column_and_nothing_is_signed(
    city_window, qtbot, monkeypatch, tmp_path, keys
):
    blank = write_template(tmp_path / "空白.xlsx")  # nothing filled in
    problems = []
    answer_modal(
        WorkbookProblemsDialog,
        lambda d: (problems.extend(d.problems.item(i).text() for i in range(d.problems.count())), d.reject()),
    )
    out = tmp_path / "不该有.plan"
    city_window.build_plan(blank, keys["city_key"], out)
    qtbot.waitUntil(lambda: bool(problems), timeout=20000)
    assert all("工作表" in p and "行" in p for p in problems), problems
    assert not out.exists()
