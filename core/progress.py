"""Pace against the plan: time progress, completion, status words and rates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from core.indicators import SHIPPED, CaseFlow, Catalogue, Kind
from core.plans import Plan, catalogue_of, rate_target
from core.quarters import Quarter

DONE = "已完成"
ON_PACE = "正常"
BEHIND = "滞后"
SEVERELY_BEHIND = "严重滞后"
# At the plan's last quarter there is no pace left to lag behind: a shortfall is 未完成 (issue 26).
UNFINISHED = "未完成"
STATUSES = (DONE, ON_PACE, BEHIND, SEVERELY_BEHIND, UNFINISHED)
SEVERE_GAP = Fraction(20, 100)
NO_CASES = "无案件"

if TYPE_CHECKING:
    from core.comparison import Comparison

Figures = Mapping[str, int | None]
History = Mapping[Quarter, Figures]


def ratio(value: Fraction | None) -> float | None:
    """A fraction as JSON shows it (six decimals)."""
    return None if value is None else round(float(value), 6)


def percentage_points(gap: Fraction) -> str:
    """A gap between two rates in 百分点: Fraction(20, 100) is "20", Fraction(25, 1000) is "2.5"."""
    return f"{float(gap * 100):g}"


def severe_gap_words() -> str:
    """What 严重滞后 means, in the words a warning uses."""
    return f"落后超过 {percentage_points(SEVERE_GAP)} 个百分点"


def status_of(completion: Fraction, time_progress: Fraction, period_over_word: bool = False) -> str:
    if completion >= 1:
        return DONE
    if period_over_word and time_progress >= 1:
        return UNFINISHED
    if completion >= time_progress:
        return ON_PACE
    if time_progress - completion > SEVERE_GAP:
        return SEVERELY_BEHIND
    return BEHIND


@dataclass(frozen=True)
class IndicatorProgress:
    code: str
    quarter_value: int | None
    ytd: int | None
    cumulative: int | None  # since the plan began; for a stock, the level at quarter end
    target: int | None
    completion: Fraction | None
    status: str | None
    # A stock's level at the plan's start (基期数): its pace is growth from it, (stock − base) ÷ (target − base).
    base: int | None = None
    # A stock with a target but no base: 完成率 is stock ÷ target, with no pace status, until the base is entered.
    needs_base: bool = False


@dataclass(frozen=True)
class RateResult:
    code: str
    numerator: int | None
    denominator: int | None
    target: Fraction | None  # None: no plan covers the period, so no target and no 达标 (issue 26)

    @property
    def rate(self) -> Fraction | None:
        if not self.denominator or self.numerator is None:
            return None
        return Fraction(self.numerator, self.denominator)

    @property
    def met(self) -> bool | None:
        rate = self.rate
        return None if rate is None or self.target is None else rate >= self.target

    @property
    def no_cases(self) -> bool:
        return self.denominator == 0

    @property
    def entered(self) -> bool:
        return self.numerator is not None and self.denominator is not None

    def as_dict(self, with_target: bool = True) -> dict[str, Any]:
        shown: dict[str, Any] = {"numerator": self.numerator, "denominator": self.denominator, "rate": ratio(self.rate)}
        if with_target:
            shown["target"] = ratio(self.target)
        shown["met"] = self.met
        return shown


@dataclass(frozen=True)
class Progress:
    town: str
    quarter: Quarter
    plan: Plan | None
    time_progress: Fraction | None
    indicators: dict[str, IndicatorProgress]
    rates_quarter: dict[str, RateResult]
    rates_ytd: dict[str, RateResult]
    catalogue: Catalogue = SHIPPED  # the indicator list the progress was computed over
    # code -> (环比, 同比): the figure against the quarter before and the same quarter a year earlier (issue 26)
    comparisons: Mapping[str, tuple[Comparison | None, Comparison | None]] = field(default_factory=dict)

    def comparison_fields(self, code: str) -> dict[str, Any]:
        """`previous_quarter` and `same_quarter_last_year` of a figure in JSON: {value, change, change_percent}
        or null where there is nothing to compare."""
        previous, year_before = self.comparisons.get(code, (None, None))
        return {
            "previous_quarter": previous.as_dict() if previous else None,
            "same_quarter_last_year": year_before.as_dict() if year_before else None,
        }

    def as_dict(self) -> dict[str, Any]:
        """The shape of `progress --json`."""
        indicators: dict[str, Any] = {}
        for code, item in self.indicators.items():
            indicators[code] = {
                "target": item.target,
                "actual": item.cumulative if item.cumulative is not None else item.quarter_value,
                "completion": ratio(item.completion),
                "status": item.status,
                "quarter": item.quarter_value,
                "ytd": item.ytd,
                "cumulative": item.cumulative,
                **self.comparison_fields(code),
            }
            if self.catalogue.by_code[code].kind is Kind.STOCK:
                # a 季末数: completion is growth from the base, (stock − base) ÷ (target − base); without a
                # base it is stock ÷ target with no status, and base is null. A stock has no 本年累计 or
                # 规划累计 (issue 26: they were the stock again, named as flows).
                indicators[code].update(end_of_quarter=item.quarter_value, ytd=None, cumulative=None)
                indicators[code]["base"] = item.base
                indicators[code]["needs_base"] = item.needs_base
        for rate in self.catalogue.rates:
            ytd, qtr = self.rates_ytd[rate.code], self.rates_quarter[rate.code]
            # the top-level fields are the year to date (as before); `quarter` and `ytd` say which is which,
            # as in consolidate --json (issue 26)
            indicators[rate.code] = {**ytd.as_dict(), "quarter": qtr.as_dict(with_target=False), "ytd": ytd.as_dict()}
        return {
            "town": self.town,
            "quarter": self.quarter.code,
            "plan": self.plan.name if self.plan else None,
            "time_progress": ratio(self.time_progress),
            "indicators": indicators,
        }


def _sum(history: History, quarters: list[Quarter], code: str) -> int | None:
    values = [v for q in quarters if (v := history.get(q, {}).get(code)) is not None]
    return sum(values) if values else None


def case_quarter(figures: Figures, flow: CaseFlow, before: Figures | None = None) -> tuple[int, int] | None:
    """One quarter's (上期结转, 本期受理). A quarter saved before they were entered separately (only its 应结,
    "含上期结转") is split as the database migration 0007 splits it: 结转 = what the quarter `before` left
    open (应结 − 结案) where that fits in its 应结, else 0; 受理 = the rest."""
    carried, received = figures.get(flow.carried), figures.get(flow.received)
    if carried is not None and received is not None:
        return carried, received
    due = figures.get(flow.due)
    if due is None or carried is not None or received is not None:
        return None
    before = before or {}
    before_due, before_closed = before.get(flow.due), before.get(flow.closed)
    left_open = before_due - before_closed if before_due is not None and before_closed is not None else None
    carry = left_open if left_open is not None and 0 <= left_open <= due else 0
    return carry, due - carry


@dataclass(frozen=True)
class CaseTotals:
    """A case flow over several quarters: 应结 = the opening 结转 (with any adjustment) + the received cases."""

    opening: int  # the first quarter's 上期结转, plus each later quarter's 结转 − what the quarter before left open
    received: int

    @property
    def due(self) -> int:
        return self.opening + self.received


def case_totals(history: History, quarters: list[Quarter], flow: CaseFlow) -> CaseTotals | None:
    """Over `quarters` (those entered): 年初结转 + every quarter's 本期受理, so a case carried from one quarter
    into the next is counted once. Where a quarter's 结转 is not what the quarter before left open (应结 −
    结案; a difference the town explains), the difference is added to the opening carry-over: the period's
    应结 then still holds every case closed in it (the rate never passes 100%)."""
    opening: int | None = None
    received = 0
    left_open: int | None = None
    for quarter in quarters:
        figures = history.get(quarter, {})
        pair = case_quarter(figures, flow, history.get(quarter.previous()))
        if pair is None:
            continue
        carried, new = pair
        if opening is None:
            opening = carried
        elif left_open is not None:  # never below none carried in: the year's 应结 still holds every closed case
            opening = max(0, opening + carried - left_open)
        received += new
        closed = figures.get(flow.closed)
        left_open = carried + new - closed if closed is not None else None
    return None if opening is None else CaseTotals(opening, received)


def flow_total(history: History, quarters: list[Quarter], code: str, catalogue: Catalogue = SHIPPED) -> int | None:
    """A flow over quarters: the sum, except a case flow's 应结 (opening 结转 + the received cases)."""
    flow = catalogue.case_flow(code)
    if flow is not None and flow.due == code:
        totals = case_totals(history, quarters, flow)
        return None if totals is None else totals.due
    return _sum(history, quarters, code)


def year_to_date(history: History, quarter: Quarter, code: str, catalogue: Catalogue = SHIPPED) -> int | None:
    """A flow's 本年累计 up to and including `quarter`; None when nothing was entered (a stock has none)."""
    if catalogue.by_code[code].kind is Kind.STOCK:
        return None
    return flow_total(history, quarter.year_to_date(), code, catalogue)


def rate_over(
    history: History, quarters: list[Quarter], code: str, target: Fraction | None, catalogue: Catalogue = SHIPPED
) -> RateResult:
    """A rate summed over quarters where both its counts were entered (never an average of rates)."""
    rate = catalogue.rate_by_code[code]
    numerator = denominator = 0
    entered: list[Quarter] = []
    for quarter in quarters:
        figures = history.get(quarter, {})
        num, den = figures.get(rate.numerator), figures.get(rate.denominator)
        if num is None or den is None:
            continue
        entered.append(quarter)
        numerator += num
        denominator += den
    if not entered:
        return RateResult(code, None, None, target)
    flow = catalogue.case_flow(rate.denominator)
    if flow is not None and flow.due == rate.denominator:
        # 应结 over the period: 年初结转 + 全年受理, not the quarters' 应结 added up (issue 26)
        totals = case_totals(history, entered, flow)
        denominator = totals.due if totals is not None else denominator
    return RateResult(code, numerator, denominator, target)


def stock_completion(stock: int, target: int, base: int | None) -> Fraction:
    """完成率 of a stock: growth from the base over the growth the plan asks for; stock ÷ target without a base."""
    if base is not None and target > base:
        return Fraction(stock - base, target - base)
    return Fraction(stock, target)


def compute_progress(
    plan: Plan | None,
    town: str,
    quarter: Quarter,
    history: History,
    bases: Mapping[str, int] | None = None,
    *,
    targets: Mapping[str, int] | None = None,
    signed: Mapping[str, tuple[int | None, int | None]] | None = None,
    catalogue: Catalogue | None = None,
    as_before_issue_26: bool = False,
) -> Progress:
    """Progress of `town` at the end of `quarter`, from its figures of every quarter.

    A quarter no plan covers has no rate targets, and a shortfall at the plan's last quarter is 未完成
    (`as_before_issue_26`: the list's default targets and 滞后, as returns signed before issue 26 printed them).

    `bases` holds each stock's 基期数 (the level at the plan's start) where it is known. The city
    passes `targets` (the reporting towns' own) and `signed`: flow code -> (本年累计, 规划累计) and
    rate code -> (year-to-date numerator, denominator) as the towns' signed returns state them,
    instead of sums over whatever quarterly returns it holds. The indicators are those of `catalogue`
    (the quarter's list, see Store.catalogue_for), else of `plan`, else the shipped list.
    """
    catalogue = catalogue_of(plan, catalogue)
    bases = bases or {}
    signed = signed or {}
    in_plan = plan is not None and plan.contains(quarter)
    active_plan = plan if in_plan else None
    time_progress = active_plan.time_progress(quarter) if active_plan else None
    plan_quarters = [q for q in active_plan.quarters if q <= quarter] if active_plan else []
    indicators: dict[str, IndicatorProgress] = {}
    for indicator in catalogue.indicators:
        code = indicator.code
        value = history.get(quarter, {}).get(code)
        stock = indicator.kind is Kind.STOCK
        if stock:
            ytd: int | None = value
            cumulative: int | None = value
        elif code in signed:
            ytd, cumulative = signed[code]
            cumulative = cumulative if active_plan else None
        else:
            ytd = flow_total(history, quarter.year_to_date(), code, catalogue)
            cumulative = flow_total(history, plan_quarters, code, catalogue) if active_plan else None
        target = completion = status = None
        base = bases.get(code) if stock else None
        needs_base = False
        if active_plan and indicator.has_plan_target:
            target = targets.get(code) if targets is not None else active_plan.targets_for(town).counts.get(code)
            if cumulative is not None and target:
                assert time_progress is not None
                if stock:
                    completion = stock_completion(cumulative, target, base)
                    if base is not None and target > base:
                        status = status_of(completion, time_progress, not as_before_issue_26)
                    else:
                        needs_base = True
                        status = DONE if cumulative >= target else None
                else:
                    completion = Fraction(cumulative, target)
                    status = status_of(completion, time_progress, not as_before_issue_26)
        indicators[code] = IndicatorProgress(
            code, value, ytd, cumulative, target, completion, status, base, needs_base
        )
    rates_quarter: dict[str, RateResult] = {}
    rates_ytd: dict[str, RateResult] = {}
    for r in catalogue.rates:
        minimum = (
            rate_target(active_plan, town, r.code, catalogue) if active_plan or as_before_issue_26 else None
        )
        rates_quarter[r.code] = rate_over(history, [quarter], r.code, minimum, catalogue)
        rates_ytd[r.code] = rate_over(history, quarter.year_to_date(), r.code, minimum, catalogue)
        if r.code in signed:
            numerator, denominator = signed[r.code]
            rates_ytd[r.code] = RateResult(r.code, numerator, denominator, minimum)
    from core.comparison import compared_figures, comparisons, quarter_figures

    compared = comparisons(quarter_figures(history, quarter, catalogue), *compared_figures(history, quarter, catalogue))
    return Progress(
        town, quarter, active_plan, time_progress, indicators, rates_quarter, rates_ytd, catalogue, compared
    )


def base_notice(code: str, plan: Plan | None) -> str:
    """What a town reads when a stock has no 基期数 yet: the year before `plan` began (both doors give it)."""
    catalogue = catalogue_of(plan)
    indicator = catalogue.by_code.get(code)
    what = indicator.short_name.removesuffix("（季末数）") if indicator else code
    start_year = plan.first.year - 1 if plan is not None else 2020
    return (
        f"{catalogue.display_name(code)}尚未录入基期数（规划期初的{what}，即 {start_year} 年末数），"
        f"完成率暂按季末数 ÷ 目标计算，不判断进度；请录入基期数"
    )


# How a percentage is rounded for display. DOWN is the rule: a shown figure is at or above a line
# (a rate target, 100% completion, the time progress) only when the exact value is; every line in the
# plan (78%, 96%, 100%, n/20) is a whole tenth of a percent, so truncating to one decimal never crosses
# one. HALF_UP is how returns signed before this rule were printed; the verifier redraws those with it.
ROUND_DOWN = "down"
ROUND_HALF_UP = "half_up"
# The rule since issue 26: toward zero, for negatives as for positives (−135.335% is −135.3%, never −135.4%).
# DOWN floors, so it differs only below zero (a stock under its base); returns signed with it keep it.
ROUND_TOWARD_ZERO = "toward_zero"
ROUNDINGS = (ROUND_DOWN, ROUND_HALF_UP, ROUND_TOWARD_ZERO)


def shown_percent(value: Fraction, digits: int = 1, rounding: str = ROUND_TOWARD_ZERO) -> Fraction:
    """The value as displayed, as an exact ratio: 7799/10000 -> 779/1000 (77.9%), never 78.0%."""
    scaled = value * 100 * 10**digits
    if rounding == ROUND_HALF_UP:
        whole = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    elif rounding == ROUND_DOWN:
        whole = scaled.numerator // scaled.denominator
    elif rounding == ROUND_TOWARD_ZERO:
        whole = abs(scaled.numerator) // scaled.denominator * (1 if scaled.numerator >= 0 else -1)
    else:
        raise ValueError(rounding)
    return Fraction(whole, 100 * 10**digits)


def percent(value: Fraction | None, digits: int = 1, rounding: str = ROUND_TOWARD_ZERO) -> str:
    """`78.0%` for a ratio; truncated to one decimal so it never looks better than it is (77.99% -> 77.9%).

    The one function every display uses: the window, the command line, the PDF, and through
    reports.excel.shown_ratio the value behind Excel's 0.0% format.
    """
    if value is None:
        return "—"
    shown = shown_percent(value, digits, rounding) * 100 * 10**digits
    assert shown.denominator == 1
    whole = shown.numerator
    sign = "-" if whole < 0 else ""
    integer, decimals = divmod(abs(whole), 10**digits)
    return f"{sign}{integer}.{decimals:0{digits}d}%" if digits else f"{sign}{integer}%"


def target_words(target: Fraction | None) -> str:
    """A rate target as the plan writes it: 78%以上（含本数）, 100%; 无规划目标 where no plan covers the period.

    "以上" includes the number itself (民法典 第一千二百五十九条), and the comparison is >= accordingly."""
    if target is None:
        return "无规划目标"
    from core.numbers import percent_text

    return f"{percent_text(target)}%" if target >= 1 else f"{percent_text(target)}%以上（含本数）"


def rate_text(result: RateResult, rounding: str = ROUND_TOWARD_ZERO) -> str:
    if not result.entered:
        return "未填报"
    if result.no_cases:
        return NO_CASES
    return percent(result.rate, rounding=rounding)


def is_flow(code: str, catalogue: Catalogue = SHIPPED) -> bool:
    return catalogue.by_code[code].kind is Kind.FLOW


@dataclass(frozen=True)
class YearResult:
    """A calendar year against the plan's annual rate targets ("每年…分别达到78%以上、96%以上、100%")."""

    town: str
    year: int
    quarters_entered: tuple[Quarter, ...]
    rates: dict[str, RateResult]  # over the year's entered quarters: the full-year rate once Q4 is in
    totals: dict[str, int | None]  # flow code -> the year's total
    catalogue: Catalogue = SHIPPED  # the year's indicator list

    @property
    def complete(self) -> bool:
        return len(self.quarters_entered) == 4

    @property
    def scope(self) -> str:
        """What the year's figures cover, in words both doors print: 全年, or the quarters still missing
        by name (a quarter skipped earlier in the year is named, not only the 4th)."""
        if self.complete:
            return "全年"
        missing = "、".join(f"第{n}季度" for n in range(1, 5) if Quarter(self.year, n) not in self.quarters_entered)
        return f"已填 {len(self.quarters_entered)} 个季度，缺{missing}（全年结果待各季度填齐后得出）"

    def as_dict(self) -> dict[str, Any]:
        """The shape of `annual --json`."""
        return {
            "town": self.town,
            "year": self.year,
            "quarters_entered": [q.code for q in self.quarters_entered],
            "complete": self.complete,
            "rates": {code: {**r.as_dict(), "year": r.as_dict()} for code, r in self.rates.items()},
            "totals": dict(self.totals),
        }


def compute_year(
    plan: Plan | None, town: str, year: int, history: History, catalogue: Catalogue | None = None
) -> YearResult:
    catalogue = catalogue_of(plan, catalogue)
    quarters = [Quarter(year, n) for n in range(1, 5)]
    entered = tuple(q for q in quarters if any(v is not None for v in history.get(q, {}).values()))
    active = plan if plan is not None and plan.contains(Quarter(year, 4)) else None
    rates = {
        r.code: rate_over(
            history, quarters, r.code, rate_target(active, town, r.code, catalogue) if active else None, catalogue
        )
        for r in catalogue.rates
    }
    totals = {
        i.code: flow_total(history, quarters, i.code, catalogue) for i in catalogue.indicators if i.kind is Kind.FLOW
    }
    for flow in catalogue.case_flows:  # 年初结转 and 全年受理 beside the year's 应结
        case = case_totals(history, quarters, flow)
        totals[flow.carried] = case.opening if case else None
        totals[flow.received] = case.received if case else None
    return YearResult(town, year, entered, rates, totals, catalogue)
