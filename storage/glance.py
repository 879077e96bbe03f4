"""A town's database read before SQLAlchemy is imported, so the window can be filled in at once.

Importing SQLAlchemy and the store takes longer than the whole window (issue 17). A database that needs
nothing but reading — the current structure, whole, bound to a town — is read here through
`storage.reads` (the very queries the store runs) on a read-only connection; anything else (no file,
an older structure to migrate, damage, a table or column missing, a first run not finished, a file
marked read-only, first-run set-up, a city database) is left to the full `Store`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from core.errors import DomainError
from storage import migrate
from storage.backup import connect_read_only, integrity_problem
from storage.errors import DatabaseError, classify, sqlite_detail
from storage.reads import StoreReads, setting
from storage.structure import is_complete, missing_structure
from storage.wal import set_aside_foreign_log


class Glance(StoreReads):
    """The database seen read-only: it never changes the file (SQLite may make the WAL's index files
    beside it, as for any reader of a WAL database)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, today: Callable[[], date]):
        self.path, self._conn, self._today = path, conn, today

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        # One snapshot per read, as the store's read transactions give; SQLite's errors in the words the
        # store uses (a database changed or locked under the reader is a DomainError, never a crash).
        try:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise classify(exc, self.path) or DatabaseError(f"读取数据库 {self.path} 失败：{sqlite_detail(str(exc))}") from exc

    def close(self) -> None:
        self._conn.close()


def glance(path: Path, today: Callable[[], date] = date.today) -> Glance | None:
    """The database opened for reading only, or None when it needs the full store to open."""
    path = Path(os.path.realpath(path))
    if set_aside_foreign_log(path) is not None:
        return None  # the store opens it and tells the clerk what was set aside
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return None  # the store refuses it at once, before the clerk types anything it could not save
    try:
        if migrate.inspect_file(path) != migrate.head_revision() or integrity_problem(path) is not None:
            return None
        conn = connect_read_only(path)
    except (DomainError, sqlite3.Error, OSError):
        return None
    try:
        conn.isolation_level = None
        conn.execute("PRAGMA busy_timeout=5000")
        needs_the_store = (
            setting(conn, "town") is None
            or setting(conn, "mode") == "city"
            or missing_structure(conn) is not None  # damage the store names and offers a backup for
            or not is_complete(conn)  # the store completes it (or finds it cannot)
        )
        if needs_the_store:
            conn.close()
            return None
    except sqlite3.Error:
        conn.close()
        return None
    return Glance(path, conn, today)
