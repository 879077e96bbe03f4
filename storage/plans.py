"""Plans as stored: each plan's period and every town's targets, and the 基期数 a town entered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PlanError
from core.plan_package import PlanPackage, shipped_package
from core.plans import SHIPPED_PLAN_NAME, Plan, plan_period_label
from core.quarters import Quarter, quarter_range
from storage import reads
from storage.audit_trail import append_entry
from storage.engine import session_connection
from storage.models import (
    IssuedRevision,
    PlanPackageRow,
    PlanRow,
    QuarterPlanRow,
    QuarterStatusRow,
    StockBase,
    TargetRow,
)
from storage.reads import QuarterPlan as QuarterPlan
from storage.reads import StoredPlanAltered as StoredPlanAltered
from storage.settings import now_text


@dataclass(frozen=True)
class StoredPackage:
    """An imported plan package as listed (its content is read with Store.plan_package)."""

    id: str
    content_hash: str
    name: str
    first: Quarter
    last: Quarter
    origin: str
    source: str
    imported_at: str
    content: str  # the canonical content exactly as signed
    signature: str | None  # the city root's CMS over it; None for a package imported before it was kept


def load_plans(session: Session) -> list[Plan]:
    """Every stored plan, earliest first."""
    return reads.plans(session_connection(session))


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
    return reads.stock_bases(session_connection(session), town, plan)


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


def package_of(row: PlanPackageRow) -> PlanPackage:
    return reads.package_of(row)


def is_intact(row: PlanPackageRow) -> bool:
    try:
        package_of(row)
    except StoredPlanAltered:
        return False
    return True


def import_package(
    session: Session,
    os_user: str,
    package: PlanPackage,
    source: str,
    origin: str,
    signed_at: datetime | None = None,
    signature: str | None = None,
) -> bool:
    """Record a checked (and, for "signed", verified) package and store its split; audited.

    The same content again changes nothing (returns False). A different package whose period
    overlaps an imported one, or any other plan's, is refused with PlanError — except the city's
    correction of an imported plan (same name and period, signed after that plan was imported),
    which replaces it while no quarter of the period has been exported signed.

    A stored package altered outside the program is replaced by the genuine one of its name, id or hash
    (the town's repair: import the city's .plan file again).
    """
    _drop_altered(session, package)
    same = session.scalar(select(PlanPackageRow).where(PlanPackageRow.content_hash == package.content_hash))
    if same is not None:
        if same.signature is None and signature is not None:  # imported before signatures were kept
            same.signature = signature
        _repin_period(session, package)
        return False
    for other in session.scalars(select(PlanPackageRow)):
        first, last = Quarter.parse(other.first_quarter), Quarter.parse(other.last_quarter)
        if (other.name, first, last) == (package.name, package.first, package.last) and signed_at is not None:
            _replace_with_correction(session, other, package, signed_at)
            continue
        if first <= package.last and package.first <= last:
            raise PlanError(
                f"“{package.name}”的规划期（{package.period_label}）与已导入的“{other.name}”"
                f"（{first.label}至{last.label}，编号 {other.id}）重叠，未导入"
            )
    session.add(
        PlanPackageRow(
            id=package.id,
            content_hash=package.content_hash,
            name=package.name,
            first_quarter=package.first.code,
            last_quarter=package.last.code,
            content=package.canonical_bytes().decode("utf-8"),
            origin=origin,
            source=source,
            imported_at=now_text(),
            signature=signature,
        )
    )
    session.flush()
    import_plan(
        session, os_user, package.to_plan(), f"{source}（规划编号 {package.id}，内容哈希 {package.content_hash}）"
    )
    _repin_period(session, package)
    return True


def _repin_period(session: Session, package: PlanPackage) -> None:
    """Quarters of the package's period recorded under another package: only an edit outside the
    program records them so (an overlapping import is refused), and importing the package repairs it."""
    period = {q.code for q in quarter_range(package.first, package.last)}
    for pinned in session.scalars(select(QuarterPlanRow)):
        if pinned.quarter in period and pinned.content_hash and pinned.content_hash != package.content_hash:
            pinned.plan_name, pinned.plan_id, pinned.content_hash = package.name, package.id, package.content_hash


def _drop_altered(session: Session, package: PlanPackage) -> None:
    """Remove altered rows that stand for `package` (same name, id or hash), re-pinning their quarters."""
    for row in list(session.scalars(select(PlanPackageRow))):
        stands_for = package.name == row.name or package.id == row.id or package.content_hash == row.content_hash
        if not stands_for or is_intact(row):
            continue
        for pinned in session.scalars(select(QuarterPlanRow).where(QuarterPlanRow.plan_name == row.name)):
            pinned.plan_name, pinned.plan_id, pinned.content_hash = package.name, package.id, package.content_hash
        session.delete(row)
        session.flush()


def _replace_with_correction(session: Session, old: PlanPackageRow, package: PlanPackage, signed_at: datetime) -> None:
    """Drop `old` for the city's corrected `package`, or refuse with the reason (PlanError)."""
    imported_at = datetime.fromisoformat(old.imported_at)
    if signed_at.replace(microsecond=0) < imported_at:
        raise PlanError(
            f"“{package.name}”已导入编号 {old.id} 的版本（{imported_at:%Y-%m-%d %H:%M} 导入），此文件签名于"
            f"{signed_at.astimezone():%Y-%m-%d %H:%M}，早于已导入的版本，不是市局的更正版，未导入"
        )
    period = {q.code for q in quarter_range(package.first, package.last)}
    exported = sorted(
        {r.quarter for r in session.scalars(select(QuarterStatusRow)) if r.quarter in period}
        | {r.quarter for r in session.scalars(select(IssuedRevision)) if r.quarter in period}
    )
    if exported:
        shown = "、".join(Quarter.parse(q).label for q in exported[:4]) + ("等" if len(exported) > 4 else "")
        raise PlanError(
            f"“{package.name}”的更正版未导入：{shown}已按编号 {old.id} 的版本导出签名季报，"
            f"已上报的季报不能改用另一版规划。请与市局联系"
        )
    for pinned in session.scalars(select(QuarterPlanRow).where(QuarterPlanRow.plan_name == package.name)):
        pinned.plan_id, pinned.content_hash = package.id, package.content_hash
    session.delete(old)
    session.flush()


def stored_packages(session: Session) -> list[StoredPackage]:
    return [
        StoredPackage(
            r.id,
            r.content_hash,
            r.name,
            Quarter.parse(r.first_quarter),
            Quarter.parse(r.last_quarter),
            r.origin,
            r.source,
            r.imported_at,
            r.content,
            r.signature,
        )
        for r in session.scalars(select(PlanPackageRow).order_by(PlanPackageRow.first_quarter))
    ]


def stored_package(session: Session, plan_id: str) -> PlanPackage | None:
    row = session.get(PlanPackageRow, plan_id)
    return None if row is None else package_of(row)


def quarter_plan(session: Session, town: str, quarter: Quarter) -> QuarterPlan | None:
    return reads.quarter_plan(session_connection(session), town, quarter)


def pin_quarter_plan(session: Session, town: str, quarter: Quarter, plan: Plan | None) -> None:
    """Record the plan a quarter is first entered under; it keeps it."""
    if plan is None or session.get(QuarterPlanRow, (town, quarter.code)) is not None:
        return
    row = session.scalar(select(PlanPackageRow).where(PlanPackageRow.name == plan.name))
    if row is not None:
        plan_id, content_hash = row.id, row.content_hash
    elif plan.name == SHIPPED_PLAN_NAME:
        plan_id, content_hash = shipped_package().id, shipped_package().content_hash
    else:
        plan_id, content_hash = None, None
    session.add(
        QuarterPlanRow(
            town=town,
            quarter=quarter.code,
            plan_name=plan.name,
            plan_id=plan_id,
            content_hash=content_hash,
            recorded_at=now_text(),
        )
    )
