"""The canonical signed payload of a return: the same bytes whoever writes or reads them.

The payload carries everything the return shows: the header (town, unit, quarter, plan and the
hash of its content, 表号, 批准文号, 有效期至, revision, 报出日期), every printed column of every indicator, the rate
lines, each warning with its 说明 and the people and phone of the sign-off. The verifier rebuilds
the return from the payload alone and compares what the workbook and the PDF show with it.
The keys of the first format (town, quarter, plan, revision, generated_at, figures, explanations)
are kept with the same meaning.

Since town-returns/3 the payload names its plan by `plan_id` and `plan_hash` (the package's content
hash); the reader takes the indicator list, the 表号 and the targets from the plan of that hash among the
plans the city trusts, never from the payload. A town-returns/2 payload (before plans were packages)
is read under the built-in 2021–2025 plan.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from core.comparison import PREVIOUS_QUARTER, SAME_QUARTER_LAST_YEAR
from core.errors import DomainError
from core.indicators import SHIPPED, Catalogue, Kind
from core.plans import Definition, Plan, check_town, rate_target
from core.progress import (
    ROUND_DOWN,
    ROUND_HALF_UP,
    ROUND_TOWARD_ZERO,
    SEVERELY_BEHIND,
    UNFINISHED,
    compute_progress,
    percent,
    rate_text,
)
from core.quarters import Quarter
from core.text import payload_text_problem
from core.validation import explanation_ok
from reports.returns import (
    CARRIED_LINE,
    FORM_AUTHORITY,
    FORM_TITLE,
    RECEIVED_LINE,
    RENDERER_1,
    RENDERER_2,
    RENDERER_3,
    FigureLine,
    NoteLine,
    RateLine,
    ReturnData,
    form_number_of,
    pace_attention,
)

# Since town-returns/5 (issue 26) a case count's 上期结转 and 本期受理 are figures of the return (in `figures`
# and as lines under its 应结), and 应结's 本年累计 and the rates' 本年 denominators are 年初结转 + 全年受理.
# A town-returns/4 payload has the shape before: 应结 only, summed over the quarters.
# Since town-returns/6 (renderer 3, issue 26 item 9) the figures each line is compared with (上季度, 上年同期)
# are signed too (`comparisons`), so the verifier redraws the 同比、环比 table from the payload alone.
FORMAT = "town-returns/6"
FORMAT_5 = "town-returns/5"
FORMAT_4 = "town-returns/4"
# Formats of earlier releases: their files were not written byte for byte from the payload, so this release,
# which accepts a return only as the very bytes it would write itself, has no renderer for them (issue 22).
EARLIER_FORMATS = {
    "town-returns/1": "签名数据不含完整表格内容",
    "town-returns/2": "签名数据未写明规划包",
    "town-returns/3": "签名数据未写明生成程序的版本",
}
# The renderer a return was written with: the spelling of every byte of its workbook and PDF. A release
# that changes any byte names a new renderer and keeps the old ones it can still write (RENDERERS).
RENDERER_KEY = "renderer"
RENDERER = RENDERER_3
RENDERERS = (RENDERER_1, RENDERER_2, RENDERER_3)
# Each format this release reads and the renderer that writes it (reports.returns.RENDERER_1/2/3); the last
# is the one this release writes.
RENDERER_OF_FORMAT = {FORMAT_4: (RENDERER_1,), FORMAT_5: (RENDERER_2,), FORMAT: (RENDERER_3,)}
# The reason a return is refused when its plan is not one the city issued, or its targets are not the plan's.
PLAN_MISMATCH = "规划目标与市局下发的不一致"
# The reason a return is refused when a column it derives (完成率, 状态, 累计, rates, 需关注, 说明) is not
# what its own figures and its plan give.
DERIVED_MISMATCH = "季报的计算结果与所填数据不符"
# Where a workbook keeps the payload, the manifest of its parts and the CMS signature (custom
# document properties survive openpyxl and LibreOffice re-saves; see STACK.md).
PAYLOAD_PROPERTY = "town_returns_payload"
MANIFEST_PROPERTY = "town_returns_manifest"
SIGNATURE_PROPERTY = "town_returns_signature"
PDF_ATTACHMENT = "town_returns_payload.json"
SIGNOFF_KEYS = ("unit_name", "head", "stats_head", "preparer", "phone")
# 批准文号 and 有效期至 in the header; a payload of the same format written before they were added lacks
# both and means "" (the form's blank lines).
APPROVAL_KEYS = ("approval_number", "valid_until")
# How the return rounds its percentages; a payload written before the rule "never round across a
# line" lacks the key and was printed half up, and the verifier redraws it that way.
ROUNDING_KEY = "percent_rounding"
# Each stock's 基期数 the pace was measured from (issue 15); absent on returns signed before it existed.
BASES_KEY = "bases"
# town-returns/5: the quarters the cumulatives skip (labels), printed beside them (issue 26)
GAPS_KEY = "gaps"
# town-returns/6: {"previous_quarter": {line code: figure or null}, "same_quarter_last_year": {...}}
COMPARISONS_KEY = "comparisons"
# town-returns/6: the plan's 指标解释 printed on the last page, and the 批准机关 in the header (issue 26); both come
# from the trusted plan, as its targets do (_plan_problem)
DEFINITIONS_KEY = "definitions"
AUTHORITY_KEY = "approval_authority"
OPTIONAL_KEYS = (ROUNDING_KEY, BASES_KEY, GAPS_KEY, COMPARISONS_KEY, DEFINITIONS_KEY)


class PayloadError(DomainError):
    pass


class ReturnRefused(PayloadError):
    """A well-formed payload the city must not accept; its message is the whole reason."""


class OtherRelease(ReturnRefused):
    """A return written by a release whose renderer this release does not ship."""


def other_release(body: Mapping[str, Any]) -> str:
    """Why a payload's return cannot be verified by this release; empty when this release renders it."""
    fmt = body.get("format")
    if fmt in EARLIER_FORMATS:
        return (
            f"不是本版本软件生成的季报：它由本软件较早的版本生成（签名数据格式 {fmt}，{EARLIER_FORMATS[fmt]}），"
            "本版本只承认自己按签名数据逐字节生成的季报，没有那一版的生成程序，无法确认文件显示的就是签名的内容。"
            "请镇街用本版本软件重新导出、签名后报送，或用生成它的那一版软件核验"
        )
    if fmt in RENDERER_OF_FORMAT and body.get(RENDERER_KEY) not in RENDERER_OF_FORMAT[fmt]:
        shown = body.get(RENDERER_KEY)
        shown = shown if isinstance(shown, str) else "（未写明）"
        return (
            f"不是本版本软件生成的季报：它由生成程序“{shown[:60]}”写出，本版本的生成程序为“{'、'.join(RENDERERS)}”，"
            "无法按写出它的方式重新生成并比对。请用生成它的那一版（或更新的版本）软件核验，或请镇街用本版本软件重新导出"
        )
    return ""


class HiddenText(ReturnRefused):
    """A text in the payload holds an invisible or direction-changing character (core.text)."""


class PlanNotIssued(ReturnRefused):
    """The return names a plan the city did not issue, or prints targets other than its plan's."""


class DerivedMismatch(ReturnRefused):
    """A column the return derives from its own figures and its plan is not what they give."""


@dataclass(frozen=True)
class Payload:
    town: str
    quarter: Quarter
    plan: str | None
    revision: int
    generated_at: str
    figures: dict[str, int]
    explanations: dict[str, str]
    plan_hash: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # the trusted plan the payload's plan_hash names (None: no plan); its catalogue lays the return out
    trusted_plan: Plan | None = field(default=None, compare=False, repr=False)
    catalogue: Catalogue = field(default=SHIPPED, compare=False, repr=False)

    def to_bytes(self) -> bytes:
        return canonical(self.body)

    def content_hash(self) -> str:
        """What changes a revision: the figures and explanations, not the time of writing."""
        body = json.dumps([self.figures, self.explanations], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    @property
    def generated(self) -> dt.datetime:
        """generated_at as an aware time (a time without offset is Beijing time)."""
        moment = dt.datetime.fromisoformat(self.generated_at)
        return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)

    def return_data(self) -> ReturnData:
        """The return exactly as the signer's app rendered it, rebuilt from the payload alone."""
        b = self.body
        return ReturnData(
            town=self.town,
            quarter=self.quarter,
            plan_name=self.plan,
            time_progress=_fraction(b["time_progress"]),
            figures=tuple(
                FigureLine(
                    line["code"],
                    line["name"],
                    line["unit"],
                    line["quarter"],
                    line["ytd"],
                    line["cumulative"],
                    line["target"],
                    _fraction(line["completion"]),
                    line["status"],
                    line["is_sub"],
                )
                for line in b["lines"]
            ),
            rates=tuple(
                RateLine(
                    r["code"],
                    r["name"],
                    r["quarter_text"],
                    r["ytd_text"],
                    r["numerator"],
                    r["denominator"],
                    _fraction(r["quarter_rate"]),
                    _fraction(r["ytd_rate"]),
                    _fraction(r["target"]),
                    r["met"],
                )
                for r in b["rates"]
            ),
            notes=tuple(NoteLine(n["code"], n["name"], n["finding"], n["text"]) for n in b["notes"]),
            attention=tuple(b["attention"]),
            profile=dict(b["signoff"]),
            generated_at=self.generated,
            revision=self.revision,
            signed=True,
            approval_number=b["header"].get("approval_number", ""),
            valid_until=b["header"].get("valid_until", ""),
            plan_hash=self.plan_hash,
            rounding=b.get(ROUNDING_KEY, ROUND_HALF_UP),
            bases=dict(b[BASES_KEY]) if BASES_KEY in b else None,
            plan_id=b.get("plan_id") or "",
            form_number=b["header"]["form_number"],
            catalogue=self.catalogue,
            renderer=b[RENDERER_KEY],
            gaps=tuple(b.get(GAPS_KEY, ())),
            compared=_compared(b[COMPARISONS_KEY]) if COMPARISONS_KEY in b else None,
            approval_authority=b["header"].get(AUTHORITY_KEY, ""),
            definitions=tuple(Definition(d["code"], d["name"], d["text"]) for d in b.get(DEFINITIONS_KEY, ())),
        )


def _compared(signed: Mapping[str, Mapping[str, int | None]]) -> dict[str, tuple[int | None, int | None]]:
    previous, year_before = signed[PREVIOUS_QUARTER], signed[SAME_QUARTER_LAST_YEAR]
    return {code: (previous[code], year_before[code]) for code in previous}


BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _frac_text(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"


def _fraction(text: object) -> Fraction | None:
    if text is None:
        return None
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError("fraction")
    numerator, denominator = text.split("/")
    return Fraction(int(numerator), int(denominator))


def printed_columns(data: ReturnData, line: FigureLine) -> list[str]:
    """The nine columns of an indicator's row as the PDF prints them."""
    percent = data.percent

    def count(value: int | None) -> str:
        return "—" if value is None else f"{value:,}"

    return [
        line.name,
        line.unit,
        count(line.quarter),
        count(line.ytd),
        count(data.shown_base(line)),
        count(line.target),
        percent(line.completion),
        percent(data.time_progress) if line.target is not None else "—",
        line.status or "—",
    ]


def printed_rate(data: ReturnData, rate: RateLine) -> list[str]:
    fraction = "—" if rate.denominator is None else f"{rate.numerator:,}/{rate.denominator:,}"
    verdict = "—" if rate.met is None else ("达标" if rate.met else "未达标")
    return [
        rate.name,
        "%",
        rate.quarter_text,
        rate.ytd_text,
        fraction,
        data.rate_target_text(rate.target),
        verdict,
    ]


def body_of(data: ReturnData) -> dict[str, Any]:
    profile = data.profile
    body: dict[str, Any] = {
        "format": FORMAT if data.compares else FORMAT_5 if data.carries_over else FORMAT_4,
        RENDERER_KEY: data.renderer,
        "town": data.town,
        "quarter": data.quarter.code,
        "plan": data.plan_name,
        "plan_id": data.plan_id or None,
        "plan_hash": data.plan_hash,
        "revision": data.revision,
        "generated_at": data.generated_at.isoformat(timespec="seconds"),
        "figures": dict(data.values),
        "explanations": dict(data.explanations),
        "header": {
            "title": FORM_TITLE,
            "form_number": data.form_number,
            "authority": FORM_AUTHORITY,
            "unit_name": profile.get("unit_name") or data.town,
            "quarter_label": data.quarter.label,
            "report_date": data.report_date,
            "approval_number": data.approval_number,
            "valid_until": data.valid_until,
        },
        "time_progress": _frac_text(data.time_progress),
        "lines": [
            {
                "code": line.code,
                "name": line.name,
                "unit": line.unit,
                "quarter": line.quarter,
                "ytd": line.ytd,
                "cumulative": line.cumulative,
                "target": line.target,
                "completion": _frac_text(line.completion),
                "status": line.status,
                "is_sub": line.is_sub,
                "printed": printed_columns(data, line),
            }
            for line in data.figures
        ],
        "rates": [
            {
                "code": r.code,
                "name": r.name,
                "quarter_text": r.quarter_text,
                "ytd_text": r.ytd_text,
                "numerator": r.numerator,
                "denominator": r.denominator,
                "quarter_rate": _frac_text(r.quarter_rate),
                "ytd_rate": _frac_text(r.ytd_rate),
                "target": _frac_text(r.target),
                "met": r.met,
                "printed": printed_rate(data, r),
            }
            for r in data.rates
        ],
        "notes": [{"code": n.code, "name": n.name, "finding": n.finding, "text": n.text} for n in data.notes],
        "attention": list(data.attention),
        "signoff": {key: str(profile.get(key) or "") for key in SIGNOFF_KEYS},
    }
    if data.rounding != ROUND_HALF_UP:
        body[ROUNDING_KEY] = data.rounding
    if data.bases is not None:
        body[BASES_KEY] = dict(data.bases)
    if data.carries_over:
        body[GAPS_KEY] = list(data.gaps)
    if data.compares:
        compared = data.compared or {}
        body[COMPARISONS_KEY] = {
            which: {line.code: compared.get(line.code, (None, None))[index] for line in data.figures}
            for index, which in enumerate((PREVIOUS_QUARTER, SAME_QUARTER_LAST_YEAR))
        }
    if data.prints_authority:
        body["header"][AUTHORITY_KEY] = data.approval_authority
        body[DEFINITIONS_KEY] = [{"code": d.code, "name": d.name, "text": d.text} for d in data.definitions]
    return body


def payload_of(data: ReturnData) -> Payload:
    body = body_of(data)
    return Payload(
        data.town,
        data.quarter,
        data.plan_name,
        data.revision,
        body["generated_at"],
        dict(data.values),
        dict(data.explanations),
        data.plan_hash,
        body,
        catalogue=data.catalogue,
    )


def line_codes(catalogue: Catalogue, carries_over: bool) -> tuple[str, ...]:
    """The codes of a return's lines in order: the plan's figures, and since town-returns/5 each case
    count's 上期结转 and 本期受理 right under its 应结."""
    if not carries_over:
        return catalogue.indicator_codes
    codes: list[str] = []
    for code in catalogue.indicator_codes:
        codes.append(code)
        flow = catalogue.case_flow(code)
        if flow is not None and flow.due == code:
            codes += [flow.carried, flow.received]
    return tuple(codes)


def _int_or_none(value: object) -> bool:
    return value is None or (type(value) is int and value >= 0)


@functools.cache
def builtin_plan() -> Plan:
    """The 2021–2025 plan built into the app: always trusted, and the plan of every town-returns/2 return."""
    from core.plan_package import shipped_package

    return shipped_package().to_plan()


class OverlappingPlans(ReturnRefused):
    """Two different trusted plans cover one quarter: the city's plan for it is not one plan."""


def _distinct(plans: Sequence[Plan]) -> list[Plan]:
    """The built-in plan and `plans`, each content hash once (a plan given twice is one plan)."""
    seen: dict[str, Plan] = {}
    for plan in (builtin_plan(), *plans):
        if plan.content_hash and plan.content_hash not in seen:
            seen[plan.content_hash] = plan
    return list(seen.values())


def check_plans_disjoint(plans: Sequence[Plan]) -> None:
    """Refuse a set of trusted plans in which two different plans cover one quarter.

    For a quarter the city's plan is one plan; an original and its correction given together would
    make the totals depend on which is read first, so the command refuses rather than choose.
    """
    distinct = _distinct(plans)
    for i, one in enumerate(distinct):
        for other in distinct[i + 1 :]:
            if one.first <= other.last and other.first <= one.last:
                raise OverlappingPlans(
                    f"市局提供的规划“{one.name}”（编号 {one.plan_id or '内置'}）与“{other.name}”"
                    f"（编号 {other.plan_id or '内置'}）的规划期重叠：一个季度只能有一个市局下发的规划，"
                    "请只指定其中一个（如更正版，只用更正版）"
                )


def city_plan_for(quarter: Quarter, plans: Sequence[Plan]) -> Plan | None:
    """The one trusted plan covering `quarter` (the built-in plan or one of `plans`); None when none does."""
    covering = [p for p in _distinct(plans) if p.contains(quarter)]
    if len(covering) > 1:
        check_plans_disjoint(plans)
    return covering[0] if covering else None


def resolve_plan(body: Mapping[str, Any], plans: Sequence[Plan]) -> Plan | None:
    """The trusted plan a payload names, or PlanNotIssued; None for a return made under no plan.

    A return made under no plan is accepted only for a quarter no trusted plan covers; a return
    made under a plan other than the quarter's trusted plan is refused.
    """
    quarter = Quarter.parse(body["quarter"])
    city_plan = city_plan_for(quarter, plans)
    wanted = body["plan_hash"]
    if wanted is None:
        if body["plan_id"] is not None or body["plan"] is not None:
            shown = body["plan"] if isinstance(body["plan"], str) else "（未写明）"
            raise PlanNotIssued(
                f"{PLAN_MISMATCH}：季报写明规划“{shown}”，但没有写明其内容哈希"
                "（该规划不是市局签名下发的规划包，请导入市局下发的规划后重新导出）"
            )
        named = None
    else:
        plan_id = body["plan_id"]
        if not isinstance(wanted, str) or not (plan_id is None or isinstance(plan_id, str)):
            raise ValueError("plan_hash")
        named = next((p for p in _distinct(plans) if p.content_hash == wanted), None)
        if named is None:  # also a plan from an old unsigned plan row: a hash of its own, no package id
            name = body["plan"] if isinstance(body["plan"], str) else "（未写明）"
            raise PlanNotIssued(
                f"{PLAN_MISMATCH}：季报所依据的规划“{name}”（编号 {plan_id or '未写明'}）不是市局下发并受信任的规划"
                "（核验、汇总时请用 --plan 指定市局下发的规划文件，或在市局数据库中导入该规划）"
            )
        if named.plan_id != body["plan_id"]:
            raise ValueError("plan_id")
    if city_plan is not None and (named is None or named.content_hash != city_plan.content_hash):
        if named is None:
            raise PlanNotIssued(
                f"{PLAN_MISMATCH}：{quarter.label}属于市局下发的规划“{city_plan.name}”（编号 {city_plan.plan_id}），"
                "季报却未按该规划填报（请导入该规划后重新导出）"
            )
        if named.contains(quarter):
            raise PlanNotIssued(
                f"{PLAN_MISMATCH}：季报依据规划“{named.name}”（编号 {named.plan_id}），"
                f"{quarter.label}市局下发的规划为“{city_plan.name}”（编号 {city_plan.plan_id}）"
            )
    return named


def _plan_problem(payload: Payload, plan: Plan | None) -> str:
    """Where the return's plan, targets or 表号 differ from the trusted plan's; empty when they agree."""
    body = payload.body
    in_plan = plan is not None and plan.contains(payload.quarter)
    if plan is not None and not in_plan:
        return f"{payload.quarter.label}不在规划“{plan.name}”的规划期内"
    if in_plan and plan is not None and body["plan"] != plan.name:
        return f"规划名称为“{body['plan']}”，市局下发的规划为“{plan.name}”"
    if not in_plan and body["plan"] is not None:
        return f"季报写明规划“{body['plan']}”，但没有写明其内容哈希"
    catalogue = payload.catalogue
    for line in body["lines"]:
        flow = catalogue.case_flow(line["code"])
        if flow is not None and line["code"] != flow.due:
            want_name = CARRIED_LINE if line["code"] == flow.carried else RECEIVED_LINE
            unit = catalogue.by_code[flow.due].unit
            if (line["name"], line["unit"], line["is_sub"], line["target"]) != (want_name, unit, True, None):
                return f"指标“{line['name']}”的名称、单位或目标与本软件的写法不同"
            continue
        indicator = catalogue.by_code[line["code"]]
        expected = (
            plan.targets_for(payload.town).counts.get(line["code"])
            if in_plan and plan and indicator.has_plan_target
            else None
        )
        if line["target"] != expected:
            shown = "无" if line["target"] is None else f"{line['target']:,}"
            want = "无" if expected is None else f"{expected:,}"
            return f"{indicator.name}目标为 {shown}，市局下发的规划为 {want}"
        if (line["name"], line["unit"], line["is_sub"]) != (
            indicator.name,
            indicator.unit,
            indicator.parent is not None,
        ):
            return f"指标“{line['name']}”的名称或单位与市局下发的规划不同"
    for rate in body["rates"]:
        listed = catalogue.rate_by_code[rate["code"]]
        no_plan_target = listed.default_target if body["format"] == FORMAT_4 else None  # issue 26: no plan, no target
        want_rate = rate_target(plan if in_plan else None, payload.town, rate["code"]) if in_plan else no_plan_target
        if _fraction(rate["target"]) != want_rate or rate["name"] != listed.name:
            return f"{listed.name}的目标与市局下发的规划不同"
    form_number = form_number_of(plan if in_plan else None, body[RENDERER_KEY])
    if body["header"]["form_number"] != form_number:
        return f"表号为“{body['header']['form_number']}”，市局下发的规划为“{form_number or '（未给出表号）'}”"
    if body[RENDERER_KEY] == RENDERER_3:
        authority = plan.approval_authority if in_plan and plan is not None else ""
        if body["header"][AUTHORITY_KEY] != authority:
            return f"批准机关为“{body['header'][AUTHORITY_KEY]}”，市局下发的规划为“{authority or '（未给出批准机关）'}”"
        definitions = plan.definitions if in_plan and plan is not None else ()
        signed = [(d["code"], d["name"], d["text"]) for d in body[DEFINITIONS_KEY]]
        if signed != [(d.code, d.name, d.text) for d in definitions]:
            return "指标解释与市局下发的规划不同"
    return ""


def _base_problem(payload: Payload, plan: Plan | None) -> str:
    """Where a 基期数 the plan fixes for this town differs from the one the return measured its pace from."""
    if plan is None or not plan.contains(payload.quarter):
        return ""
    signed = payload.body.get(BASES_KEY)
    for code, want in plan.targets_for(payload.town).bases.items():
        got = None if signed is None else signed.get(code)
        if got != want:
            shown = "无" if got is None else f"{got:,}"
            return f"{payload.catalogue.display_name(code)}的基期数为 {shown}，市局下发的规划为 {want:,}"
    return ""


def _derived_problem(payload: Payload, plan: Plan | None) -> str:
    """Recompute every derived column from the payload's own figures and the trusted plan, as the
    exporter computes them (core.progress); the first column that differs, named, or empty."""
    body, catalogue, quarter, town = payload.body, payload.catalogue, payload.quarter, payload.town
    active = plan if plan is not None and plan.contains(quarter) else None
    figures = payload.figures
    lines = {line["code"]: line for line in body["lines"]}
    name = catalogue.display_name
    rounding = body.get(ROUNDING_KEY, ROUND_HALF_UP)

    def column(code: str, title: str, got: object, want: object) -> str:
        def shown(value: object) -> str:
            if value is None:
                return "无"
            if isinstance(value, Fraction):
                return percent(value)
            return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

        return f"{name(code)}的“{title}”为 {shown(got)}，按所填数据和规划应为 {shown(want)}"

    for indicator in catalogue.indicators:  # the sub-count of a pair is at most its count
        if indicator.parent is not None and figures[indicator.code] > figures[indicator.parent]:
            return f"{name(indicator.code)} {figures[indicator.code]:,} 大于{name(indicator.parent)} {figures[indicator.parent]:,}"
    plan_started_this_year = active is not None and active.first.year == quarter.year and active.first.q == 1
    signed: dict[str, tuple[int | None, int | None]] = {}
    carries_over = body["format"] != FORMAT_4
    flows = {flow.due: flow for flow in catalogue.case_flows} if carries_over else {}
    for flow in flows.values():  # 应结 = 上期结转 + 本期受理, this quarter and for the year
        carried, received, due = lines[flow.carried], lines[flow.received], lines[flow.due]
        if figures[flow.due] != figures[flow.carried] + figures[flow.received]:
            return column(flow.due, "本季度", figures[flow.due], figures[flow.carried] + figures[flow.received])
        for part in (carried, received):
            if part["cumulative"] is not None or part["completion"] is not None or part["status"] is not None:
                return column(part["code"], "规划累计", part["cumulative"], None)
        if received["ytd"] is None or received["ytd"] < received["quarter"]:
            return column(flow.received, "本年累计", received["ytd"], f"不少于 {received['quarter']:,}")
        if quarter.q == 1 and (carried["ytd"], received["ytd"]) != (carried["quarter"], received["quarter"]):
            return column(flow.carried, "本年累计", carried["ytd"], carried["quarter"])
        if carried["ytd"] is None or due["ytd"] != carried["ytd"] + received["ytd"]:
            return column(flow.due, "本年累计", due["ytd"], "年初结转 + 全年受理")
    for indicator in catalogue.indicators:
        code, line = indicator.code, lines[indicator.code]
        if code in flows:  # checked above; no plan target, so no 规划累计
            if line["cumulative"] is not None:
                return column(code, "规划累计", line["cumulative"], None)
            signed[code] = (line["ytd"], None)
            continue
        if indicator.kind is Kind.STOCK:
            if line["ytd"] is not None or line["cumulative"] is not None:
                return column(code, "累计", line["ytd"] if line["ytd"] is not None else line["cumulative"], None)
            continue
        this_quarter, ytd, cumulative = line["quarter"], line["ytd"], line["cumulative"]
        if ytd is None or ytd < this_quarter or (quarter.q == 1 and ytd != this_quarter):
            return column(code, "本年累计", ytd, this_quarter if quarter.q == 1 else f"不少于 {this_quarter:,}")
        has_cumulative = active is not None and indicator.has_plan_target
        if (cumulative is not None) != has_cumulative:
            return column(code, "规划累计", cumulative, "有数" if has_cumulative else None)
        if cumulative is not None and active is not None:
            # a plan that began mid-year counts fewer quarters than the year does
            at_least = ytd if active.first <= Quarter(quarter.year, 1) else this_quarter
            exact = ytd if plan_started_this_year else this_quarter if quarter == active.first else None
            if cumulative < at_least or (exact is not None and cumulative != exact):
                return column(code, "规划累计", cumulative, exact if exact is not None else f"不少于 {at_least:,}")
        signed[code] = (ytd, cumulative)
    for rate in body["rates"]:
        pair = catalogue.rate_by_code[rate["code"]]
        numerator, denominator = rate["numerator"], rate["denominator"]
        in_quarter = (figures[pair.numerator], figures[pair.denominator])
        if numerator is None or denominator is None or numerator > denominator:
            return column(rate["code"], "本年累计", f"{numerator}/{denominator}", "分子不大于分母")
        if pair.denominator in flows:  # the year's 应结 is the 应结 line's 本年累计
            year_due = lines[pair.denominator]["ytd"]
            if denominator != year_due or numerator < in_quarter[0] or (quarter.q == 1 and numerator != in_quarter[0]):
                return column(rate["code"], "本年累计", f"{numerator}/{denominator}", f"分母为 {year_due:,}")
            signed[rate["code"]] = (numerator, denominator)
            continue
        if (
            numerator < in_quarter[0]
            or denominator < in_quarter[1]
            or (quarter.q == 1 and (numerator, denominator) != in_quarter)
        ):
            return column(rate["code"], "本年累计", f"{numerator}/{denominator}", f"{in_quarter[0]}/{in_quarter[1]}")
        signed[rate["code"]] = (numerator, denominator)
    progress = compute_progress(
        active,
        town,
        quarter,
        {quarter: figures},
        body.get(BASES_KEY) or {},
        signed=signed,
        catalogue=catalogue,
        as_before_issue_26=not carries_over,
    )
    if _fraction(body["time_progress"]) != progress.time_progress:
        return f"“时间进度”为 {percent(_fraction(body['time_progress']))}，按规划应为 {percent(progress.time_progress)}"
    # Returns signed before issue 15 lacked the rounding key and the 基期数 and were judged leniently; they
    # are earlier releases' returns now (other_release), so every return must name both.
    legacy = False
    if not legacy and ROUNDING_KEY not in body:
        return "季报没有写明百分比的取舍规则"
    if not legacy and BASES_KEY not in body:
        return "季报没有写明基期数"
    for indicator in catalogue.indicators:
        code, line, item = indicator.code, lines[indicator.code], progress.indicators[indicator.code]
        if legacy and BASES_KEY not in body and indicator.kind is Kind.STOCK:
            continue
        if _fraction(line["completion"]) != item.completion:
            return column(code, "完成率", _fraction(line["completion"]), item.completion)
        if line["status"] != item.status:
            return column(code, "状态", line["status"], item.status)
    for rate in body["rates"]:
        code = rate["code"]
        quarter_result, ytd_result = progress.rates_quarter[code], progress.rates_ytd[code]
        if _fraction(rate["quarter_rate"]) != quarter_result.rate or rate["quarter_text"] != rate_text(
            quarter_result, rounding
        ):
            return column(code, "本季度", rate["quarter_text"], rate_text(quarter_result, rounding))
        if _fraction(rate["ytd_rate"]) != ytd_result.rate or rate["ytd_text"] != rate_text(ytd_result, rounding):
            return column(code, "本年累计", rate["ytd_text"], rate_text(ytd_result, rounding))
        if rate["met"] != ytd_result.met:
            return column(code, "是否达标", rate["met"], ytd_result.met)
    data = payload.return_data()
    if not legacy:  # returns signed before this rule printed their own lines; their figures are checked above
        expected = pace_attention(
            data.figures, data.rates, data.time_progress, catalogue, data.rounding, data.renderer
        )
        if list(body["attention"][: len(expected)]) != expected:
            missing = next((a for a in expected if a not in body["attention"]), None)
            return f"“需关注”中{'缺少“' + missing + '”' if missing else '的内容或顺序不对'}"
    notes = {note["code"]: note["text"] for note in body["notes"]}
    needing = [line.code for line in data.figures if line.status in (SEVERELY_BEHIND, UNFINISHED)]
    needing += [r.code for r in data.rates if r.met is False]
    for code in needing:  # the length rule may be younger than a legacy return: there, any 说明 will do
        text = notes.get(code)
        if not (explanation_ok(text) if not legacy else bool(text and text.strip())):
            return f"{name(code)}须填写说明，季报中没有"
    return ""


def _check_body(body: dict[str, Any], payload: Payload) -> None:
    """Every field present with its type, and the parts that repeat each other agree."""
    keys = set(body_of_keys())
    if not keys <= set(body) <= keys | set(OPTIONAL_KEYS):
        raise ValueError("keys")
    catalogue = payload.catalogue
    if ROUNDING_KEY in body and body[ROUNDING_KEY] != (ROUND_DOWN if body["format"] == FORMAT_4 else ROUND_TOWARD_ZERO):
        raise ValueError("rounding")
    third = body[RENDERER_KEY] == RENDERER_3
    definitions = body.get(DEFINITIONS_KEY, [])
    if (DEFINITIONS_KEY in body) != third or not isinstance(definitions, list):
        raise ValueError("definitions")
    for item in definitions:
        if not isinstance(item, dict) or set(item) != {"code", "name", "text"}:
            raise ValueError("definitions")
        if not all(isinstance(v, str) for v in item.values()):
            raise ValueError("definitions")
    gaps = body.get(GAPS_KEY, [])
    if (GAPS_KEY in body) != (body["format"] != FORMAT_4) or not isinstance(gaps, list):
        raise ValueError("gaps")
    if not all(isinstance(g, str) and len(g) <= 12 for g in gaps):
        raise ValueError("gaps")
    bases = body.get(BASES_KEY, {})
    if not isinstance(bases, dict) or not all(
        k in catalogue.stock_codes and _int_or_none(v) and v is not None for k, v in bases.items()
    ):
        raise ValueError("bases")
    header = body["header"]
    if not isinstance(header, dict) or not isinstance(header.get("form_number"), str):
        raise ValueError("header")
    expected_header = {
        "title": FORM_TITLE,
        "form_number": header["form_number"],
        "authority": FORM_AUTHORITY,
        "unit_name": header.get("unit_name"),
        "quarter_label": payload.quarter.label,
        "report_date": header.get("report_date"),
    }
    if (AUTHORITY_KEY in header) != third or not isinstance(header.get(AUTHORITY_KEY, ""), str):
        raise ValueError("approval_authority")
    if third:
        expected_header[AUTHORITY_KEY] = header[AUTHORITY_KEY]
    approval = {key: header[key] for key in APPROVAL_KEYS if key in header}
    if approval and (set(approval) != set(APPROVAL_KEYS) or not all(isinstance(v, str) for v in approval.values())):
        raise ValueError("approval")
    if header != {**expected_header, **approval} or not isinstance(header["unit_name"], str):
        raise ValueError("header")
    signoff = body["signoff"]
    if set(signoff) != set(SIGNOFF_KEYS) or not all(isinstance(v, str) for v in signoff.values()):
        raise ValueError("signoff")
    if not isinstance(body["attention"], list) or not all(isinstance(a, str) for a in body["attention"]):
        raise ValueError("attention")
    if body["plan_hash"] is not None and not isinstance(body["plan_hash"], str):
        raise ValueError("plan_hash")
    lines, rates, notes = body["lines"], body["rates"], body["notes"]
    if [line.get("code") for line in lines] != list(line_codes(catalogue, body["format"] != FORMAT_4)):
        raise ValueError("lines")
    if (COMPARISONS_KEY in body) != (body["format"] == FORMAT):
        raise ValueError("comparisons")
    if COMPARISONS_KEY in body:
        compared = body[COMPARISONS_KEY]
        codes = [line["code"] for line in lines]
        if not isinstance(compared, dict) or set(compared) != {PREVIOUS_QUARTER, SAME_QUARTER_LAST_YEAR}:
            raise ValueError("comparisons")
        for values in compared.values():
            if not isinstance(values, dict) or set(values) != set(codes) or not all(map(_int_or_none, values.values())):
                raise ValueError("comparisons")
    if [rate.get("code") for rate in rates] != list(catalogue.rate_codes):
        raise ValueError("rate codes")
    for line in lines:
        if not all(_int_or_none(line[k]) for k in ("ytd", "cumulative", "target")) or type(line["quarter"]) is not int:
            raise ValueError("line values")
        if not all(isinstance(line[k], str) for k in ("name", "unit")) or type(line["is_sub"]) is not bool:
            raise ValueError("line text")
        if line["status"] is not None and not isinstance(line["status"], str):
            raise ValueError("status")
    for rate in rates:
        if not all(isinstance(rate[k], str) for k in ("code", "name", "quarter_text", "ytd_text")):
            raise ValueError("rate text")
        if not _int_or_none(rate["numerator"]) or not _int_or_none(rate["denominator"]):
            raise ValueError("rate values")
        if rate["met"] is not None and type(rate["met"]) is not bool:
            raise ValueError("met")
    for note in notes:
        if set(note) != {"code", "name", "finding", "text"} or not all(isinstance(v, str) for v in note.values()):
            raise ValueError("note")
    data = payload.return_data()
    if data.values != payload.figures or data.explanations != payload.explanations:
        raise ValueError("figures repeat")
    if data.report_date != header["report_date"] or (data.profile.get("unit_name") or data.town) != header["unit_name"]:
        raise ValueError("header repeat")
    for line, raw in zip(data.figures, lines, strict=True):
        if printed_columns(data, line) != raw["printed"]:
            raise ValueError("printed")
    for rate, raw in zip(data.rates, rates, strict=True):
        if printed_rate(data, rate) != raw["printed"]:
            raise ValueError("printed rate")
    rebuilt = body_of(data)
    if not approval:  # written before the payload carried 批准文号 and 有效期至: both blank
        rebuilt["header"] = {k: v for k, v in rebuilt["header"].items() if k not in APPROVAL_KEYS}
    if canonical(rebuilt) != canonical(body):
        raise ValueError("not canonical")


def body_of_keys() -> tuple[str, ...]:
    return (
        "format",
        RENDERER_KEY,
        "town",
        "quarter",
        "plan",
        "plan_id",
        "plan_hash",
        "revision",
        "generated_at",
        "figures",
        "explanations",
        "header",
        "time_progress",
        "lines",
        "rates",
        "notes",
        "attention",
        "signoff",
    )


def parse_payload(raw: bytes, plans: Sequence[Plan] = ()) -> Payload:
    """The payload, read under the plan it names among the built-in plan and `plans` (the city's).

    PlanNotIssued when that plan is not one of them or the return's targets are not the plan's.
    """
    try:
        body: Any = json.loads(raw.decode("utf-8"))
        if isinstance(body, dict) and other_release(body):
            raise OtherRelease(other_release(body))
        if not isinstance(body, dict) or body.get("format") not in RENDERER_OF_FORMAT:
            raise ValueError("format")
        if canonical(body) != raw:
            # one spelling only: no duplicated keys (which JSON readers resolve differently), no padding
            raise ValueError("not canonical")
        hidden = payload_text_problem(body)
        if hidden:  # a bidirectional override in the phone or a 说明 shows other digits than were signed
            raise HiddenText(hidden)
        plan = resolve_plan(body, plans)
        catalogue = plan.catalogue if plan is not None else SHIPPED
        figures = body["figures"]
        explanations = body["explanations"]
        if set(figures) != set(line_codes(catalogue, body["format"] != FORMAT_4)) or not all(
            type(v) is int and v >= 0 for v in figures.values()
        ):
            raise ValueError("figures")
        if not all(catalogue.is_known_code(k) and isinstance(v, str) for k, v in explanations.items()):
            raise ValueError("explanations")
        revision = body["revision"]
        if type(revision) is not int or revision < 1:
            raise ValueError("revision")
        plan_name = body.get("plan")
        town = check_town(str(body["town"]))  # a name from the payload never reaches a path unchecked
        if town != body["town"]:
            raise ValueError("town")
        generated_at = body["generated_at"]
        if not isinstance(generated_at, str):
            raise ValueError("generated_at")
        dt.datetime.fromisoformat(generated_at)
        payload = Payload(
            town,
            Quarter.parse(body["quarter"]),
            plan_name if isinstance(plan_name, str) else None,
            revision,
            generated_at,
            figures,
            explanations,
            body.get("plan_hash"),
            body,
            trusted_plan=plan,
            catalogue=catalogue,
        )
        _check_body(body, payload)
        problem = _plan_problem(payload, plan) or _base_problem(payload, plan)
        if problem:
            raise PlanNotIssued(f"{PLAN_MISMATCH}：{problem}")
        problem = _derived_problem(payload, plan)
        if problem:
            raise DerivedMismatch(f"{DERIVED_MISMATCH}：{problem}")
        return payload
    except PayloadError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, ZeroDivisionError, DomainError) as exc:
        raise PayloadError("签名数据格式不对，无法读取") from exc
