"""A new database: built beside its final path and put in place only when whole."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.plans import TOWNS, load_shipped_plan
from storage import migrate
from storage.audit_trail import append_entry, recorded_db_id
from storage.backup import DB_ID_PREFIX, DatabaseIdentity, fsync_folder, remove_leftovers, write_identity_file
from storage.engine import open_engine, os_user_name, writing
from storage.errors import DatabaseError, classify
from storage.lock import DatabaseLock
from storage.models import PlanRow, Town
from storage.plans import import_plan
from storage.settings import read_setting, write_setting


def seed(session: Session, os_user: str) -> str:
    """The 33 towns, the shipped plan and the database's id: what every database has from its first moment."""
    if session.scalar(select(func.count()).select_from(Town)) != len(TOWNS):
        known = set(session.scalars(select(Town.name)))
        session.add_all(Town(name=name, seq=i) for i, name in enumerate(TOWNS, start=1) if name not in known)
    db_id = read_setting(session, "db.id")
    recorded = recorded_db_id(session)
    if db_id is None:
        # Deleted outside the app: put back the id the trail recorded, so its backups are still its own.
        db_id = recorded or DB_ID_PREFIX + uuid.uuid4().hex
        write_setting(session, "db.id", db_id)
    if recorded is None:
        append_entry(session, os_user, "db_id", None, None, None, db_id)
    if session.scalar(select(PlanRow).limit(1)) is None:
        import_plan(session, os_user, load_shipped_plan(), "随软件提供")
    return db_id


def create_database(path: Path, *, today: Callable[[], date] = date.today, os_user: str | None = None) -> None:
    """Build a new database beside its final path and rename it into place only when it is complete.

    So a file at the database's path is always a whole database; a first run killed at any moment
    leaves only a temp file that the next start removes before building afresh.
    """
    with DatabaseLock(path, "首次建立数据库").acquire(timeout=10):
        if path.exists():
            return  # another process finished first
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(path)
        temp = path.with_name(f".{path.name}.new-{os.getpid()}")
        engine = open_engine(temp)
        try:
            with engine.begin() as connection:
                migrate.upgrade(connection)
            with writing(engine) as session:
                db_id = seed(session, os_user or os_user_name())
        finally:
            engine.dispose()  # the last connection checkpoints the WAL and removes it; the file stays in WAL mode
        try:
            with temp.open("rb+") as f:
                os.fsync(f.fileno())
            os.replace(temp, path)
            fsync_folder(path.parent)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise classify(exc, path) or DatabaseError(f"无法建立数据库 {path}：{exc}") from exc
        write_identity_file(path, DatabaseIdentity(db_id, None))
