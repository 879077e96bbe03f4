"""Actions on a town's figures: enter figures and 说明, check a quarter, the 基期数, progress, the year,
the audit trail (修改记录), the quarters' states and 退回修改."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import DomainError, InputError
from storage.store import FiguresChangedElsewhere, SaveRefused

if TYPE_CHECKING:
    from core.plans import Plan
    from core.progress import Progress, YearResult
    from core.quarters import Quarter
    from core.validation import Finding
    from storage.store import AuditRow, Change, QuarterStatus, Store

__all__ = ["FiguresChangedElsewhere", "SaveRefused"]


def _quarter(store: Store, quarter: Quarter | str | None) -> Quarter:
    """The quarter named (如 2024Q3 或 2024年第3季度), or the latest ended one."""
    from core.quarters import Quarter

    if isinstance(quarter, Quarter):
        return quarter
    return Quarter.parse(quarter) if quarter else Quarter.latest_ended(store.today())


def _named(quarter: Quarter | str) -> Quarter:
    from core.quarters import Quarter

    return quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)


@dataclass(frozen=True)
class Entered:
    """What `enter_figures` did: saved (with the changes and the findings after saving) or refused."""

    town: str | None
    quarter: Quarter
    saved: bool
    findings: list[Finding]
    changes: list[Change] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocks_saving]

    def as_dict(self) -> dict[str, Any]:
        if not self.saved:
            return {"saved": False, "findings": [f.as_dict() for f in self.findings]}
        return {
            "saved": True,
            "changes": [c.__dict__ for c in self.changes],
            "findings": [f.as_dict() for f in self.findings],
        }


def enter_figures(
    store: Store,
    quarter_text: Quarter | str,
    figures: Sequence[tuple[str, str]],
    explanations: Sequence[tuple[str, str]] = (),
) -> Entered:
    """Save typed figures (code, text; blank text clears) and 说明 (code, text) for a quarter.

    Nothing is saved when a figure is not a count or a check finds an error: the result says why.
    """
    from core.numbers import parse_counts
    from core.validation import has_errors, with_computed_dues

    quarter = _named(quarter_text)
    try:  # the codes of the quarter's plan: a code the plan dropped or never had is refused, naming the plan
        store.refuse_codes_outside_list(quarter, [code for code, _ in figures], [code for code, _ in explanations])
    except DomainError as exc:
        raise InputError(exc.message) from None
    catalogue = store.catalogue_for(quarter)
    for code, _ in figures:
        flow = catalogue.case_flow(code)
        if flow is not None and code == flow.due:
            raise InputError(
                f"{catalogue.display_name(code)}由上期结转 + 本期受理相加得出，不能直接填写：请填写 "
                f"{flow.carried}=上期结转案件数 {flow.received}=本期受理案件数"
            )
    values, invalid = parse_counts(dict(figures))
    values = with_computed_dues(catalogue, store.history().get(quarter, {}), values)
    notes: dict[str, str | None] = dict(explanations)
    findings = store.check(quarter, values, notes, invalid)
    if has_errors(findings):
        return Entered(store.town(), quarter, False, findings)
    changes = store.save_quarter(quarter, values, notes)
    return Entered(store.town(), quarter, True, store.check(quarter), changes)


def save_figures(
    store: Store,
    quarter: Quarter,
    values: Mapping[str, int | None],
    explanations: Mapping[str, str | None],
    loaded: Mapping[str, int] | None = None,
    loaded_explanations: Mapping[str, str] | None = None,
) -> list[Change]:
    """Save a quarter's parsed figures and 说明 as the window holds them (SaveRefused on errors).

    With `loaded` (what the window showed), figures changed elsewhere since raise FiguresChangedElsewhere
    rather than being overwritten; call again without `loaded` to overwrite on purpose.
    """
    from core.validation import with_computed_dues

    values = with_computed_dues(store.catalogue_for(quarter), store.history().get(quarter, {}), values)
    return store.save_quarter(quarter, values, explanations, loaded=loaded, loaded_explanations=loaded_explanations)


@dataclass(frozen=True)
class Checked:
    town: str | None
    quarter: Quarter
    findings: list[Finding]

    @property
    def has_errors(self) -> bool:
        from core.validation import has_errors

        return has_errors(self.findings)

    def as_list(self) -> list[dict[str, object]]:
        return [f.as_dict() for f in self.findings]


def check(store: Store, quarter_text: Quarter | str) -> Checked:
    quarter = _named(quarter_text)
    return Checked(store.town(), quarter, store.check(quarter))


@dataclass(frozen=True)
class Bases:
    """The 基期数 of the current plan's 季末数 indicators; `changed` were saved just now."""

    plan: Plan
    bases: dict[str, int]
    changed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.name, "bases": self.bases}


def stock_bases(
    store: Store, figures: Sequence[tuple[str, str | int]] = (), quarter: Quarter | None = None
) -> Bases:
    """Set (code, typed text or count) 基期数 of the plan (the one `quarter` falls in, else the current
    one), then list them all."""
    from core.errors import NumberError
    from core.numbers import parse_count

    plan = store.plan_for(quarter) if quarter is not None else store.current_plan()
    if plan is None and quarter is not None:
        raise InputError(f"{quarter.label}不在任何已导入的规划期内，没有基期数")
    if plan is None:
        raise InputError("尚未导入规划，没有基期数可录入")
    catalogue = plan.catalogue
    display_name = catalogue.display_name
    changed: dict[str, int] = {}
    for code, text in figures:
        if code not in catalogue.stock_codes:
            stocks = "、".join(catalogue.stock_codes) or "（该规划没有季末数指标）"
            raise InputError(f"只有季末数指标有基期数，《{plan.name}》可用代码：{stocks}")
        try:
            value = parse_count(text)
        except NumberError as exc:
            raise InputError(f"{display_name(code)}基期数：{exc.message}") from None
        if value is None:
            raise InputError(f"{display_name(code)}基期数不能为空")
        store.set_stock_base(plan, code, value)
        changed[code] = value
    return Bases(plan, store.stock_bases(plan), changed)


def progress(store: Store, quarter_text: Quarter | str | None = None) -> Progress:
    """Pace against the plan at a quarter (default: the latest ended one)."""
    from core.progress import compute_progress

    town = store.require_town()
    quarter = _quarter(store, quarter_text)
    plan = store.plan_for(quarter)
    return compute_progress(
        plan, town, quarter, store.history(), store.stock_bases(plan), catalogue=store.catalogue_for(quarter)
    )


def annual(store: Store, year: int) -> YearResult:
    """A calendar year's rates against the annual targets and its flows' totals."""
    from core.progress import compute_year
    from core.quarters import Quarter

    town = store.require_town()
    year_end = Quarter(year, 4)
    return compute_year(store.plan_for(year_end), town, year, store.history(), store.catalogue_for(year_end))


def history(store: Store, quarter_text: str | None = None, indicator: str | None = None) -> list[AuditRow]:
    """The audit trail (修改记录), optionally of one quarter and one indicator or profile field."""
    from core.quarters import Quarter
    from storage.basics import PROFILE_LABELS

    quarter = Quarter.parse(quarter_text) if quarter_text else None
    if indicator and indicator not in store.known_codes() and indicator not in PROFILE_LABELS:
        raise InputError(f"未知指标代码“{indicator}”")
    return store.audit_trail(quarter, indicator)


@dataclass(frozen=True)
class Reopened:
    quarter: Quarter
    status: QuarterStatus

    @property
    def message(self) -> str:
        """What the clerk is told through either door: the next export is a new revision."""
        revision = self.status.revision or 0
        return f"{self.quarter.label}已退回修改（原为第 {revision} 版），再次导出将是第 {revision + 1} 版"

    def as_dict(self) -> dict[str, Any]:
        return {"quarter": self.quarter.code, "state": self.status.state, "revision": self.status.revision}


def reopen(store: Store, quarter_text: Quarter | str, reason: str) -> Reopened:
    """退回修改: unlock a submitted quarter; the reason is kept in the audit trail."""
    quarter = _named(quarter_text)
    return Reopened(quarter, store.reopen(quarter, reason))

