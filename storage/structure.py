"""The tables and columns a database at the current structure has, and what a given one lacks: checked
by the store when it opens and by the window's quick read (`storage.glance`), without SQLAlchemy or
Alembic. `tests/test_glance.py` checks this list against the models."""

from __future__ import annotations

import sqlite3

from core.plans import TOWNS

TABLE_COLUMNS: dict[str, frozenset[str]] = {
    "audit": frozenset(
        {"id", "at", "os_user", "clerk", "action", "quarter", "code", "old_value", "new_value", "prev_hash", "hash"}
    ),
    "city_answers": frozenset(
        {
            "id", "town", "quarter", "revision", "kind", "content_hash", "signed_at", "reasons",
            "file_sha256", "content", "signature", "imported_at", "audit_id",
        }
    ),
    "city_register": frozenset(
        {
            "id", "key", "quarter", "town", "revision", "content_hash", "file", "verdict", "reason", "issued",
            "issued_file", "issued_at", "unit_name", "phone", "first_seen", "last_seen",
        }
    ),
    "meta": frozenset({"key", "value"}),
    "plan_packages": frozenset(
        {
            "id",
            "content_hash",
            "name",
            "first_quarter",
            "last_quarter",
            "origin",
            "source",
            "imported_at",
            "content",
            "signature",
        }
    ),
    "plans": frozenset({"id", "name", "first_quarter", "last_quarter", "source", "imported_at"}),
    "towns": frozenset({"name", "seq"}),
    "explanations": frozenset({"town", "quarter", "code", "text", "updated_at"}),
    "figures": frozenset({"town", "quarter", "code", "value", "updated_at"}),
    "issued_revisions": frozenset({"town", "quarter", "revision", "content_hash", "issued_at"}),
    "quarter_plans": frozenset({"town", "quarter", "plan_name", "plan_id", "content_hash", "recorded_at"}),
    "quarter_status": frozenset(
        {"town", "quarter", "state", "revision", "content_hash", "updated_at", "audit_id", "audit_hash"}
    ),
    "stock_bases": frozenset({"town", "plan", "code", "value", "updated_at"}),
    "targets": frozenset({"id", "plan_id", "town", "code", "value"}),
}


def missing_structure(conn: sqlite3.Connection) -> str | None:
    """What the database lacks of the tables and columns the program uses (a table or column dropped
    outside the program), or None."""
    for table, expected in TABLE_COLUMNS.items():
        columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        if not columns:
            return f"缺少数据表 {table}，可能在本软件之外被改动过"
        missing = sorted(expected - columns)
        if missing:
            return f"数据表 {table} 缺少列 {'、'.join(missing)}，可能在本软件之外被改动过"
    return None


def is_complete(conn: sqlite3.Connection) -> bool:
    """Has the database what a finished first run leaves (its id, also recorded in the trail, the 33
    towns, a plan)? The store completes one that has not; the quick read leaves it to the store."""
    has_id = conn.execute("SELECT 1 FROM meta WHERE key = 'db.id'").fetchone() is not None
    recorded = conn.execute("SELECT new_value FROM audit WHERE action = 'db_id' ORDER BY id DESC LIMIT 1").fetchone()
    towns = conn.execute("SELECT COUNT(*) FROM towns").fetchone()[0]
    has_plan = conn.execute("SELECT 1 FROM plans LIMIT 1").fetchone() is not None
    return has_id and recorded is not None and recorded[0] is not None and towns == len(TOWNS) and has_plan
