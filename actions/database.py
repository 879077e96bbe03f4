"""Actions on the database itself: open it, bind it to a town or to the city, the profile, backup,
restore and checking the audit chain.

Importing this module does not import SQLAlchemy (the command line's quick commands use the paths below).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import DomainError
from core.quarters import Quarter
from storage.basics import PROFILE_LABELS, data_dir, default_db_path
from storage.errors import DatabaseDamaged, DatabaseInUse

if TYPE_CHECKING:
    from storage.audit import AuditCheck
    from storage.lock import DatabaseLock
    from storage.reads import StoreReads
    from storage.store import AuditRow as AuditRow
    from storage.store import Profile, Store

# The window names the database's errors and types (Store, Profile, AuditRow; as types only, under
# TYPE_CHECKING, so that importing this module stays free of SQLAlchemy) through this module.
__all__ = ["PROFILE_LABELS", "DatabaseDamaged", "DatabaseInUse", "data_dir", "default_db_path"]


def database_path(db: Path | None) -> Path:
    """The database a command means: the one given, else the default (or TOWN_RETURNS_DB)."""
    return db or default_db_path()


@contextmanager
def open_store(db: Path | None, writes: str | None = None) -> Iterator[Store]:
    """The database; an action that writes holds the database's lock (the window's too) while it runs.

    `writes` names the action for the lock's owner note, e.g. "命令行（录入数值）" shows who holds it.
    """
    from storage.lock import DatabaseLock
    from storage.store import Store

    path = database_path(db)
    lock = DatabaseLock(path, f"命令行（{writes}）") if writes else None
    if lock is not None:
        lock.acquire()
    try:
        with Store(path) as store:
            yield store
    finally:
        if lock is not None:
            lock.release()


def refuse_a_missing_database(db: Path | None) -> None:
    """A command that only reads or imports into a town's database never makes a new, empty one: a
    mistyped path is refused. A missing file whose note is still beside it is damage, which opening it
    says (with the backup to restore)."""
    from core.errors import InputError
    from storage.backup import identity_file, path_text

    path = database_path(db)
    if not os.path.lexists(path) and not identity_file(path).exists():
        raise InputError(f"找不到数据库 {path_text(path)}：请检查给出的数据库路径")


def lock_for_window(db: Path) -> DatabaseLock:
    """The database's write lock, held for as long as the window is open (released by the OS if the
    app dies); raises DatabaseInUse when another window or command has it."""
    from storage.lock import DatabaseLock

    return DatabaseLock(db, "填报软件窗口").acquire()


def open_database(db: Path, today: Callable[[], date] = date.today) -> Store:
    """The database, open until the caller closes it (the window holds it for its lifetime); raises
    DatabaseDamaged when the file is not whole, so the caller can offer newest_good_backup."""
    from storage.store import Store

    return Store(db, today=today)


def glance_database(db: Path, today: Callable[[], date] = date.today) -> StoreReads | None:
    """The database for reading only, without importing SQLAlchemy (the window fills itself in from it
    while the store loads); None when opening it needs the full store (see storage.glance)."""
    from storage.glance import glance

    return glance(db, today)


def load_database_layer() -> None:
    """Import what `open_database` needs (SQLAlchemy, the store); run off the GUI thread.

    In the window's process PySide6's import hook reads the source of every module imported after it
    (looking for `from __feature__ import`), which leaves the text in `linecache`: ≈ 9 MB for SQLAlchemy
    alone. Dropping that cache between the steps lets each step reuse the memory (peak RSS −18 MiB)."""
    import importlib
    import linecache

    for module in ("asyncio", "sqlalchemy", "sqlalchemy.orm", "storage.store"):
        importlib.import_module(module)
        linecache.clearcache()


def blank_profile(**fields: str) -> Profile:
    """单位信息 with the given fields (named as in PROFILE_LABELS), the others empty."""
    from storage.store import Profile

    return Profile(**fields)


def demo_database(path: Path | None = None) -> tuple[Path, Quarter]:
    """The demonstration town's database (made on first use, in the data folder unless `path` is
    given) and the last quarter filled in it."""
    from storage.demo import ensure_demo_database

    return ensure_demo_database(path)


def is_busy(exc: BaseException) -> bool:
    """Is this the database lock's refusal?"""
    return isinstance(exc, DatabaseInUse)


def is_damaged(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseDamaged)


def newest_good_backup(db: Path | None) -> Path | None:
    """The newest backup of this database that opens and passes its checks, if any."""
    from storage.backup import newest_good_backup as newest

    return newest(database_path(db))


def damaged_hint(db: Path | None) -> str:
    """What to do about a damaged database: the newest good backup and the command that restores it."""
    path = database_path(db)
    newest = newest_good_backup(path)
    if newest:
        return f"\n最近的完好备份：{newest}\n恢复：python main.py --db \"{path}\" restore \"{newest}\""
    return "\n没有找到这个数据库的完好备份；如有别处保存的备份，可以用 restore 备份文件 恢复。"


def file_error_message(exc: OSError, db: Path | None) -> str:
    """A failed file operation in words a clerk can act on (disk full, read-only, locked…)."""
    from core.errors import os_reason
    from storage.errors import classify

    database = database_path(db)
    target = Path(exc.filename) if exc.filename else database
    if not str(target).startswith(str(database)):  # a return, a backup, a temp file: not the database
        where = target.parent if target.name.startswith(".") else target  # a temp file: its folder
        return f"{where}：{os_reason(exc)}，操作未完成；数据库中已保存的数据没有变化"
    problem = classify(exc, target)
    return problem.message if problem is not None else f"文件操作失败：{os_reason(exc)}（{target}）"


@dataclass(frozen=True)
class Binding:
    db: Path
    town: str | None = None  # None: bound to the city
    trust: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.town is None:
            return {"mode": "city", "db": str(self.db)}
        return {"town": self.town, "db": str(self.db)}


def bind_town(db: Path | None, town: str) -> Binding:
    """`init --town`: bind the database to a town."""
    with open_store(db, writes="绑定镇街") as store:
        return set_up_town(store, town)


def set_up_town(store: Store, town: str, profile: Mapping[str, str] | None = None) -> Binding:
    """First run in either door: bind the open database to a town (for good) and record the profile
    the window's 初次设置 asked for (`init --town` then `profile` on the command line)."""
    binding = Binding(store.path, town=store.bind_town(town))
    if profile:
        update_profile(store, profile)
    return binding


def use_for_city(db: Path | None, trust: Path) -> Binding:
    """Make the database the city's consolidation database, trusting the root certificate in `trust`."""
    from reports.identity import load_trust_roots

    load_trust_roots(trust)  # refuse a file that is not a certificate, before the database is touched
    with open_store(db, writes="设为市局汇总") as store:
        set_up_city(store, trust.read_text(encoding="ascii", errors="replace"))
        return Binding(store.path, trust=trust)


def set_up_city(store: Store, root_pem: str) -> None:
    """First run in either door: the open database becomes the city's, trusting the root in `root_pem`."""
    store.set_city_mode(root_pem)


@dataclass(frozen=True)
class ProfileView:
    town: str | None
    profile: Profile

    def as_dict(self) -> dict[str, Any]:
        return {"town": self.town, **self.profile.__dict__}


def show_profile(store: Store) -> ProfileView:
    return ProfileView(store.town(), store.profile())


def update_profile(store: Store, changes: Mapping[str, str]) -> ProfileView:
    """Change some of the 单位信息 fields (named as in PROFILE_LABELS); the others stay."""
    from storage.store import Profile

    if changes:
        store.set_profile(Profile(**{**store.profile().__dict__, **changes}))
    return show_profile(store)


def backup(store: Store, target: Path) -> Path:
    return store.backup(target)


@dataclass(frozen=True)
class Restored:
    db: Path
    source: Path
    previous: Path | None  # the database as it was, kept as a backup
    adopted: tuple[str, str | None] | None = None  # (db id, town) a new PC's database took from the backup

    @property
    def message(self) -> str:
        said = f"已从 {self.source.name} 恢复 {self.db}" + (f"；原数据库另存为 {self.previous}" if self.previous else "")
        if self.adopted is not None:
            db_id, town = self.adopted
            said += (
                f"。这是另一台电脑上{town or ''}数据库的备份：本机的数据库是新建的、还没有数据，"
                f"恢复后它就是那个数据库（镇街：{town or '未绑定'}，数据库编号：{db_id}），以后的备份、上报都接着它的记录"
            )
        return said

    def as_dict(self) -> dict[str, Any]:
        return {
            "restored": str(self.db),
            "previous": str(self.previous) if self.previous else None,
            "adopted": {"db_id": self.adopted[0], "town": self.adopted[1]} if self.adopted else None,
        }


def restore(db: Path | None, source: Path) -> Restored:
    """Replace the database with a checked backup; the current one is kept first. No Store may be open on it.

    On a new PC (a database set up but holding no figure yet) a backup of another database is taken
    whole, with its id and town (the old PC died)."""
    from storage.backup import live_identity, read_identity
    from storage.store import restore_database

    path = database_path(db)
    before = live_identity(path).db_id if path.exists() else None
    previous = restore_database(path, source)
    after = read_identity(path)
    adopted = (after.db_id, after.town) if before and after.db_id and after.db_id != before else None
    return Restored(path, source, previous, adopted)


@dataclass(frozen=True)
class AuditReport:
    check: AuditCheck

    @property
    def ok(self) -> bool:
        return self.check.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.check.ok,
            "rows": self.check.rows,
            "first_bad_id": self.check.first_bad_id,
            "message": self.check.message,
        }


def verify_audit(store: Store) -> AuditReport:
    return AuditReport(store.verify_audit())


@dataclass(frozen=True)
class StartUp:
    """What opening the database found that the clerk must be told (both doors tell the same)."""

    audit: AuditReport | None  # None where it was not checked (`audit verify` checks it itself)
    clock: str | None  # the clock is earlier than a time the database recorded
    set_aside: Path | None  # a write-ahead log that was not this file's, moved there
    backup_failed: str | None = None
    recovered_export: str | None = None  # a signed export a killed process left half-done, finished or undone
    copied_from: Path | None = None  # the database this file was found to be a copy of (given its own id)

    def notices(self) -> list[str]:
        said = []
        if self.set_aside is not None:
            said.append(
                f"数据库旁的日志文件（-wal）不属于现在的数据库文件（数据库文件在上次异常退出后被换过），为免旧日志覆盖数据，"
                f"已把它连同当时的数据库文件原样移到 {self.set_aside}；现在打开的是数据库文件本身的数据。"
            )
        if self.copied_from is not None:
            said.append(
                f"这个数据库文件是同一文件夹中 {self.copied_from.name} 的副本：已给它一个自己的编号，"
                "此后两者是两个数据库，备份和修改记录各归各的。请只在其中一个里填报和上报"
            )
        if self.recovered_export:
            said.append(self.recovered_export)
        if self.clock:
            said.append(f"{self.clock}。校正之前不能签名导出。")
        if self.audit is not None and not self.audit.ok:
            found = self.audit.check.message
            if "本软件之外" not in found:  # most findings say so themselves
                found += "。数据库可能在本软件之外被改动过"
            said.append(f"审计记录校验未通过：{found}。请联系市局。")
        if self.backup_failed:
            said.append(f"今天的自动备份没有做成：{self.backup_failed}")
        return said


def make_daily_backup(store: Store) -> str | None:
    """A town's backup of the day, unless today has one (both doors: the window at start-up, a writing
    command before it writes); why it could not be made, or None."""
    if store.town() is None:
        return None
    try:
        store.daily_backup()
    except (OSError, DomainError) as exc:
        return exc.message if isinstance(exc, DomainError) else file_error_message(exc, store.path)
    return None


def start_up(store: Store, writing: bool = True, audit: bool = True) -> StartUp:
    """The duties of opening a database, one function for both doors (the window when its database has
    opened, every command before it runs): the audit check, the clock, what was set aside while opening.
    A door that writes (the window, a writing command: each holds the lock) also makes the day's backup
    and finishes or undoes a signed export left half-done; a reading command only says one is pending.
    `audit` False: the caller checks the audit chain itself and says what it found (`audit verify`)."""
    from actions.returns import recover_export
    from core.clock import clock_problem

    failed = make_daily_backup(store) if writing else None
    recovered = recover_export(store) if writing else None
    if not writing and (pending := store.pending_export()) is not None:
        recovered = (
            f"{pending.quarter.label}第 {pending.revision} 版的签名导出上次没有完成（程序被中断）："
            "下一次修改数据的命令或打开软件时会补完或撤销，在此之前这一季的状态和文件可能对不上"
        )
    clock = clock_problem(datetime.now().astimezone(), store.latest_recorded_time())
    checked = verify_audit(store) if audit else None
    return StartUp(checked, clock, store.set_aside, failed, recovered, store.copied_from)


@dataclass(frozen=True)
class ClockState:
    now: datetime
    latest_recorded: datetime | None
    problem: str | None

    confirmed: bool = False

    @property
    def message(self) -> str:
        if self.latest_recorded is None:
            said = f"本机时间：{self.now:%Y-%m-%d %H:%M}"
            if self.confirmed:
                return f"{said}\n已确认本机时间正确（记入修改记录）"
            return f"{said}\n本机时间没有早于已记录的时间"
        said = f"本机时间：{self.now:%Y-%m-%d %H:%M}；数据库最近记录的时间：{self.latest_recorded:%Y-%m-%d %H:%M}"
        if self.problem:
            return f"{said}\n{self.problem}"
        if self.now < self.latest_recorded:
            behind = int((self.latest_recorded - self.now).total_seconds() // 60) + 1
            return f"{said}\n本机时间比最近记录的时间早约 {behind} 分钟（10 分钟以内按时钟误差处理，不妨碍签名导出）"
        return f"{said}\n本机时间没有早于已记录的时间"

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(timespec="seconds"),
            "latest_recorded": self.latest_recorded.isoformat(timespec="seconds") if self.latest_recorded else None,
            "ok": self.problem is None,
            "problem": self.problem,
        }


def clock_state(store: Store, confirmed: bool = False) -> ClockState:
    from core.clock import clock_problem

    now, latest = datetime.now().astimezone(), store.latest_recorded_time()
    return ClockState(now, latest, clock_problem(now, latest), confirmed)


def confirm_clock(store: Store) -> None:
    """The clerk says the computer's time is right now: times recorded earlier with a clock that was
    ahead no longer hold signing back (recorded in the audit trail)."""
    store.confirm_clock(store.latest_recorded_time())
