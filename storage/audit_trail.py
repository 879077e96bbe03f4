"""Writing and reading the audit trail inside a database session; the checks it must pass are in
`storage.audit`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.indicators import SHIPPED
from core.quarters import Quarter
from storage.audit import (
    GENESIS_HASH,
    AuditCheck,
    AuditRow,
    ChainHead,
    ChainRow,
    backup_heads,
    check_answers,
    check_chain,
    check_db_id,
    check_heads,
    check_replay,
    check_states,
    row_hash,
)
from storage.models import AuditEntry, CityAnswerRow, ExplanationRow, FigureRow, QuarterStatusRow, StockBase
from storage.settings import now_text, read_setting


def append_entry(
    session: Session,
    os_user: str,
    action: str,
    quarter: str | None = None,
    code: str | None = None,
    old: str | None = None,
    new: str | None = None,
) -> AuditEntry:
    """Add one change at the end of the chain, signed off by the profile's 填表人 of the moment."""
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        at=now_text(),
        os_user=os_user,
        clerk=read_setting(session, "profile.preparer") or "",
        action=action,
        quarter=quarter,
        code=code,
        old_value=old,
        new_value=new,
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    entry.hash = row_hash(chain_row(entry))
    session.add(entry)
    session.flush()
    return entry


def chain_row(entry: AuditEntry) -> ChainRow:
    return ChainRow(
        entry.id,
        entry.at,
        entry.os_user,
        entry.clerk,
        entry.action,
        entry.quarter,
        entry.code,
        entry.old_value,
        entry.new_value,
        entry.prev_hash,
        entry.hash,
    )


def read_chain(session: Session) -> list[ChainRow]:
    return [chain_row(e) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def audit_rows(session: Session, quarter: Quarter | None = None, code: str | None = None) -> list[AuditRow]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if quarter is not None:
        query = query.where(AuditEntry.quarter == quarter.code)
    if code is not None:
        query = query.where(AuditEntry.code == code)
    return [chain_row(e).shown() for e in session.scalars(query)]


def recorded_db_id(session: Session) -> str | None:
    """The database id the audit trail last recorded."""
    return session.scalar(
        select(AuditEntry.new_value).where(AuditEntry.action == "db_id").order_by(AuditEntry.id.desc()).limit(1)
    )


Key = tuple[str, str]  # (quarter, code)


def stored_state(session: Session) -> tuple[dict[Key, int], dict[Key, str], dict[str, tuple[str, int]]]:
    """What replaying the trail must explain: every figure, explanation and quarter state."""
    figures = {(r.quarter, r.code): r.value for r in session.scalars(select(FigureRow))}
    texts = {(r.quarter, r.code): r.text for r in session.scalars(select(ExplanationRow))}
    states = {r.quarter: (r.state, r.revision) for r in session.scalars(select(QuarterStatusRow))}
    return figures, texts, states


def check_restorable(session: Session) -> AuditCheck | None:
    """The first problem of a backup's trail (it links up and explains its figures and states), or None."""
    rows = read_chain(session)
    figures, texts, states = stored_state(session)
    return check_chain(rows) or check_replay(rows, figures, texts) or check_states(rows, states)


def verify(session: Session, db_path: Path, name: Callable[[str], str] = SHIPPED.display_name) -> AuditCheck:
    """The trail links up, replays to every stored figure, explanation and 基期数, and still holds
    every row that a backup of this database or a recorded export saw as its end."""
    rows = read_chain(session)
    figures, texts, states = stored_state(session)
    bases = {(r.plan, r.code): r.value for r in session.scalars(select(StockBase))}
    heads = [
        ChainHead(f"{Quarter.parse(r.quarter).label}第 {r.revision} 版的上报", r.audit_id, r.audit_hash)
        for r in session.scalars(select(QuarterStatusRow).where(QuarterStatusRow.audit_id.is_not(None)))
        if r.audit_id is not None and r.audit_hash is not None
    ]
    db_id = read_setting(session, "db.id")
    heads += backup_heads(db_path, db_id)
    problem = (
        check_chain(rows)
        or check_replay(rows, figures, texts, bases, name)
        or check_states(rows, states)
        or check_answers(rows, session.scalars(select(CityAnswerRow.audit_id)))
        or check_db_id(rows, db_id)
        or check_heads(rows, heads)
    )
    if problem is not None:
        return problem
    return AuditCheck(True, len(rows), None, f"审计记录完整，共 {len(rows)} 条，与现有数值一致")
