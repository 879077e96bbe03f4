"""Issue 26 item 5: bases are checked. A town's 基期数 must be its own figure for the quarter before the plan
(else a 说明); the city's summed base is compared with the plan's stated one (930万 for 2021–2025).

By hand: 莞城 entered 148,000 cards for 2020Q4 and a base of 150,000: a difference of +2,000. 莞城 150,000 +
石龙 100,000 = 250,000 against the plan's 9,300,000: −9,050,000."""

import json

from core.consolidation import consolidate
from core.demo import FULL_QUARTER
from core.plan_package import shipped_package
from core.quarters import Quarter
from reports.city_report import attention_lines
from storage.store import Store
from tests.helpers import TODAY, run_main


def test_a_base_other_than_the_towns_own_last_figure_needs_an_explanation(tmp_path):
    db = tmp_path / "基期.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Quarter(2020, 4), dict(FULL_QUARTER, card_holders=148_000))
        store.save_quarter(Quarter(2021, 1), dict(FULL_QUARTER, card_holders=152_000))
    assert run_main(db, "base", "card_holders=150000").returncode == 0
    found = json.loads(run_main(db, "check", "--quarter", "2021Q1", "--json").stdout)
    finding = next(f for f in found if f["rule"] == "base_not_last_figure")
    assert finding["needs_explanation"] and not finding["explained"]
    assert "基期数 150,000 与本镇街2020年第4季度的季末数 148,000 不符（相差 +2,000）" in finding["message"]
    assert run_main(db, "base", "card_holders=148000").returncode == 0  # its own figure: nothing to explain
    found = json.loads(run_main(db, "check", "--quarter", "2021Q1", "--json").stdout)
    assert not any(f["rule"] == "base_not_last_figure" for f in found)


def test_the_citys_summed_base_is_compared_with_the_plans_stated_base():
    plan = shipped_package().to_plan()
    q = Quarter(2021, 1)
    histories = {"莞城": {q: dict(FULL_QUARTER, card_holders=152_000)}, "石龙": {q: dict(FULL_QUARTER, card_holders=101_000)}}
    bases = {"莞城": {"card_holders": 150_000}, "石龙": {"card_holders": 100_000}}
    summary = consolidate(plan, q, histories, town_bases=bases)
    lines = attention_lines(summary, set())
    assert "基期数（2 个报送镇街之和）250,000，规划所列 9,300,000，相差 -9,050,000" in "\n".join(lines)
