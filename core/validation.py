"""Findings on a quarter's figures: errors block saving, warnings need a written 说明."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from core.indicators import Catalogue, Kind
from core.plans import DEFAULT_STOCK_JUMP_BOUND, Plan, catalogue_of
from core.progress import (
    BEHIND,
    SEVERELY_BEHIND,
    UNFINISHED,
    History,
    base_notice,
    compute_progress,
    percent,
    severe_gap_words,
    target_words,
)
from core.quarters import Quarter
from core.text import hidden_character_problem

ERROR = "error"
WARNING = "warning"
NOTICE = "notice"
LEVEL_NAMES = {ERROR: "错误", WARNING: "警告", NOTICE: "提示"}
MIN_EXPLANATION_CHARS = 6
MAX_EXPLANATION_CHARS = 500
SPIKE_FACTOR = 3
SPIKE_FLOOR = 20
SPIKE_WINDOW = 4
# A 季末数 moving more than this from one quarter to the next needs a 说明 (issue 26: +67% at the 2026 plan
# boundary of the demo went unflagged).
# A stock (季末数) lower than last quarter's; the rule keeps the name it had when the only stock was 持卡人数.
STOCK_DECREASED = "card_holders_decreased"


@dataclass(frozen=True)
class Finding:
    level: str
    rule: str
    indicator: str | None
    message: str
    needs_explanation: bool = False
    explained: bool = False
    # What was found, as a return's 附页 and 需关注事项 state it: the message without the （已说明） or
    # 请填写说明 ending a warning has. Defaults to the message.
    statement: str = ""

    def __post_init__(self) -> None:
        if not self.statement:
            object.__setattr__(self, "statement", self.message)

    @property
    def blocks_saving(self) -> bool:
        return self.level == ERROR

    @property
    def blocks_submission(self) -> bool:
        return self.level == ERROR or (self.needs_explanation and not self.explained)

    def as_dict(self) -> dict[str, object]:
        return {
            "level": self.level,
            "rule": self.rule,
            "indicator": self.indicator,
            "message": self.message,
            "needs_explanation": self.needs_explanation,
            "explained": self.explained,
        }


@dataclass(frozen=True)
class QuarterInput:
    town: str
    quarter: Quarter
    today: date
    plan: Plan | None
    values: Mapping[str, int | None]  # this quarter's figures as they would be saved
    history: History  # every other quarter's saved figures
    explanations: Mapping[str, str] = field(default_factory=dict)
    invalid: Mapping[str, str] = field(default_factory=dict)  # code -> why the typed text was refused
    bases: Mapping[str, int] = field(default_factory=dict)  # stock code -> its 基期数 for the plan
    # the quarter's indicator list (Store.catalogue_for); None: the plan's, else the shipped list
    catalogue: Catalogue | None = None
    # quarters whose 上期结转 the database migration 0007 wrote (0, their 应结 as 受理): not checked against
    # the quarter before, which nobody entered that way
    migrated_case_quarters: frozenset[Quarter] = frozenset()

    @property
    def indicators(self) -> Catalogue:
        return catalogue_of(self.plan, self.catalogue)


def merged(saved: Mapping[str, object], typed: Mapping[str, object]) -> dict:
    """Saved entries with typed changes applied: a blank (None or "") clears an entry."""
    result = dict(saved)
    for code, value in typed.items():
        if value is None or value == "":
            result.pop(code, None)
        else:
            result[code] = value
    return result


def quarter_input(
    town: str,
    quarter: Quarter,
    today: date,
    plan: Plan | None,
    history: History,
    saved_explanations: Mapping[str, str],
    *,
    values: Mapping[str, int | None] | None = None,
    explanations: Mapping[str, str | None] | None = None,
    invalid: Mapping[str, str] | None = None,
    bases: Mapping[str, int] | None = None,
    catalogue: Catalogue,
    migrated_case_quarters: frozenset[Quarter] = frozenset(),
) -> QuarterInput:
    """What the checks see: the saved history and 说明 with this quarter's typed changes applied.

    The one builder of a check's input, for the entry form as the clerk types and for saving; both
    give the quarter's indicator list (Store.catalogue_for), so both check the same figures.
    """
    others = {q: figures for q, figures in history.items() if q != quarter}
    figures = merged(history.get(quarter, {}), values or {})
    notes = merged(saved_explanations, explanations or {})
    return QuarterInput(
        town,
        quarter,
        today,
        plan,
        figures,
        others,
        notes,
        dict(invalid or {}),
        dict(bases or {}),
        catalogue,
        migrated_case_quarters,
    )


def with_computed_dues(
    catalogue: Catalogue, saved: Mapping[str, int], typed: Mapping[str, int | None]
) -> dict[str, int | None]:
    """The typed changes with each case flow's 应结 recomputed where its 结转 or 受理 changed: their sum,
    or blank while either is blank (issue 26: 应结 is computed, not typed).

    A blank typed over a blank is no change: the window sends every box, and a quarter saved with its 应结
    alone (before the split) keeps it until its 结转 or 受理 is typed."""
    result = dict(typed)
    for flow in catalogue.case_flows:
        if all(typed.get(code, saved.get(code)) == saved.get(code) for code in (flow.carried, flow.received)):
            continue
        after = merged(saved, typed)
        carried, received = after.get(flow.carried), after.get(flow.received)
        result[flow.due] = carried + received if carried is not None and received is not None else None
    return result


EXPLAINED = "（已说明）"


def explanation_request() -> str:
    """How a warning without a good enough 说明 ends."""
    return f"，请填写说明（{explanation_length_hint()}）"


def explanation_length_hint() -> str:
    return f"至少 {MIN_EXPLANATION_CHARS} 个字"


def explanation_ok(text: str | None) -> bool:
    return text is not None and len("".join(text.split())) >= MIN_EXPLANATION_CHARS


def unlisted_figures(data: QuarterInput) -> list[Finding]:
    """Figures saved under codes the quarter's plan does not list (entered before a plan that dropped
    the indicator was imported): kept, never reported, and said so rather than vanishing silently."""
    from core.indicators import SHIPPED

    unlisted = {c: v for c, v in data.values.items() if v is not None and not data.indicators.is_known_code(c)}
    if not unlisted:
        return []
    # a code the quarter's list no longer has was the shipped list's (the codes of records before plans)
    shown = "、".join(f"{SHIPPED.display_name(code)} {value:,}" for code, value in sorted(unlisted.items()))
    return [
        Finding(
            NOTICE,
            "unlisted_figure",
            None,
            f"{data.quarter.label}已录入的 {shown} 不在此季度所依据规划的指标中：数值仍保留在数据库中，但不检查、不上报",
        )
    ]


def check_quarter(data: QuarterInput) -> list[Finding]:
    findings: list[Finding] = []
    quarter, values = data.quarter, data.values
    catalogue = data.indicators
    display_name = catalogue.display_name

    for code, reason in data.invalid.items():
        findings.append(Finding(ERROR, "unparsable", code, f"{display_name(code)}：{reason}"))

    for code, note in data.explanations.items():  # a 说明 is printed in the signed return as typed
        problem = hidden_character_problem(note, f"{display_name(code)}的说明")
        if problem is not None:
            findings.append(Finding(ERROR, "hidden_character", code, problem))
        elif note is not None and len(note) > MAX_EXPLANATION_CHARS:
            # the return prints each 说明 whole; a longer one does not fit on a printed page
            findings.append(
                Finding(
                    ERROR,
                    "explanation_too_long",
                    code,
                    f"{display_name(code)}的说明有 {len(note)} 个字，最多 {MAX_EXPLANATION_CHARS} 个字，请精简后再保存",
                )
            )

    if not quarter.has_begun(data.today):
        findings.append(
            Finding(
                ERROR,
                "quarter_not_begun",
                None,
                f"{quarter.label}尚未开始（{quarter.first_day:%Y-%m-%d} 起），不能填报",
            )
        )

    findings += unlisted_figures(data)

    for indicator in catalogue.indicators:  # the sub-count of a count pair is at most its count
        if indicator.parent is None:
            continue
        part, whole = values.get(indicator.code), values.get(indicator.parent)
        if part is not None and whole is not None and part > whole:
            findings.append(
                Finding(
                    ERROR,
                    "sub_exceeds_total",
                    indicator.code,
                    f"{display_name(indicator.code)} {part:,} 大于{display_name(indicator.parent)} {whole:,}",
                )
            )

    findings += case_flow_findings(data)

    history: dict[Quarter, Mapping[str, int | None]] = dict(data.history)
    history[quarter] = values
    progress = compute_progress(data.plan, data.town, quarter, history, data.bases, catalogue=catalogue)

    def warn(rule: str, code: str, message: str) -> None:
        explained = explanation_ok(data.explanations.get(code))
        ending = EXPLAINED if explained else explanation_request()
        findings.append(
            Finding(
                WARNING, rule, code, message + ending, needs_explanation=True, explained=explained, statement=message
            )
        )

    for rate in catalogue.rates:
        if values.get(rate.numerator) is None or values.get(rate.denominator) is None:
            continue
        ytd = progress.rates_ytd[rate.code]
        if ytd.met is False:
            warn(
                "rate_below_target",
                rate.code,
                f"{rate.name}本年累计 {percent(ytd.rate)}（{ytd.numerator:,}/{ytd.denominator:,}），"
                f"未达到目标 {target_words(ytd.target)}",
            )

    for code, item in progress.indicators.items():
        if item.status is None or values.get(code) is None:
            continue
        assert item.completion is not None and progress.time_progress is not None
        pace = f"完成率 {percent(item.completion)}，时间进度 {percent(progress.time_progress)}"
        if item.status == SEVERELY_BEHIND:
            warn("severely_behind", code, f"{display_name(code)}严重滞后：{pace}，{severe_gap_words()}")
        elif item.status == UNFINISHED:
            warn("unfinished", code, f"{display_name(code)}未完成：{pace}，规划期已结束")
        elif item.status == BEHIND:
            findings.append(Finding(NOTICE, "behind", code, f"{display_name(code)}滞后：{pace}"))

    for code, item in progress.indicators.items():
        if item.needs_base and values.get(code) is not None:
            findings.append(Finding(NOTICE, "base_missing", code, base_notice(code, progress.plan)))

    findings += base_findings(data, progress.plan)

    bound = progress.plan.stock_jump_bound if progress.plan else DEFAULT_STOCK_JUMP_BOUND
    for (
        code
    ) in catalogue.stock_codes:  # issue 26: a stock that jumps beyond ±30% (or the plan's bound) quarter on quarter
        current, previous = values.get(code), data.history.get(quarter.previous(), {}).get(code)
        if current is not None and previous and abs(Fraction(current - previous, previous)) > bound:
            change = Fraction(current - previous, previous)
            warn(
                "stock_jump",
                code,
                f"{display_name(code)} {current:,} 比上季度 {previous:,} {'增加' if change > 0 else '减少'} "
                f"{percent(abs(change))}，超过 ±{percent(bound)}",
            )
        if current is not None and previous is not None and current < previous:
            warn(
                STOCK_DECREASED,
                code,
                f"{display_name(code)} {current:,} 少于上季度 {previous:,}（减少 {previous - current:,}）",
            )

    for indicator in catalogue.indicators:
        if indicator.kind is not Kind.FLOW:
            continue
        value = values.get(indicator.code)
        if value is None or value <= SPIKE_FLOOR:
            continue
        earlier = _previous_nonzero(data.history, quarter, indicator.code)
        if not earlier:
            continue
        mean = Fraction(sum(earlier), len(earlier))
        if value > SPIKE_FACTOR * mean:
            warn(
                "flow_spike",
                indicator.code,
                f"{display_name(indicator.code)} {value:,} 超过此前 {len(earlier)} 个非零季度均值 "
                f"{float(mean):,.1f} 的 {SPIKE_FACTOR} 倍",
            )

    if data.plan is not None and data.plan.contains(quarter):
        gaps = [
            q
            for q in data.plan.quarters
            if q < quarter and not any(v is not None for v in data.history.get(q, {}).values())
        ]
        if gaps:
            shown = "、".join(q.label for q in gaps[:6]) + ("等" if len(gaps) > 6 else "")
            findings.append(
                Finding(
                    NOTICE,
                    "missing_earlier_quarter",
                    None,
                    f"此前有 {len(gaps)} 个季度尚未填报：{shown}，累计数按已填季度计算",
                )
            )

    for code in catalogue.entry_codes:  # a computed 应结 is missing when one of its two inputs is
        flow = catalogue.case_flow(code)
        if flow is not None and values.get(flow.due) is not None:  # saved before the split: its 应结 stands
            continue
        if values.get(code) is None and code not in data.invalid:
            findings.append(Finding(NOTICE, "not_entered", code, f"{display_name(code)}尚未填写"))

    return findings


def gap_quarters(history: History, quarter: Quarter, plan: Plan | None) -> list[Quarter]:
    """The quarters a cumulative at `quarter` skips: those of its plan (else of its year) before it with nothing
    entered."""
    period = [q for q in plan.quarters if q < quarter] if plan is not None and plan.contains(quarter) else []
    period = period or [q for q in quarter.year_to_date() if q < quarter]
    return [q for q in period if not any(v is not None for v in history.get(q, {}).values())]


def gap_words(gaps: list[Quarter]) -> str:
    """“（缺2022年第2季度）”: printed beside a cumulative that skips quarters."""
    return f"（缺{'、'.join(q.label for q in gaps)}）" if gaps else ""


def year_gap_refusal(history: History, quarter: Quarter) -> list[str]:
    """A signed return's 本年累计 must not skip a quarter of its year: the reason it is refused, or nothing.
    (A draft may be printed; it names the gap.)"""
    gaps = [
        q for q in quarter.year_to_date() if q < quarter and not any(v is not None for v in history.get(q, {}).values())
    ]
    if not gaps:
        return []
    return [
        f"{'、'.join(q.label for q in gaps)}尚未填报，{quarter.label}的本年累计会缺少该季度：请先填报（没有发生的填 0）"
        "再签名上报；未签名的草稿可以导出，累计数旁写明所缺季度"
    ]


BASE_MISMATCH = "base_not_last_figure"


def base_findings(data: QuarterInput, plan: Plan | None) -> list[Finding]:
    """A stock's 基期数 is the level at the plan's start: where the town has its own figure for the quarter
    before the plan (the previous plan's last quarter), the base must be that figure, else a 说明 (issue 26)."""
    if plan is None or not plan.contains(data.quarter):
        return []
    before = data.history.get(plan.first.previous(), {})
    findings = []
    for code in data.indicators.stock_codes:
        base, own = data.bases.get(code), before.get(code)
        if base is None or own is None or base == own or data.values.get(code) is None:
            continue
        name = data.indicators.display_name(code)
        message = (
            f"{name}的基期数 {base:,} 与本镇街{plan.first.previous().label}的季末数 {own:,} 不符"
            f"（相差 {base - own:+,}）"
        )
        explained = explanation_ok(data.explanations.get(code))
        findings.append(
            Finding(
                WARNING,
                BASE_MISMATCH,
                code,
                message + (EXPLAINED if explained else explanation_request()),
                needs_explanation=True,
                explained=explained,
                statement=message,
            )
        )
    return findings


CARRY_MISMATCH = "carry_over_mismatch"


def case_flow_findings(data: QuarterInput) -> list[Finding]:
    """应结 is 上期结转 + 本期受理 (an error otherwise), and this quarter's 结转 is what the quarter before
    left open: its 应结 − 结案 (a difference needs a 说明)."""
    findings: list[Finding] = []
    catalogue, values, quarter = data.indicators, data.values, data.quarter
    for flow in catalogue.case_flows:
        carried, received, due = values.get(flow.carried), values.get(flow.received), values.get(flow.due)
        if carried is not None and received is not None and due is not None and due != carried + received:
            findings.append(
                Finding(
                    ERROR,
                    "due_not_carried_plus_received",
                    flow.due,
                    f"{catalogue.display_name(flow.due)} {due:,} 不等于上期结转 {carried:,} + 本期受理 {received:,}："
                    "应结案件数由系统相加得出，不能直接填写",
                )
            )
        if carried is None or quarter in data.migrated_case_quarters:
            continue
        before = data.history.get(quarter.previous(), {})
        before_due, before_closed = before.get(flow.due), before.get(flow.closed)
        if before_due is None or before_closed is None:
            continue
        left_open = before_due - before_closed
        if carried != left_open:
            message = (
                f"{flow.carried_name} {carried:,}，与上季度应结 {before_due:,} − 结案 {before_closed:,} = "
                f"{left_open:,} 不符（相差 {carried - left_open:+,}）"
            )
            explained = explanation_ok(data.explanations.get(flow.carried))
            ending = EXPLAINED if explained else explanation_request()
            findings.append(
                Finding(
                    WARNING,
                    CARRY_MISMATCH,
                    flow.carried,
                    message + ending,
                    needs_explanation=True,
                    explained=explained,
                    statement=message,
                )
            )
    return findings


def _previous_nonzero(history: History, quarter: Quarter, code: str) -> list[int]:
    found: list[int] = []
    for past in sorted((q for q in history if q < quarter), reverse=True):
        value = history[past].get(code)
        if value:
            found.append(value)
            if len(found) == SPIKE_WINDOW:
                break
    return found


def has_errors(findings: list[Finding]) -> bool:
    return any(f.blocks_saving for f in findings)


def submission_blockers(
    findings: list[Finding], values: Mapping[str, int | None], catalogue: Catalogue | None = None
) -> list[str]:
    """Reasons, in words, why the quarter cannot be exported as a return yet.

    The figures still missing are those of `catalogue`; without one, those the findings (made under the
    quarter's list by check_quarter) say were not entered."""
    reasons = [f.message for f in findings if f.level == ERROR]
    if catalogue is None:
        reasons += [f.message for f in findings if f.rule == "not_entered"]
    else:
        reasons += [
            f"{catalogue.display_name(c)}尚未填写"
            for c in catalogue.indicator_codes
            if values.get(c) is None and c not in catalogue.computed_codes
        ]
        reasons += [
            f"{catalogue.display_name(c)}尚未填写"
            for flow in catalogue.case_flows
            if values.get(flow.due) is None
            for c in (flow.carried, flow.received)
            if values.get(c) is None
        ]
    reasons += [f"{f.message}" for f in findings if f.needs_explanation and not f.explained]
    return reasons
