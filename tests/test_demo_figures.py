"""The demo's figures (the demo database, the city's demo set) enter 仲裁 and 监察 as a clerk does since
issue 26: 上期结转 what the quarter before left open, 本期受理 the rest, 应结 their sum."""

from core.demo import town_figures
from core.plans import TOWNS, load_shipped_plan

PAIRS = (
    ("arbitration_due", "arbitration_carried", "arbitration_received", "arbitration_closed"),
    ("inspection_cases", "inspection_carried", "inspection_received", "inspection_closed"),
)


def test_the_demo_carries_over_what_the_quarter_before_left_open():
    plan = load_shipped_plan()
    carried_somewhere = 0
    for town in TOWNS:
        figures = town_figures(plan, town, plan.quarters, seed=7)
        previous: dict[str, int] | None = None
        for quarter in plan.quarters:
            values = figures[quarter]
            for due, carried, received, closed in PAIRS:
                assert values[carried] + values[received] == values[due], (town, quarter, due)
                assert values[carried] >= 0 and values[received] >= 0
                left_open = previous[due] - previous[closed] if previous else 0
                assert values[carried] == min(left_open, values[due]), (town, quarter, due)
                carried_somewhere += values[carried] > 0
            previous = values
    assert carried_somewhere > 0  # some quarter did leave a case open, so the split is exercised
