"""The one front door to a town's database. Every method takes and returns plain values.

`Store` opens, creates, migrates and restores the file, and keeps each write in one transaction;
what is written lives beside it: settings (`storage.settings`), plans and 基期数 (`storage.plans`),
figures and explanations (`storage.figures`), each quarter's submission (`storage.submissions`) and
the audit trail (`storage.audit_trail`, its checks in `storage.audit`). The rules they follow are in `core`.
"""

from __future__ import annotations

import base64
import getpass
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.errors import DomainError, TownError
from core.indicators import BY_CODE, RATES, is_known_code
from core.plans import TOWNS, Plan, check_town, load_shipped_plan, refuse_base_of_a_flow, refuse_base_the_plan_gives
from core.quarters import Quarter
from core.submission import DRAFT as DRAFT
from core.submission import MIN_REOPEN_REASON as MIN_REOPEN_REASON
from core.submission import NOT_ENTERED, STALE, QuarterStatus, resubmission_notice
from core.submission import REOPENED as REOPENED
from core.submission import STATE_NAMES as STATE_NAMES
from core.submission import SUBMITTED as SUBMITTED
from core.submission import QuarterLocked as QuarterLocked
from core.validation import NOTICE, Finding, QuarterInput, check_quarter, has_errors
from storage import audit_trail as trail
from storage import figures as stored_figures
from storage import migrate, submissions
from storage import plans as stored_plans
from storage.audit import ACTION_NAMES as ACTION_NAMES
from storage.audit import AuditCheck
from storage.audit import AuditRow as AuditRow
from storage.backup import (
    DB_ID_PREFIX,
    MAX_BACKUP_BYTES,
    DatabaseDamaged,
    DatabaseIdentity,
    backup_to_rotation,
    backups_of,
    copy_database,
    ensure_db_id,
    fsync_folder,
    has_backup_from,
    identity_file,
    integrity_problem,
    keep_damaged,
    live_identity,
    read_identity,
    remove_leftovers,
    write_identity_file,
)
from storage.basics import APP_NAME as APP_NAME
from storage.basics import DB_ENV as DB_ENV
from storage.basics import DB_FILE_NAME as DB_FILE_NAME
from storage.basics import PROFILE_LABELS
from storage.basics import data_dir as data_dir
from storage.basics import default_db_path as default_db_path
from storage.errors import DatabaseError, classify, damaged, lenient_text
from storage.figures import Change as Change
from storage.figures import FiguresChangedElsewhere as FiguresChangedElsewhere
from storage.lock import DatabaseLock, is_held_here
from storage.models import PlanRow, Town
from storage.settings import read_setting, write_setting

log = logging.getLogger(__name__)


class SaveRefused(DomainError):
    """A save refused because of error findings; nothing was written."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        errors = [f.message for f in findings if f.blocks_saving]
        super().__init__("未保存：" + "；".join(errors))


@dataclass(frozen=True)
class Profile:
    """The office profile printed on returns."""

    unit_name: str = ""
    head: str = ""
    stats_head: str = ""
    preparer: str = ""
    phone: str = ""


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors where no login name is set
        return "未知用户"


class Store:
    """A town's SQLite database, migrated to head when opened."""

    def __init__(
        self,
        path: Path | str,
        *,
        today: Callable[[], date] = date.today,
        os_user: str | None = None,
        busy_timeout_ms: int = 5000,
    ):
        # The real path: a shortcut or symlink must meet the same lock, backups and identity note.
        self.path = Path(os.path.realpath(path))
        self._today = today
        self._os_user = os_user or _os_user()
        self._busy_timeout_ms = busy_timeout_ms
        self._plans: list[Plan] | None = None
        try:
            revision = migrate.inspect_file(self.path)
        except DatabaseError as exc:
            # A file we once created here (its id is written beside it) that is no database now is damage.
            if type(exc) is DatabaseError and identity_file(self.path).exists():
                raise DatabaseDamaged(f"{exc.message}；这里原本是本系统的数据库，文件已损坏") from exc
            raise
        if revision is None:
            if identity_file(self.path).exists():
                raise damaged(
                    self.path,
                    f"数据库文件不见了，但旁边的 {identity_file(self.path).name} 表明这里原有数据库（可能被移走或删除）。"
                    "如果确要从头开始，请把这个 .identity 文件一并移走",
                )
            create_database(self.path, today=today, os_user=self._os_user)
            revision = migrate.head_revision()
        else:
            problem = integrity_problem(self.path)
            if problem:
                raise damaged(self.path, problem)
        self.engine = self._create_engine()
        try:
            if revision != migrate.head_revision():  # Alembic costs start-up time; run it only when needed
                with DatabaseLock(self.path, "升级数据库结构").acquire(timeout=10):
                    ensure_db_id(self.path)
                    backup_to_rotation(self.path, "升级前")
                    with self.engine.begin() as connection:
                        migrate.upgrade(connection)
            self._complete()
            if is_held_here(self.path):
                remove_leftovers(self.path)
        except Exception:
            self.engine.dispose()
            raise

    @classmethod
    def _on_engine(cls, path: Path, engine: Engine, today: Callable[[], date], os_user: str) -> Store:
        """A store over a file being built or restored, before it is put in place."""
        store = cls.__new__(cls)
        store.path, store.engine, store._today, store._os_user = path, engine, today, os_user
        store._busy_timeout_ms, store._plans = 5000, None
        return store

    def _create_engine(self) -> Engine:
        return _engine(self.path, self._busy_timeout_ms)

    def _complete(self) -> None:
        """Finish what a first run killed half-way (by an older version) left undone, in one transaction."""
        with Session(self.engine) as session:
            db_id = read_setting(session, "db.id")
            complete = (
                db_id is not None
                and trail.recorded_db_id(session) is not None
                and session.scalar(select(func.count()).select_from(Town)) == len(TOWNS)
                and session.scalar(select(PlanRow).limit(1)) is not None
            )
            town = read_setting(session, "town")
        if not complete:
            with self._writing() as session:
                db_id = _seed(self, session)
        write_identity_file(self.path, DatabaseIdentity(db_id, town))

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction: committed whole on success, rolled back whole on any error."""
        with Session(self.engine.execution_options(immediate=True)) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # --- backups -----------------------------------------------------------------------------

    def db_id(self) -> str | None:
        with Session(self.engine) as session:
            return read_setting(session, "db.id")

    def backup_to_rotation(self, reason: str) -> Path | None:
        return backup_to_rotation(self.path, reason)

    def backups(self) -> list[Path]:
        """This database's backups in rotation, newest first."""
        return backups_of(self.path, self.db_id())

    def daily_backup(self) -> Path | None:
        """Once a day, at start-up: a backup unless today already has one."""
        if has_backup_from(self.path, datetime.now(), self.db_id()):
            return None
        return self.backup_to_rotation("每日")

    def backup(self, target: Path) -> Path:
        """A backup where the user chose; recorded in the trail before the copy, so the copy has the row."""
        if target.exists():
            raise DomainError(f"{target} 已存在，未覆盖")
        with self._writing() as session:
            self._audit(session, "backup", None, None, None, str(target))
        copy_database(self.path, target)
        return target

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def today(self) -> date:
        return self._today()

    # --- set-up ------------------------------------------------------------------------------

    def town(self) -> str | None:
        with Session(self.engine) as session:
            return read_setting(session, "town")

    def require_town(self) -> str:
        town = self.town()
        if town is None:
            raise TownError("此数据库尚未绑定镇街，请先运行 init --town 镇街名 或在软件中完成初次设置")
        return town

    def bind_town(self, name: str) -> str:
        town = check_town(name)
        with self._writing() as session:
            current = read_setting(session, "town")
            if current == town:
                return town
            if current is not None:
                raise TownError(f"此数据库已绑定{current}，不能改为{town}。每个镇街请使用各自的数据库。")
            if read_setting(session, "mode") == "city":
                raise TownError("此数据库是市局汇总用的，不能绑定镇街")
            write_setting(session, "town", town)
            self._audit(session, "bind_town", None, None, None, town)
            # A copy of an unbound database bound to another town must not share its id (nor its backups).
            db_id = DB_ID_PREFIX + uuid.uuid4().hex
            write_setting(session, "db.id", db_id)
            self._audit(session, "db_id", None, None, None, db_id)
        write_identity_file(self.path, DatabaseIdentity(db_id, town))
        return town

    def mode(self) -> str:
        """ "town" (a town office entering figures) or "city" (the bureau collecting returns)."""
        with Session(self.engine) as session:
            return read_setting(session, "mode") or "town"

    def set_city_mode(self, trust_root_pem: str) -> None:
        """Use this database for the city's side; it keeps the trusted root, never a town binding."""
        with self._writing() as session:
            town = read_setting(session, "town")
            if town is not None:
                raise TownError(f"此数据库已绑定{town}，不能改作市局汇总用。市局请使用单独的数据库。")
            old = read_setting(session, "city.trust_root")
            write_setting(session, "mode", "city")
            write_setting(session, "city.trust_root", trust_root_pem)
            if old != trust_root_pem:
                self._audit(session, "city_mode", None, None, None, "设置受信任的市局根证书")

    def trust_root_pem(self) -> str | None:
        with Session(self.engine) as session:
            return read_setting(session, "city.trust_root")

    def profile(self) -> Profile:
        with Session(self.engine) as session:
            return Profile(**{name: read_setting(session, f"profile.{name}") or "" for name in PROFILE_LABELS})

    def set_profile(self, profile: Profile) -> None:
        current = self.profile()
        with self._writing() as session:
            for name in PROFILE_LABELS:
                old, new = getattr(current, name), getattr(profile, name).strip()
                if old != new:
                    write_setting(session, f"profile.{name}", new)
                    self._audit(session, "profile", None, name, old or None, new or None)

    # --- plans -------------------------------------------------------------------------------

    def plans(self) -> list[Plan]:
        if self._plans is None:
            self._plans = self._load_plans()
        return list(self._plans)

    def _load_plans(self) -> list[Plan]:
        with Session(self.engine) as session:
            return stored_plans.load_plans(session)

    def plan_for(self, quarter: Quarter) -> Plan | None:
        return next((p for p in self.plans() if p.contains(quarter)), None)

    def current_plan(self) -> Plan | None:
        """The plan of the latest ended quarter, else the latest plan."""
        plans = self.plans()
        return self.plan_for(Quarter.latest_ended(self.today())) or (plans[-1] if plans else None)

    def import_plan(self, plan: Plan, source: str = "") -> bool:
        """Load a plan's split; a plan of the same name is replaced. Returns True if it replaced one."""
        with self._writing() as session:
            replaced = self._import_plan(session, plan, source)
        self._plans = None
        return replaced

    def _import_plan(self, session: Session, plan: Plan, source: str) -> bool:
        return stored_plans.import_plan(session, self._os_user, plan, source)

    # --- figures -----------------------------------------------------------------------------

    def stock_bases(self, plan: Plan | None) -> dict[str, int]:
        """Each stock's 基期数 for `plan`: the plan's own where it has one, else what this town entered."""
        town = self.require_town()
        with Session(self.engine) as session:
            return stored_plans.stock_bases(session, town, plan)

    def set_stock_base(self, plan: Plan, code: str, value: int) -> int | None:
        """Enter a stock's 基期数 for `plan` (audited); gives the value it replaces."""
        refuse_base_of_a_flow(code)
        town = self.require_town()
        refuse_base_the_plan_gives(plan, town, code)
        with self._writing() as session:
            return stored_plans.set_stock_base(session, self._os_user, town, plan, code, value)

    def figures(self, quarter: Quarter) -> dict[str, int]:
        town = self.require_town()
        with Session(self.engine) as session:
            return stored_figures.quarter_figures(session, town, quarter)

    def history(self) -> dict[Quarter, dict[str, int]]:
        town = self.require_town()
        with Session(self.engine) as session:
            return stored_figures.history(session, town)

    def explanations(self, quarter: Quarter) -> dict[str, str]:
        town = self.require_town()
        with Session(self.engine) as session:
            return stored_figures.explanations(session, town, quarter)

    def check(
        self,
        quarter: Quarter,
        values: Mapping[str, int | None] | None = None,
        explanations: Mapping[str, str | None] | None = None,
        invalid: Mapping[str, str] | None = None,
    ) -> list[Finding]:
        """Findings for the quarter as it would be after applying `values` and `explanations`."""
        town = self.require_town()
        with Session(self.engine) as session:
            findings = self._check(session, town, quarter, values or {}, explanations or {}, invalid or {})
        status = self.quarter_status(quarter)
        if status.state == STALE:
            findings.append(Finding(NOTICE, "needs_resubmission", None, resubmission_notice(quarter, status)))
        return findings

    def _check(
        self,
        session: Session,
        town: str,
        quarter: Quarter,
        values: Mapping[str, int | None],
        explanations: Mapping[str, str | None],
        invalid: Mapping[str, str],
    ) -> list[Finding]:
        history = stored_figures.history(session, town)
        merged = _merge(history.pop(quarter, {}), values)
        texts = _merge(stored_figures.explanations(session, town, quarter), explanations)
        plan = self.plan_for(quarter)
        bases = stored_plans.stock_bases(session, town, plan)
        return check_quarter(
            QuarterInput(town, quarter, self.today(), plan, merged, history, texts, invalid, bases)
        )

    def save_quarter(
        self,
        quarter: Quarter,
        values: Mapping[str, int | None],
        explanations: Mapping[str, str | None] | None = None,
        *,
        loaded: Mapping[str, int] | None = None,
        loaded_explanations: Mapping[str, str] | None = None,
    ) -> list[Change]:
        """Apply changes to one quarter in one transaction, or refuse them all on an error finding.

        A value of None clears a figure (blank means "not entered", never zero). A form passes what
        it was `loaded` with: if any figure or explanation it writes has changed in the database since
        (another window, the command line), nothing is saved and FiguresChangedElsewhere says which.
        """
        explanations = explanations or {}
        for code in values:
            if code not in BY_CODE:
                raise DomainError(f"未知指标代码“{code}”")
        for code in explanations:
            if not is_known_code(code):
                raise DomainError(f"未知指标代码“{code}”")
        town = self.require_town()
        with self._writing() as session:
            submissions.refuse_if_submitted(session, town, quarter)
            if loaded is not None or loaded_explanations is not None:
                stored_figures.refuse_changed_elsewhere(
                    session, town, quarter, values, explanations, loaded, loaded_explanations
                )
            findings = self._check(session, town, quarter, values, explanations, {})
            if has_errors(findings):
                raise SaveRefused(findings)
            return stored_figures.write_quarter(session, self._os_user, town, quarter, values, explanations)

    # --- signing identity and revisions -------------------------------------------------------

    def set_identity(self, p12: bytes, description: str, root_pem: str | None = None) -> None:
        """Keep the town's PKCS#12 as it came: its private key stays encrypted under the passphrase.

        `root_pem`, the city root that issued it, is pinned at the first import and never replaced.
        """
        with self._writing() as session:
            if root_pem is not None and read_setting(session, "identity.pinned_root") is None:
                write_setting(session, "identity.pinned_root", root_pem)
            old = read_setting(session, "identity.description")
            write_setting(session, "identity.p12", base64.b64encode(p12).decode("ascii"))
            write_setting(session, "identity.description", description)
            self._audit(session, "identity_import", None, None, old, description)

    def identity_p12(self) -> bytes | None:
        with Session(self.engine) as session:
            value = read_setting(session, "identity.p12")
        return base64.b64decode(value) if value else None

    def pinned_root(self) -> str | None:
        """The city root (PEM) pinned at the first identity import; later identities must chain to it."""
        with Session(self.engine) as session:
            return read_setting(session, "identity.pinned_root")

    def identity_description(self) -> str | None:
        with Session(self.engine) as session:
            return read_setting(session, "identity.description")

    def quarter_status(self, quarter: Quarter) -> QuarterStatus:
        return self.quarter_statuses().get(quarter, QuarterStatus(DRAFT, None))

    def quarter_statuses(self) -> dict[Quarter, QuarterStatus]:
        """Every quarter with a status row; a submitted one whose totals changed since is 需重新上报."""
        town = self.require_town()
        plans = self.plans()
        with Session(self.engine) as session:
            return submissions.quarter_statuses(session, town, plans)

    def plan_quarter_statuses(self) -> dict[Quarter, QuarterStatus]:
        """Every quarter of every loaded plan (未填报 where nothing was entered), and any other quarter with figures."""
        statuses = self.quarter_statuses()
        history = self.history()
        quarters = {q for p in self.plans() for q in p.quarters} | set(statuses) | set(history)
        result = {}
        for quarter in sorted(quarters):
            if quarter in statuses:
                result[quarter] = statuses[quarter]
            elif history.get(quarter):
                result[quarter] = QuarterStatus(DRAFT, None)
            else:
                result[quarter] = QuarterStatus(NOT_ENTERED, None)
        return result

    def revision_for(self, quarter: Quarter, content_hash: str) -> int:
        """The revision a signed return of this content carries: the last one again, or the next.

        After 退回修改 the next export always carries the next revision. A revision number once
        handed out (even to an export killed before it was recorded) is only ever reused for the
        same content.
        """
        town = self.require_town()
        with Session(self.engine) as session:
            return submissions.revision_for(session, town, quarter, content_hash)

    def reserve_revision(self, quarter: Quarter, content_hash: str) -> int:
        """Hand out the revision for a signed export, committed before any file is written."""
        town = self.require_town()
        with self._writing() as session:
            return submissions.reserve_revision(session, town, quarter, content_hash)

    def last_revision(self, quarter: Quarter) -> int | None:
        return self.quarter_status(quarter).revision

    def record_export(self, quarter: Quarter, revision: int, content_hash: str, files: list[str]) -> None:
        """A signed export: the quarter becomes 已上报 with this revision, and its figures are locked."""
        town = self.require_town()
        self.backup_to_rotation("上报前")
        with self._writing() as session:
            submissions.record_export(session, self._os_user, town, quarter, revision, content_hash, files)

    def reopen(self, quarter: Quarter, reason: str) -> QuarterStatus:
        """退回修改: unlock a submitted quarter, with a written reason kept in the audit trail."""
        town = self.require_town()
        with self._writing() as session:
            return submissions.reopen(session, self._os_user, town, quarter, reason)

    # --- audit -------------------------------------------------------------------------------

    def _audit(
        self, session: Session, action: str, quarter: str | None, code: str | None, old: str | None, new: str | None
    ) -> None:
        trail.append_entry(session, self._os_user, action, quarter, code, old, new)

    def audit_trail(self, quarter: Quarter | None = None, code: str | None = None) -> list[AuditRow]:
        with Session(self.engine) as session:
            return trail.audit_rows(session, quarter, code)

    def verify_audit(self) -> AuditCheck:
        """The trail links up, replays to every stored figure and explanation, and still holds every
        row that a backup of this database or a recorded export saw as its end."""
        with Session(self.engine) as session:
            return trail.verify(session, self.path)


def _engine(path: Path, busy_timeout_ms: int = 5000) -> Engine:
    engine = create_engine(f"sqlite+pysqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
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
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # A writer takes the lock up front, so two writers never deadlock half-way through a save.
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "handle_error")
    def _on_error(context):  # type: ignore[no-untyped-def]
        # Locked, read-only, full and I/O errors are situations with their own message, never a bug.
        original = context.original_exception
        problem = classify(original, path) if original is not None else None
        if problem is not None:
            raise problem from original

    return engine


def _seed(store: Store, session: Session) -> str:
    """The 33 towns, the shipped plan and the database's id: what every database has from its first moment."""
    if session.scalar(select(func.count()).select_from(Town)) != len(TOWNS):
        known = set(session.scalars(select(Town.name)))
        session.add_all(Town(name=name, seq=i) for i, name in enumerate(TOWNS, start=1) if name not in known)
    db_id = read_setting(session, "db.id")
    recorded = trail.recorded_db_id(session)
    if db_id is None:
        # Deleted outside the app: put back the id the trail recorded, so its backups are still its own.
        db_id = recorded or DB_ID_PREFIX + uuid.uuid4().hex
        write_setting(session, "db.id", db_id)
    if recorded is None:
        store._audit(session, "db_id", None, None, None, db_id)
    if session.scalar(select(PlanRow).limit(1)) is None:
        store._import_plan(session, load_shipped_plan(), "随软件提供")
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
        engine = _engine(temp)
        try:
            with engine.begin() as connection:
                migrate.upgrade(connection)
            builder = Store._on_engine(temp, engine, today, os_user or _os_user())
            with builder._writing() as session:
                db_id = _seed(builder, session)
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
        remove_leftovers(db_path)
        # Before SQLite touches the live file at all (it may drop the WAL of a damaged one): its bytes, aside.
        raw = keep_damaged(db_path, "恢复前原样") if db_path.exists() else None
        temp = db_path.with_name(f".{db_path.name}.restore-{os.getpid()}")
        try:
            revision = _check_backup(db_path, backup)
            step("checked")
            _prepare_restored(db_path, backup, temp, revision)
            step("prepared")
            kept = _keep_current(db_path, raw)
            step("kept")
            _checkpoint_and_clear(db_path)
            step("checkpointed")
            os.replace(temp, db_path)
            fsync_folder(db_path.parent)
        except BaseException:
            for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm"), Path(f"{temp}-journal")):
                try:
                    leftover.unlink(missing_ok=True)
                except OSError:
                    pass
            if raw is not None and raw.exists():
                shutil.rmtree(raw, ignore_errors=True)  # nothing was replaced: the live file is the original
            raise
        step("replaced")
        write_identity_file(db_path, read_identity(db_path))
        return kept


def _check_backup(db_path: Path, backup: Path) -> str:
    """The backup's schema revision, once it is known to be a whole database of this town's, made by this app."""
    name = backup.name
    if not backup.is_file():
        raise RestoreRefused(f"找不到备份文件 {backup}（或它不是普通文件）")
    size = backup.stat().st_size
    if size > MAX_BACKUP_BYTES:
        raise RestoreRefused(f"{name} 有 {size // (1 << 20)} MB，不是本系统的数据库备份，未恢复")
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
            part for part in (f"多出 {'、'.join(extra)}" if extra else "", f"不同或缺少 {'、'.join(missing)}" if missing else "") if part
        )
        raise RestoreRefused(
            f"备份文件 {name} 的数据库结构与本软件建立的不一致（{detail}），可能被其他程序改动过，未恢复；当前数据库未作改动"
        )
    theirs = read_identity(backup)
    ours = live_identity(db_path) if db_path.exists() or identity_file(db_path).exists() else DatabaseIdentity(None, None)
    if ours.db_id and theirs.db_id and ours.db_id != theirs.db_id:
        raise RestoreRefused(
            f"备份文件 {name} 属于另一个数据库（{theirs.town or '未绑定镇街'}），不是{ours.town or '当前数据库'}的备份，"
            "未恢复；当前数据库未作改动"
        )
    if ours.town and theirs.town and ours.town != theirs.town:
        raise RestoreRefused(f"备份属于{theirs.town}，当前数据库属于{ours.town}，未恢复；当前数据库未作改动")
    return revision


def _prepare_restored(db_path: Path, backup: Path, temp: Path, revision: str) -> None:
    copy_database(backup, temp)
    engine = _engine(temp)
    try:
        if revision != migrate.head_revision():
            with engine.begin() as connection:
                migrate.upgrade(connection)
        store = Store._on_engine(temp, engine, date.today, _os_user())
        with store._writing() as session:
            if read_setting(session, "db.id") is None:
                write_setting(session, "db.id", live_identity(db_path).db_id or DB_ID_PREFIX + uuid.uuid4().hex)
        with Session(engine) as session:
            problem = trail.check_restorable(session)
        if problem is not None:
            raise RestoreRefused(f"备份文件 {backup.name} 的修改记录有问题（{problem.message}），未恢复；当前数据库未作改动")
        handed_out = submissions.revisions_handed_out(db_path)
        with store._writing() as session:
            # Revision numbers given out after the backup was taken stay given out: never reused for other content.
            for town, quarter, number, content in handed_out:
                submissions.issue_revision(session, town, quarter, number, content)
            store._audit(session, "restore", None, None, None, backup.name)
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


def _merge(current: Mapping[str, object], changes: Mapping[str, object]) -> dict:  # type: ignore[type-arg]
    merged = dict(current)
    for code, value in changes.items():
        if value is None or value == "":
            merged.pop(code, None)
        else:
            merged[code] = value
    return merged


def all_codes() -> Iterable[str]:
    yield from BY_CODE
    yield from (r.code for r in RATES)
