"""Plans as data: a period and each town's targets, read from the annex's layout."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from core.errors import DomainError, NumberError, PlanError, TownError
from core.indicators import SHIPPED, Catalogue, Kind
from core.numbers import parse_count
from core.quarters import Quarter, quarter_range
from core.resources import resource_path

CITY = "全市"

# The 33 towns and parks in the annex's order.
TOWNS: tuple[str, ...] = (
    "莞城",
    "石龙",
    "虎门",
    "东城",
    "万江",
    "南城",
    "中堂",
    "望牛墩",
    "麻涌",
    "石碣",
    "高埗",
    "洪梅",
    "道滘",
    "厚街",
    "沙田",
    "长安",
    "寮步",
    "大岭山",
    "大朗",
    "黄江",
    "樟木头",
    "凤岗",
    "塘厦",
    "谢岗",
    "清溪",
    "常平",
    "桥头",
    "横沥",
    "东坑",
    "企石",
    "石排",
    "茶山",
    "松山湖",
)

SHIPPED_PLAN_NAME = "东莞市人力资源和社会保障事业发展“十四五”规划"
# In the name, 表号 and 批准文号 of a plan made for demonstration, never the city's own.
SAMPLE_MARK = "示例（非正式目标）"
SHIPPED_PLAN_FILE = ("plans", "targets_2021_2025.csv")


def check_town(name: str) -> str:
    cleaned = unicodedata.normalize("NFKC", name).strip()
    for suffix in ("镇", "街道", "园区"):
        if cleaned not in TOWNS and cleaned.endswith(suffix) and cleaned[: -len(suffix)] in TOWNS:
            cleaned = cleaned[: -len(suffix)]
    if cleaned not in TOWNS:
        raise TownError(f"没有名为“{name}”的镇街。可选：{'、'.join(TOWNS)}")
    return cleaned


@dataclass(frozen=True)
class TownTargets:
    town: str
    counts: dict[str, int]  # indicator code -> target for the whole plan
    rates: dict[str, Fraction]  # rate code -> minimum rate
    # stock code -> its level at the plan's start (基期数), where the plan gives it; the 2021–2025
    # annex gives none per town, so towns enter theirs (Store.set_stock_base)
    bases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Definition:
    """One entry of the plan's 指标解释 page: an indicator (a count pair with its rate) and how the plan defines it."""

    code: str
    name: str
    text: str


DEFAULT_STOCK_JUMP_BOUND = Fraction(30, 100)  # ±30% quarter on quarter, unless the plan says otherwise


@dataclass(frozen=True)
class Plan:
    name: str
    first: Quarter
    last: Quarter
    towns: tuple[TownTargets, ...]
    city: TownTargets
    _by_town: dict[str, TownTargets] = field(init=False, repr=False, compare=False)
    approval_number: str = ""  # 批准文号 of the statistical survey, printed on every return
    valid_until: str = ""  # 有效期至 of that approval
    catalogue: Catalogue = SHIPPED  # the plan's indicator list: what is entered, checked and reported
    plan_id: str = ""  # the package's id and content hash; empty for a plan not made from a package
    content_hash: str = ""
    form_number: str = ""  # 表号
    sample: bool = False  # 示例（非正式目标）
    approval_authority: str = ""  # 批准机关 of the statistical survey (issue 26)
    definitions: tuple[Definition, ...] = ()  # the 指标解释 page, in the plan's order (issue 26)
    # a stock that moves more than this quarter on quarter needs a 说明 (issue 26); a plan package may set it
    stock_jump_bound: Fraction = DEFAULT_STOCK_JUMP_BOUND

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_town", {t.town: t for t in self.towns})

    @property
    def quarters(self) -> list[Quarter]:
        return quarter_range(self.first, self.last)

    def contains(self, quarter: Quarter) -> bool:
        return self.first <= quarter <= self.last

    def time_progress(self, quarter: Quarter) -> Fraction:
        """Share of the plan's quarters that have passed at the end of `quarter` (n/20)."""
        if not self.contains(quarter):
            raise PlanError(f"{quarter.label}不在规划期 {self.first.label}至{self.last.label} 内")
        return Fraction(quarter - self.first + 1, self.last - self.first + 1)

    def targets_for(self, town: str) -> TownTargets:
        if town == CITY:
            return self.city
        return self._by_town[town]


def plan_period_label(plan: Plan) -> str:
    return f"{plan.first.label}至{plan.last.label}"


def load_shipped_plan() -> Plan:
    path = resource_path(*SHIPPED_PLAN_FILE)
    return plan_from_rows(read_csv_rows(path), SHIPPED_PLAN_NAME, Quarter(2021, 1), Quarter(2025, 4), source=path.name)


def read_csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PlanError(f"{path.name}：无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")
    return [row for row in csv.reader(text.splitlines())]


_HEADER_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("seq", ("序号", "seq")),
    ("town", ("镇街", "town", "园区")),
    ("card_holders", ("社保卡", "card_holders")),
    ("yuecai_certified", ("粤菜", "yuecai")),
    ("nanyue_trained", ("南粤", "nanyue")),
    ("mediation_success_rate", ("调解", "mediation")),
    ("arbitration_closure_rate", ("仲裁", "arbitration")),
    ("inspection_closure_rate", ("监察", "inspection")),
)
_HEADER_NAMES = {
    "seq": "序号",
    "town": "镇街",
    "card_holders": "社保卡",
    "yuecai_certified": "粤菜师傅",
    "nanyue_trained": "南粤家政",
    "mediation_success_rate": "调解成功率",
    "arbitration_closure_rate": "仲裁结案率",
    "inspection_closure_rate": "监察结案率",
}


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def _find_header(rows: Sequence[Sequence[object]], source: str) -> tuple[int, dict[str, int]]:
    for r, row in enumerate(rows[:20]):
        texts = [_cell_text(c).lower() for c in row]
        if not any(t in ("镇街", "town") or "镇街" in t for t in texts):
            continue
        columns: dict[str, int] = {}
        for key, words in _HEADER_KEYS:
            for c, text in enumerate(texts):
                if c not in columns.values() and any(w in text for w in words):
                    columns[key] = c
                    break
        missing = [_HEADER_NAMES[k] for k, _ in _HEADER_KEYS if k not in columns]
        if missing:
            raise PlanError(f"{source}：第 {r + 1} 行表头缺少这些列：{'、'.join(missing)}")
        return r, columns
    raise PlanError(f"{source}：找不到表头行（应含“序号、镇街、社保卡、粤菜师傅、南粤家政”及三项比率）")


_RATE_TEXT = re.compile(r"^(?:[>≥]=?)?\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*(?:以上)?$")


def parse_rate_target(value: object) -> Fraction:
    """Read `78`, `78%`, `>78%`, `≥96%`, `100%` or an Excel percentage such as 0.78."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = Fraction(str(value))
        rate = number if number <= 1 else number / 100
    else:
        text = _cell_text(value)
        match = _RATE_TEXT.match(text)
        if not match:
            raise PlanError(f"“{text}”不是比率，应写成 78% 或 >78%")
        rate = Fraction(match.group(1)) / 100
    if not 0 < rate <= 1:
        raise PlanError(f"比率 {float(rate) * 100:g}% 不在 0 到 100% 之间")
    return rate


def plan_from_rows(rows: Sequence[Sequence[object]], name: str, first: Quarter, last: Quarter, source: str) -> Plan:
    """Build a plan from a table in the annex's layout; refuse it with the row and column of any fault."""
    if last < first:
        raise PlanError(f"规划期的结束季度 {last.label} 早于开始季度 {first.label}")
    if not name.strip():
        raise PlanError("规划名称不能为空")
    header_row, columns = _find_header(rows, source)
    city: TownTargets | None = None
    towns: dict[str, TownTargets] = {}
    for r in range(header_row + 1, len(rows)):
        row = list(rows[r])
        if not any(_cell_text(c) for c in row):
            continue
        line = r + 1

        def cell(key: str, row: list[object] = row) -> object:
            index = columns[key]
            return row[index] if index < len(row) else None

        def where(key: str, line: int = line) -> str:
            return f"{source} 第 {line} 行“{_HEADER_NAMES[key]}”列（{column_letter(columns[key])} 列）"

        town_name = _cell_text(cell("town"))
        if not town_name:
            raise PlanError(f"{where('town')}：镇街名称为空")
        if town_name in ("合计", "全市合计"):
            town_name = CITY
        if town_name != CITY:
            try:
                town_name = check_town(town_name)
            except TownError:
                raise PlanError(f"{where('town')}：“{town_name}”不是东莞的镇街") from None
        counts: dict[str, int] = {}
        for code in SHIPPED.planned_codes:
            try:
                value = parse_count(cell(code))
            except NumberError as exc:
                raise PlanError(f"{where(code)}：{exc.message}") from None
            if value is None:
                raise PlanError(f"{where(code)}：目标值为空")
            counts[code] = value
        rates: dict[str, Fraction] = {}
        for rate in SHIPPED.rates:
            try:
                rates[rate.code] = parse_rate_target(cell(rate.code))
            except PlanError as exc:
                raise PlanError(f"{where(rate.code)}：{exc.message}") from None
        targets = TownTargets(town_name, counts, rates)
        if town_name == CITY:
            if city is not None:
                raise PlanError(f"{where('town')}：“全市”合计行重复")
            city = targets
        elif town_name in towns:
            raise PlanError(f"{where('town')}：{town_name}重复出现")
        else:
            towns[town_name] = targets
    if city is None:
        raise PlanError(f"{source}：缺少“全市”合计行")
    missing = [t for t in TOWNS if t not in towns]
    if missing:
        raise PlanError(f"{source}：缺少这些镇街：{'、'.join(missing)}")
    for code in SHIPPED.planned_codes:
        total = sum(t.counts[code] for t in towns.values())
        if total != city.counts[code]:
            raise PlanError(
                f"{source}：“{_HEADER_NAMES[code]}”列 33 个镇街合计 {total:,}，"
                f"与全市合计行 {city.counts[code]:,} 不符（相差 {total - city.counts[code]:+,}）"
            )
    ordered = tuple(towns[t] for t in TOWNS)
    return Plan(name.strip(), first, last, ordered, city)


def catalogue_of(plan: Plan | None, catalogue: Catalogue | None = None) -> Catalogue:
    """The indicator list in hand: the one given, else the plan's, else the shipped list (no plan at all)."""
    if catalogue is not None:
        return catalogue
    return plan.catalogue if plan is not None else SHIPPED


def rate_target(plan: Plan | None, town: str, code: str, catalogue: Catalogue | None = None) -> Fraction:
    if plan is None or code not in plan.targets_for(town).rates:
        return catalogue_of(plan, catalogue).rate_by_code[code].default_target
    return plan.targets_for(town).rates[code]


def describe_plan(plan: Plan) -> str:
    catalogue = plan.catalogue
    totals = "，".join(
        f"{catalogue.display_name(c)} {plan.city.counts[c]:,}" for c in catalogue.planned_codes if c in plan.city.counts
    )
    return f"{plan.name}（{plan_period_label(plan)}）：{totals}"


def refuse_base_of_a_flow(code: str, catalogue: Catalogue = SHIPPED) -> None:
    """Only a stock (a 季末数) of the plan's list has a 基期数."""
    if code not in catalogue.by_code or catalogue.by_code[code].kind is not Kind.STOCK:
        raise DomainError(f"只有季末数指标有基期数，“{catalogue.display_name(code)}”不是")


def refuse_base_the_plan_gives(plan: Plan, town: str, code: str) -> None:
    """A town enters a 基期数 only where its plan's annex has none."""
    if code in plan.targets_for(town).bases:
        name = plan.catalogue.display_name(code)
        raise DomainError(f"规划已给出{name}的基期数 {plan.targets_for(town).bases[code]:,}，不需录入")
