"""Each quarter's submission as stored: its status row, the revision numbers handed out, exports
recorded and reopens. The rules they follow are in `core.submission`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.plans import Plan
from core.quarters import Quarter
from core.submission import (
    REOPENED,
    SUBMITTED,
    IssuedNumber,
    QuarterStatus,
    checked_reopen_reason,
    refuse_changes_if_submitted,
    refuse_reopen_unless_submitted,
)
from core.submission import revision_for as revision_rule
from storage import reads
from storage.audit_trail import append_entry
from storage.backup import backups_of, connect_backup, connect_read_only, looks_like_sqlite
from storage.engine import session_connection
from storage.models import IssuedRevision, QuarterStatusRow
from storage.settings import now_text


def refuse_if_submitted(session: Session, town: str, quarter: Quarter) -> None:
    status = session.get(QuarterStatusRow, (town, quarter.code))
    refuse_changes_if_submitted(quarter, status.state if status else None, status.revision if status else None)


def issue_revision(session: Session, town: str, quarter: str, revision: int, content_hash: str) -> str:
    """Record that `revision` was handed out for this content, unless it already was; gives the content it is for."""
    issued = session.get(IssuedRevision, (town, quarter, revision))
    if issued is None:
        session.add(
            IssuedRevision(
                town=town, quarter=quarter, revision=revision, content_hash=content_hash, issued_at=now_text()
            )
        )
        return content_hash
    return issued.content_hash


def revision_for(session: Session, town: str, quarter: Quarter, content_hash: str) -> int:
    status = session.get(QuarterStatusRow, (town, quarter.code))
    latest = session.scalar(
        select(IssuedRevision)
        .where(IssuedRevision.town == town, IssuedRevision.quarter == quarter.code)
        .order_by(IssuedRevision.revision.desc())
        .limit(1)
    )
    return revision_rule(
        content_hash,
        state=status.state if status else None,
        recorded=IssuedNumber(status.revision, status.content_hash) if status else None,
        latest_issued=IssuedNumber(latest.revision, latest.content_hash) if latest else None,
    )


def reserve_revision(session: Session, town: str, quarter: Quarter, content_hash: str) -> int:
    revision = revision_for(session, town, quarter, content_hash)
    issue_revision(session, town, quarter.code, revision, content_hash)
    return revision


def record_export(
    session: Session,
    os_user: str,
    town: str,
    quarter: Quarter,
    revision: int,
    content_hash: str,
    files: Sequence[str],
    signed_at: str | None = None,
) -> None:
    """`signed_at`: when the files were signed, where that was before this record (an export finished at a
    later start); the trail keeps it so that the next revision is signed after it."""
    if issue_revision(session, town, quarter.code, revision, content_hash) != content_hash:
        raise DomainError(f"第 {revision} 版已用于内容不同的季报，未记录本次导出")
    said = f"第 {revision} 版：" + "、".join(files) + (f"{SIGNED_AT_OPEN}{signed_at}）" if signed_at else "")
    entry = append_entry(session, os_user, "export", quarter.code, None, None, said)
    row = session.get(QuarterStatusRow, (town, quarter.code))
    if row is None:
        row = QuarterStatusRow(town=town, quarter=quarter.code)
        session.add(row)
    row.state, row.revision, row.content_hash, row.updated_at = SUBMITTED, revision, content_hash, now_text()
    row.audit_id, row.audit_hash = entry.id, entry.hash


SIGNED_AT_OPEN = "（签名于 "


def reopen(session: Session, os_user: str, town: str, quarter: Quarter, reason: str) -> QuarterStatus:
    reason = checked_reopen_reason(reason)
    row = session.get(QuarterStatusRow, (town, quarter.code))
    refuse_reopen_unless_submitted(quarter, row.state if row else None)
    assert row is not None
    row.state, row.updated_at = REOPENED, now_text()
    append_entry(session, os_user, "reopen", quarter.code, None, f"已上报（第 {row.revision} 版）", reason)
    return QuarterStatus(REOPENED, row.revision)


def quarter_statuses(session: Session, town: str, plans: Sequence[Plan]) -> dict[Quarter, QuarterStatus]:
    """Every quarter with a status row; a submitted one whose totals changed since is 需重新上报."""
    return reads.quarter_statuses(session_connection(session), town, plans)


def revisions_handed_out(db_path: Path) -> set[tuple[str, str, int, str]]:
    """Every revision number this database ever gave out, from the live file and its backups."""
    found: set[tuple[str, str, int, str]] = set()
    sources = [db_path] if looks_like_sqlite(db_path) else []
    sources += backups_of(db_path)
    for source in sources:
        try:
            conn = connect_read_only(source) if source == db_path else connect_backup(source)
        except sqlite3.Error:
            continue
        try:
            for table in ("issued_revisions", "quarter_status"):
                try:
                    found.update(conn.execute(f"SELECT town, quarter, revision, content_hash FROM {table}"))
                except sqlite3.Error:
                    continue
        finally:
            conn.close()
    return found
