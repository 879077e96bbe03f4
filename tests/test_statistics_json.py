"""Issue 26 item 6: JSON that says what it is. A stock is `end_of_quarter` (with its `base`), never a 本年累计
or 规划累计; every rate has explicit `quarter` and `ytd` (and in `annual`, `year`) objects.

By hand: 2024Q1 调解 100 cases, 80 successful; Q2 50 cases, 40 successful: Q2 alone 40/50, year to date 120/150."""

import json

from core.quarters import Quarter
from storage.store import Store
from tests.helpers import FULL_QUARTER, TODAY, run_main


def test_every_command_names_stocks_and_rate_periods_alike(tmp_path):
    db = tmp_path / "json.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        for quarter, cases, success, cards in ((Quarter(2024, 1), 100, 80, 160_000), (Quarter(2024, 2), 50, 40, 161_000)):
            store.save_quarter(
                quarter, dict(FULL_QUARTER, mediation_cases=cases, mediation_success=success, card_holders=cards)
            )
    assert run_main(db, "base", "card_holders=150000").returncode == 0
    progress = json.loads(run_main(db, "progress", "--quarter", "2024Q2", "--json").stdout)["indicators"]
    card = progress["card_holders"]
    assert (card["end_of_quarter"], card["base"], card["ytd"], card["cumulative"]) == (161_000, 150_000, None, None)
    rate = progress["mediation_success_rate"]
    assert (rate["quarter"]["numerator"], rate["quarter"]["denominator"]) == (40, 50)
    assert (rate["ytd"]["numerator"], rate["ytd"]["denominator"], rate["ytd"]["rate"]) == (120, 150, 0.8)
    annual = json.loads(run_main(db, "annual", "--year", "2024", "--json").stdout)
    year = annual["rates"]["mediation_success_rate"]["year"]
    assert (year["numerator"], year["denominator"], year["met"]) == (120, 150, True)
