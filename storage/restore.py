"""Putting a backup in the database's place, so that a kill at any moment leaves a whole database."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from core.errors import DomainError
from storage import migrate, submissions
from storage.audit_trail import append_entry, check_restorable
from storage.backup import (
    DB_ID_PREFIX,
    GENERATION_KEY,
    MAX_BACKUP_BYTES,
    DatabaseDamaged,
    DatabaseIdentity,
    backup_to_rotation,
    copy_database,
    fsync_folder,
    highest_generation,
    identity_file,
    integrity_problem,
    keep_damaged,
    live_identity,
    path_text,
    read_identity,
    remove_leftovers,
    write_identity_file,
)
from storage.engine import open_engine, os_user_name, writing
from storage.errors import DatabaseError, classify, lenient_text
from storage.lock import DatabaseLock
from storage.rawfile import copy_bytes
from storage.settings import read_setting, write_setting
from storage.wal import set_aside_foreign_log


class RestoreRefused(DomainError):
    """A backup that cannot be restored; the live database was not touched."""


def restore_database(db_path: Path, backup: Path, *, on_step: Callable[[str], None] | None = None) -> Path | None:
    """Replace the database with a checked backup, so that a kill at any moment leaves either the old
    database (every committed figure in it) or the restored one, never a mix and never less.

    The backup is copied, checked, migrated and given its 从备份恢复 audit row beside the database;
    the current file is kept (a backup copy, or byte for byte when it is damaged); the live WAL is
    checkpointed into the file; only then is the prepared copy renamed over it. Returns where the
    previous database was kept (None when there was none).
    """
    step = on_step or (lambda _name: None)
    db_path = Path(os.path.realpath(db_path))  # replace the file a shortcut points to, never the shortcut
    with DatabaseLock(db_path, "从备份恢复").acquire():
        set_aside_foreign_log(db_path)  # never checkpoint another file's log into the database kept aside
        remove_leftovers(db_path)
        # Before SQLite touches the live file at all (it may drop the WAL of a damaged one): its bytes, aside.
        raw = keep_damaged(db_path, "恢复前原样") if db_path.exists() else None
        temp = db_path.with_name(f".{db_path.name}.restore-{os.getpid()}")
        # The backup is its file alone: a write-ahead log somebody left beside it is never read into it.
        alone = db_path.with_name(f".{db_path.name}.restore-{os.getpid()}-source")
        try:
            _refuse_unusable_file(backup)
            try:
                copy_bytes(backup, alone)
            except OSError as exc:
                raise classify(exc, alone) or RestoreRefused(f"无法读取备份文件 {backup.name}，未恢复") from exc
            revision = _check_backup(db_path, alone, backup.name)
            step("checked")
            _prepare_restored(db_path, alone, temp, revision, backup.name)
            step("prepared")
            kept = _keep_current(db_path, raw)
            step("kept")
            _checkpoint_and_clear(db_path)
            step("checkpointed")
            os.replace(temp, db_path)
        except BaseException:
            _remove_with_journals(temp)
            if raw is not None and raw.exists():
                shutil.rmtree(raw, ignore_errors=True)  # nothing was replaced: the live file is the original
            raise
        finally:
            _remove_with_journals(alone)
        # Replaced: from here on nothing may report the restore as failed (it is done).
        step("replaced")
        try:
            fsync_folder(db_path.parent)
            write_identity_file(db_path, read_identity(db_path))
        except (OSError, sqlite3.Error):
            pass  # the rename is journalled and the note beside the file only helps a damaged one
        return kept


def _remove_with_journals(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        try:
            leftover.unlink(missing_ok=True)
        except OSError:
            pass


def _refuse_unusable_file(backup: Path) -> None:
    if not backup.is_file():
        raise RestoreRefused(f"找不到备份文件 {backup}（或它不是普通文件）")
    size = backup.stat().st_size
    if size > MAX_BACKUP_BYTES:
        raise RestoreRefused(f"{backup.name} 有 {size // (1 << 20)} MB，不是本系统的数据库备份，未恢复")


def _check_backup(db_path: Path, backup: Path, name: str) -> str:
    """The backup's schema revision, once it is known to be a whole database of this town's, made by this app."""
    try:
        revision = migrate.inspect_file(backup)
        problem = integrity_problem(backup)
    except DatabaseError as exc:
        raise RestoreRefused(f"备份文件 {name} 不能用于恢复：{exc.message}") from exc
    if revision is None or problem:
        raise RestoreRefused(f"备份文件 {name} 已损坏（{problem or '空文件'}），未恢复；当前数据库未作改动")
    conn = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    conn.text_factory = lenient_text
    try:
        found = migrate.schema_of(conn)
    finally:
        conn.close()
    expected = migrate.reference_schema(revision)
    if found != expected:
        extra = sorted(f"{kind} {obj}" for kind, obj, _t, _s in found - expected)
        missing = sorted(f"{kind} {obj}" for kind, obj, _t, _s in expected - found)
        detail = "；".join(
            part
            for part in (
                f"多出 {'、'.join(extra)}" if extra else "",
                f"不同或缺少 {'、'.join(missing)}" if missing else "",
            )
            if part
        )
        raise RestoreRefused(
            f"备份文件 {name} 的数据库结构与本软件建立的不一致（{detail}），可能被其他程序改动过，未恢复；当前数据库未作改动"
        )
    theirs = read_identity(backup)
    ours = (
        live_identity(db_path) if db_path.exists() or identity_file(db_path).exists() else DatabaseIdentity(None, None)
    )
    if ours.db_id and theirs.db_id and ours.db_id != theirs.db_id and holds_nothing(db_path):
        # A new PC: the old one died, this database was just set up (or never bound) and holds no figure
        # yet. The backup comes with its own id and town; this database is kept aside as any other.
        if ours.town and theirs.town and ours.town != theirs.town:
            raise RestoreRefused(
                f"备份文件 {name} 属于另一个数据库（{theirs.town}），当前数据库已绑定{ours.town}，未恢复；当前数据库未作改动"
            )
        return revision
    if ours.db_id and theirs.db_id and ours.db_id != theirs.db_id:
        raise RestoreRefused(
            f"备份文件 {name} 属于另一个数据库（{theirs.town or '未绑定镇街'}），不是{ours.town or '当前数据库'}的备份，"
            "未恢复；当前数据库未作改动"
        )
    if ours.town and theirs.town and ours.town != theirs.town:
        raise RestoreRefused(f"备份属于{theirs.town}，当前数据库属于{ours.town}，未恢复；当前数据库未作改动")
    return revision


def holds_nothing(db_path: Path) -> bool:
    """A whole database with no figure, 说明, 基期数 or export in it: a new PC's, set up but not used."""
    if not db_path.exists():
        return True
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            counts = [
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("figures", "explanations", "stock_bases", "quarter_status", "issued_revisions")
            ]
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # damaged or not ours: never taken for an empty new database
    return not any(counts)


def _prepare_restored(db_path: Path, backup: Path, temp: Path, revision: str, name: str) -> None:
    copy_database(backup, temp)
    engine = open_engine(temp)
    try:
        if revision != migrate.head_revision():
            with engine.begin() as connection:
                migrate.upgrade(connection)
        with writing(engine) as session:
            if read_setting(session, "db.id") is None:
                write_setting(session, "db.id", live_identity(db_path).db_id or DB_ID_PREFIX + uuid.uuid4().hex)
            # Above every copy of this database: the restored state is the newest, whatever the clock says.
            db_id = read_setting(session, "db.id")
            generation = max(highest_generation(db_path, db_id), highest_generation(backup, None)) + 1
            write_setting(session, GENERATION_KEY, str(generation))
        with Session(engine) as session:
            problem = check_restorable(session)
        if problem is not None:
            raise RestoreRefused(
                f"备份文件 {name} 的修改记录有问题（{problem.message}），未恢复；当前数据库未作改动"
            )
        handed_out = submissions.revisions_handed_out(db_path)
        with writing(engine) as session:
            # Revision numbers given out after the backup was taken stay given out: never reused for other content.
            for town, quarter, number, content in handed_out:
                submissions.issue_revision(session, town, quarter, number, content)
            append_entry(session, os_user_name(), "restore", None, None, None, path_text(name))
    finally:
        engine.dispose()
    with temp.open("rb+") as f:
        os.fsync(f.fileno())


def _keep_current(db_path: Path, raw: Path | None) -> Path | None:
    """A healthy live database becomes a backup in rotation; a damaged one stays as its byte copy."""
    if not db_path.exists():
        return raw
    try:
        healthy = migrate.inspect_file(db_path) is not None and integrity_problem(db_path) is None
    except DatabaseDamaged:
        healthy = False
    except DatabaseError as exc:
        if type(exc) is not DatabaseError:
            raise  # locked, read-only, full: a restore must not go on
        healthy = False
    if not healthy:
        if raw is None:
            return keep_damaged(db_path)
        damaged_copy = raw.with_name(raw.name.replace("恢复前原样", "损坏", 1))
        os.replace(raw, damaged_copy)
        return damaged_copy
    kept = backup_to_rotation(db_path, "恢复前")
    if raw is not None:
        shutil.rmtree(raw, ignore_errors=True)
    return kept


def _checkpoint_and_clear(db_path: Path) -> None:
    """Move every commit of the live WAL into the file, then remove the WAL, so that the rename leaves
    no WAL of the old database beside the new one (SQLite would replay it into the wrong file)."""
    wal, shm, journal = Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), Path(f"{db_path}-journal")
    if db_path.exists() and wal.exists() and wal.stat().st_size > 0:
        try:
            conn = sqlite3.connect(str(db_path))
            try:
                busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            busy = -1
        if busy and wal.exists() and wal.stat().st_size > 0:
            if busy == 1:
                raise classify(sqlite3.OperationalError("database is locked"), db_path) or DatabaseError("数据库被占用")
            # Damaged: its WAL was copied aside byte for byte with the file in _keep_current.
    for leftover in (wal, shm, journal):
        leftover.unlink(missing_ok=True)
