"""Plans as stored: each plan's period and every town's targets, and the 基期数 a town entered."""

from __future__ import annotations

from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PlanError
from core.indicators import PLANNED_CODES
from core.plans import CITY, TOWNS, Plan, TownTargets, plan_period_label
from core.quarters import Quarter
from storage.audit_trail import append_entry
from storage.models import PlanRow, StockBase, TargetRow
from storage.settings import now_text


def load_plans(session: Session) -> list[Plan]:
    """Every stored plan, earliest first."""
    plans = []
    for row in session.scalars(select(PlanRow).order_by(PlanRow.first_quarter)):
        by_town: dict[str, TownTargets] = {}
        for target in session.scalars(select(TargetRow).where(TargetRow.plan_id == row.id)):
            entry = by_town.setdefault(target.town, TownTargets(target.town, {}, {}))
            if target.code in PLANNED_CODES:
                entry.counts[target.code] = int(target.value)
            else:
                entry.rates[target.code] = Fraction(target.value)
        plans.append(
            Plan(
                row.name,
                Quarter.parse(row.first_quarter),
                Quarter.parse(row.last_quarter),
                tuple(by_town[t] for t in TOWNS),
                by_town[CITY],
            )
        )
    return plans


def import_plan(session: Session, os_user: str, plan: Plan, source: str) -> bool:
    """Store a plan's split, replacing a plan of the same name; True if it replaced one."""
    existing = session.scalar(select(PlanRow).where(PlanRow.name == plan.name))
    for other in session.scalars(select(PlanRow).where(PlanRow.name != plan.name)):
        first, last = Quarter.parse(other.first_quarter), Quarter.parse(other.last_quarter)
        if first <= plan.last and plan.first <= last:
            raise PlanError(
                f"“{plan.name}”的规划期（{plan_period_label(plan)}）与已有的“{other.name}”"
                f"（{first.label}至{last.label}）重叠"
            )
    if existing is not None:
        session.delete(existing)
        session.flush()
    row = PlanRow(
        name=plan.name,
        first_quarter=plan.first.code,
        last_quarter=plan.last.code,
        source=source,
        imported_at=now_text(),
    )
    session.add(row)
    session.flush()
    for targets in (plan.city, *plan.towns):
        session.add_all(
            TargetRow(plan_id=row.id, town=targets.town, code=code, value=str(value))
            for code, value in (*targets.counts.items(), *targets.rates.items())
        )
    append_entry(session, os_user, "plan_import", None, None, None, f"{plan.name}（{plan_period_label(plan)}）{source}")
    return existing is not None


def stock_bases(session: Session, town: str, plan: Plan | None) -> dict[str, int]:
    """Each stock's 基期数 for `plan`: the plan's own where it has one, else what the town entered."""
    if plan is None:
        return {}
    rows = session.scalars(select(StockBase).where(StockBase.town == town, StockBase.plan == plan.name))
    entered = {r.code: r.value for r in rows}
    return {**entered, **plan.targets_for(town).bases} if town in TOWNS else entered


def set_stock_base(session: Session, os_user: str, town: str, plan: Plan, code: str, value: int) -> int | None:
    """Store a 基期数 the town entered (audited); gives the value it replaces."""
    row = session.get(StockBase, (town, plan.name, code))
    old = row.value if row else None
    if row is None:
        row = StockBase(town=town, plan=plan.name, code=code)
        session.add(row)
    row.value, row.updated_at = value, now_text()
    append_entry(session, os_user, "set_base", None, code, None if old is None else str(old), f"{value}（{plan.name}）")
    return old
