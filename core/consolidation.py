"""The city's summary of one quarter from the towns' latest valid returns: sums, never averages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from core.comparison import (
    PREVIOUS_QUARTER,
    SAME_QUARTER_LAST_YEAR,
    Comparison,
    comparisons,
    last_year,
    quarter_figures,
)
from core.indicators import SHIPPED, Catalogue, Kind
from core.plans import CITY, TOWNS, Plan, catalogue_of
from core.progress import (
    BEHIND,
    SEVERELY_BEHIND,
    History,
    IndicatorProgress,
    Progress,
    compute_progress,
    flow_total,
)
from core.quarters import Quarter


@dataclass(frozen=True)
class CitySummary:
    quarter: Quarter
    plan: Plan | None
    reporting: tuple[str, ...]  # towns whose return for the quarter counts
    missing: tuple[str, ...]
    towns: dict[str, Progress]
    city: Progress
    checks: dict[str, list[str]] = field(default_factory=dict)  # town -> gaps and disagreements in its totals
    city_label: str = CITY  # 全市, or 全市（未含虎门、清溪） when towns are left out
    annex_completion: dict[str, Fraction | None] = field(default_factory=dict)  # against the full annex target
    catalogue: Catalogue = SHIPPED  # the quarter's indicator list
    # towns counted in annex_completion with an earlier quarter's signed 规划累计 -> how many quarters behind
    annex_lags: dict[str, int] = field(default_factory=dict)

    def ranking(self, code: str) -> list[tuple[str, float]]:
        """Towns by 完成率 of a planned indicator, best first."""
        rows = [(t, p.indicators[code].completion) for t, p in self.towns.items()]
        return sorted(((t, float(c)) for t, c in rows if c is not None), key=lambda r: (-r[1], TOWNS.index(r[0])))

    def towns_with_status(self, status: str) -> dict[str, list[str]]:
        """indicator code -> towns in that status."""
        return {
            code: [t for t, p in self.towns.items() if p.indicators[code].status == status]
            for code in self.catalogue.planned_codes
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
        return {
            r.code: [t for t, p in self.towns.items() if p.rates_ytd[r.code].met is False] for r in self.catalogue.rates
        }


Signed = Mapping[str, tuple[int | None, int | None]]  # see compute_progress(signed=...)


def consolidate(
    plan: Plan | None,
    quarter: Quarter,
    town_histories: Mapping[str, History],
    excluded: set[str] | None = None,
    town_bases: Mapping[str, Mapping[str, int]] | None = None,
    town_signed: Mapping[str, Signed] | None = None,
    catalogue: Catalogue | None = None,
    earlier_signed: Mapping[str, tuple[Quarter, Mapping[str, int | None]]] | None = None,
    town_compared: Mapping[str, Mapping[str, Mapping[str, int | None]]] | None = None,
) -> CitySummary:
    """`town_histories` holds each town's figures from its latest valid return of every quarter.

    A town counts for the quarter when it has a return for it; `excluded` towns (conflicting
    returns) never count. A town's 本年累计 and 规划累计 are those its own return for the quarter
    signed (`town_signed`, from the payload), cross-checked against the sum of its quarterly returns
    present: gaps and disagreements are listed in `checks`. The 全市 row sums the counted towns
    only and compares them with their own targets; `city_label` names the towns it leaves out and
    `annex_completion` gives the completion against the full annex target, labelled as such.
    The indicators are those of `catalogue`, else of `plan`, else the shipped list.
    `earlier_signed`: for a town without a return for the quarter, its latest signed return of an earlier
    quarter of the plan (that quarter, flow code -> 规划累计): the annex completion counts it (issue 26), and
    `annex_lags` says how many quarters behind it is.
    `town_compared`: the figures each town's return for the quarter compared with (payload `comparisons`:
    previous_quarter / same_quarter_last_year -> code -> figure); where the city holds the town's return of
    that quarter and its figure differs, `checks` says so (issue 26 item 9).
    """
    catalogue = catalogue_of(plan, catalogue)
    stock_codes = catalogue.stock_codes
    excluded = excluded or set()
    town_bases = town_bases or {}
    town_signed = town_signed or {}
    histories = {t: h for t, h in town_histories.items() if t not in excluded}
    reporting = tuple(t for t in TOWNS if quarter in histories.get(t, {}))
    missing = tuple(t for t in TOWNS if t not in reporting and t not in excluded)
    towns = {
        t: compute_progress(
            plan, t, quarter, histories[t], town_bases.get(t), signed=town_signed.get(t), catalogue=catalogue
        )
        for t in reporting
    }
    checks = {
        t: _cross_check(plan, quarter, histories[t], towns[t], t in town_signed, catalogue)
        + _comparison_check(catalogue, quarter, histories[t], (town_compared or {}).get(t, {}))
        for t in reporting
    }
    # the city's 基期数 of a stock is the sum of the reporting towns' — only when every one of them has it
    city_bases = {
        code: sum(town_bases[t][code] for t in reporting)
        for code in stock_codes
        if reporting and all(code in town_bases.get(t, {}) for t in reporting)
    }
    city_quarter: dict[str, int] = {}
    for town in reporting:
        for code in catalogue.indicator_codes:
            value = histories[town][quarter].get(code)
            if value is not None:
                city_quarter[code] = city_quarter.get(code, 0) + value
    signed: dict[str, tuple[int | None, int | None]] = {}
    for code in [i.code for i in catalogue.indicators if i.kind is Kind.FLOW] + list(catalogue.rate_codes):
        pairs = [_pair(towns[t], code) for t in reporting]
        signed[code] = (_total(p[0] for p in pairs), _total(p[1] for p in pairs))
    in_plan = plan is not None and plan.contains(quarter)
    targets = None
    if in_plan and plan is not None:
        targets = {c: sum(plan.targets_for(t).counts.get(c, 0) for t in reporting) for c in catalogue.planned_codes}
    city = compute_progress(
        plan, CITY, quarter, {quarter: city_quarter}, city_bases, targets=targets, signed=signed, catalogue=catalogue
    )
    city = replace(city, comparisons=city_comparisons(catalogue, quarter, {t: histories[t] for t in reporting}))
    annex: dict[str, Fraction | None] = {}
    lags: dict[str, int] = {}
    if in_plan and plan is not None:
        late = {
            t: signed_then
            for t, signed_then in (earlier_signed or {}).items()
            if t not in reporting and t not in excluded and plan.contains(signed_then[0]) and signed_then[0] < quarter
        }
        lags = {t: quarter - q for t, (q, _) in sorted(late.items(), key=lambda kv: TOWNS.index(kv[0]))}
        for code in catalogue.planned_codes:
            item, full = city.indicators[code], plan.city.counts.get(code, 0)
            completion = None if item.completion is None or not full else _annex_completion(item, full, stock_codes)
            earlier = [values.get(code) for _, values in late.values()]
            if completion is not None and code not in stock_codes and any(v is not None for v in earlier):
                completion += Fraction(sum(v for v in earlier if v is not None), full)
            annex[code] = completion
    left_out = tuple(t for t in TOWNS if t not in reporting)
    label = CITY if not left_out else f"{CITY}（未含{'、'.join(left_out)}）"
    if len(left_out) > 6:
        label = f"{CITY}（未含{'、'.join(left_out[:6])}等 {len(left_out)} 个镇街）"
    return CitySummary(quarter, plan, reporting, missing, towns, city, checks, label, annex, catalogue, lags)


# The base the plan document itself states for the city (专栏2: 社保卡持卡人数 930万 at the end of 2020); the
# built-in package carries no city base, so it is named here by the package's content hash.
STATED_CITY_BASES: dict[str, dict[str, int]] = {
    "52e76e624f28e8f4fc52c3cb97b143c01f5ded5f2aea1ebc0ff20ffcc75aeca0": {"card_holders": 9_300_000},
}


def stated_base_difference(summary: CitySummary) -> list[tuple[str, int, int]]:
    """(code, the towns' summed 基期数, the plan's stated city base) where the plan states one (issue 26)."""
    plan = summary.plan
    stated = STATED_CITY_BASES.get(plan.content_hash, {}) if plan is not None else {}
    if plan is not None:
        stated = {**stated, **plan.city.bases}
    found = []
    for code, base in stated.items():
        item = summary.city.indicators.get(code)
        if item is not None and item.base is not None:
            found.append((code, item.base, base))
    return found


def city_comparisons(
    catalogue: Catalogue, quarter: Quarter, histories: Mapping[str, History]
) -> dict[str, tuple[Comparison | None, Comparison | None]]:
    """The 全市 row's 环比 and 同比: the reporting towns' sum against the same towns' sum in the other quarter,
    from the returns the city holds for it; nothing to compare unless every one of them has that figure."""
    def summed(q: Quarter) -> dict[str, int | None]:
        per_town = [quarter_figures(h, q, catalogue) for h in histories.values()]
        codes = per_town[0] if per_town else {}
        return {
            code: sum(v[code] or 0 for v in per_town) if all(v.get(code) is not None for v in per_town) else None
            for code in codes
        }

    return comparisons(summed(quarter), summed(quarter.previous()), summed(last_year(quarter)))


def _comparison_check(
    catalogue: Catalogue, quarter: Quarter, history: History, compared: Mapping[str, Mapping[str, int | None]]
) -> list[str]:
    """Where a return's 上季度 or 上年同期 figure is not what the town's return of that quarter, as the city
    holds it, signed (the town changed that quarter without sending it again)."""
    flags = []
    for key, other in ((PREVIOUS_QUARTER, quarter.previous()), (SAME_QUARTER_LAST_YEAR, last_year(quarter))):
        if other not in history or key not in compared:
            continue
        held = quarter_figures(history, other, catalogue)
        for code, value in compared[key].items():
            if held.get(code) is not None and value != held[code]:
                shown = "无" if value is None else f"{value:,}"
                flags.append(
                    f"{catalogue.display_name(code)}：本季季报比较的{other.label}数为 {shown}，"
                    f"市局收到的{other.label}季报为 {held[code]:,}，不符"
                )
    return flags


def _pair(progress: Progress, code: str) -> tuple[int | None, int | None]:
    if code in progress.indicators:
        item = progress.indicators[code]
        return item.ytd, item.cumulative
    rate = progress.rates_ytd[code]
    return rate.numerator, rate.denominator


def _total(values: object) -> int | None:
    present = [v for v in values if v is not None]  # type: ignore[attr-defined]
    return sum(present) if present else None


def _annex_completion(item: IndicatorProgress, full_target: int, stock_codes: tuple[str, ...]) -> Fraction | None:
    """The reporting towns' total against the whole annex target (the towns left out count as nothing)."""
    if item.cumulative is None:
        return None
    if item.code in stock_codes:
        return None  # a stock's base covers the reporting towns only: no like-for-like annex figure
    return Fraction(item.cumulative, full_target)


def _cross_check(
    plan: Plan | None, quarter: Quarter, history: History, progress: Progress, has_signed: bool, catalogue: Catalogue
) -> list[str]:
    """What the town's quarterly returns present say about the totals its own return signed."""
    flags: list[str] = []
    if plan is None or not plan.contains(quarter):
        return flags
    plan_quarters = [q for q in plan.quarters if q <= quarter]
    absent = [q for q in plan_quarters if q not in history]
    if absent:
        flags.append(f"累计缺 {len(absent)} 个季度的季报（{'、'.join(q.code for q in absent[:4])}{'等' if len(absent) > 4 else ''}）")
    if not has_signed:
        return flags
    display_name = catalogue.display_name
    for indicator in catalogue.indicators:
        if indicator.kind is not Kind.FLOW:
            continue
        code = indicator.code
        item = progress.indicators[code]
        # what the quarterly returns add up to by the return's own rule: a case flow's 应结 is the opening
        # 结转 + each quarter's 受理 (a case carried on is counted once), any other flow the plain sum
        case = catalogue.case_flow(code)
        counted = "的年初结转 + 各季受理" if case is not None and case.due == code else "之和"
        year_total = flow_total(history, quarter.year_to_date(), code, catalogue) or 0
        plan_total = flow_total(history, plan_quarters, code, catalogue) or 0
        year_complete = all(q in history for q in quarter.year_to_date())
        if year_complete and item.ytd is not None and year_total != item.ytd:
            flags.append(f"{display_name(code)}本年累计：本季季报签报 {item.ytd:,}，各季季报{counted} {year_total:,}，不符")
        if not absent and item.cumulative is not None and plan_total != item.cumulative:
            flags.append(
                f"{display_name(code)}规划累计：本季季报签报 {item.cumulative:,}，各季季报{counted} {plan_total:,}，不符"
            )
    return flags
