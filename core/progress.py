"""Pace against the plan: time progress, completion, status words and rates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from core.indicators import BY_CODE, INDICATORS, RATES, Kind
from core.plans import Plan, rate_target
from core.quarters import Quarter

DONE = "已完成"
ON_PACE = "正常"
BEHIND = "滞后"
SEVERELY_BEHIND = "严重滞后"
STATUSES = (DONE, ON_PACE, BEHIND, SEVERELY_BEHIND)
SEVERE_GAP = Fraction(20, 100)
NO_CASES = "无案件"

Figures = Mapping[str, int | None]
History = Mapping[Quarter, Figures]


def status_of(completion: Fraction, time_progress: Fraction) -> str:
    if completion >= 1:
        return DONE
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


@dataclass(frozen=True)
class RateResult:
    code: str
    numerator: int | None
    denominator: int | None
    target: Fraction

    @property
    def rate(self) -> Fraction | None:
        if not self.denominator or self.numerator is None:
            return None
        return Fraction(self.numerator, self.denominator)

    @property
    def met(self) -> bool | None:
        rate = self.rate
        return None if rate is None else rate >= self.target

    @property
    def no_cases(self) -> bool:
        return self.denominator == 0

    @property
    def entered(self) -> bool:
        return self.numerator is not None and self.denominator is not None


@dataclass(frozen=True)
class Progress:
    town: str
    quarter: Quarter
    plan: Plan | None
    time_progress: Fraction | None
    indicators: dict[str, IndicatorProgress]
    rates_quarter: dict[str, RateResult]
    rates_ytd: dict[str, RateResult]


def _sum(history: History, quarters: list[Quarter], code: str) -> int | None:
    values = [v for q in quarters if (v := history.get(q, {}).get(code)) is not None]
    return sum(values) if values else None


def rate_over(history: History, quarters: list[Quarter], code: str, target: Fraction) -> RateResult:
    """A rate summed over quarters where both its counts were entered (never an average of rates)."""
    rate = next(r for r in RATES if r.code == code)
    numerator = denominator = 0
    any_entered = False
    for quarter in quarters:
        figures = history.get(quarter, {})
        num, den = figures.get(rate.numerator), figures.get(rate.denominator)
        if num is None or den is None:
            continue
        any_entered = True
        numerator += num
        denominator += den
    if not any_entered:
        return RateResult(code, None, None, target)
    return RateResult(code, numerator, denominator, target)


def compute_progress(plan: Plan | None, town: str, quarter: Quarter, history: History) -> Progress:
    """Progress of `town` at the end of `quarter`, from its figures of every quarter."""
    in_plan = plan is not None and plan.contains(quarter)
    active_plan = plan if in_plan else None
    time_progress = active_plan.time_progress(quarter) if active_plan else None
    plan_quarters = [q for q in active_plan.quarters if q <= quarter] if active_plan else []
    indicators: dict[str, IndicatorProgress] = {}
    for indicator in INDICATORS:
        code = indicator.code
        value = history.get(quarter, {}).get(code)
        if indicator.kind is Kind.STOCK:
            ytd: int | None = value
            cumulative: int | None = value
        else:
            ytd = _sum(history, quarter.year_to_date(), code)
            cumulative = _sum(history, plan_quarters, code) if active_plan else None
        target = completion = status = None
        if active_plan and indicator.has_plan_target:
            target = active_plan.targets_for(town).counts[code]
            if cumulative is not None and target:
                completion = Fraction(cumulative, target)
                assert time_progress is not None
                status = status_of(completion, time_progress)
        indicators[code] = IndicatorProgress(code, value, ytd, cumulative, target, completion, status)
    rates_quarter = {
        r.code: rate_over(history, [quarter], r.code, rate_target(active_plan, town, r.code)) for r in RATES
    }
    rates_ytd = {
        r.code: rate_over(history, quarter.year_to_date(), r.code, rate_target(active_plan, town, r.code))
        for r in RATES
    }
    return Progress(town, quarter, active_plan, time_progress, indicators, rates_quarter, rates_ytd)


def percent(value: Fraction | None, digits: int = 1) -> str:
    """`78.0%`; rounding half up so a printed figure never looks better than it is misread."""
    if value is None:
        return "—"
    scaled = value * 100 * 10**digits
    rounded = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return f"{rounded / 10**digits:.{digits}f}%"


def rate_text(result: RateResult) -> str:
    if not result.entered:
        return "未填报"
    if result.no_cases:
        return NO_CASES
    return percent(result.rate)


def is_flow(code: str) -> bool:
    return BY_CODE[code].kind is Kind.FLOW
