"""Issue 26 item 9 (part): a 季末数 that jumps more than ±30% from one quarter to the next needs a 说明.

By hand: 150,000 cards in 2024Q1, 250,000 in Q2: +66.6…%, shown 66.6% (truncated); 195,000 is +30.0%, not beyond.
A plan package may set another bound: under 50%, 150,000 → 210,000 (+40%) needs nothing, → 240,000 (+60%) does."""

import dataclasses
import json
from fractions import Fraction

import openpyxl
import pytest
from pypdf import PdfReader

from core.demo import FULL_QUARTER
from core.plan_package import sample_package
from core.quarters import Quarter
from reports.plan_file import open_root, write_plan_file
from reports.plan_workbook import SHEET_HEADER, PlanWorkbookError, read_workbook, write_workbook
from storage.store import Store
from tests.helpers import TODAY, on_pace_history, run_main, signed_off_profile
from tests.pki import PASSPHRASE


def test_a_stock_jump_beyond_thirty_percent_needs_an_explanation(tmp_path):
    db = tmp_path / "跳变.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Quarter(2024, 1), dict(FULL_QUARTER, card_holders=150_000))
    entered = run_main(db, "enter", "--quarter", "2024Q2", "card_holders=250000")
    assert "社会保障卡持卡人数（季末数） 250,000 比上季度 150,000 增加 66.6%，超过 ±30.0%，请填写说明" in entered.stdout
    found = json.loads(run_main(db, "check", "--quarter", "2024Q2", "--json").stdout)
    assert next(f for f in found if f["rule"] == "stock_jump")["needs_explanation"]
    run_main(db, "enter", "--quarter", "2024Q2", "card_holders=195000")  # exactly +30%: within the bound
    found = json.loads(run_main(db, "check", "--quarter", "2024Q2", "--json").stdout)
    assert not any(f["rule"] == "stock_jump" for f in found)


# --- a bound the plan sets (issue 26 item 9: "a plan-set bound, default ±30%") ----------------------


def test_a_plan_may_set_its_own_stock_bound(city_keys, tmp_path):
    package = dataclasses.replace(sample_package(), stock_jump_bound=Fraction(1, 2))
    assert package.content()["stock_jump_bound"] == "50"
    assert "stock_jump_bound" not in sample_package().content()  # absent, the default: every package keeps its hash
    plan = write_plan_file(package, open_root(city_keys["city_key"], PASSPHRASE), tmp_path / "警戒线 50%.plan")
    db = tmp_path / "莞城 数据库.sqlite3"
    assert run_main(db, "init", "--town", "莞城").returncode == 0
    imported = run_main(
        db, "identity", "import", str(city_keys["p12"]["莞城"]), "--passphrase-file", str(city_keys["pw"])
    )
    assert imported.returncode == 0, imported.stderr
    shown = run_main(db, "plan", "import", str(plan))
    assert shown.returncode == 0, shown.stderr
    assert "季末数跳变警戒线：比上季度增减超过 50% 须写说明" in shown.stdout
    with Store(db, today=lambda: TODAY) as store:
        store.save_quarter(Quarter(2026, 1), {"card_holders": 150_000})

    entered = run_main(db, "enter", "--quarter", "2026Q2", "card_holders=210000")  # +40%: within this plan's 50%
    assert entered.returncode == 0, entered.stderr
    found = json.loads(run_main(db, "check", "--quarter", "2026Q2", "--json").stdout)
    assert not any(f["rule"] == "stock_jump" for f in found)
    run_main(db, "enter", "--quarter", "2026Q2", "card_holders=240000")  # +60%
    found = json.loads(run_main(db, "check", "--quarter", "2026Q2", "--json").stdout)
    jump = next(f for f in found if f["rule"] == "stock_jump")
    assert "增加 60.0%，超过 ±50.0%" in jump["message"] and jump["needs_explanation"]


def test_the_plan_workbook_carries_the_bound_and_refuses_a_bad_one(tmp_path):
    package = dataclasses.replace(sample_package(), stock_jump_bound=Fraction(25, 100))
    book = write_workbook(tmp_path / "规划.xlsx", package)
    assert read_workbook(book).content_hash == package.content_hash
    blank = write_workbook(tmp_path / "无警戒线.xlsx", sample_package())
    assert read_workbook(blank).stock_jump_bound is None
    for typed, words in (
        ("三成", "季末数跳变警戒线“三成”不是百分数"),
        ("0%", "季末数跳变警戒线 0% 不在 0 到 1000% 之间"),
    ):
        wb = openpyxl.load_workbook(book)
        sheet = wb[SHEET_HEADER]
        row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "季末数跳变警戒线")
        sheet.cell(row, 2, typed)
        wb.save(tmp_path / "改过.xlsx")
        with pytest.raises(PlanWorkbookError) as refused:
            read_workbook(tmp_path / "改过.xlsx")
        assert any(words in problem for problem in refused.value.problems), refused.value.problems


def test_one_explanation_answering_two_warnings_is_printed_once(tmp_path):
    """A drop of the card stock from 163,000 to 100,000 is both 少于上季度 and beyond ±30%: two warnings, one
    说明. Found reviewing from outside: the return listed the indicator and its 说明 twice."""
    db = tmp_path / "两项警告.sqlite3"
    history = on_pace_history(last=Quarter(2024, 2))
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        for quarter, values in history.items():
            store.save_quarter(quarter, values)
        store.save_quarter(
            Quarter(2024, 2), {"card_holders": 100_000}, explanations={"card_holders": "清理重复参保记录六万余条"}
        )
        warned = [
            f.rule for f in store.check(Quarter(2024, 2)) if f.indicator == "card_holders" and f.needs_explanation
        ]
    assert sorted(warned) == ["card_holders_decreased", "stock_jump"]
    out = tmp_path / "草稿"
    done = run_main(db, "export", "--quarter", "2024Q2", "--out", str(out), "--unsigned")
    assert done.returncode == 0, done.stderr
    text = "".join(page.extract_text() for page in PdfReader(out / "2024Q2_莞城_季报.pdf").pages).replace("\n", "")
    assert "填报说明：共 1 项（社会保障卡持卡人数（季末数））" in text
    assert text.count("清理重复参保记录六万余条") == 1
    assert "少于上季度 163,000" in text and "超过 ±30.0%" in text
