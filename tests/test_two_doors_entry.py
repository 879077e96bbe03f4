"""Two doors, one answer (issue 23 item 3) for save, check and progress, with 仲裁 and 监察 entered as
上期结转 + 本期受理 (issue 26): the same figures typed through the command line (`enter`, a real process)
and through the window (real keys, saved with Ctrl+S), on copies of one database, store the same rows,
show the same findings and the same numbers.

The database is one an older release left (structure 0006, 应结 typed, "含上期结转"), opened once so that
migration 0007 splits its 应结 into 结转 and 受理; the figures expected are worked out by hand below."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication

from core.demo import on_pace_history
from core.quarters import Quarter
from storage.store import Store
from tests.helpers import TODAY, downgrade_database, run_main, signed_off_profile
from tests.test_two_doors import town_window, twin

Q1, Q2, Q3 = Quarter(2024, 1), Quarter(2024, 2), Quarter(2024, 3)
CLOCK = f"@{TODAY:%Y-%m-%d} 10:00:00"  # the command line's day is the window's (tests.helpers.TODAY)

# Before the split: 2024Q1 仲裁 应结 30 (10 closed, 20 left open), 监察 应结 20 (5 closed, 15 left open);
# 2024Q2 仲裁 应结 25 (15 closed), 监察 应结 4 (4 closed). Migration 0007 splits them (its rule, by hand):
#   Q1: 结转 0 (2023Q4 left nothing open), 受理 30 / 20
#   Q2: 仲裁 结转 20 (what Q1 left open, it fits in 25), 受理 5; 监察 Q1 left 15 open, more than its 应结 4:
#       结转 0, 受理 4 — a quarter nobody typed that way, so `check` does not hold its 结转 against Q1.
LEGACY = {Q1: {"arbitration_due": 30, "arbitration_closed": 10, "inspection_cases": 20, "inspection_closed": 5},
          Q2: {"arbitration_due": 25, "arbitration_closed": 15, "inspection_cases": 4, "inspection_closed": 4}}  # fmt: skip

# 2024Q3 as the clerk types it, in the form's order (仲裁 Q2 left 25 − 15 = 10 open; 监察 4 − 4 = 0, and
# the clerk types 1: a difference of +1 that needs a 说明).
TYPED = (
    ("card_holders", "165000"),
    ("yuecai_certified", "8"),
    ("nanyue_trained", "70"),
    ("mediation_cases", "50"),
    ("mediation_success", "40"),
    ("arbitration_carried", "10"),
    ("arbitration_received", "6"),
    ("arbitration_closed", "12"),
    ("inspection_carried", "1"),
    ("inspection_received", "3"),
    ("inspection_closed", "3"),
)
NOTE = ("inspection_carried", "二季度一件案件移送后退回本镇")
# By hand, the year 2024 at Q3 (应结 = 年初结转 + 全年受理, a case carried on counted once):
#   仲裁: 结转 0 → 20 (= Q1 left open) → 10 (= Q2 left open): 年初结转 0, 受理 30 + 5 + 6 = 41, closed 37
#   监察: 年初结转 0; Q2's 结转 0 against 15 left open lowers nothing below 0; Q3's +1 is added to it:
#         0 + 1 = 1, 受理 20 + 4 + 3 = 27, closed 5 + 4 + 3 = 12
ARBITRATION_YEAR = (10 + 15 + 12, 0 + 30 + 5 + 6)
INSPECTION_YEAR = (5 + 4 + 3, 1 + 20 + 4 + 3)
ARBITRATION_Q3 = (12, 10 + 6)
INSPECTION_Q3 = (3, 1 + 3)


@pytest.fixture
def legacy_db(tmp_path) -> Path:
    """莞城 as an older release left it: 2021–2023 on pace, 2024Q1–Q2 with carried cases, then upgraded."""
    db = tmp_path / "旧 数据库" / "莞城 数据库.sqlite3"
    db.parent.mkdir()
    store = Store(db, today=lambda: TODAY)
    store.bind_town("莞城")
    store.set_profile(signed_off_profile())
    history = on_pace_history(last=Q2)
    for quarter, values in history.items():
        store.save_quarter(quarter, {**values, **LEGACY.get(quarter, {})})
    store.close()
    downgrade_database(db, "0006")
    Store(db, today=lambda: TODAY).close()  # opening it upgrades it: 0007 splits each 应结
    return db


def percent(ratio: tuple[int, int]) -> str:
    """One decimal, rounded toward zero (the README's rule), worked out here with integers."""
    numerator, denominator = ratio
    tenths = numerator * 1000 // denominator
    return f"{tenths // 10}.{tenths % 10}%"


def rows_of(db: Path, quarter: Quarter) -> tuple[dict[str, int], dict[str, str]]:
    """What the database file holds for the quarter: its figures and its 说明."""
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as con:
        figures = dict(con.execute("select code, value from figures where quarter=?", (quarter.code,)).fetchall())
        notes = dict(con.execute("select code, text from explanations where quarter=?", (quarter.code,)).fetchall())
    con.close()
    return figures, notes


def shown_findings(win) -> list[str]:
    """The 检查结果 list as the clerk reads it, without its level tag."""
    items = [win.findings_list.item(i) for i in range(win.findings_list.count())]
    return sorted(item.text().split("】", 1)[1] for item in items)


def type_quarter(qtbot, win) -> None:
    """The clerk types 2024Q3 from the first figure down with Enter; where the 说明 box of 监察's 结转
    appears, Tab goes into it, the note is written (through the input method, as Chinese is) and Enter
    goes on to the next figure."""
    form = win.form
    qtbot.waitUntil(lambda: QApplication.focusWidget() is form.value_edits["card_holders"])
    for code, text in TYPED:
        edit = QApplication.focusWidget()
        assert edit is form.value_edits[code], f"Enter went to {edit and edit.objectName()}, not {code}"
        qtbot.keyClicks(edit, text)
        if code == NOTE[0]:
            qtbot.keyClick(edit, Qt.Key.Key_Tab)
            note = QApplication.focusWidget()
            assert note is form.explain_edits[code]
            event = QInputMethodEvent()
            event.setCommitString(NOTE[1])
            QApplication.sendEvent(note, event)
            qtbot.keyClick(note, Qt.Key.Key_Return)
        else:
            qtbot.keyClick(edit, Qt.Key.Key_Return)


def enter_quarter(db: Path) -> dict:
    entered = run_main(db, "enter", "--quarter", Q3.code, "--json", *(f"{c}={t}" for c, t in TYPED),
                       "--explain", f"{NOTE[0]}={NOTE[1]}", clock=CLOCK)  # fmt: skip
    assert entered.returncode == 0, entered.stdout + entered.stderr
    return json.loads(entered.stdout)


def check_quarter(db: Path, quarter: Quarter) -> list[dict]:
    checked = run_main(db, "check", "--quarter", quarter.code, "--json", clock=CLOCK)
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    return json.loads(checked.stdout)


def test_save_stores_the_same_rows_through_either_door(legacy_db, tmp_path, qtbot):
    cli_db, window_db = twin(legacy_db, tmp_path / "命令行"), twin(legacy_db, tmp_path / "窗口")

    entered = enter_quarter(cli_db)
    assert entered["saved"]

    with town_window(window_db, Q3, qtbot) as (win, _store):
        type_quarter(qtbot, win)
        # 应结 is shown as the two added up, never a stop for the keys
        assert win.form.computed_edits["arbitration_due"].text() == "16"
        assert win.form.computed_edits["inspection_cases"].text() == "4"
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert "已保存" in win.save_state.text()
        window_findings = shown_findings(win)

    typed = {code: int(text) for code, text in TYPED}
    expected = {**typed, "arbitration_due": 10 + 6, "inspection_cases": 1 + 3}
    assert rows_of(cli_db, Q3) == (expected, {NOTE[0]: NOTE[1]})
    assert rows_of(window_db, Q3) == rows_of(cli_db, Q3)
    # what each door shows after saving
    assert window_findings == sorted(f["message"] for f in entered["findings"])
    assert any(f["rule"] == "carry_over_mismatch" and f["explained"] for f in entered["findings"])


def test_check_shows_the_same_findings_through_either_door(legacy_db, tmp_path, qtbot):
    cli_db, window_db = twin(legacy_db, tmp_path / "命令行"), twin(legacy_db, tmp_path / "窗口")

    # 2024Q2, split by the migration: its 监察 结转 0 is not held against the 15 Q1 left open
    cli_q2 = check_quarter(cli_db, Q2)
    assert not [f for f in cli_q2 if f["rule"] == "carry_over_mismatch"]
    with town_window(window_db, Q2, qtbot) as (win, _store):
        assert shown_findings(win) == sorted(f["message"] for f in cli_q2)
        assert win.close()

    # 2024Q3 typed: the window's findings as the clerk types, `check` once `enter` saved the same
    enter_quarter(cli_db)
    cli_q3 = check_quarter(cli_db, Q3)
    carry = [f for f in cli_q3 if f["rule"] == "carry_over_mismatch"]
    assert [(f["indicator"], f["explained"]) for f in carry] == [("inspection_carried", True)]
    assert "监察举报投诉上期结转案件数 1，与上季度应结 4 − 结案 4 = 0 不符（相差 +1）" in carry[0]["message"]
    with town_window(cli_db, Q3, qtbot) as (win, _store):  # the quarter `enter` saved, opened in the window
        assert shown_findings(win) == sorted(f["message"] for f in cli_q3)
        assert win.close()
    with town_window(window_db, Q3, qtbot) as (win, _store):
        type_quarter(qtbot, win)
        assert shown_findings(win) == sorted(f["message"] for f in cli_q3)
        win.form.is_dirty = lambda: False  # closing asks nothing: only the findings are compared here
        assert win.close()


def shown_by_the_form(form) -> None:
    """The entry form's 年度累计 and rates at 2024Q3, as worked out by hand (and as `progress` says, above)."""
    assert form.ytd_labels["arbitration_due"].text() == f"{ARBITRATION_YEAR[1]:,}"
    assert form.ytd_labels["inspection_cases"].text() == f"{INSPECTION_YEAR[1]:,}"
    assert form.ytd_labels["arbitration_carried"].text() == "0"  # 年初结转
    assert form.ytd_labels["arbitration_received"].text() == "41"
    assert form.ytd_labels["inspection_carried"].text() == "1"
    for code, year, quarter in (
        ("arbitration_closure_rate", ARBITRATION_YEAR, ARBITRATION_Q3),
        ("inspection_closure_rate", INSPECTION_YEAR, INSPECTION_Q3),
        ("mediation_success_rate", (40 * 3, 50 * 3), (40, 50)),
    ):
        assert form.rate_ytd_labels[code].text() == percent(year), code
        assert form.rate_quarter_labels[code].text() == percent(quarter), code


def test_progress_shows_the_same_numbers_through_either_door(legacy_db, tmp_path, qtbot):
    cli_db, window_db = twin(legacy_db, tmp_path / "命令行"), twin(legacy_db, tmp_path / "窗口")
    enter_quarter(cli_db)
    shown = run_main(cli_db, "progress", "--quarter", Q3.code, "--json", clock=CLOCK)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)["indicators"]

    # the command line against the hand-worked year
    for code, year, quarter in (
        ("arbitration_closure_rate", ARBITRATION_YEAR, ARBITRATION_Q3),
        ("inspection_closure_rate", INSPECTION_YEAR, INSPECTION_Q3),
    ):
        assert (data[code]["ytd"]["numerator"], data[code]["ytd"]["denominator"]) == year
        assert (data[code]["quarter"]["numerator"], data[code]["quarter"]["denominator"]) == quarter
        assert round(data[code]["ytd"]["rate"], 6) == round(year[0] / year[1], 6)
    assert data["arbitration_due"]["ytd"] == ARBITRATION_YEAR[1]

    with town_window(cli_db, Q3, qtbot) as (win, _store):  # the quarter `enter` saved, opened in the window
        shown_by_the_form(win.form)
        assert win.close()
    with town_window(window_db, Q3, qtbot) as (win, _store):
        type_quarter(qtbot, win)
        form = win.form
        shown_by_the_form(form)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert "已保存" in win.save_state.text()
        # 目标进度, once saved
        win.tabs.setCurrentWidget(win.progress_view)
        rates = {row.name: row for row in win.progress_view.rate_model.rows}
        arbitration = rates["劳动人事争议仲裁结案率"]
        assert (arbitration.quarter, arbitration.ytd) == (percent(ARBITRATION_Q3), percent(ARBITRATION_YEAR))
        assert arbitration.target == "96%以上（含本数）" and arbitration.verdict == "未达标"
        assert data["arbitration_closure_rate"]["ytd"]["met"] is False
        inspection = rates["劳动保障监察举报投诉案件结案率"]
        assert (inspection.quarter, inspection.ytd) == (percent(INSPECTION_Q3), percent(INSPECTION_YEAR))
        for row, code in zip(win.progress_view.model.rows, ("card_holders", "yuecai_certified", "nanyue_trained"), strict=True):
            assert (row.target, row.cumulative, row.status) == (
                data[code]["target"],
                data[code]["actual"],
                data[code]["status"],
            )
            assert round(float(row.completion), 6) == data[code]["completion"]
    assert rows_of(window_db, Q3) == rows_of(cli_db, Q3)


# --- a quarter after the last plan ----------------------------------------------------------------------

AFTER = Quarter(2031, 1)
AFTER_TODAY = date(2031, 5, 2)
AFTER_CLOCK = f"@{AFTER_TODAY:%Y-%m-%d} 10:00:00"
# The sample plan (2026–2030) lists 技能人才培养人数 besides the built-in plan's figures; a quarter after it is
# entered and reported under its list (Store.catalogue_for), with no targets.
AFTER_TYPED = ("card_holders=200000", "yuecai_certified=10", "nanyue_trained=80", "skilled_trained=30",
               "mediation_cases=40", "mediation_success=35", "arbitration_carried=0", "arbitration_received=6",
               "arbitration_closed=6", "inspection_carried=0", "inspection_received=3", "inspection_closed=2")  # fmt: skip
SAMPLE_PLANNED = ["社会保障卡持卡人数（季末数）", "“粤菜师傅”培训发证人数", "“南粤家政”培训人数", "技能人才培养人数"]


def test_progress_after_the_last_plan_lists_the_same_figures_through_either_door(city_keys, tmp_path, qtbot):
    """The window's 目标进度 took the built-in list for a quarter no plan covers, where `progress` takes the
    list of the latest plan before it: 技能人才培养人数 was missing from the window."""
    db = tmp_path / "规划后" / "莞城 数据库.sqlite3"
    db.parent.mkdir()
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
    identity = run_main(db, "identity", "import", str(city_keys["p12"]["莞城"]), "--passphrase-file", str(city_keys["pw"]))
    assert identity.returncode == 0, identity.stderr  # the city's root, which the plan is checked against
    imported = run_main(db, "plan", "import", str(city_keys["plan"]))
    assert imported.returncode == 0, imported.stderr
    entered = run_main(db, "enter", "--quarter", AFTER.code, *AFTER_TYPED, clock=AFTER_CLOCK)
    assert entered.returncode == 0, entered.stdout + entered.stderr
    window_db = twin(db, tmp_path / "窗口")
    shown = run_main(db, "progress", "--quarter", AFTER.code, "--json", clock=AFTER_CLOCK)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["plan"] is None and data["indicators"]["skilled_trained"]["quarter"] == 30

    with town_window(window_db, AFTER, qtbot, today=AFTER_TODAY) as (win, _store):
        win.tabs.setCurrentWidget(win.progress_view)
        view = win.progress_view
        assert [row.name for row in view.model.rows] == SAMPLE_PLANNED
        assert all(row.target is None for row in view.model.rows)
        rates = {row.name: row for row in view.rate_model.rows}
        assert list(rates) == ["劳动人事争议调解成功率", "劳动人事争议仲裁结案率", "劳动保障监察举报投诉案件结案率"]
        # by hand: 35/40, 6/6, 2/3 this quarter (the first of its year: the year to date is the same)
        for name, code, ratio in (
            ("劳动人事争议调解成功率", "mediation_success_rate", (35, 40)),
            ("劳动人事争议仲裁结案率", "arbitration_closure_rate", (6, 6)),
            ("劳动保障监察举报投诉案件结案率", "inspection_closure_rate", (2, 3)),
        ):
            row = rates[name]
            assert (row.quarter, row.ytd, row.target, row.verdict) == (percent(ratio), percent(ratio), "无规划目标", "—")
            assert (data["indicators"][code]["numerator"], data["indicators"][code]["denominator"]) == ratio
            assert data["indicators"][code]["target"] is None and data["indicators"][code]["met"] is None
        assert win.close()
