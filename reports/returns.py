"""A quarter's return as plain data: what the workbook, the PDF and the summary sheet all show."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction

from core.comparison import Comparison, compare, compared_figures, last_year
from core.indicators import SHIPPED, Catalogue, Kind
from core.plans import Definition, Plan
from core.progress import (
    BEHIND,
    ROUND_DOWN,
    ROUND_TOWARD_ZERO,
    SEVERELY_BEHIND,
    UNFINISHED,
    History,
    case_quarter,
    case_totals,
    compute_progress,
    percent,
    rate_text,
    target_words,
)
from core.quarters import Quarter
from core.validation import Finding, gap_quarters


@functools.lru_cache(maxsize=4096, typed=True)
def shown_percent_text(value: Fraction | None, rounding: str = ROUND_DOWN) -> str:
    """core.progress.percent, remembered: the verifier prints the same few ratios (targets, the time
    progress, completions) for return after return, each an exact Fraction whose text never changes."""
    return percent(value, rounding=rounding)


FORM_TITLE = "东莞市镇街人力资源和社会保障主要指标季报"
FORM_NUMBER = "东人社统 ZJ-01 表"
FORM_AUTHORITY = "东莞市人力资源和社会保障局"
DRAFT_MARK = "未签名 草稿"
# 批准文号 and 有效期至 come from the plan the city issues; without them the form leaves a line to fill in
# by hand, never an invented document number.
BLANK_FIELD = "＿＿＿＿＿＿＿＿"
SIGN_HERE = "签字：＿＿＿＿＿＿"
# The renderers: how every byte of a return's files is spelled (reports.payload names them in the signed data).
# 1: the nine lines of the plan; 应结 typed; rate targets as ≥78%; the invented 表号 when the plan has none.
# 2 (issue 26): each case count's 上期结转 and 本期受理 printed under its 应结, whose 本年累计 is 年初结转 + 全年受理;
#    rate targets as the plan writes them (78%以上（含本数）); no 表号 the plan does not give (a line to fill in).
# 3 (issue 26): the 批准机关 line in the header and the plan's 指标解释 as the last page (PDF) and sheet (Excel);
#    one name, 本年累计, for the year-to-date total in every line it prints; a stock's 基期数 in the figures
#    table (规划累计／基期数) under a column headed 完成率／较基期增长完成率; a 同比、环比 table (上季度 and
#    上年同期, each with 增减 and 增减%) after page 1.
RENDERER_1 = "town-returns-render/1"
RENDERER_2 = "town-returns-render/2"
RENDERER_3 = "town-returns-render/3"
CURRENT_RENDERER = RENDERER_3


def since_renderer_3(renderer: str) -> bool:
    """Does a return of this renderer print what renderer 3 added (issue 26)? Renderers 1 and 2 re-render
    their signed returns byte for byte, so each addition asks this."""
    return renderer not in (RENDERER_1, RENDERER_2)
STOCK_CODES = SHIPPED.stock_codes  # the shipped list's; a return reads its own plan's (ReturnData.stock_codes)


@dataclass(frozen=True)
class FigureLine:
    code: str
    name: str
    unit: str
    quarter: int
    ytd: int | None
    cumulative: int | None
    target: int | None
    completion: Fraction | None
    status: str | None
    is_sub: bool


@dataclass(frozen=True)
class RateLine:
    code: str
    name: str
    quarter_text: str
    ytd_text: str
    numerator: int | None
    denominator: int | None
    quarter_rate: Fraction | None
    ytd_rate: Fraction | None
    target: Fraction | None  # None: no plan, no target (renderer 2)
    met: bool | None


@dataclass(frozen=True)
class NoteLine:
    code: str
    name: str
    finding: str
    text: str


@dataclass(frozen=True)
class ReturnData:
    town: str
    quarter: Quarter
    plan_name: str | None
    time_progress: Fraction | None
    figures: tuple[FigureLine, ...]
    rates: tuple[RateLine, ...]
    notes: tuple[NoteLine, ...]
    attention: tuple[str, ...]
    profile: Mapping[str, str]
    generated_at: datetime
    revision: int = 1
    signed: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    approval_number: str = ""  # 批准文号, from the plan
    valid_until: str = ""  # 有效期至, from the plan
    plan_hash: str | None = None
    rounding: str = ROUND_DOWN  # how its percentages are shown (core.progress.percent)
    # stock code -> 基期数 the pace was measured from; {} when none was entered; None on returns signed
    # before bases existed (they print no 基期数 line)
    bases: dict[str, int] | None = None
    plan_id: str = ""  # the plan package's id; empty on returns signed before payloads named it
    form_number: str = FORM_NUMBER  # 表号, from the plan
    catalogue: Catalogue = SHIPPED  # the indicator list of the plan the return was made under
    renderer: str = CURRENT_RENDERER  # the spelling of its files (RENDERER_1 for returns signed before issue 26)
    gaps: tuple[str, ...] = ()  # renderer 2: the quarters its cumulatives skip (nothing entered), as labels
    # renderer 3: line code -> (上季度, 上年同期), the figures 环比 and 同比 compare with (None: nothing to compare)
    compared: dict[str, tuple[int | None, int | None]] | None = None

    @property
    def compares(self) -> bool:
        """Does the return print the stock's base in its table and a 同比、环比 table (renderer 3 on)?"""
        return since_renderer_3(self.renderer)

    def comparison_rows(self) -> list[tuple[FigureLine, Comparison | None, Comparison | None]]:
        """Each figure line with its 环比 and 同比 (renderer 3)."""
        compared = self.compared or {}
        rows = []
        for line in self.figures:
            previous, year_before = compared.get(line.code, (None, None))
            rows.append((line, compare(line.quarter, previous), compare(line.quarter, year_before)))
        return rows

    @property
    def previous_label(self) -> str:
        return self.quarter.previous().label

    @property
    def last_year_label(self) -> str:
        return last_year(self.quarter).label

    def column_headers(self) -> list[str]:
        """The figures table's nine column titles."""
        stock = self.compares and any(
            line.code in self.stock_codes and line.target is not None for line in self.figures
        )
        return [
            "指标名称",
            "计量单位",
            self.quarter_header,
            "本年累计",
            "规划累计／基期数" if stock else "规划累计",
            "规划目标",
            f"完成率／{GROWTH_COMPLETION}" if stock else "完成率",
            "时间进度",
            "状态",
        ]

    def shown_base(self, line: FigureLine) -> int | None:
        """Renderer 3 prints a stock's 基期数 in the 规划累计 column (a stock has no 规划累计)."""
        if self.compares and line.code in self.stock_codes and line.target is not None:
            return (self.bases or {}).get(line.code)
        return line.cumulative

    approval_authority: str = ""  # 批准机关, from the plan (renderer 3)
    definitions: tuple[Definition, ...] = ()  # the plan's 指标解释 (renderer 3)

    @property
    def has_definitions_page(self) -> bool:
        """Renderer 3 prints the plan's 指标解释 last (PDF page, Excel sheet) when the plan gives any."""
        return since_renderer_3(self.renderer) and bool(self.definitions)

    @property
    def prints_authority(self) -> bool:
        """Does the header carry a 批准机关 line (renderer 3 on)?"""
        return since_renderer_3(self.renderer)

    @property
    def authority_text(self) -> str:
        return self.approval_authority or BLANK_FIELD

    @property
    def definitions_title(self) -> str:
        return f"指标解释（{self.plan_name}）" if self.plan_name else "指标解释"

    @property
    def gap_text(self) -> str:
        """Beside the cumulatives: which quarters they skip (renderer 2), e.g. 本年累计、规划累计缺2022年第2季度."""
        if not self.gaps:
            return ""
        year = self.quarter.year if since_renderer_3(self.renderer) else None
        return f"累计数按已填季度计算（缺{gap_labels(self.gaps, year)}）"

    @property
    def carries_over(self) -> bool:
        """Are the case counts printed as 上期结转 + 本期受理 = 应结 (renderer 2 on)?"""
        return self.renderer != RENDERER_1

    def rate_target_text(self, target: Fraction | None) -> str:
        """A rate target as printed: 78%以上（含本数）, as the plan writes it; — without a plan (renderer 1: ≥78.0%)."""
        if not self.carries_over:
            return f"≥{shown_percent_text(target, self.rounding)}"
        return "—" if target is None else target_words(target)

    @property
    def form_number_text(self) -> str:
        """表号 as printed: the plan's; renderer 2 leaves a line to fill in where the plan gives none."""
        if not self.carries_over:
            return self.form_number
        return self.form_number or BLANK_FIELD

    @property
    def stock_codes(self) -> tuple[str, ...]:
        return self.catalogue.stock_codes

    @property
    def quarter_header(self) -> str:
        """The 本季度 column also holds the 季末数 of a stock (returns signed before issue 15 said 本季度)."""
        return "本季度" if self.bases is None else "本季度／季末数"

    @property
    def rate_year_header(self) -> str:
        """The rates are annual targets: on the 4th quarter's return the year-to-date is the year's result."""
        return "全年（年度结果）" if self.bases is not None and self.quarter.q == 4 else "本年累计"

    @property
    def rate_count_headers(self) -> tuple[str, str]:
        """The rate block's 分子/分母 and 是否达标 headers. Both are the year's, not the quarter's: renderer 3
        says so (found reviewing from outside: 77.9% | 78.0% | 7,878/10,100 | 达标 read as a quarter met)."""
        if not since_renderer_3(self.renderer):
            return "分子/分母", "是否达标"
        year = self.rate_year_header[:2]  # 本年 or 全年
        return f"{year}分子/分母", f"{year}是否达标"

    @property
    def base_text(self) -> str:
        """The 基期数 line printed under the plan's name: what the card stock's pace is measured from."""
        if self.bases is None or self.plan_name is None:
            return ""
        stocks = [line for line in self.figures if line.code in self.stock_codes and line.target is not None]
        parts = []
        for line in stocks:
            base = self.bases.get(line.code)
            shown = f"{base:,} {line.unit}" if base is not None else "未录入（完成率按季末数 ÷ 目标，不判断进度）"
            parts.append(f"{self.catalogue.by_code[line.code].short_name}基期数：{shown}")
            if self.carries_over and base is not None:
                # issue 26: say what the stock's 完成率 is, and a value below the base in words
                parts[-1] += f"，完成率为{GROWTH_COMPLETION}"
                if line.quarter < base:
                    parts[-1] += f"，本季末低于基期 {base - line.quarter:,} {line.unit}，故为负数"
        return "；".join(parts)

    def percent(self, value: Fraction | None) -> str:
        """A percentage of this return as it prints it."""
        return shown_percent_text(value, self.rounding)

    @property
    def values(self) -> dict[str, int]:
        return {line.code: line.quarter for line in self.figures}

    @property
    def explanations(self) -> dict[str, str]:
        return {note.code: note.text for note in self.notes}

    @property
    def approval_text(self) -> str:
        return self.approval_number or BLANK_FIELD

    @property
    def valid_until_text(self) -> str:
        return self.valid_until or BLANK_FIELD

    @property
    def report_date(self) -> str:
        return f"{self.generated_at.year}年{self.generated_at.month}月{self.generated_at.day}日"


def pace_attention(
    figures: Sequence[FigureLine],
    rates: Sequence[RateLine],
    time_progress: Fraction | None,
    catalogue: Catalogue,
    rounding: str = ROUND_DOWN,
    renderer: str = CURRENT_RENDERER,
) -> list[str]:
    """The 需关注 lines a return's own figures call for: each indicator behind pace, each rate below target.

    The exporter writes them and the verifier recomputes them from the signed figures: one rule.
    """
    display_name = catalogue.display_name
    attention = []
    for line in figures:
        if line.status in (BEHIND, SEVERELY_BEHIND, UNFINISHED):
            attention.append(
                f"{display_name(line.code)}{line.status}：完成率 {percent(line.completion, rounding=rounding)}，"
                f"时间进度 {percent(time_progress, rounding=rounding)}，距目标还差 "
                f"{(line.target or 0) - (line.quarter if line.code in catalogue.stock_codes else line.cumulative or 0):,} "
                f"{catalogue.by_code[line.code].unit}"
            )
    for rate_line in rates:
        if rate_line.met is False:
            if not since_renderer_3(renderer):
                shown, total = percent(rate_line.target, rounding=rounding), "年度累计"
                attention.append(f"{rate_line.name}{total} {rate_line.ytd_text}，低于目标 {shown}")
            else:  # one name for the total, and the target as the plan writes it, since renderer 3
                attention.append(
                    f"{rate_line.name}本年累计 {rate_line.ytd_text}，未达到目标 {target_words(rate_line.target)}"
                )
    return attention


def assemble_return(
    town: str,
    quarter: Quarter,
    plan: Plan | None,
    history: History,
    explanations: Mapping[str, str],
    findings: list[Finding],
    profile: Mapping[str, str],
    generated_at: datetime,
    revision: int = 1,
    signed: bool = False,
    bases: Mapping[str, int] | None = None,
    renderer: str = CURRENT_RENDERER,
) -> ReturnData:
    """Everything a return shows, computed once from the town's figures and findings."""
    progress = compute_progress(plan, town, quarter, history, bases, as_before_issue_26=renderer == RENDERER_1)
    catalogue = progress.catalogue
    display_name = catalogue.display_name
    values = history.get(quarter, {})
    figures = []
    for indicator in catalogue.indicators:
        item = progress.indicators[indicator.code]
        value = values.get(indicator.code)
        if value is None:
            raise ValueError(f"{indicator.code} missing: a return needs every figure")
        stock = indicator.kind is Kind.STOCK  # a 季末数: never a 本年累计 or 规划累计
        figures.append(
            FigureLine(
                indicator.code,
                indicator.name,
                indicator.unit,
                value,
                None if stock else item.ytd,
                item.cumulative if indicator.has_plan_target and not stock else None,
                item.target,
                item.completion,
                item.status,
                indicator.parent is not None,
            )
        )
        flow = catalogue.case_flow(indicator.code)
        if renderer != RENDERER_1 and flow is not None and flow.due == indicator.code:
            figures += case_lines(catalogue, quarter, history, flow.due, indicator.unit)
    rounding = ROUND_DOWN if renderer == RENDERER_1 else ROUND_TOWARD_ZERO
    rates = []
    for rate in catalogue.rates:
        qtr, ytd = progress.rates_quarter[rate.code], progress.rates_ytd[rate.code]
        rates.append(
            RateLine(
                rate.code,
                rate.name,
                rate_text(qtr, rounding),
                rate_text(ytd, rounding),
                ytd.numerator,
                ytd.denominator,
                qtr.rate,
                ytd.rate,
                ytd.target,
                ytd.met,
            )
        )
    notes: list[NoteLine] = []
    for finding in findings:
        if finding.needs_explanation and finding.indicator and finding.indicator in explanations:
            noted = next((n for n in notes if n.code == finding.indicator), None)
            if noted is not None and since_renderer_3(renderer):
                # renderer 3: one 说明 printed once, after every finding it answers (found reviewing: two
                # warnings on the card stock listed the indicator and its 说明 twice)
                notes[notes.index(noted)] = replace(noted, finding=f"{noted.finding}；{finding.statement}")
                continue
            notes.append(
                NoteLine(
                    finding.indicator,
                    display_name(finding.indicator),
                    finding.statement,
                    explanations[finding.indicator],
                )
            )
    attention = pace_attention(figures, rates, progress.time_progress, catalogue, rounding, renderer)
    gaps = tuple(q.label for q in gap_quarters(history, quarter, plan)) if renderer != RENDERER_1 else ()
    for finding in findings:
        if (
            finding.rule in ("card_holders_decreased", "flow_spike")
            or (renderer != RENDERER_1 and finding.rule == "stock_jump")
            # renderer 3: a carry-over or a base that does not follow from the figures before it, too
            or (since_renderer_3(renderer) and finding.rule in ("carry_over_mismatch", "base_not_last_figure"))
        ):
            attention.append(finding.statement)
    if gaps:
        year = quarter.year if since_renderer_3(renderer) else None
        attention.append(f"累计数缺{gap_labels(gaps, year)}的数据，按已填季度计算")
    in_plan = plan is not None and plan.contains(quarter)
    package_plan = as_package(plan) if plan and in_plan else None
    compared = None
    if since_renderer_3(renderer):
        previous, year_before = compared_figures(history, quarter, catalogue)
        compared = {line.code: (previous.get(line.code), year_before.get(line.code)) for line in figures}
    return ReturnData(
        town,
        quarter,
        plan.name if plan and in_plan else None,
        progress.time_progress,
        tuple(figures),
        tuple(rates),
        tuple(notes),
        tuple(attention),
        dict(profile),
        generated_at,
        revision,
        signed,
        approval_number=plan.approval_number if plan and in_plan else "",
        valid_until=plan.valid_until if plan and in_plan else "",
        plan_hash=package_plan.content_hash or plan_hash(package_plan) if package_plan else None,
        bases={code: v for code, v in (bases or {}).items() if code in catalogue.stock_codes} if in_plan else {},
        plan_id=package_plan.plan_id if package_plan else "",
        form_number=form_number_of(plan if in_plan else None, renderer),
        catalogue=catalogue,
        renderer=renderer,
        rounding=rounding,
        gaps=gaps,
        compared=compared,
        # the package's (an annex read from its CSV is the built-in plan, whose definitions sit beside it)
        approval_authority=package_plan.approval_authority if package_plan and since_renderer_3(renderer) else "",
        definitions=package_plan.definitions if package_plan and since_renderer_3(renderer) else (),
    )


def form_number_of(plan: Plan | None, renderer: str) -> str:
    """The 表号 a return prints: the plan's; before renderer 2, an invented one where the plan had none."""
    if renderer == RENDERER_1:
        return (plan.form_number or FORM_NUMBER) if plan else FORM_NUMBER
    return plan.form_number if plan else ""


def gap_labels(gaps: Sequence[str], year: int | None = None) -> str:
    """The skipped quarters in words. Given the return's `year` (renderer 3 on), the quarters its 本年累计
    skips are each named first, the plan's earlier ones after them (found reviewing from outside: a draft
    said only "缺2021年第2季度等8个季度" where the gap that kept it from being signed was 2023年第2季度)."""
    this_year = [g for g in gaps if year is not None and g.startswith(f"{year}年")]
    if not this_year:
        return _first_gaps(gaps)
    earlier = [g for g in gaps if g not in this_year]
    return "、".join(this_year) + (f"，此前另缺{_first_gaps(earlier)}" if earlier else "")


def _first_gaps(gaps: Sequence[str]) -> str:
    """The skipped quarters in words, at most two named, so the note stays short above the figures."""
    if len(gaps) <= 2:
        return "、".join(gaps)
    return f"{gaps[0]}等{len(gaps)}个季度"


GROWTH_COMPLETION = "较基期增长完成率"
CARRIED_LINE = "其中：上期结转案件数"
RECEIVED_LINE = "　　　本期受理案件数"


def case_lines(catalogue: Catalogue, quarter: Quarter, history: History, due: str, unit: str) -> list[FigureLine]:
    """The 上期结转 and 本期受理 lines printed under a case count's 应结: this quarter's, and for the year the
    opening 结转 and the received cases (应结 本年累计 = the two together)."""
    flow = catalogue.case_flow(due)
    assert flow is not None
    pair = case_quarter(history.get(quarter, {}), flow, history.get(quarter.previous()))
    if pair is None:
        raise ValueError(f"{flow.carried} missing: a return needs every figure")
    year = case_totals(history, quarter.year_to_date(), flow)
    assert year is not None
    return [
        FigureLine(flow.carried, CARRIED_LINE, unit, pair[0], year.opening, None, None, None, None, True),
        FigureLine(flow.received, RECEIVED_LINE, unit, pair[1], year.received, None, None, None, None, True),
    ]


def notes_reference(data: ReturnData) -> str:
    """The line on page 1 that points to the 附页 holding the 说明 texts."""
    if not data.notes:
        return "填报说明：无"
    names = "、".join(note.name for note in data.notes)
    return f"填报说明：共 {len(data.notes)} 项（{names}），全文见附页。"


def plan_hash(plan: Plan) -> str:
    """SHA-256 of a plan not made from a package (name, period, every town's targets): what returns signed
    before plans were packages name it by; a package's plan is named by its content hash."""
    rows = [
        [t.town, sorted(t.counts.items()), sorted((k, f"{v.numerator}/{v.denominator}") for k, v in t.rates.items())]
        + ([sorted(t.bases.items())] if t.bases else [])  # a plan without bases keeps the hash it always had
        for t in (plan.city, *plan.towns)
    ]
    body = json.dumps([plan.name, plan.first.code, plan.last.code, rows], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def as_package(plan: Plan) -> Plan:
    """The plan as the package the city knows it by: the annex read from its CSV is the built-in plan."""
    if plan.content_hash:
        return plan
    from core.plan_package import shipped_package

    builtin = shipped_package().to_plan()
    return builtin if plan_hash(plan) == plan_hash(builtin) else plan
