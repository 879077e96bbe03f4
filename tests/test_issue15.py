"""Issue 15: numbers that mean what they say. Expectations are computed by hand from the plan's figures."""

import json
from dataclasses import replace
from fractions import Fraction

import openpyxl
import pytest
from PySide6.QtCore import Qt

from actions.returns import open_identity, prepare_export
from core.plans import load_shipped_plan
from core.progress import ROUND_HALF_UP, percent
from core.quarters import Quarter
from reports.excel import FORM_SHEET, rate_row
from reports.export import write_return_files
from reports.identity import load_trust_roots
from reports.payload import ROUNDING_KEY, payload_of
from reports.verify import Verifier
from storage.store import Store
from tests.helpers import FULL_QUARTER, TODAY, on_pace_history, signed_off_profile
from tests.test_forgery import PASS, pki  # noqa: F401  (a fixture)

PLAN = load_shipped_plan()


def floor_percent(value: Fraction) -> str:
    """By hand: the value in tenths of a percent, truncated."""
    tenths = value * 1000
    whole = tenths.numerator // tenths.denominator
    return f"{whole // 10}.{whole % 10}%"


# --- item 2: rounding never crosses a line ------------------------------------------------------


def test_a_rate_just_below_its_target_never_prints_as_the_target():
    exact = Fraction(7799, 10000)
    assert exact < Fraction(78, 100)
    assert percent(exact) == floor_percent(exact) == "77.9%"
    assert percent(Fraction(78, 100)) == "78.0%"  # "以上" includes 78% itself
    almost_done = Fraction(156_234, 156_312)
    assert almost_done < 1 and percent(almost_done) == "99.9%"
    assert percent(Fraction(1)) == "100.0%"
    assert percent(Fraction(2, 3)) == "66.6%"


def test_a_return_with_77_99_percent_prints_77_9_in_excel_pdf_window_and_cli(store, tmp_path, capsys):
    from cli import main as cli_main

    q = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=Quarter(2024, 2)).items():
        store.save_quarter(quarter, values)
    why = "本季度开展集中调解专项行动"
    store.save_quarter(
        q,
        dict(FULL_QUARTER, card_holders=170_000, mediation_cases=10_000, mediation_success=7_799),
        {"mediation_cases": why, "mediation_success": why},
    )
    data = prepare_export(store, q)
    mediation = next(r for r in data.rates if r.code == "mediation_success_rate")
    # the quarter: 7,799/10,000 = 77.99%; the year: (40 + 40 + 7,799)/(50 + 50 + 10,000) = 78.01%, met
    assert mediation.quarter_text == "77.9%"
    assert Fraction(7879, 10100) >= Fraction(78, 100) and mediation.ytd_text == floor_percent(Fraction(7879, 10100))
    body = payload_of(data).body
    printed = next(r for r in body["rates"] if r["code"] == "mediation_success_rate")["printed"]
    assert printed[2] == "77.9%"
    result = write_return_files(data, tmp_path / "out")
    sheet = openpyxl.load_workbook(result.workbook)[FORM_SHEET]
    cell = sheet[f"C{rate_row(data, 'mediation_success_rate')}"]
    assert cell.number_format == "0.0%" and cell.value == pytest.approx(0.779)
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(result.pdf).pages)
    assert "77.9%" in text  # the quarter; the year (78.01%) prints 78.0%
    store.close()
    capsys.readouterr()
    assert cli_main(["--db", str(store.path), "progress", "--quarter", "2024Q3"]) == 0
    out = capsys.readouterr().out
    assert "本季度 77.9%" in out


def test_a_return_without_the_rounding_rule_or_bases_is_refused_since_issue_22(pki, tmp_path):  # noqa: F811
    """Returns signed before issue 15 (half-up rounding, no 基期数) were verified leniently until issue 22; such
    returns are earlier releases' (town-returns/3, refused with 不是本版本软件生成的季报), so a current payload
    that leaves out the rule or the bases is refused rather than judged by the old leniency."""
    store = Store(tmp_path / "gc.sqlite3", today=lambda: TODAY)
    store.bind_town("莞城")
    store.set_profile(signed_off_profile())
    for quarter, values in on_pace_history(last=Quarter(2024, 3)).items():
        store.save_quarter(quarter, values)
    store.set_identity((pki / "莞城.p12").read_bytes(), "莞城")
    identity = open_identity(store, PASS)
    store.set_stock_base(PLAN, "card_holders", 150_000)
    data = prepare_export(store, Quarter(2024, 3), signed=True)
    store.close()
    old = replace(data, rounding=ROUND_HALF_UP, bases=None)  # as a return signed before issue 15
    assert ROUNDING_KEY not in payload_of(old).body and "bases" not in payload_of(old).body
    verifier = Verifier(load_trust_roots(pki / "city_root.pem"))
    refused = write_return_files(old, tmp_path / "old", identity=identity)
    for path in (refused.workbook, refused.pdf):
        verdict = verifier.verify(path)
        assert not verdict.valid and "取舍规则" in verdict.reason, verdict.reason
    current = write_return_files(data, tmp_path / "new", identity=identity)
    assert verifier.verify(current.workbook).valid and verifier.verify(current.pdf).valid


# --- item 1: the card stock is a 季末数, its pace is growth from the base ------------------------

CITY_BASE = 9_300_000  # 专栏2: 930万 at the end of 2020
CITY_TARGET = 10_257_293  # the annex's 全市 row (the plan text rounds it to 1026万)


def test_the_city_card_stock_pace_is_growth_from_930_wan():
    from core.plans import CITY
    from core.progress import SEVERELY_BEHIND, compute_progress

    q = Quarter(2023, 2)  # the 10th of 20 quarters: time progress 1/2
    history = {q: dict(FULL_QUARTER, card_holders=9_500_000)}
    with_base = compute_progress(PLAN, CITY, q, history, {"card_holders": CITY_BASE})
    card = with_base.indicators["card_holders"]
    growth = Fraction(9_500_000 - 9_300_000, CITY_TARGET - 9_300_000)  # 200,000 of 957,293 ≈ 20.9%
    assert card.base == CITY_BASE and card.completion == growth
    assert Fraction(1, 2) - growth > Fraction(20, 100) and card.status == SEVERELY_BEHIND
    # the old reading, stock ÷ target = 92.6%, would have called this 正常
    without = compute_progress(PLAN, CITY, q, history).indicators["card_holders"]
    assert without.completion == Fraction(9_500_000, CITY_TARGET) and without.status is None
    assert without.needs_base and without.base is None


def test_the_city_base_is_the_sum_of_the_reporting_towns_bases():
    from core.consolidation import consolidate

    q = Quarter(2023, 2)
    histories = {
        "莞城": {q: dict(FULL_QUARTER, card_holders=160_000)},
        "石龙": {q: dict(FULL_QUARTER, card_holders=135_000)},
    }
    summary = consolidate(PLAN, q, histories, None, {"莞城": {"card_holders": 150_000}, "石龙": {"card_holders": 130_000}})
    city = summary.city.indicators["card_holders"]
    assert city.base == 280_000
    assert summary.towns["莞城"].indicators["card_holders"].completion == Fraction(10_000, 170_478 - 150_000)
    # one town without a base: the city has none either, and no pace status
    partial = consolidate(PLAN, q, histories, None, {"莞城": {"card_holders": 150_000}})
    assert partial.city.indicators["card_holders"].base is None
    assert partial.city.indicators["card_holders"].status is None


def test_base_command_is_audited_and_progress_json_gives_the_base(store, capsys):
    from cli import main as cli_main

    q = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=q).items():
        store.save_quarter(quarter, values)
    path = str(store.path)
    store.close()
    capsys.readouterr()
    assert cli_main(["--db", path, "progress", "--quarter", "2024Q3", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)["indicators"]["card_holders"]
    stock = 150_000 + 1_000 * 15  # on_pace_history: the 15th quarter of the plan
    assert before["base"] is None and before["needs_base"] is True and before["status"] is None
    assert before["completion"] == pytest.approx(float(Fraction(stock, 170_478)))
    assert cli_main(["--db", path, "progress", "--quarter", "2024Q3"]) == 0
    assert "尚未录入基期数" in capsys.readouterr().out

    assert cli_main(["--db", path, "base", "card_holders=150,000"]) == 0
    assert "基期数：150,000" in capsys.readouterr().out
    assert cli_main(["--db", path, "progress", "--quarter", "2024Q3", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)["indicators"]["card_holders"]
    growth = Fraction(stock - 150_000, 170_478 - 150_000)  # 15,000 / 20,478 = 73.2% against 75%
    assert after["base"] == 150_000 and after["completion"] == pytest.approx(float(growth))
    assert after["status"] == "滞后"
    assert cli_main(["--db", path, "history", "--json"]) == 0
    trail = json.loads(capsys.readouterr().out)
    assert any(r["action"] == "set_base" and r["new_value"].startswith("150000") for r in trail)
    assert cli_main(["--db", path, "base", "yuecai_certified=3"]) != 0


def test_the_return_prints_and_signs_the_base_and_labels_the_stock(store):
    q = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=q).items():
        store.save_quarter(quarter, values)
    store.set_stock_base(PLAN, "card_holders", 150_000)
    data = prepare_export(store, q)
    card = next(line for line in data.figures if line.code == "card_holders")
    assert "季末数" in card.name and card.ytd is None and card.cumulative is None
    assert card.completion == Fraction(165_000 - 150_000, 170_478 - 150_000)
    assert payload_of(data).body["bases"] == {"card_holders": 150_000}
    assert "社保卡持卡人数（季末数）基期数：150,000 张" in data.base_text
    from reports.excel import form_spec

    assert any(isinstance(c.value, str) and "基期数：150,000" in c.value for c in form_spec(data).cells)


def test_the_clerk_enters_the_base_beside_the_figure(qtbot, store, monkeypatch):
    from gui.app import make_application
    from gui.main_window import MainWindow

    make_application()
    q = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=q).items():
        store.save_quarter(quarter, values)
    win = MainWindow(store, initial_quarter=q)
    qtbot.addWidget(win)
    win.show()
    button = win.form.base_buttons["card_holders"]
    assert button.text() == "基期数：未录入"
    assert any(f.rule == "base_missing" for f in win.form.findings())
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.clerk_dialogs import BaseDialog

    def type_base():  # the 基期数 dialog starts empty (issue 25): the clerk types the figure
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, BaseDialog):
            QTimer.singleShot(20, type_base)
            return
        qtbot.keyClicks(dialog.edit, "150000")
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)

    QTimer.singleShot(0, type_base)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert button.text() == "基期数：150,000"
    assert store.stock_bases(PLAN) == {"card_holders": 150_000}
    assert not any(f.rule == "base_missing" for f in win.form.findings())
    win.tabs.setCurrentWidget(win.progress_view)
    row = win.progress_view.model.rows[0]
    assert "基期数 150,000" in row.name and row.completion == Fraction(15_000, 20_478)
    assert not win.progress_view.notice.isVisible()


# --- items 5 and 7: stale returns are 需重新上报; status lists every quarter of the plan -----------


def _submit(store, quarter, content):
    store.record_export(quarter, store.revision_for(quarter, content), content, [f"{quarter.code}.xlsx"])


def test_revising_an_earlier_quarter_makes_later_submitted_returns_stale(store, capsys):
    from cli import main as cli_main

    for quarter, values in on_pace_history(last=Quarter(2025, 2)).items():
        store.save_quarter(quarter, values)
    for code in ("2024Q4", "2025Q1", "2025Q2"):
        _submit(store, Quarter.parse(code), code)
    q4 = Quarter(2024, 4)
    store.reopen(q4, "南粤家政培训人数录错")
    store.save_quarter(q4, {"nanyue_trained": 71})  # 莞城's 2021–2025 cumulative now differs by one
    statuses = store.quarter_statuses()
    assert statuses[q4].name == "已退回修改"
    for later in (Quarter(2025, 1), Quarter(2025, 2)):
        assert statuses[later].name == "需重新上报" and statuses[later].locked
        assert "2024年第4季度" in statuses[later].stale_because
    findings = store.check(Quarter(2025, 1))
    assert any(f.rule == "needs_resubmission" and "2024年第4季度" in f.message for f in findings)
    path = str(store.path)
    store.close()
    capsys.readouterr()
    assert cli_main(["--db", path, "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and set(rows[0]) >= {"quarter", "state", "revision"}
    by_quarter = {r["quarter"]: r for r in rows}
    assert by_quarter["2025Q1"]["state"] == "需重新上报" and by_quarter["2025Q1"]["revision"] == 1
    assert by_quarter["2024Q4"]["state"] == "已退回修改" and by_quarter["2024Q3"]["state"] == "草稿"
    assert {r["state"] for r in rows} <= {"未填报", "草稿", "已上报", "已退回修改", "需重新上报"}
    # item 7: all 20 quarters of 2021Q1–2025Q4, the never-entered ones as 未填报; then, as the window's
    # quarter list has them (issue 23), every quarter up to today's, which no plan covers yet
    from datetime import date

    from core.quarters import quarter_range

    plan_codes = [f"{y}Q{n}" for y in range(2021, 2026) for n in range(1, 5)]
    since = [q.code for q in quarter_range(Quarter(2026, 1), Quarter.containing(date.today()))]
    assert [r["quarter"] for r in rows] == plan_codes + since
    assert all(by_quarter[code]["state"] == "未填报" for code in since)
    assert by_quarter["2025Q3"]["state"] == "未填报" and by_quarter["2025Q4"]["state"] == "未填报"
    assert cli_main(["--db", path, "status"]) == 0
    text = capsys.readouterr().out
    assert "2025年第4季度：未填报" in text and "2025年第1季度：需重新上报" in text


def test_a_revision_in_another_plan_year_does_not_stale_an_unrelated_quarter(store):
    history = on_pace_history(last=Quarter(2024, 2))
    for quarter, values in history.items():
        store.save_quarter(quarter, values)
    _submit(store, Quarter(2024, 1), "a")
    store.save_quarter(Quarter(2024, 2), {"nanyue_trained": 71})  # a later quarter changes nothing printed on 2024Q1
    assert store.quarter_statuses()[Quarter(2024, 1)].name == "已上报"


def test_the_quarter_picker_shows_stale_quarters(qtbot, store):
    from gui.app import make_application
    from gui.main_window import MainWindow

    make_application()
    for quarter, values in on_pace_history(last=Quarter(2025, 1)).items():
        store.save_quarter(quarter, values)
    _submit(store, Quarter(2025, 1), "x")
    store.save_quarter(Quarter(2024, 4), {"nanyue_trained": 71})
    win = MainWindow(store, initial_quarter=Quarter(2025, 1))
    qtbot.addWidget(win)
    texts = [win.quarter_box.itemText(i) for i in range(win.quarter_box.count())]
    assert any(t.startswith("2025年第1季度（需重新上报") for t in texts)
    assert "需重新上报" in win.lock_banner.text() and "2024年第4季度" in win.lock_banner.text()
    # The 检查结果 list names it as `check` does, with the menu item where `check` names the command.
    listed = [win.findings_list.item(i).text() for i in range(win.findings_list.count())]
    notice = next(text for text in listed if "需重新上报" in text)
    assert notice.startswith("【提示】2025年第1季度需重新上报") and "2024年第4季度" in notice
    assert "“季报 → 退回修改”" in notice and "reopen" not in notice
    checked = [f.message for f in store.check(Quarter(2025, 1)) if f.rule == "needs_resubmission"]
    assert len(checked) == 1 and "退回修改（reopen）" in checked[0]
    assert notice.removeprefix("【提示】") == checked[0].replace("退回修改（reopen）", "“季报 → 退回修改”")


# --- item 6: the rates are annual targets ---------------------------------------------------------


def test_annual_command_gives_the_full_year_rates_and_flow_totals(store, capsys):
    from cli import main as cli_main

    for quarter, values in on_pace_history(last=Quarter(2024, 4)).items():
        store.save_quarter(quarter, values)
    store.save_quarter(Quarter(2024, 4), {"mediation_success": 30}, {"mediation_success_rate": "年末疑难案件集中"})
    path = str(store.path)
    store.close()
    capsys.readouterr()
    assert cli_main(["--db", path, "annual", "--year", "2024", "--json"]) == 0
    year = json.loads(capsys.readouterr().out)
    # by hand: mediation (40 + 40 + 40 + 30) / (4 × 50) = 150/200 = 75% < 78%; arbitration 100/100; inspection 48/48
    mediation = year["rates"]["mediation_success_rate"]
    assert (mediation["numerator"], mediation["denominator"]) == (150, 200) and mediation["met"] is False
    assert mediation["rate"] == pytest.approx(0.75) and mediation["target"] == pytest.approx(0.78)
    assert year["rates"]["inspection_closure_rate"]["met"] is True
    assert year["totals"]["yuecai_certified"] == 4 * 8 and year["totals"]["nanyue_trained"] == 4 * 70
    assert year["complete"] is True and year["quarters_entered"] == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert cli_main(["--db", path, "annual", "--year", "2024"]) == 0
    text = capsys.readouterr().out
    assert "劳动人事争议调解成功率：75.0%（150/200），年度目标 78%以上（含本数），未达标" in text
    assert "card_holders" not in text


def test_the_fourth_quarter_return_shows_the_year_result(store):
    from reports.excel import form_spec

    for quarter, values in on_pace_history(last=Quarter(2024, 4)).items():
        store.save_quarter(quarter, values)
    store.set_stock_base(PLAN, "card_holders", 150_000)
    q4 = prepare_export(store, Quarter(2024, 4))
    q3 = prepare_export(store, Quarter(2024, 3))
    assert "全年（年度结果）" in {c.value for c in form_spec(q4).cells}
    assert "全年（年度结果）" not in {c.value for c in form_spec(q3).cells}


def test_the_progress_view_has_a_year_section(qtbot, store):
    from gui.app import make_application
    from gui.main_window import MainWindow

    make_application()
    for quarter, values in on_pace_history(last=Quarter(2024, 3)).items():
        store.save_quarter(quarter, values)
    win = MainWindow(store, initial_quarter=Quarter(2024, 3))
    qtbot.addWidget(win)
    win.tabs.setCurrentWidget(win.progress_view)
    view = win.progress_view
    assert "2024年" in view.year_heading.text() and "已填 3 个季度" in view.year_heading.text()
    rows = {r.name: r for r in view.year_model.rows}
    mediation = rows["劳动人事争议调解成功率"]
    assert (mediation.numerator, mediation.denominator, mediation.rate) == ("120", "150", "80.0%")
    assert rows["“南粤家政”培训人数（本年累计）"].denominator == "210 人次"


# --- items 8 and 9: no code reaches a user; 监察's denominator is 应结案件数 -----------------------


def test_no_indicator_code_reaches_a_user_and_the_machine_sheet_is_hidden(store, tmp_path, capsys):
    from cli import main as cli_main
    from core.indicators import SHIPPED
    from reports.layout import DATA_SHEET

    q = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=q).items():
        store.save_quarter(quarter, values)
    store.save_quarter(q, {"card_holders": 100_000}, {"card_holders": "清理重复持卡记录后减少"})
    data = prepare_export(store, q)
    result = write_return_files(data, tmp_path / "out")
    workbook = openpyxl.load_workbook(result.workbook)
    assert workbook[DATA_SHEET].sheet_state == "hidden" and workbook[FORM_SHEET].sheet_state == "visible"
    path = str(store.path)
    store.close()
    capsys.readouterr()
    for args in (["check", "--quarter", "2024Q3"], ["progress", "--quarter", "2024Q3"], ["status"]):
        cli_main(["--db", path, *args])
        out = capsys.readouterr()
        # the one place a code appears is the command to type: python main.py base card_holders=数量
        text = (out.out + out.err).replace("python main.py base card_holders=数量", "")
        assert "社会保障卡持卡人数" in text or args == ["status"]
        leaked = [c for c in (*SHIPPED.indicator_codes, *SHIPPED.rate_codes) if c in text]
        assert not leaked, (args, leaked)


def test_inspection_closed_may_exceed_new_cases_when_carried_over_cases_close(store):
    from core.indicators import SHIPPED
    from core.progress import compute_progress
    from core.validation import ERROR

    q = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=q.previous()).items():
        store.save_quarter(quarter, values)
    # 12 new complaints this quarter and 5 carried over: 17 due, 15 closed (more than the 12 new ones)
    store.save_quarter(q, dict(FULL_QUARTER, card_holders=165_000, inspection_cases=17, inspection_closed=15))
    assert not [f for f in store.check(q) if f.level == ERROR]
    assert SHIPPED.display_name("inspection_cases") == "劳动保障监察举报投诉应结案件数"
    rate = compute_progress(PLAN, "莞城", q, store.history()).rates_quarter["inspection_closure_rate"]
    assert rate.rate == Fraction(15, 17) and rate.met is False
    names = [line.name for line in prepare_return_lines(store, q)]
    assert "劳动保障监察举报投诉应结案件数" in names


def prepare_return_lines(store, quarter):
    from reports.returns import assemble_return

    return assemble_return(
        "莞城", quarter, PLAN, store.history(), {}, [], {}, __import__("datetime").datetime(2024, 10, 10)
    ).figures


# --- items 3 and 4: the city's totals come from each town's own signed return ------------------


def _q4_only_folder():
    """Every town but 虎门 and 清溪 has only its 2025Q4 return in the folder; 莞城 has all 20."""
    from core.plans import TOWNS

    q = Quarter(2025, 4)
    histories, signed = {}, {}
    for town in TOWNS:
        if town in ("虎门", "清溪"):
            continue
        target = PLAN.targets_for(town).counts["yuecai_certified"]
        histories[town] = {q: dict(FULL_QUARTER)}
        # the town's own return signed its 2021–2025 cumulative: exactly its target
        signed[town] = {"yuecai_certified": (4 * 8, target)}
    histories["莞城"] = {p: dict(FULL_QUARTER) for p in PLAN.quarters}
    signed["莞城"] = {"yuecai_certified": (4 * 8, 20 * 8 + 1)}  # one more than its 20 returns add up to
    return q, histories, signed


def test_the_city_row_uses_signed_totals_and_names_the_towns_left_out():
    from core.consolidation import consolidate

    q, histories, signed = _q4_only_folder()
    summary = consolidate(PLAN, q, histories, None, None, signed)
    assert summary.city_label == "全市（未含虎门、清溪）"
    city = summary.city.indicators["yuecai_certified"]
    own_targets = 7_000 - 394 - 317  # the annex total less 虎门's and 清溪's rows
    cumulative = own_targets - 154 + 161  # every town at its target, but 莞城 signed 161 against a target of 154
    assert city.target == own_targets and city.cumulative == cumulative
    assert city.completion == Fraction(cumulative, own_targets)
    assert summary.annex_completion["yuecai_certified"] == Fraction(cumulative, 7_000)
    # a town whose folder holds only its Q4 return is not shown at 1/20 of its pace: its signed cumulative counts
    assert summary.towns["石龙"].indicators["yuecai_certified"].completion == 1
    assert summary.checks["石龙"] == ["累计缺 19 个季度的季报（2021Q1、2021Q2、2021Q3、2021Q4等）"]
    assert summary.checks["莞城"] == ["“粤菜师傅”培训发证人数规划累计：本季季报签报 161，各季季报之和 160，不符"]


def test_the_summary_data_sheet_has_numerator_denominator_and_rate_columns(tmp_path):
    from core.consolidation import consolidate
    from reports.city_report import DATA_HEADERS, write_city_workbook

    q, histories, signed = _q4_only_folder()
    histories["石龙"][q] = dict(FULL_QUARTER, mediation_cases=10_000, mediation_success=7_799)
    summary = consolidate(PLAN, q, histories, None, None, signed)
    path = tmp_path / "summary.xlsx"
    write_city_workbook(summary, set(), path)
    sheet = openpyxl.load_workbook(path)["数据"]
    header = [c.value for c in sheet[1]]
    assert header == DATA_HEADERS
    for name in ("本季度分子", "本季度分母", "本季度比率", "本年分子", "本年分母", "本年比率"):
        assert name in header
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    mediation = next(r for r in rows if r["镇街"] == "石龙" and r["代码"] == "mediation_success_rate")
    assert (mediation["本季度分子"], mediation["本季度分母"]) == (7_799, 10_000)
    assert mediation["本季度比率"] == pytest.approx(0.779)  # 77.99% shown as 77.9%, never 78.0%
    assert mediation["本季度／季末数"] is None and mediation["本年累计"] is None
    # a 季末数 has its quarter-end figure and base, no 本年累计 or 规划累计 (found reviewing the 汇总表: both
    # repeated the 季末数, where consolidate --json gives null)
    cards = next(r for r in rows if r["镇街"] == "石龙" and r["代码"] == "card_holders")
    assert cards["本季度／季末数"] == FULL_QUARTER["card_holders"]
    assert cards["本年累计"] is None and cards["规划累计"] is None
