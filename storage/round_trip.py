"""The city round trip as stored: a town's record of the city's answers (receipts and send-backs) and
the city's register of the returns it accepted, refused or sent back. The rules are in `core.receipts`.

A town's answer row counts only while the audit row that recorded it says what the row says (see
storage.city_reads): a row written or changed with a database tool does not make a quarter 已接收.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.quarters import Quarter
from core.receipts import (
    AUDIT_ACTIONS,
    NOTICE,
    RECEIPT,
    CityAnswer,
    Outcome,
    ReceivedFacts,
    answer_audit_text,
    judge_answer,
)
from core.submission import SUBMITTED
from storage import submissions
from storage.audit_trail import append_entry
from storage.city_reads import AnswerRow, effective, recorded_answers
from storage.engine import session_connection
from storage.models import CityAnswerRow, CityRegisterRow, IssuedRevision, QuarterStatusRow
from storage.settings import now_text

_EXPORTED = re.compile(r"^第 (\d+) 版：")


def exported_revisions(session: Session, town: str, quarter: Quarter) -> dict[int, str]:
    """Each revision of the quarter this database recorded an export of, with the content it was given to."""
    from storage.models import AuditEntry

    recorded = {
        int(m.group(1))
        for text in session.scalars(
            select(AuditEntry.new_value).where(AuditEntry.action == "export", AuditEntry.quarter == quarter.code)
        )
        if text and (m := _EXPORTED.match(text))
    }
    issued = session.scalars(
        select(IssuedRevision).where(IssuedRevision.town == town, IssuedRevision.quarter == quarter.code)
    )
    return {row.revision: row.content_hash for row in issued if row.revision in recorded}


def import_answer(
    session: Session,
    os_user: str,
    town: str,
    answer: CityAnswer,
    file_sha256: str,
    content: str,
    signature: str,
    name: Callable[[str], str] = str,
) -> Outcome:
    """Judge a verified answer against this database and record it (a send-back reopening the quarter) in
    this transaction; a refusal raises AnswerRefused, an answer that changes nothing records nothing."""
    quarter = answer.quarter
    # the same signed content is the same answer, whatever the file's layout (re-indented, a BOM, a copy)
    already = (
        session.scalar(
            select(CityAnswerRow.id).where(
                (CityAnswerRow.content == content) | (CityAnswerRow.file_sha256 == file_sha256)
            )
        )
        is not None
    )
    status = session.get(QuarterStatusRow, (town, quarter.code))
    latest = effective(_rows(session, town, quarter))
    facts = ReceivedFacts(
        town=town,
        exported=exported_revisions(session, town, quarter),
        state=status.state if status else None,
        revision=status.revision if status else None,
        latest=latest,
        already=already,
    )
    outcome = judge_answer(answer, facts, name)
    if not outcome.records:
        return outcome
    signed_at = answer.at.isoformat(timespec="microseconds")
    said = answer_audit_text(answer.kind, answer.revision, file_sha256, signed_at, answer.reasons)
    entry = append_entry(session, os_user, AUDIT_ACTIONS[answer.kind], quarter.code, None, None, said)
    session.add(
        CityAnswerRow(
            town=town,
            quarter=quarter.code,
            revision=answer.revision,
            kind=answer.kind,
            content_hash=answer.content_hash,
            signed_at=signed_at,
            reasons=json.dumps([r.as_dict() for r in answer.reasons], ensure_ascii=False),
            file_sha256=file_sha256,
            content=content,
            signature=signature,
            imported_at=now_text(),
            audit_id=entry.id,
        )
    )
    if outcome.reopens:
        assert status is not None and status.state == SUBMITTED
        whole = next((r.text for r in answer.reasons if r.indicator is None), "见各项指标的退回原因")
        submissions.reopen(session, os_user, town, quarter, f"市局退回（退回通知 SHA-256 {file_sha256}）：{whole}")
    session.flush()
    return outcome


def _rows(session: Session, town: str, quarter: Quarter) -> list[AnswerRow]:
    return recorded_answers(session_connection(session), town, quarter.code).get(quarter.code, [])


# --- the city's register --------------------------------------------------------------------------

ACCEPTED = "accepted"
REFUSED = "refused"
SENT_BACK = "sent_back"


@dataclass(frozen=True)
class RegisterEntry:
    quarter: str
    town: str | None
    revision: int | None
    content_hash: str | None
    file: str
    verdict: str  # accepted / refused / sent_back
    reason: str | None
    issued: str | None  # receipt / notice
    issued_file: str | None
    issued_at: str | None
    unit_name: str | None
    phone: str | None
    first_seen: str
    last_seen: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "town": self.town,
            "quarter": self.quarter,
            "revision": self.revision,
            "content_hash": self.content_hash,
            "file": self.file,
            "verdict": self.verdict,
            "reason": self.reason,
            "issued": self.issued,
            "issued_file": self.issued_file,
            "issued_at": self.issued_at,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


def register_key(quarter: str, town: str | None, revision: int | None, content_hash: str | None, file: str) -> str:
    if town is not None and revision is not None and content_hash is not None:
        return f"{quarter}|{town}|{revision}|{content_hash}"
    return f"{quarter}|file|{file}"


def register(session: Session, entry: RegisterEntry) -> RegisterEntry:
    """Record what the city saw of a return. Every answer the city signed for it is kept, one row each
    (the register is its history: a receipt later withdrawn by a send-back stays, with its time); the
    same answer seen again only updates when it was last seen. A refused file has one row."""
    key = register_key(entry.quarter, entry.town, entry.revision, entry.content_hash, entry.file)
    rows = list(
        session.scalars(
            select(CityRegisterRow)
            .where((CityRegisterRow.key == key) | CityRegisterRow.key.startswith(f"{key}#", autoescape=True))
            .order_by(CityRegisterRow.id)
        )
    )
    now = now_text()
    row = next((r for r in rows if (r.issued, r.issued_at) == (entry.issued, entry.issued_at)), None)
    if row is None and entry.issued is None:
        row = rows[-1] if rows else None
        if row is not None and row.issued is not None:  # the return's answers stand; a sighting adds none
            row.last_seen = now
            session.flush()
            return _entry(row)
    if row is None:
        taken = {r.key for r in rows}
        number = len(rows)
        new_key = key if key not in taken else f"{key}#{number}"
        while new_key in taken:
            number += 1
            new_key = f"{key}#{number}"
        row = CityRegisterRow(key=new_key, first_seen=now)
        session.add(row)
    row.quarter, row.town, row.revision, row.content_hash = (
        entry.quarter,
        entry.town,
        entry.revision,
        entry.content_hash,
    )
    row.file, row.verdict, row.reason = entry.file, entry.verdict, entry.reason
    if entry.issued is not None:
        row.issued, row.issued_file, row.issued_at = entry.issued, entry.issued_file, entry.issued_at
    if entry.unit_name is not None:
        row.unit_name, row.phone = entry.unit_name, entry.phone
    row.last_seen = now
    session.flush()
    return _entry(row)


def registered(session: Session, quarter: str | None = None) -> list[RegisterEntry]:
    query = select(CityRegisterRow).order_by(
        CityRegisterRow.quarter,
        CityRegisterRow.town,
        CityRegisterRow.revision,
        CityRegisterRow.issued_at,
        CityRegisterRow.id,
    )
    if quarter is not None:
        query = query.where(CityRegisterRow.quarter == quarter)
    return [_entry(row) for row in session.scalars(query)]


def _entry(row: CityRegisterRow) -> RegisterEntry:
    return RegisterEntry(
        row.quarter,
        row.town,
        row.revision,
        row.content_hash,
        row.file,
        row.verdict,
        row.reason,
        row.issued,
        row.issued_file,
        row.issued_at,
        row.unit_name,
        row.phone,
        row.first_seen,
        row.last_seen,
    )


__all__ = ["NOTICE", "RECEIPT"]
