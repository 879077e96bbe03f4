"""A town's city state per quarter, read in plain SQL (no SQLAlchemy: the window's quick read uses it).

An answer row counts only while the audit row that recorded it says exactly what the row says (its
revision, verdict, file's SHA-256, signing time and reasons): a row written or changed with a database
tool, outside the chain, does not make a quarter 已接收 (see core.receipts.answer_audit_text)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from core.quarters import Quarter
from core.receipts import AUDIT_ACTIONS, VERDICTS, CityState, Reason, answer_audit_text, answer_order


@dataclass(frozen=True)
class AnswerRow:
    kind: str
    revision: int
    signed_at: str
    reasons: str  # JSON


def effective(rows: Iterable[AnswerRow]) -> CityState | None:
    """The answer that took effect last: the highest revision, then the latest signature."""
    best: tuple[tuple[int, dt.datetime, bool], AnswerRow] | None = None
    for row in rows:
        try:
            key = answer_order(row.revision, dt.datetime.fromisoformat(row.signed_at), row.kind)
        except ValueError:
            continue
        if best is None or key > best[0]:
            best = (key, row)
    if best is None:
        return None
    row = best[1]
    try:
        reasons = tuple(Reason(item["indicator"], item["reason"]) for item in json.loads(row.reasons))
    except (ValueError, KeyError, TypeError):
        reasons = ()
    return CityState(VERDICTS.get(row.kind), row.revision, row.signed_at, reasons)


def recorded_answers(conn: sqlite3.Connection, town: str, quarter: str | None = None) -> dict[str, list[AnswerRow]]:
    """The town's answers, per quarter, whose audit row (same quarter, action and text) is in the chain."""
    query = (
        "SELECT c.quarter, c.kind, c.revision, c.signed_at, c.reasons, c.file_sha256, a.quarter, a.action, a.new_value "
        "FROM city_answers AS c JOIN audit AS a ON a.id = c.audit_id WHERE c.town = ?"
    )
    params: tuple[str, ...] = (town,)
    if quarter is not None:
        query += " AND c.quarter = ?"
        params += (quarter,)
    try:
        rows = conn.execute(query, params).fetchall()
    except sqlite3.OperationalError:  # a database from before the round trip, read before it is migrated
        return {}
    found: dict[str, list[AnswerRow]] = {}
    for code, kind, revision, signed_at, reasons, sha, audit_quarter, action, said in rows:
        try:
            parsed = tuple(Reason(item["indicator"], item["reason"]) for item in json.loads(reasons))
            expected = answer_audit_text(kind, revision, sha, signed_at, parsed)
        except (ValueError, KeyError, TypeError):
            continue
        if audit_quarter == code and action == AUDIT_ACTIONS.get(kind) and said == expected:
            found.setdefault(code, []).append(AnswerRow(kind, revision, signed_at, reasons))
    return found


def city_states(conn: sqlite3.Connection, town: str) -> dict[Quarter, CityState]:
    """Each quarter's city state, from the answers the audit chain recorded."""
    states = {}
    for quarter_code, quarter_rows in recorded_answers(conn, town).items():
        state = effective(quarter_rows)
        if state is not None:
            states[Quarter.parse(quarter_code)] = state
    return states
