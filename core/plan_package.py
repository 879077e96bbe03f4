"""A plan package: the indicator list and the split of one plan, as the city issues it (no Qt, no SQL).

The package's canonical content is UTF-8 JSON with sorted keys and fixed separators; its
`content_hash` (SHA-256 hex of those bytes) is what a signature covers and what a return will name.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

from core.errors import PlanError, QuarterError
from core.indicators import (
    BUILT_IN_CASE_FLOWS,
    CODE_PATTERN,
    SHIPPED,
    CaseFlow,
    Catalogue,
    Indicator,
    Kind,
    Rate,
    case_flow_for,
)
from core.numbers import percent_text
from core.plan_definitions import builtin_definitions
from core.plans import (
    CITY,
    DEFAULT_STOCK_JUMP_BOUND,
    SAMPLE_MARK,
    SHIPPED_PLAN_NAME,
    TOWNS,
    Definition,
    Plan,
    TownTargets,
    load_shipped_plan,
)
from core.quarters import Quarter
from core.text import character_kind, hidden_character, hidden_character_problem

CONTENT_VERSION = 1
DEFAULT_ISSUER = "东莞市人力资源和社会保障局"
MAX_INDICATORS = 60
MAX_DEFINITION = 300  # characters of one 指标解释: the page of them prints on one A4 page
MAX_AUTHORITY = 40  # characters of 批准机关: one line of the return's header
MAX_STOCK_JUMP_BOUND = Fraction(10)  # 1000%: a bound beyond it would never warn
BASE_SUFFIX = ".base"  # a stock's base value, beside its target, in the workbook's column keys


class PackageKind(Enum):
    FLOW = "flow"  # a count summed over the plan
    STOCK = "stock"  # a level read at quarter end, with a base value at the plan's start
    COUNT_PAIR = "count_pair"  # a count and its 其中 sub-count, whose rate has a minimum target


KIND_NAMES = {PackageKind.FLOW: "流量", PackageKind.STOCK: "季末数", PackageKind.COUNT_PAIR: "成对计数"}


@dataclass(frozen=True)
class PackageIndicator:
    """One line of the plan's indicator list; a count pair also names its sub-count and its rate."""

    code: str
    name: str
    unit: str
    group: str
    kind: PackageKind
    short_name: str = ""
    sub_code: str = ""
    sub_name: str = ""
    rate_code: str = ""
    rate_name: str = ""
    rate_target: Fraction | None = None  # the default minimum rate of a count pair
    sub_short_name: str = ""
    rate_short_name: str = ""
    # A count pair whose count is 应结 (carried-over cases included): entered as 上期结转 + 本期受理 (issue 26).
    # Written into the content only when true, so packages without it keep their content hash.
    carry_over: bool = False
    # 指标解释 (issue 26): how the plan defines this indicator; written into the content only when given.
    definition: str = ""

    @property
    def definition_title(self) -> str:
        """The indicator as its 指标解释 names it: a count pair with its rate."""
        if self.kind is PackageKind.COUNT_PAIR:
            return f"{self.name}及{self.rate_name}"
        return self.name

    @property
    def case_flow(self) -> CaseFlow | None:
        """The carry-over pair of this count: declared, or built in for the 2021–2025 case codes."""
        if self.kind is not PackageKind.COUNT_PAIR:
            return None
        built_in = next((f for f in BUILT_IN_CASE_FLOWS if f.due == self.code), None)
        if built_in is not None:
            return built_in
        return case_flow_for(self.code, self.name, self.sub_code) if self.carry_over else None

    @property
    def codes(self) -> tuple[str, ...]:
        if self.kind is PackageKind.COUNT_PAIR:
            return (self.code, self.sub_code, self.rate_code)
        return (self.code,)


@dataclass(frozen=True)
class TownSplit:
    """A town's (or 全市's) targets: counts for flows and stocks, minimum rates for count pairs, stock bases."""

    town: str
    targets: dict[str, int]
    rates: dict[str, Fraction]
    bases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StatedDifference:
    """全市 total minus the sum of the towns, stated by the city (e.g. a target kept at city level)."""

    code: str
    amount: int
    note: str


@dataclass(frozen=True)
class PlanPackage:
    name: str
    first: Quarter
    last: Quarter
    indicators: tuple[PackageIndicator, ...]
    towns: tuple[TownSplit, ...]
    city: TownSplit
    issuer: str = DEFAULT_ISSUER
    form_number: str = ""  # 表号
    approval_number: str = ""  # 批准文号
    valid_until: str = ""  # 有效期至
    sample: bool = False
    differences: tuple[StatedDifference, ...] = ()
    approval_authority: str = ""  # 批准机关 (issue 26); in the content only when given
    # how far a stock may move quarter on quarter before it needs a 说明 (issue 26); in the content only when given
    stock_jump_bound: Fraction | None = None

    # --- canonical content -----------------------------------------------------------------

    def content(self) -> dict[str, Any]:
        content = {
            "version": CONTENT_VERSION,
            "name": self.name,
            "first": self.first.code,
            "last": self.last.code,
            "issuer": self.issuer,
            "form_number": self.form_number,
            "approval_number": self.approval_number,
            "valid_until": self.valid_until,
            "sample": self.sample,
            "indicators": [_indicator_content(i, n) for n, i in enumerate(self.indicators, start=1)],
            "towns": {s.town: _split_content(s) for s in self.towns},
            "city": _split_content(self.city),
            "differences": {d.code: {"amount": d.amount, "note": d.note} for d in self.differences},
        }
        if self.approval_authority:  # absent when blank: every package made before it keeps its hash
            content["approval_authority"] = self.approval_authority
        if self.stock_jump_bound is not None:  # likewise: absent, the default bound (±30%)
            content["stock_jump_bound"] = percent_text(self.stock_jump_bound)
        return content

    @property
    def stock_jump_limit(self) -> Fraction:
        """The bound a quarter under this plan is checked against: the package's, or the default ±30%."""
        return DEFAULT_STOCK_JUMP_BOUND if self.stock_jump_bound is None else self.stock_jump_bound

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.content())

    @functools.cached_property
    def content_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @property
    def id(self) -> str:
        """Short and readable: the period and the start of the content hash."""
        return f"{self.first.year}-{self.last.year}-{self.content_hash[:8]}"

    @property
    def period_label(self) -> str:
        return f"{self.first.label}至{self.last.label}"

    # --- what the rest of the app uses today -----------------------------------------------

    def catalogue(self) -> Catalogue:
        indicators: list[Indicator] = []
        rates: list[Rate] = []
        for item in self.indicators:
            short = item.short_name or item.name
            if item.kind is PackageKind.COUNT_PAIR:
                indicators.append(Indicator(item.code, item.name, short, item.unit, Kind.FLOW, item.group, False))
                sub_short = item.sub_short_name or item.sub_name.removeprefix("其中：").removeprefix("其中")
                indicators.append(
                    Indicator(
                        item.sub_code,
                        item.sub_name if item.sub_name.startswith("其中") else f"其中：{item.sub_name}",
                        sub_short,
                        item.unit,
                        Kind.FLOW,
                        item.group,
                        False,
                        parent=item.code,
                    )
                )
                target = item.rate_target if item.rate_target is not None else Fraction(1)
                rates.append(
                    Rate(
                        item.rate_code,
                        item.rate_name,
                        item.rate_short_name or item.rate_name,
                        item.sub_code,
                        item.code,
                        target,
                    )
                )
            else:
                kind = Kind.STOCK if item.kind is PackageKind.STOCK else Kind.FLOW
                indicators.append(Indicator(item.code, item.name, short, item.unit, kind, item.group, True))
        flows = tuple(flow for item in self.indicators if (flow := item.case_flow) is not None)
        return Catalogue(tuple(indicators), tuple(rates), case_flows=flows)

    def to_plan(self) -> Plan:
        def targets(split: TownSplit) -> TownTargets:
            return TownTargets(split.town, dict(split.targets), dict(split.rates), dict(split.bases))

        return Plan(
            self.name,
            self.first,
            self.last,
            tuple(targets(s) for s in self.towns),
            targets(self.city),
            approval_number=self.approval_number,
            valid_until=self.valid_until,
            catalogue=self.catalogue(),
            plan_id=self.id,
            content_hash=self.content_hash,
            form_number=self.form_number,
            sample=self.sample,
            approval_authority=self.approval_authority,
            definitions=self.definitions(),
            stock_jump_bound=self.stock_jump_limit,
        )

    def definitions(self) -> tuple[Definition, ...]:
        """The 指标解释 page: each indicator's own definition, or the built-in plan's quoted from its document."""
        builtin = builtin_definitions(self.content_hash)
        return tuple(
            Definition(item.code, item.definition_title, text)
            for item in self.indicators
            if (text := item.definition or builtin.get(item.code, ""))
        )

    def describe(self) -> str:
        flows = [i for i in self.indicators if i.kind is not PackageKind.COUNT_PAIR]
        totals = "，".join(f"{i.name} {self.city.targets.get(i.code, 0):,}" for i in flows)
        return f"{self.name}（{self.period_label}）：{len(self.indicators)} 项指标；全市目标：{totals}"


def canonical_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


# --- reading untrusted JSON ---------------------------------------------------------------------

MAX_JSON_DIGITS = 15  # every count of a plan fits, and so does every integer SQLite can store


class JsonRefused(ValueError):
    """JSON that two readers could read differently, or that no plan needs; the message says why, in Chinese."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise JsonRefused(f"“{_shown(key)}”出现了两次")
        seen.add(key)
    return dict(pairs)


def _no_float(text: str) -> object:
    raise JsonRefused(f"有带小数点或指数的数 {text[:20]}（本系统只写整数）")


def _no_constant(text: str) -> object:
    raise JsonRefused(f"有 {text}（不是一个数）")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise JsonRefused(f"有一个 {len(text.lstrip('-'))} 位的整数（超过 {MAX_JSON_DIGITS} 位）")
    return int(text)


def _shown(text: str) -> str:
    """A key or value as it may be printed: hidden characters as their U+ code, at most 40 characters."""
    shown = "".join(f"U+{ord(ch):04X}" if character_kind(ch) else ch for ch in text[:40])
    return shown + ("…" if len(text) > 40 else "")


def strict_json(text: str) -> object:
    """JSON as exactly one reading: no key twice in an object, no NaN or Infinity, no fractions or
    exponents, no integer longer than MAX_JSON_DIGITS, and no text (keys included) holding a lone
    surrogate or another hidden character. JsonRefused says what was found; ValueError and
    RecursionError mean it is not JSON at all."""
    value = json.loads(
        text,
        object_pairs_hook=_unique_keys,
        parse_float=_no_float,
        parse_constant=_no_constant,
        parse_int=_bounded_int,
    )
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = hidden_character(item)
            if found is not None:
                raise JsonRefused(f"有 {found[1]}，{found[2]}")
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def _indicator_content(item: PackageIndicator, order: int) -> dict[str, Any]:
    content: dict[str, Any] = {
        "order": order,
        "code": item.code,
        "name": item.name,
        "short_name": item.short_name,
        "unit": item.unit,
        "group": item.group,
        "kind": item.kind.value,
    }
    if item.kind is PackageKind.COUNT_PAIR:
        content.update(
            sub_code=item.sub_code,
            sub_name=item.sub_name,
            rate_code=item.rate_code,
            rate_name=item.rate_name,
            rate_target=None if item.rate_target is None else percent_text(item.rate_target),
            sub_short_name=item.sub_short_name,
            rate_short_name=item.rate_short_name,
        )
        if item.carry_over:
            content["carry_over"] = True
    if item.definition:
        content["definition"] = item.definition
    return content


def _split_content(split: TownSplit) -> dict[str, Any]:
    return {
        "targets": dict(split.targets),
        "rates": {code: percent_text(rate) for code, rate in split.rates.items()},
        "bases": dict(split.bases),
    }


# --- reading content back ---------------------------------------------------------------------


def package_from_content(content: object) -> PlanPackage:
    """The package a canonical content describes, checked; PlanError names what is wrong."""
    try:
        package = _parse(content)
    except QuarterError as exc:
        raise PlanError(f"规划内容的格式不对（{exc.message}）") from exc
    except KeyError as exc:
        raise PlanError(f"规划内容的格式不对（缺少“{_shown(str(exc.args[0] if exc.args else ''))}”）") from exc
    except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise PlanError("规划内容的格式不对（有一项的类型或写法不是本系统写出的）") from exc
    check_package(package)
    return package


def package_from_canonical(content: bytes) -> PlanPackage:
    """The package whose canonical bytes are exactly `content` (one spelling: any other writing of the
    same package, e.g. "version": 1.0 or true, a quarter written 2026年第1季度, is refused)."""
    try:
        parsed = strict_json(content.decode("utf-8"))
    except JsonRefused as exc:
        raise PlanError(f"规划内容中{exc}，不是本系统写出的规划") from exc
    except (ValueError, RecursionError) as exc:
        raise PlanError("规划内容不是有效的 JSON") from exc
    if canonical_json(parsed) != content:
        raise PlanError("规划内容不是规范格式（可能是别的软件写的）")
    package = package_from_content(parsed)
    if package.canonical_bytes() != content:
        raise PlanError("规划内容的写法与本系统写出的不同（如版本号、季度、比率或某项的类型），不是本系统写出的规划")
    return package


def _parse(content: object) -> PlanPackage:
    if not isinstance(content, dict):
        raise TypeError("content is not an object")
    version = content["version"]
    if type(version) is not int:
        raise PlanError("规划内容的版本号不是整数，不是本系统写出的规划")
    if version != CONTENT_VERSION:
        raise PlanError(f"规划内容的版本 {version} 不受支持，请升级软件")
    indicators = tuple(
        PackageIndicator(
            code=_text(raw["code"]),
            name=_text(raw["name"]),
            short_name=_text(raw.get("short_name", "")),
            unit=_text(raw["unit"]),
            group=_text(raw["group"]),
            kind=PackageKind(raw["kind"]),
            sub_code=_text(raw.get("sub_code", "")),
            sub_name=_text(raw.get("sub_name", "")),
            rate_code=_text(raw.get("rate_code", "")),
            rate_name=_text(raw.get("rate_name", "")),
            rate_target=None if raw.get("rate_target") is None else _rate(raw["rate_target"]),
            sub_short_name=_text(raw.get("sub_short_name", "")),
            rate_short_name=_text(raw.get("rate_short_name", "")),
            carry_over=_flag(raw.get("carry_over", False)),
            definition=_text(raw.get("definition", "")),
        )
        for raw in sorted(content["indicators"], key=lambda raw: _integer(raw["order"]))
    )
    towns = tuple(_split(town, raw) for town, raw in content["towns"].items())
    by_town = {s.town: s for s in towns}
    ordered = tuple(by_town[t] for t in TOWNS if t in by_town) + tuple(s for s in towns if s.town not in TOWNS)
    return PlanPackage(
        name=_text(content["name"]),
        first=Quarter.parse(content["first"]),
        last=Quarter.parse(content["last"]),
        indicators=indicators,
        towns=ordered,
        city=_split(CITY, content["city"]),
        issuer=_text(content["issuer"]),
        form_number=_text(content["form_number"]),
        approval_number=_text(content["approval_number"]),
        valid_until=_text(content["valid_until"]),
        approval_authority=_text(content.get("approval_authority", "")),
        stock_jump_bound=None if "stock_jump_bound" not in content else _rate(content["stock_jump_bound"]),
        sample=bool(content["sample"]),
        differences=tuple(
            StatedDifference(code, _integer(raw["amount"]), _text(raw["note"]))
            for code, raw in content["differences"].items()
        ),
    )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _flag(value: object) -> bool:
    if type(value) is not bool:
        raise TypeError(f"{value!r} is not true or false")
    return value


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    return value


RATE_TEXT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")


def _rate(value: object) -> Fraction:
    text = _text(value)
    if not RATE_TEXT.fullmatch(text):  # never 1e999999999, NaN or digits of another script
        raise ValueError("rate")
    return Fraction(Decimal(text)) / 100


def _split(town: str, raw: Mapping[str, Any]) -> TownSplit:
    return TownSplit(
        town,
        {code: _integer(v) for code, v in raw["targets"].items()},
        {code: _rate(v) for code, v in raw["rates"].items()},
        {code: _integer(v) for code, v in raw["bases"].items()},
    )


# --- checks -----------------------------------------------------------------------------------


Where = Callable[[str, str], str]  # (town, code) -> where the value was written, as a message prefix


def _nowhere(town: str, code: str) -> str:
    return ""


def package_problems(package: PlanPackage, where: Where = _nowhere) -> list[str]:
    """Every fault of the package, each as a Chinese sentence (empty when it is sound).

    `where` lets a reader of a workbook name the sheet, row and column of a town's value.
    """
    problems: list[str] = [
        where("", "") + problem for what, text in _texts(package) if (problem := hidden_character_problem(text, what))
    ]
    if not package.name.strip():
        problems.append("规划名称不能为空")
    if package.last < package.first:
        problems.append(f"规划期的结束季度 {package.last.label} 早于开始季度 {package.first.label}")
    if package.sample and SAMPLE_MARK not in package.name:
        problems.append(f"示例规划的名称必须含“{SAMPLE_MARK}”")
    if len(package.approval_authority) > MAX_AUTHORITY:
        problems.append(f"批准机关有 {len(package.approval_authority)} 个字，超过 {MAX_AUTHORITY} 个字")
    if package.stock_jump_bound is not None and not 0 < package.stock_jump_bound <= MAX_STOCK_JUMP_BOUND:
        problems.append(
            f"季末数跳变警戒线 {float(package.stock_jump_bound) * 100:g}% 不在 0 到 "
            f"{percent_text(MAX_STOCK_JUMP_BOUND)}% 之间（不含 0）"
        )
    if not package.indicators:
        problems.append("指标清单是空的")
    if len(package.indicators) > MAX_INDICATORS:
        problems.append(f"指标超过 {MAX_INDICATORS} 项")
    seen: set[str] = set()
    for item in package.indicators:
        for code in item.codes:
            if not CODE_PATTERN.match(code):
                problems.append(f"指标代码“{code}”不合规：应以小写字母开头，只含小写字母、数字和下划线，2 到 41 个字符")
            elif code in seen:
                problems.append(f"指标代码“{code}”重复")
            seen.add(code)
        if not item.name.strip():
            problems.append(f"指标“{item.code}”没有名称")
        if len(item.definition) > MAX_DEFINITION:
            problems.append(
                f"指标“{item.name}”的指标解释有 {len(item.definition)} 个字，超过 {MAX_DEFINITION} 个字（请精简，打印在一页内）"
            )
        if item.kind is PackageKind.COUNT_PAIR:
            if not item.sub_name.strip() or not item.rate_name.strip():
                problems.append(f"成对计数“{item.name}”须写明其中项名称和比率名称")
            if item.rate_target is not None and not 0 < item.rate_target <= 1:
                problems.append(f"“{item.rate_name}”的目标 {float(item.rate_target) * 100:g}% 不在 0 到 100% 之间")
        elif item.carry_over:
            problems.append(f"“{item.name}”不是成对计数，不能分为上期结转和本期受理")
    for item in package.indicators:  # the codes a case flow is typed under must be free
        flow = item.case_flow
        for code in (flow.carried, flow.received) if flow else ():
            if code in seen or not CODE_PATTERN.match(code):
                problems.append(f"“{item.name}”的上期结转、本期受理代码“{code}”与其他指标重复或不合规")
            seen.add(code)
    problems += [where("", "") + p for p in _town_problems(package)]
    if problems:
        return problems
    for split in (*package.towns, package.city):
        problems += _split_problems(package, split, where)
    problems += _sum_problems(package, where)
    return problems


def _texts(package: PlanPackage) -> list[tuple[str, str]]:
    """Every text a plan shows (names, units, groups, numbers of documents, notes), with what it is."""
    texts = [
        ("规划名称", package.name),
        ("发布单位", package.issuer),
        ("表号", package.form_number),
        ("批准文号", package.approval_number),
        ("批准机关", package.approval_authority),
        ("有效期至", package.valid_until),
    ]
    for item in package.indicators:
        label = f"指标“{item.code}”的"
        texts += [
            (label + "名称", item.name),
            (label + "简称", item.short_name),
            (label + "单位", item.unit),
            (label + "分组", item.group),
            (label + "其中项名称", item.sub_name),
            (label + "其中项简称", item.sub_short_name),
            (label + "比率名称", item.rate_name),
            (label + "比率简称", item.rate_short_name),
            (label + "指标解释", item.definition),
        ]
    texts += [(f"“{d.code}”的差额说明", d.note) for d in package.differences]
    return texts


def check_package(package: PlanPackage) -> None:
    problems = package_problems(package)
    if problems:
        raise PlanError("；\n".join(problems))


def _town_problems(package: PlanPackage) -> list[str]:
    names = [s.town for s in package.towns]
    problems = []
    missing = [t for t in TOWNS if t not in names]
    if missing:
        problems.append(f"缺少这些镇街：{'、'.join(missing)}")
    extra = [t for t in names if t not in TOWNS]
    if extra:
        problems.append(f"这些不是东莞的镇街：{'、'.join(extra)}")
    repeated = sorted({t for t in names if names.count(t) > 1})
    if repeated:
        problems.append(f"这些镇街重复出现：{'、'.join(repeated)}")
    return problems


def _split_problems(package: PlanPackage, split: TownSplit, where: Where) -> list[str]:
    problems = []
    town = split.town
    for item in package.indicators:
        if item.kind is PackageKind.COUNT_PAIR:
            rate = split.rates.get(item.rate_code)
            at = where(town, item.rate_code)
            if rate is None:
                problems.append(f"{at}{town}缺少“{item.rate_name}”的目标")
            elif not 0 < rate <= 1:
                problems.append(f"{at}{town}“{item.rate_name}”的目标 {float(rate) * 100:g}% 不在 0 到 100% 之间")
            continue
        value = split.targets.get(item.code)
        at = where(town, item.code)
        if value is None:
            problems.append(f"{at}{town}缺少“{item.name}”的目标")
        elif value < 0:
            problems.append(f"{at}{town}“{item.name}”的目标 {value:,} 是负数")
        base = split.bases.get(item.code)
        if base is not None and (item.kind is not PackageKind.STOCK or base < 0):
            problems.append(
                f"{where(town, item.code + BASE_SUFFIX)}{town}“{item.name}”的基期数 {base:,} 无效"
                "（只有季末数指标有基期数，且不能为负）"
            )
    known = {code for item in package.indicators for code in item.codes}
    unknown = sorted((set(split.targets) | set(split.rates) | set(split.bases)) - known)
    if unknown:
        problems.append(f"{where(town, '')}{town}的目标中有指标清单里没有的代码：{'、'.join(unknown)}")
    return problems


def _sum_problems(package: PlanPackage, where: Where) -> list[str]:
    problems = []
    stated = {d.code: d for d in package.differences}
    for code in stated:
        if not any(i.code == code and i.kind is not PackageKind.COUNT_PAIR for i in package.indicators):
            problems.append(f"{where('', '')}差额说明中的“{code}”不是有目标的指标")
    for item in package.indicators:
        if item.kind is PackageKind.COUNT_PAIR:
            continue
        if any(item.code not in s.targets for s in (*package.towns, package.city)):
            continue  # each blank is reported on its own
        total = sum(s.targets[item.code] for s in package.towns)
        city = package.city.targets[item.code]
        difference = stated.get(item.code)
        expected = city - (difference.amount if difference else 0)
        if total != expected:
            problems.append(where(CITY, item.code))
            if difference:
                problems[-1] += (
                    f"“{item.name}”33 个镇街合计 {total:,}，全市 {city:,}，相差 {city - total:+,}，"
                    f"与说明的差额 {difference.amount:+,} 不符"
                )
            else:
                problems[-1] += (
                    f"“{item.name}”33 个镇街合计 {total:,}，与全市合计 {city:,} 不符（相差 {total - city:+,}），"
                    "如确有差额请在差额说明中写明"
                )
        if item.kind is PackageKind.STOCK:
            with_base = [s.town for s in package.towns if item.code in s.bases]
            if with_base and len(with_base) != len(package.towns):
                problems.append(
                    f"{where('', '')}“{item.name}”的基期数只给了部分镇街；要么 33 个镇街都给，要么都不给（由镇街录入）"
                )
    return problems


def overlapping(packages: Iterable[PlanPackage]) -> list[tuple[PlanPackage, PlanPackage]]:
    """Pairs of different packages whose periods share a quarter."""
    ordered = sorted(packages, key=lambda p: (p.first, p.last))
    pairs = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if a.content_hash != b.content_hash and b.first <= a.last and a.first <= b.last:
                pairs.append((a, b))
    return pairs


def check_no_overlap(packages: Sequence[PlanPackage]) -> None:
    pairs = overlapping(packages)
    if pairs:
        raise PlanError(
            "；".join(f"“{a.name}”（{a.period_label}）与“{b.name}”（{b.period_label}）的规划期重叠" for a, b in pairs)
        )


# --- the shipped plan and the sample ----------------------------------------------------------


def package_indicators_of(catalogue: Catalogue) -> tuple[PackageIndicator, ...]:
    """A catalogue's list as package lines: a figure with a 其中 child and a rate becomes a count pair."""
    children = {i.parent: i for i in catalogue.indicators if i.parent}
    rates = {r.denominator: r for r in catalogue.rates}
    lines = []
    for item in catalogue.indicators:
        if item.parent:
            continue
        if item.code in children and item.code in rates:
            child, rate = children[item.code], rates[item.code]
            lines.append(
                PackageIndicator(
                    item.code,
                    item.name,
                    item.unit,
                    item.group,
                    PackageKind.COUNT_PAIR,
                    short_name=item.short_name,
                    sub_code=child.code,
                    sub_name=child.name,
                    rate_code=rate.code,
                    rate_name=rate.name,
                    rate_target=rate.default_target,
                    sub_short_name=child.short_name,
                    rate_short_name=rate.short_name,
                )
            )
        else:
            kind = PackageKind.STOCK if item.kind is Kind.STOCK else PackageKind.FLOW
            lines.append(
                PackageIndicator(item.code, item.name, item.unit, item.group, kind, short_name=item.short_name)
            )
    return tuple(lines)


@functools.cache
def shipped_package() -> PlanPackage:
    """The 2021–2025 plan from the annex, built in and trusted because it ships with the app."""
    plan = load_shipped_plan()

    def split(targets: TownTargets) -> TownSplit:
        return TownSplit(targets.town, dict(targets.counts), dict(targets.rates), dict(targets.bases))

    package = PlanPackage(
        name=SHIPPED_PLAN_NAME,
        first=plan.first,
        last=plan.last,
        indicators=package_indicators_of(SHIPPED),
        towns=tuple(split(t) for t in plan.towns),
        city=split(plan.city),
        approval_number=plan.approval_number,
        valid_until=plan.valid_until,
    )
    check_package(package)
    return package


SAMPLE_SKILL = PackageIndicator(
    "skilled_trained", "技能人才培养人数", "人次", "技能人才", PackageKind.FLOW, "技能人才培养"
)


# The sample plan's 指标解释 (made up for the demonstration, as its targets are; issue 26).
SAMPLE_DEFINITIONS = {
    "card_holders": "季度末在本镇街持有社会保障卡的人数（存量，季末数），不是累计数；"
    "完成率为较基期增长完成率 =（季末数 − 基期数）÷（目标 − 基期数）。",
    "yuecai_certified": "本季度“粤菜师傅”培训并取得证书的人次（流量）；规划累计为规划期内各季度之和。",
    "nanyue_trained": "本季度“南粤家政”培训的人次（流量）；规划累计为规划期内各季度之和。",
    SAMPLE_SKILL.code: "本季度培养的技能人才人次（流量，示例指标）；规划累计为规划期内各季度之和。",
    "mediation_cases": "调解成功率 = 调解成功案件数 ÷ 调解案件数；年度目标按本年累计计算，78%以上（含本数）。",
    "arbitration_due": "仲裁结案率 = 审结案件数 ÷ 应结案件数，应结 = 上期结转 + 本期受理；"
    "本年累计结案率 = 本年结案 ÷（年初结转 + 本年受理）。",
    "inspection_cases": "监察结案率 = 结案数 ÷ 应结案件数，应结 = 上期结转 + 本期受理。",
}


def sample_package() -> PlanPackage:
    """A made-up 2026–2030 split (the 2021–2025 one scaled, plus a 技能人才 count), marked 示例 everywhere."""
    base = shipped_package()
    scale = {
        "card_holders": Fraction(108, 100),
        "yuecai_certified": Fraction(12, 10),
        "nanyue_trained": Fraction(11, 10),
    }

    def scaled(split: TownSplit) -> TownSplit:
        targets = {code: int(value * scale[code]) for code, value in split.targets.items()}
        targets[SAMPLE_SKILL.code] = split.targets["yuecai_certified"] * 3 + split.targets["nanyue_trained"] // 2
        return TownSplit(split.town, targets, dict(split.rates), {})

    towns = tuple(scaled(s) for s in base.towns)
    city_targets = {code: sum(t.targets[code] for t in towns) for code in towns[0].targets}
    return PlanPackage(
        name=f"东莞市人力资源和社会保障事业发展“十五五”规划 {SAMPLE_MARK}",
        first=Quarter(2026, 1),
        last=Quarter(2030, 4),
        indicators=tuple(
            dataclasses.replace(item, definition=SAMPLE_DEFINITIONS[item.code])
            for item in (*base.indicators[:3], SAMPLE_SKILL, *base.indicators[3:])
        ),
        towns=towns,
        city=TownSplit(CITY, city_targets, dict(base.city.rates), {}),
        form_number=f"{SAMPLE_MARK}",
        approval_number=f"{SAMPLE_MARK}",
        valid_until="2030年12月",
        approval_authority=f"{SAMPLE_MARK}",
        sample=True,
    )
