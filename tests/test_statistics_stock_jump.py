"""Issue 26 item 9 (part): a 季末数 that jumps more than ±30% from one quarter to the next needs a 说明.

By hand: 150,000 cards in 2024Q1, 250,000 in Q2: +66.6…%, shown 66.6% (truncated); 195,000 is +30.0%, not beyond."""

import json

from core.demo import FULL_QUARTER
from core.quarters import Quarter
from storage.store import Store
from tests.helpers import TODAY, run_main


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
