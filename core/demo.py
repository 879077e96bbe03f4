"""Plausible figures for a town across a plan, for the demo database and the city's demo set."""

from __future__ import annotations

import random
from collections.abc import Iterable

from core.plans import Plan
from core.quarters import Quarter

# Share of the plan's target a town reaches by the end: some ahead, most near, a few behind.
PACE_PROFILES = (1.08, 1.0, 0.97, 0.93, 0.85, 0.62)


def town_figures(
    plan: Plan, town: str, quarters: Iterable[Quarter], seed: int | None = None, pace: float | None = None
) -> dict[Quarter, dict[str, int]]:
    """Figures for `town` in `quarters`, deterministic for a given seed."""
    rng = random.Random(f"{town}-{seed}")
    targets = plan.targets_for(town).counts
    n = len(plan.quarters)
    pace = pace if pace is not None else rng.choice(PACE_PROFILES)
    cards_start = int(targets["card_holders"] * rng.uniform(0.84, 0.9))
    cards_end = int(targets["card_holders"] * min(pace, 1.04))
    size = max(1.0, targets["card_holders"] / 300_000)
    result: dict[Quarter, dict[str, int]] = {}
    for quarter in quarters:
        i = quarter - plan.first if plan.contains(quarter) else n - 1
        share = (i + 1) / n
        mediation = max(1, int(rng.gauss(40, 8) * size))
        arbitration = max(1, int(rng.gauss(22, 5) * size))
        inspection = max(0, int(rng.gauss(9, 3) * size))
        result[quarter] = {
            "card_holders": int(cards_start + (cards_end - cards_start) * share + rng.randint(-200, 200)),
            "yuecai_certified": max(0, round(targets["yuecai_certified"] * pace / n * rng.uniform(0.7, 1.3))),
            "nanyue_trained": max(0, round(targets["nanyue_trained"] * pace / n * rng.uniform(0.7, 1.3))),
            "mediation_cases": mediation,
            "mediation_success": min(mediation, round(mediation * rng.uniform(0.78, 0.92))),
            "arbitration_due": arbitration,
            "arbitration_closed": min(arbitration, round(arbitration * rng.uniform(0.965, 1.0))),
            "inspection_cases": inspection,
            "inspection_closed": inspection,
        }
    return _with_carry_over(plan, _for_catalogue(plan, town, result, pace))


def _with_carry_over(plan: Plan, figures: dict[Quarter, dict[str, int]]) -> dict[Quarter, dict[str, int]]:
    """Each case flow's 应结 split as a clerk enters it: 上期结转 is what the quarter before left open (never
    more than this quarter's 应结), 本期受理 the rest; 应结 and 结案 stay as drawn."""
    left_open: dict[str, int] = {}
    for quarter in sorted(figures):
        values = figures[quarter]
        for flow in plan.catalogue.case_flows:
            if flow.due not in values or flow.closed not in values:
                continue
            due = values[flow.due]
            carried = min(left_open.get(flow.due, 0), due)
            values[flow.carried], values[flow.received] = carried, due - carried
            left_open[flow.due] = due - values[flow.closed]
    return figures


def _for_catalogue(
    plan: Plan, town: str, figures: dict[Quarter, dict[str, int]], pace: float
) -> dict[Quarter, dict[str, int]]:
    """The figures of the plan's own list: a flow the shipped list lacks paced like the others, a dropped one left out."""
    catalogue = plan.catalogue
    extra = [c for c in catalogue.planned_codes if c not in figures[next(iter(figures))]] if figures else []
    if not extra and all(set(v) <= set(catalogue.by_code) for v in figures.values()):
        return figures
    rng = random.Random(f"{town}-{plan.plan_id}-extra")  # apart from the shipped draws, which stay as they were
    targets = plan.targets_for(town).counts
    n = len(plan.quarters)
    result = {}
    for quarter, values in figures.items():
        kept = {code: v for code, v in values.items() if code in catalogue.by_code}
        for code in extra:
            kept[code] = max(0, round(targets[code] * pace / n * rng.uniform(0.7, 1.3)))
        result[quarter] = kept
    return result


# One quarter of 莞城 that passes every check; the base of the figures tests, tools and benchmarks use.
FULL_QUARTER: dict[str, int] = {
    "card_holders": 160_000,
    "yuecai_certified": 8,
    "nanyue_trained": 70,
    "mediation_cases": 50,
    "mediation_success": 40,
    "arbitration_due": 25,
    "arbitration_closed": 25,
    "inspection_cases": 12,
    "inspection_closed": 12,
}


FIRST_PLAN_QUARTER = Quarter(2021, 1)


def on_pace_history(first: Quarter = FIRST_PLAN_QUARTER, last: Quarter | None = None) -> dict[Quarter, dict[str, int]]:
    """Figures for 莞城 that keep every planned indicator on pace and every rate above target."""
    last = last or Quarter(2024, 3)
    history = {}
    quarter, n = first, 0
    while quarter <= last:
        n += 1
        history[quarter] = dict(FULL_QUARTER, card_holders=150_000 + 1_000 * n)
        quarter = quarter.next()
    return history
