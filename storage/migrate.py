"""Schema migrations run from code at start-up, and the refusal of databases from a newer app."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DomainError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(DomainError):
    """A database file that cannot be used as it is."""


class DatabaseDamaged(DatabaseError):
    """The file fails SQLite's integrity check; it is not opened for writing."""


class DatabaseTooNew(DatabaseError):
    """A database written by a newer version of the app; it is left untouched."""


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


def inspect_file(path: Path) -> str | None:
    """The file's schema revision (None for a new or empty file), read without writing to it.

    Raises DatabaseError for a file that is not one of ours and DatabaseTooNew for a newer one.
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DatabaseError(f"无法打开数据库文件 {path}：{exc}") from exc
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "alembic_version" not in tables:
            if tables:
                raise DatabaseError(f"{path} 不是本系统的数据库（缺少版本信息），为避免损坏未打开它")
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        with path.open("rb") as f:
            is_sqlite = f.read(16) == b"SQLite format 3\x00"
        if is_sqlite:
            raise DatabaseDamaged(
                f"数据库 {path} 已损坏（{exc}），为保护数据未打开。可以用最近的完好备份恢复：restore 备份文件"
            ) from exc
        raise DatabaseError(f"{path} 不是有效的数据库文件（{exc}）") from exc
    finally:
        conn.close()
    revision = row[0] if row else None
    if revision is not None and revision not in known_revisions():
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
