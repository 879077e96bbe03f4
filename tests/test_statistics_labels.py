"""Issue 26 items 3, 4, 7 and 8: what each printed number means is in its label.

Expected figures come from the plan document's annex (莞城: 社保卡 170,478; rates 78%以上, 96%以上, 100%)
and hand-made figures, and are compared in `progress --json`, the workbook's cells and the PDF's text."""

import json
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from core.quarters import Quarter
from reports.layout import FORM_SHEET
from storage.store import Store
from tests.helpers import TODAY, on_pace_history, run_main, signed_off_profile

CARD_TARGET = 170_478  # the annex, 莞城
BASE = 150_000


def typed(values: dict[str, int]) -> list[str]:
    """A quarter's figures as typed on the command line (应结 as 结转 0 + 受理)."""
    shown = {k: v for k, v in values.items() if k not in ("arbitration_due", "inspection_cases")}
    shown |= {"arbitration_carried": 0, "arbitration_received": values["arbitration_due"]}
    shown |= {"inspection_carried": 0, "inspection_received": values["inspection_cases"]}
    return [f"{k}={v}" for k, v in shown.items()]


def new_db(tmp_path: Path) -> Path:
    db = tmp_path / "莞城 季报.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
    return db


def rows_of(workbook: Path) -> dict[str, tuple]:
    form = openpyxl.load_workbook(workbook)[FORM_SHEET]
    rows: dict[str, tuple] = {}
    for row in form.iter_rows(min_row=7):  # the first row of a name: the 附页 names the indicator again
        if row[0].value:
            rows.setdefault(str(row[0].value).strip("　"), tuple(c.value for c in row))
    return rows


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def export(db: Path, quarter: str, out: Path) -> None:
    done = run_main(db, "export", "--quarter", quarter, "--out", str(out), "--unsigned")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def below_base(tmp_path):
    """2021Q1: 140,000 cards against a base of 150,000; exactly 39 of 50 mediations succeeded."""
    db = new_db(tmp_path)
    assert run_main(db, "base", "card_holders=150000").returncode == 0
    values = dict(on_pace_history(last=Quarter(2021, 1))[Quarter(2021, 1)], card_holders=140_000)
    values |= {"mediation_cases": 50, "mediation_success": 39}
    entered = run_main(db, "enter", "--quarter", "2021Q1", *typed(values),
                       "--explain", "card_holders=本季度清理重复持卡记录一万张")  # fmt: skip
    assert entered.returncode == 0, entered.stdout + entered.stderr
    return db


def test_a_stock_below_its_base_says_so_and_truncates_toward_zero(below_base, tmp_path):
    completion = Fraction(140_000 - BASE, CARD_TARGET - BASE)  # −48.83…%: −48.8% toward zero, never −48.9%
    assert -Fraction(489, 1000) < completion < -Fraction(488, 1000)
    progress = json.loads(run_main(below_base, "progress", "--quarter", "2021Q1", "--json").stdout)
    card = progress["indicators"]["card_holders"]
    assert card["completion"] == round(float(completion), 6) and card["base"] == BASE
    assert "-48.8%" in run_main(below_base, "progress", "--quarter", "2021Q1").stdout
    out = tmp_path / "out"
    export(below_base, "2021Q1", out)
    rows = rows_of(out / "2021Q1_莞城_季报.xlsx")
    assert rows["社会保障卡持卡人数（季末数）"][6] == pytest.approx(-0.488)
    text = pdf_text(out / "2021Q1_莞城_季报.pdf")
    assert "-48.8%" in text and "-48.9%" not in text
    flat = text.replace("\n", "")
    assert "较基期增长完成率" in flat and f"基期数：{BASE:,} 张" in flat
    assert "本季末低于基期 10,000 张" in flat


def test_a_rate_exactly_at_its_target_meets_it_as_printed(below_base, tmp_path):
    """39/50 = 78.0%: the plan says 78%以上, and 以上 includes the number itself."""
    rate = json.loads(run_main(below_base, "progress", "--quarter", "2021Q1", "--json").stdout)["indicators"][
        "mediation_success_rate"
    ]
    assert (rate["numerator"], rate["denominator"], rate["target"], rate["met"]) == (39, 50, 0.78, True)
    out = tmp_path / "out"
    export(below_base, "2021Q1", out)
    row = rows_of(out / "2021Q1_莞城_季报.xlsx")["劳动人事争议调解成功率"]
    assert (row[4], row[5], row[8]) == ("39/50", "78%以上（含本数）", "达标")
    # the counts and the verdict are the year's, and their headers say so (a quarter's 77.9% beside them
    # was read as met)
    band = rows_of(out / "2021Q1_莞城_季报.xlsx")["比率（由系统计算）"]
    assert (band[2], band[3], band[4], band[8]) == ("本季度", "本年累计", "本年分子/分母", "本年是否达标")
    assert rows_of(out / "2021Q1_莞城_季报.xlsx")["劳动保障监察举报投诉案件结案率"][5] == "100%"
    text = pdf_text(out / "2021Q1_莞城_季报.pdf")
    assert "78%以上（含本数）" in text and "96%以上（含本数）" in text and "≥" not in text
    assert "本年分子/分母" in text and "本年是否达标" in text


def test_a_rate_below_its_target_is_named_with_the_target_as_printed(tmp_path):
    """38/50 = 76.0% < 78%以上: check, the return's 需关注 and its summary say 未达到目标 78%以上（含本数）,
    never a "78.0%" the plan does not write."""
    db = new_db(tmp_path)
    assert run_main(db, "base", "card_holders=150000").returncode == 0
    values = dict(on_pace_history(last=Quarter(2021, 1))[Quarter(2021, 1)])
    values |= {"mediation_cases": 50, "mediation_success": 38}
    explain = "mediation_success_rate=本季度集体争议较多，调解难度大"
    entered = run_main(db, "enter", "--quarter", "2021Q1", *typed(values), "--explain", explain)
    assert entered.returncode == 0, entered.stdout + entered.stderr
    said = run_main(db, "check", "--quarter", "2021Q1")
    assert "本年累计 76.0%（38/50），未达到目标 78%以上（含本数）" in said.stdout, said.stdout + said.stderr
    out = tmp_path / "out"
    export(db, "2021Q1", out)
    text = pdf_text(out / "2021Q1_莞城_季报.pdf").replace("\n", "")
    assert "未达到目标 78%以上（含本数）" in text and "78.0%" not in text


def test_a_quarter_no_plan_covers_prints_no_target(tmp_path):
    db = new_db(tmp_path)
    values = dict(on_pace_history(last=Quarter(2021, 1))[Quarter(2021, 1)])
    assert run_main(db, "enter", "--quarter", "2020Q4", *typed(values)).returncode == 0
    rates = json.loads(run_main(db, "progress", "--quarter", "2020Q4", "--json").stdout)["indicators"]
    for code in ("mediation_success_rate", "arbitration_closure_rate", "inspection_closure_rate"):
        assert rates[code]["target"] is None and rates[code]["met"] is None
    out = tmp_path / "out"
    export(db, "2020Q4", out)
    row = rows_of(out / "2020Q4_莞城_季报.xlsx")["劳动人事争议调解成功率"]
    assert (row[5], row[8]) == ("—", "—")
    text = pdf_text(out / "2020Q4_莞城_季报.pdf")
    assert text.count("达标") == 1 and "是否达标" in text and "以上" not in text  # the column title only
    summary = pdf_text(out / "2020Q4_莞城_摘要.pdf")
    assert "无规划目标" in summary and "均达到" not in summary and "以上" not in summary


def test_a_shortfall_at_the_plans_last_quarter_is_unfinished_not_behind(tmp_path):
    db = new_db(tmp_path)
    history = on_pace_history(last=Quarter(2025, 4))
    with Store(db, today=lambda: TODAY) as store:
        for quarter, values in history.items():
            if quarter < Quarter(2025, 4):
                store.save_quarter(quarter, values)
    last = dict(history[Quarter(2025, 4)], yuecai_certified=0)
    cumulative = 19 * history[Quarter(2021, 1)]["yuecai_certified"]  # 152 of the annex's 154
    assert cumulative < 154
    entered = run_main(db, "enter", "--quarter", "2025Q4", *typed(last))
    assert "未完成" in entered.stdout and "请填写说明" in entered.stdout
    progress = json.loads(run_main(db, "progress", "--quarter", "2025Q4", "--json").stdout)
    item = progress["indicators"]["yuecai_certified"]
    assert (item["cumulative"], item["target"], item["status"]) == (cumulative, 154, "未完成")
    assert run_main(db, "enter", "--quarter", "2025Q4", "--explain", "yuecai_certified=培训班因场地改造推迟到明年").returncode == 0
    out = tmp_path / "out"
    export(db, "2025Q4", out)
    assert rows_of(out / "2025Q4_莞城_季报.xlsx")["“粤菜师傅”培训发证人数"][8] == "未完成"
    text = pdf_text(out / "2025Q4_莞城_季报.pdf")
    assert "未完成" in text and "滞后" not in text
