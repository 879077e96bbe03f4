"""The city's summary of one quarter from the towns' latest valid returns: sums, never averages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.indicators import INDICATOR_CODES, INDICATORS, PLANNED_CODES, RATES, Kind
from core.plans import CITY, TOWNS, Plan
from core.progress import BEHIND, SEVERELY_BEHIND, History, Progress, compute_progress
from core.quarters import Quarter

STOCK_CODES = tuple(i.code for i in INDICATORS if i.kind is Kind.STOCK)


@dataclass(frozen=True)
class CitySummary:
    quarter: Quarter
    plan: Plan | None
    reporting: tuple[str, ...]  # towns whose return for the quarter counts
    missing: tuple[str, ...]
    towns: dict[str, Progress]
    city: Progress

    def ranking(self, code: str) -> list[tuple[str, float]]:
        """Towns by 完成率 of a planned indicator, best first."""
        rows = [(t, p.indicators[code].completion) for t, p in self.towns.items()]
        return sorted(((t, float(c)) for t, c in rows if c is not None), key=lambda r: (-r[1], TOWNS.index(r[0])))

    def towns_with_status(self, status: str) -> dict[str, list[str]]:
        """indicator code -> towns in that status."""
        return {
            code: [t for t, p in self.towns.items() if p.indicators[code].status == status] for code in PLANNED_CODES
        }

    @property
    def behind(self) -> dict[str, list[str]]:
        return self.towns_with_status(BEHIND)

    @property
    def severely_behind(self) -> dict[str, list[str]]:
        return self.towns_with_status(SEVERELY_BEHIND)

    @property
    def below_rate_target(self) -> dict[str, list[str]]:
        """rate code -> towns whose year-to-date rate is below target."""
        return {r.code: [t for t, p in self.towns.items() if p.rates_ytd[r.code].met is False] for r in RATES}


def consolidate(
    plan: Plan | None,
    quarter: Quarter,
    town_histories: Mapping[str, History],
    excluded: set[str] | None = None,
    town_bases: Mapping[str, Mapping[str, int]] | None = None,
) -> CitySummary:
    """`town_histories` holds each town's figures from its latest valid return of every quarter.

    A town counts for the quarter when it has a return for it; `excluded` towns (conflicting
    returns) never count. The 全市 row sums the counted towns only, every column of it, so that it
    equals the sum of the rows above it: a missing town's earlier returns do not enter the total.
    """
    excluded = excluded or set()
    histories = {t: h for t, h in town_histories.items() if t not in excluded}
    reporting = tuple(t for t in TOWNS if quarter in histories.get(t, {}))
    missing = tuple(t for t in TOWNS if t not in reporting and t not in excluded)
    town_bases = town_bases or {}
    towns = {t: compute_progress(plan, t, quarter, histories[t], town_bases.get(t)) for t in reporting}
    # the city's 基期数 of a stock is the sum of the reporting towns' — only when every one of them has it
    city_bases = {
        code: sum(town_bases[t][code] for t in reporting)
        for code in STOCK_CODES
        if reporting and all(code in town_bases.get(t, {}) for t in reporting)
    }
    city_history: dict[Quarter, dict[str, int]] = {}
    for town in reporting:
        for q, figures in histories[town].items():
            summed = city_history.setdefault(q, {})
            for code in INDICATOR_CODES:
                value = figures.get(code)
                if value is not None:
                    summed[code] = summed.get(code, 0) + value
    if quarter not in city_history:
        city_history[quarter] = {}
    city = compute_progress(plan, CITY, quarter, city_history, city_bases)
    return CitySummary(quarter, plan, reporting, missing, towns, city)
