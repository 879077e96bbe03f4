"""Backups with SQLite's online backup API, kept in rotation, each belonging to one database.

A database carries an id (`meta` key `db.id`) from the moment it is created; every backup is a
copy and so carries the same id. Rotation, the daily backup and the offer to restore only ever
look at backups whose id is the live database's, whatever the files are called. The id is also
written beside the database (`<file>.identity`), so that a live file too damaged to read still
knows which backups are its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.files import fsync_folder
from storage.errors import DatabaseError, classify, damaged, lenient_text
from storage.migrate import DatabaseDamaged
from storage.rawfile import copy_bytes, read_bytes

__all__ = ["DatabaseDamaged", "fsync_folder"]
KEEP = 30
DB_ID_PREFIX = "town-returns-db:"
_DB_ID = re.compile(rb"town-returns-db:[0-9a-f]{32}")
_STAMP = re.compile(r"_(\d{8}-\d{6}-\d{6})_")
MAX_BACKUP_BYTES = 1 << 30  # a town's database is a few MB; a bigger "backup" is not one of ours


@dataclass(frozen=True)
class DatabaseIdentity:
    db_id: str | None
    town: str | None


def path_text(path: Path | str) -> str:
    """A path as text that can be stored and printed: bytes that are not valid in the file system's
    encoding (a folder named in GBK on a UTF-8 system) are shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace") if os.name == "posix" else str(path)


def backup_folder(db_path: Path) -> Path:
    return db_path.parent / "backups"


def identity_file(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".identity")


def connect_read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.text_factory = lenient_text
    return conn


def connect_backup(path: Path) -> sqlite3.Connection:
    """A backup read as the file alone (a backup is one self-contained file): a `-wal` somebody left
    beside it is not read into it, and nothing (no `-shm`) is made beside it."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    conn.text_factory = lenient_text
    return conn


def read_identity(path: Path) -> DatabaseIdentity:
    """The id and town stored in a readable database file (None for what it does not have)."""
    conn = connect_read_only(path)
    try:
        return identity_of(conn)
    finally:
        conn.close()


def identity_of(conn: sqlite3.Connection) -> DatabaseIdentity:
    """The id and town of the database open on `conn`."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('db.id', 'town')").fetchall())
    return DatabaseIdentity(rows.get("db.id"), rows.get("town"))


def _safe_identity(path: Path) -> DatabaseIdentity | None:
    try:
        return read_identity(path)
    except (sqlite3.Error, OSError):
        return None


def write_identity_file(db_path: Path, identity: DatabaseIdentity) -> None:
    target = identity_file(db_path)
    # The file's own name too: a note copied along with a copy of the database names the original.
    text = json.dumps({"db_id": identity.db_id, "town": identity.town, "file": db_path.name}, ensure_ascii=False)
    try:
        if target.exists() and target.read_text(encoding="utf-8") == text:
            return
        temp = target.with_name(target.name + ".part")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except OSError:
        pass  # only a help for recovering a damaged file; the id inside the database is what counts


def copied_from(db_path: Path, db_id: str) -> Path | None:
    """The database this file is a copy of: another database file in the same folder with the same id,
    whose note beside it is its own, while this file's note is missing or names another file. Such a
    copy shares the folder's backups; it must get an id of its own before it writes or backs up."""
    note = _note(db_path)
    if note is not None and note.get("db_id") == db_id and note.get("file", db_path.name) == db_path.name:
        return None  # the note beside it says this file is the database that id was given to
    for other in sorted(db_path.parent.glob("*.sqlite3")):
        if other == db_path or not other.is_file():
            continue
        theirs = _note(other)
        if theirs is None or theirs.get("db_id") != db_id or theirs.get("file", other.name) != other.name:
            continue
        try:
            if read_identity(other).db_id == db_id:
                return other
        except sqlite3.Error:
            continue
    return None


def _note(db_path: Path) -> dict[str, str] | None:
    try:
        saved = json.loads(identity_file(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def looks_like_sqlite(path: Path) -> bool:
    """Checked from the bytes alone: SQLite must not open an empty or headless file (it would drop its WAL)."""
    try:
        return read_bytes(path, 16) == b"SQLite format 3\x00"
    except OSError:
        return False


def live_identity(db_path: Path) -> DatabaseIdentity:
    """Which database this path holds, even when the file is damaged: what the file itself says
    (read by SQLite, else found in its bytes), and only when it says nothing, the note beside it."""
    found = _safe_identity(db_path) if looks_like_sqlite(db_path) else None
    if found and found.db_id:
        return found
    try:
        match = _DB_ID.search(read_bytes(db_path, 64 << 20))
        if match:
            return DatabaseIdentity(match.group(0).decode("ascii"), found.town if found else None)
    except OSError:
        pass
    try:
        saved = json.loads(identity_file(db_path).read_text(encoding="utf-8"))
        return DatabaseIdentity(saved.get("db_id"), saved.get("town"))
    except (OSError, ValueError, AttributeError):
        pass
    return found or DatabaseIdentity(None, None)


def ensure_db_id(path: Path) -> None:
    """Give a database from before ids existed its id, before its first backup is taken."""
    import uuid

    conn = sqlite3.connect(str(path), timeout=10)
    try:
        with conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('db.id', ?)", (DB_ID_PREFIX + uuid.uuid4().hex,)
            )
    except sqlite3.Error as exc:
        raise classify(exc, path) or damaged(path, str(exc)) from exc
    finally:
        conn.close()


def copy_database(source: Path, target: Path, *, journal_mode: str = "DELETE") -> Path:
    """A consistent copy of a live database (WAL included), written atomically."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise DatabaseError(f"无法建立文件夹 {target.parent}：那里已有一个同名的文件，请把它移走或改名") from exc
    temp = target.with_name(target.name + ".part")
    try:
        temp.unlink(missing_ok=True)
        src = connect_read_only(source)
        try:
            dst = sqlite3.connect(temp)
            try:
                src.backup(dst)
                dst.execute(f"PRAGMA journal_mode={journal_mode}")  # DELETE: a backup is one self-contained file
            finally:
                dst.close()
        finally:
            src.close()
        with temp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(temp, target)
        fsync_folder(target.parent)
    except (sqlite3.Error, OSError) as exc:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm"), Path(f"{temp}-journal")):
            try:
                leftover.unlink(missing_ok=True)
            except OSError:
                pass
        problem = classify(exc, source)
        if problem is None or not isinstance(problem, DatabaseDamaged):
            problem = classify(exc, target) or problem  # space, permissions: the folder being written
        if problem is not None:
            raise problem from exc
        raise DatabaseError(f"无法复制数据库 {source.name}：{exc}") from exc
    return target


def backup_to_rotation(db_path: Path, reason: str, keep: int = KEEP) -> Path | None:
    """A backup of the database in its rotation folder; the oldest beyond `keep` are removed.

    Old and new are told apart by the database's own sequence (see `sequence_of`), never by the clock:
    an office PC's clock can be years off, and a backup named by it must not be the first one removed.
    The copy kept before a restore (reason 恢复前) is never removed by rotation.
    """
    if not db_path.exists() or db_path.stat().st_size == 0:
        return None
    identity = _safe_identity(db_path)
    target = copy_database(db_path, _new_backup_name(db_path, reason))
    if identity and identity.db_id:
        older = [path for path in backups_of(db_path, identity.db_id) if path != target]
        room = keep if is_kept_before_restore(target) else keep - 1
        for old in [path for path in older if not is_kept_before_restore(path)][room:]:
            old.unlink(missing_ok=True)
    return target


def _new_backup_name(db_path: Path, reason: str) -> Path:
    folder = backup_folder(db_path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    stem = short_stem(db_path.stem)
    target = folder / f"{stem}_{stamp}_{reason}.sqlite3"
    number = 1
    while target.exists():  # a clock set back can repeat a time already used
        number += 1
        target = folder / f"{stem}_{stamp}_{reason}-{number}.sqlite3"
    return target


def short_stem(stem: str, limit: int = 60) -> str:
    """A file name's stem short enough to carry a time and a reason within the file system's 255 bytes:
    a long (Chinese) name keeps its first characters and a stable hash of the whole."""
    if len(stem.encode("utf-8", "surrogateescape")) <= limit:
        return stem
    import hashlib

    digest = hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    head = stem
    while len(head.encode("utf-8", "surrogateescape")) > limit - 9:
        head = head[:-1]
    return f"{head}-{digest}"


def is_kept_before_restore(path: Path) -> bool:
    return "_恢复前" in path.name


GENERATION_KEY = "restore.generation"


def sequence_of(conn: sqlite3.Connection) -> tuple[int, int]:
    """Where a database (or a backup, its copy) stands in its history: (restores behind it, last audit
    row). Every change adds an audit row and every restore raises the generation above any copy's, so a
    higher sequence is a later state, whatever the clock said when either was made."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,)).fetchone()
    head = conn.execute("SELECT max(id) FROM audit").fetchone()
    try:
        generation = int(row[0]) if row else 0
    except (TypeError, ValueError):
        generation = 0
    return generation, int(head[0] or 0) if head else 0


def _facts(path: Path) -> tuple[str | None, tuple[int, int]] | None:
    try:
        conn = connect_backup(path)
    except sqlite3.Error:
        return None
    try:
        return identity_of(conn).db_id, sequence_of(conn)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _stamp_of(path: Path) -> str:
    match = _STAMP.search(path.name)
    return match.group(1) if match else ""


def backups_of(db_path: Path, db_id: str | None = None) -> list[Path]:
    """This database's backups (by the id inside them, not their names), newest first by the database's
    own sequence (the time in a name only orders copies of the same state)."""
    db_id = db_id or live_identity(db_path).db_id
    if db_id is None:
        return []
    found = []
    for path in rotation_files(db_path):
        facts = _facts(path)
        if facts is not None and facts[0] == db_id:
            found.append((facts[1], _stamp_of(path), path))
    return [path for _sequence, _stamp, path in sorted(found, key=lambda item: item[:2], reverse=True)]


def highest_generation(db_path: Path, db_id: str | None) -> int:
    """The highest restore generation among the database and its backups (a restore goes above it)."""
    generations = [facts[1][0] for facts in [_facts(db_path)] if facts is not None]
    for path in rotation_files(db_path):
        facts = _facts(path)
        if facts is not None and (db_id is None or facts[0] == db_id):
            generations.append(facts[1][0])
    return max(generations, default=0)


def rotation_files(db_path: Path) -> list[Path]:
    """Files named as backups in rotation in the database's backup folder, whichever database they
    belong to (the id inside each says)."""
    folder = backup_folder(db_path)
    if not folder.is_dir():
        return []
    return [path for path in folder.glob("*.sqlite3") if path.is_file() and _STAMP.search(path.name)]


def has_backup_from(db_path: Path, day: datetime, db_id: str | None = None) -> bool:
    prefix = day.strftime("%Y%m%d")
    return any(_stamp_of(p).startswith(prefix) for p in backups_of(db_path, db_id))


def integrity_problem(path: Path, alone: bool = False) -> str | None:
    """None when SQLite's integrity check passes, else what it says (read-only, never writes); `alone`
    checks a backup as its file alone (see connect_backup).

    A locked, unreadable or read-only file is not damage: those raise their own DatabaseError.
    """
    try:
        conn = connect_backup(path) if alone else connect_read_only(path)
    except sqlite3.Error as exc:
        problem = classify(exc, path)
        if problem is None or isinstance(problem, DatabaseDamaged):
            return str(exc)
        raise problem from exc
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.Error as exc:
        problem = classify(exc, path)
        if problem is None or isinstance(problem, DatabaseDamaged):
            return str(exc)
        raise problem from exc
    finally:
        conn.close()
    return None if rows == ["ok"] else "；".join(rows[:3])


def newest_good_backup(db_path: Path) -> Path | None:
    for path in backups_of(db_path):
        try:
            if integrity_problem(path, alone=True) is None:
                return path
        except DatabaseError:
            continue
    return None


def keep_damaged(db_path: Path, label: str = "损坏") -> Path:
    """Put a byte-for-byte copy of a database (with its journal files) aside; returns the folder."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = backup_folder(db_path) / f"{label}_{db_path.stem}_{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for suffix in ("", "-wal", "-shm", "-journal"):
            source = Path(f"{db_path}{suffix}")
            if source.exists():
                copy_bytes(source, folder / (db_path.name + suffix))
        fsync_folder(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # half a copy is no copy (and takes the space a retry needs)
        raise
    return folder


def remove_leftovers(db_path: Path) -> None:
    """Temp files that a process killed while backing up, creating or restoring left behind."""
    patterns = [(db_path.parent, f".{db_path.name}.new-*"), (db_path.parent, f".{db_path.name}.restore-*")]
    patterns.append((backup_folder(db_path), "*.part*"))
    for folder, pattern in patterns:
        if not folder.is_dir():
            continue
        for leftover in folder.glob(pattern):
            try:
                leftover.unlink()
            except OSError:
                pass


__all__ += ["damaged"]
