"""Schema migrations run from code at start-up, and the refusal of databases from a newer app."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from storage.errors import DatabaseDamaged, DatabaseError, DatabaseTooNew, classify, damaged, lenient_text
from storage.rawfile import read_bytes

__all__ = ["DatabaseDamaged", "DatabaseError", "DatabaseTooNew"]

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# Importing Alembic costs a quarter of a second at every start; the revision ids are the migration
# files' number prefixes (tests/test_storage.py checks this against Alembic's own view).
@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


@functools.cache
def head_revision() -> str:
    return max(known_revisions())


SQLITE_MAGIC = b"SQLite format 3\x00"


def inspect_file(path: Path) -> str | None:
    """The file's schema revision, read without changing it; None only when there is no file.

    A database file is only ever put in place whole (see `storage.creation.create_database`), so a
    file that is empty, zeroed, truncated or unreadable at the database's path is damage, never a
    first run in progress. Raises DatabaseDamaged for that, DatabaseError for a file that is not
    one of ours, DatabaseTooNew for a newer one, and DatabaseLocked / DatabaseReadOnly / DiskIOError
    for the situations that a restore must not be offered for.
    """
    if not path.exists():
        return None
    if path.is_dir():
        raise DatabaseError(f"{path} 是一个文件夹，不是数据库文件；请用 --db 指定数据库文件的路径")
    if not path.is_file():  # a pipe or a device: reading it could wait forever
        raise DatabaseError(f"{path} 不是普通文件（可能是管道或设备），不能作为数据库")
    try:
        size = path.stat().st_size
        head = read_bytes(path, 100)
    except OSError as exc:
        raise classify(exc, path) or DatabaseError(f"无法读取数据库文件 {path}：{exc}") from exc
    if size == 0:
        raise damaged(path, "文件是空的（0 字节）")
    if not head.startswith(SQLITE_MAGIC):
        if not head.strip(b"\x00"):
            raise damaged(path, "文件开头全是零")
        if SQLITE_MAGIC.startswith(head):
            raise damaged(path, "文件被截断")
        raise DatabaseError(f"{path} 不是有效的数据库文件，为避免损坏未打开它")
    # A hot rollback journal needs a writable connection to be rolled back; reading never commits.
    mode = "rw" if Path(f"{path}-journal").exists() else "ro"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
        conn.text_factory = lenient_text
    except sqlite3.Error as exc:
        raise classify(exc, path) or damaged(path, str(exc)) from exc
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "alembic_version" not in tables:
            if tables:
                raise DatabaseError(f"{path} 不是本系统的数据库（缺少版本信息），为避免损坏未打开它")
            raise damaged(path, "文件里没有任何数据表")
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        raise classify(exc, path) or damaged(path, str(exc)) from exc
    finally:
        conn.close()
    revision = row[0] if row else None
    if revision is None:
        raise damaged(path, "缺少结构版本")
    if revision not in known_revisions():
        raise DatabaseTooNew(
            f"数据库 {path} 由更新版本的本软件创建（结构版本 {revision}），当前版本无法识别。"
            "请升级软件后再打开；文件未作任何改动。"
        )
    return revision


def upgrade(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@functools.cache
def reference_schema(revision: str) -> frozenset[tuple[str, str, str, str]]:
    """What the app's own migrations create at `revision`: every table, index, trigger and view."""
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            return schema_of(connection.connection.driver_connection)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def schema_of(conn: sqlite3.Connection) -> frozenset[tuple[str, str, str, str]]:
    rows = conn.execute("SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master").fetchall()
    return frozenset(
        (kind, name, table, " ".join(sql.split()))
        for kind, name, table, sql in rows
        if not (kind == "table" and name.startswith("sqlite_"))
    )
