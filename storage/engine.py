"""How every connection to a database file is made, and what one write transaction is."""

from __future__ import annotations

import getpass
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from storage.errors import classify, lenient_text


def open_engine(path: Path, busy_timeout_ms: int = 5000) -> Engine:
    """An engine over the SQLite file at `path`: WAL, full sync, foreign keys, and errors sorted into
    the situations `storage.errors` names."""
    engine = create_engine(f"sqlite+pysqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide where transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        dbapi_connection.text_factory = lenient_text
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A writer takes the lock up front, so two writers never deadlock half-way through a save.
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "handle_error")
    def _on_error(context):
        # Locked, read-only, full and I/O errors are situations with their own message, never a bug.
        original = context.original_exception
        problem = classify(original, path) if original is not None else None
        if problem is not None:
            raise problem from original

    return engine


@contextmanager
def reading(engine: Engine) -> Iterator[sqlite3.Connection]:
    """The driver's own connection, in one read transaction (storage.reads speaks plain SQL to it)."""
    with engine.begin() as connection:
        yield driver_connection(connection)


def driver_connection(connection: Connection) -> sqlite3.Connection:
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


def session_connection(session: Session) -> sqlite3.Connection:
    """The connection under a session, its pending changes flushed, for storage.reads inside a write."""
    session.flush()
    return driver_connection(session.connection())


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed whole on success, rolled back whole on any error."""
    with Session(engine.execution_options(immediate=True)) as session, session.begin():
        count_commit(session.connection())
        yield session


def count_commit(connection: Connection) -> None:
    """Every write transaction raises the file header's user_version by one. It lives on page 1, so each
    commit's pages in the write-ahead log carry its number: storage.wal tells from them whether a log
    continues the database file beside it (whose header carries the number it had when the log began)."""
    current = connection.exec_driver_sql("PRAGMA user_version").scalar() or 0
    connection.exec_driver_sql(f"PRAGMA user_version = {int(current) % 2_000_000_000 + 1}")


def os_user_name() -> str:
    """Who is logged in, as the audit trail records them."""
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors where no login name is set
        return "未知用户"
