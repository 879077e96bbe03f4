"""Issue 15: numbers that mean what they say. Expectations are computed by hand from the plan's figures."""

import json
from dataclasses import replace
from fractions import Fraction

import openpyxl
import pytest
from PySide6.QtCore import Qt

from core.plans import load_shipped_plan
from core.progress import ROUND_HALF_UP, percent
from core.quarters import Quarter
from reports.excel import FORM_SHEET, rate_row
from reports.export import open_town_identity, prepare_return, write_return_files
from reports.identity import load_trust_roots
from reports.payload import ROUNDING_KEY, parse_payload, payload_of
from reports.verify import Verifier
from storage.store import Store
from tests.conftest import FULL_QUARTER, TODAY, on_pace_history
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
    data = prepare_return(store, q)
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


def test_returns_signed_with_half_up_rounding_still_verify(pki, tmp_path):  # noqa: F811
    store = Store(tmp_path / "gc.sqlite3", today=lambda: TODAY)
    store.bind_town("莞城")
    for quarter, values in on_pace_history(last=Quarter(2024, 3)).items():
        store.save_quarter(quarter, values)
    store.set_identity((pki / "莞城.p12").read_bytes(), "莞城")
    identity = open_town_identity(store, PASS)
    store.set_stock_base(PLAN, "card_holders", 150_000)
    data = prepare_return(store, Quarter(2024, 3), signed=True)
    store.close()
    old = replace(data, rounding=ROUND_HALF_UP, bases=None)  # as a return signed before issue 15
    assert ROUNDING_KEY not in payload_of(old).body and "bases" not in payload_of(old).body
    assert parse_payload(payload_of(old).to_bytes()).return_data().rounding == ROUND_HALF_UP
    verifier = Verifier(load_trust_roots(pki / "city_root.pem"))
    for version, folder in ((old, "old"), (data, "new")):
        result = write_return_files(version, tmp_path / folder, identity=identity)
        assert verifier.verify(result.workbook).valid, verifier.verify(result.workbook).reason
        assert verifier.verify(result.pdf).valid


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
    data = prepare_return(store, q)
    card = next(line for line in data.figures if line.code == "card_holders")
    assert "季末数" in card.name and card.ytd is None and card.cumulative is None
    assert card.completion == Fraction(165_000 - 150_000, 170_478 - 150_000)
    assert payload_of(data).body["bases"] == {"card_holders": 150_000}
    assert "社保卡持卡人数（季末数）基期数：150,000 张" in data.base_text
    from reports.excel import form_spec

    assert any(isinstance(c.value, str) and "基期数：150,000" in c.value for c in form_spec(data).cells)


def test_the_clerk_enters_the_base_beside_the_figure(qtbot, store, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

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
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (150_000, True))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert button.text() == "基期数：150,000"
    assert store.stock_bases(PLAN) == {"card_holders": 150_000}
    assert not any(f.rule == "base_missing" for f in win.form.findings())
    win.tabs.setCurrentWidget(win.progress_view)
    row = win.progress_view.model.rows[0]
    assert "基期数 150,000" in row.name and row.completion == Fraction(15_000, 20_478)
    assert not win.progress_view.notice.isVisible()
