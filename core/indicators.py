"""The one table of figures and rates that everything else reads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction


class Kind(Enum):
    STOCK = "stock"  # a level at quarter end (card holders)
    FLOW = "flow"  # a count within the quarter; a count pair is two flows and a rate (see core.plan_package)


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    short_name: str
    unit: str
    kind: Kind
    group: str
    has_plan_target: bool  # the annex gives a 2021–2025 target for it
    parent: str | None = None  # a sub-count ("其中") of this indicator


@dataclass(frozen=True)
class Rate:
    code: str
    name: str
    short_name: str
    numerator: str
    denominator: str
    default_target: Fraction  # met when the rate is >= this ("以上" includes the number)


_SHIPPED_GROUPS: tuple[str, ...] = ("社保卡", "粤菜师傅", "南粤家政", "劳动人事争议调解", "劳动人事争议仲裁", "劳动保障监察")

# Frozen: the built-in 2021–2025 plan. Signed returns name its content hash (tests/test_frozen_plan.py);
# a new indicator comes as a signed plan package (docs/plans.md), never as an edit of this list.
_SHIPPED_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "card_holders", "社会保障卡持卡人数（季末数）", "社保卡持卡人数（季末数）", "张", Kind.STOCK, "社保卡", True
    ),
    Indicator("yuecai_certified", "“粤菜师傅”培训发证人数", "粤菜师傅培训发证", "人次", Kind.FLOW, "粤菜师傅", True),
    Indicator("nanyue_trained", "“南粤家政”培训人数", "南粤家政培训", "人次", Kind.FLOW, "南粤家政", True),
    Indicator("mediation_cases", "劳动人事争议调解案件数", "调解案件数", "件", Kind.FLOW, "劳动人事争议调解", False),
    Indicator(
        "mediation_success",
        "其中：调解成功案件数",
        "调解成功案件数",
        "件",
        Kind.FLOW,
        "劳动人事争议调解",
        False,
        parent="mediation_cases",
    ),
    Indicator(
        "arbitration_due", "劳动人事争议仲裁应结案件数", "仲裁应结案件数", "件", Kind.FLOW, "劳动人事争议仲裁", False
    ),
    Indicator(
        "arbitration_closed",
        "其中：审结案件数",
        "仲裁审结案件数",
        "件",
        Kind.FLOW,
        "劳动人事争议仲裁",
        False,
        parent="arbitration_due",
    ),
    # 应结案件数: the cases due for closure in the period, carried-over cases included (as for 仲裁), so
    # 结案数 may exceed the quarter's new cases; the code keeps its old name for compatibility.
    Indicator(
        "inspection_cases",
        "劳动保障监察举报投诉应结案件数",
        "监察举报投诉应结案件数",
        "件",
        Kind.FLOW,
        "劳动保障监察",
        False,
    ),
    Indicator(
        "inspection_closed",
        "其中：结案数",
        "监察结案数",
        "件",
        Kind.FLOW,
        "劳动保障监察",
        False,
        parent="inspection_cases",
    ),
)

_SHIPPED_RATES: tuple[Rate, ...] = (
    Rate(
        "mediation_success_rate",
        "劳动人事争议调解成功率",
        "调解成功率",
        "mediation_success",
        "mediation_cases",
        Fraction(78, 100),
    ),
    Rate(
        "arbitration_closure_rate",
        "劳动人事争议仲裁结案率",
        "仲裁结案率",
        "arbitration_closed",
        "arbitration_due",
        Fraction(96, 100),
    ),
    Rate(
        "inspection_closure_rate",
        "劳动保障监察举报投诉案件结案率",
        "监察结案率",
        "inspection_closed",
        "inspection_cases",
        Fraction(1),
    ),
)

@dataclass(frozen=True)
class CaseFlow:
    """A case count entered as a flow with a carry-over (issue 26): 应结 = 上期结转 + 本期受理, computed, never typed.

    `due` is the count of the pair (its rate's denominator); `carried` and `received` are what the town
    enters. Over several quarters the cases due are the opening carry-over plus every quarter's received
    cases, so a case carried from one quarter into the next is counted once."""

    due: str
    carried: str
    received: str
    carried_name: str
    received_name: str
    closed: str  # the 其中 count of the pair (结案): what the quarter closed of its 应结


def case_flow_for(due: str, name: str, closed: str) -> CaseFlow:
    """The carry-over pair of a case count whose name ends in 应结案件数 (or any count): codes named after it."""
    stem = due.removesuffix("_due").removesuffix("_cases")
    topic = name.removesuffix("应结案件数").removesuffix("案件数")
    return CaseFlow(
        due, f"{stem}_carried", f"{stem}_received", f"{topic}上期结转案件数", f"{topic}本期受理案件数", closed
    )


# The two case counts of the 2021–2025 plan whose 应结 includes carried-over cases. Not part of the frozen
# list above (its content hash stays); every plan package with a count pair of these codes gets the pair.
BUILT_IN_CASE_FLOWS: tuple[CaseFlow, ...] = (
    CaseFlow(
        "arbitration_due",
        "arbitration_carried",
        "arbitration_received",
        "劳动人事争议仲裁上期结转案件数",
        "劳动人事争议仲裁本期受理案件数",
        "arbitration_closed",
    ),
    CaseFlow(
        "inspection_cases",
        "inspection_carried",
        "inspection_received",
        "劳动保障监察举报投诉上期结转案件数",
        "劳动保障监察举报投诉本期受理案件数",
        "inspection_closed",
    ),
)

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class Catalogue:
    """One plan's indicator list: its figures in display order, its rates and its groups."""

    indicators: tuple[Indicator, ...]
    rates: tuple[Rate, ...]
    groups: tuple[str, ...] = ()
    # case counts entered as 上期结转 + 本期受理 (their 应结 is computed); outside the list of indicators
    case_flows: tuple[CaseFlow, ...] = ()
    by_code: dict[str, Indicator] = field(init=False, repr=False, compare=False)
    rate_by_code: dict[str, Rate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.groups:  # groups in the order their first indicator appears
            object.__setattr__(self, "groups", tuple(dict.fromkeys(i.group for i in self.indicators)))
        object.__setattr__(self, "by_code", {i.code: i for i in self.indicators})
        object.__setattr__(self, "rate_by_code", {r.code: r for r in self.rates})

    @property
    def indicator_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators)

    @property
    def rate_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.rates)

    @property
    def planned_codes(self) -> tuple[str, ...]:
        """The figures that have a target for the whole plan (flows and stocks, not count pairs)."""
        return tuple(i.code for i in self.indicators if i.has_plan_target)

    @property
    def stock_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators if i.kind is Kind.STOCK)

    @property
    def carry_codes(self) -> tuple[str, ...]:
        """The codes a town types for its case flows (上期结转, 本期受理), in list order."""
        return tuple(code for flow in self.case_flows for code in (flow.carried, flow.received))

    @property
    def computed_codes(self) -> tuple[str, ...]:
        """The figures computed from others, never typed: each case flow's 应结."""
        return tuple(flow.due for flow in self.case_flows)

    @property
    def entry_codes(self) -> tuple[str, ...]:
        """What a town types: the list's figures with each computed 应结 replaced by its two inputs."""
        codes: list[str] = []
        for code in self.indicator_codes:
            flow = self.case_flow(code)
            codes += [flow.carried, flow.received] if flow else [code]
        return tuple(codes)

    def case_flow(self, code: str) -> CaseFlow | None:
        """The case flow whose 应结, 结转 or 受理 is `code`."""
        return next((f for f in self.case_flows if code in (f.due, f.carried, f.received)), None)

    def in_group(self, group: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.group == group)

    def display_name(self, code: str) -> str:
        """The Chinese name of a figure or a rate, for messages."""
        if code in self.by_code:
            indicator = self.by_code[code]
            return indicator.short_name if indicator.parent else indicator.name
        if code in self.rate_by_code:
            return self.rate_by_code[code].name
        flow = self.case_flow(code)
        if flow is not None:
            return flow.carried_name if code == flow.carried else flow.received_name
        return code

    def is_known_code(self, code: str) -> bool:
        return code in self.by_code or code in self.rate_by_code or code in self.carry_codes


# Today's nine figures and three rates: the 2021–2025 plan's list.
SHIPPED = Catalogue(_SHIPPED_INDICATORS, _SHIPPED_RATES, _SHIPPED_GROUPS, BUILT_IN_CASE_FLOWS)
