"""The one front door to a town's database. Every method takes and returns plain values.

`Store` opens the file (migrating it, finishing a first run cut short) and keeps each write in one
transaction; the work is done beside it: connections (`storage.engine`), a new database
(`storage.creation`), restoring a backup (`storage.restore`), settings (`storage.settings`), plans and
基期数 (`storage.plans`), figures and explanations (`storage.figures`), each quarter's submission
(`storage.submissions`) and the audit trail (`storage.audit_trail`, its checks in `storage.audit`).
The rules they follow are in `core`. Callers import from here only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import DomainError, TownError
from core.indicators import SHIPPED, Catalogue
from core.plan_package import PlanPackage
from core.plans import Plan, check_town, refuse_base_of_a_flow, refuse_base_the_plan_gives
from core.quarters import Quarter
from core.receipts import CityAnswer, Outcome
from core.submission import DRAFT as DRAFT
from core.submission import MIN_REOPEN_REASON as MIN_REOPEN_REASON
from core.submission import REOPENED as REOPENED
from core.submission import STATE_NAMES as STATE_NAMES
from core.submission import SUBMITTED as SUBMITTED
from core.submission import QuarterLocked as QuarterLocked
from core.submission import QuarterStatus, status_findings
from core.text import check_texts
from core.validation import Finding, check_quarter, has_errors, quarter_input
from storage import audit_trail as trail
from storage import engine as db_engine
from storage import figures as stored_figures
from storage import migrate, round_trip, submissions
from storage import plans as stored_plans
from storage.audit import ACTION_NAMES as ACTION_NAMES
from storage.audit import AuditCheck
from storage.audit import AuditRow as AuditRow
from storage.backup import (
    DB_ID_PREFIX,
    DatabaseDamaged,
    DatabaseIdentity,
    backup_to_rotation,
    backups_of,
    copied_from,
    copy_database,
    ensure_db_id,
    has_backup_from,
    identity_file,
    integrity_problem,
    path_text,
    remove_leftovers,
    write_identity_file,
)
from storage.basics import APP_NAME as APP_NAME
from storage.basics import DB_ENV as DB_ENV
from storage.basics import DB_FILE_NAME as DB_FILE_NAME
from storage.basics import PROFILE_LABELS
from storage.basics import data_dir as data_dir
from storage.basics import default_db_path as default_db_path
from storage.creation import create_database as create_database
from storage.creation import seed
from storage.engine import os_user_name, writing
from storage.errors import DatabaseError, DiskIOError, damaged
from storage.figures import Change as Change
from storage.figures import FiguresChangedElsewhere as FiguresChangedElsewhere
from storage.lock import DatabaseLock, is_held_here
from storage.models import Meta
from storage.plans import StoredPackage as StoredPackage
from storage.reads import Profile as Profile
from storage.reads import QuarterPlan as QuarterPlan
from storage.reads import StoredPlanAltered as StoredPlanAltered
from storage.reads import StoreReads, setting
from storage.restore import RestoreRefused as RestoreRefused
from storage.restore import restore_database as restore_database
from storage.round_trip import RegisterEntry as RegisterEntry
from storage.settings import read_setting, write_setting
from storage.structure import is_complete, missing_structure
from storage.wal import set_aside_foreign_log, take_set_aside

log = logging.getLogger(__name__)


class SaveRefused(DomainError):
    """A save refused because of error findings; nothing was written."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        errors = [f.message for f in findings if f.blocks_saving]
        super().__init__("未保存：" + "；".join(errors))


class Store(StoreReads):
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
        self._os_user = os_user or os_user_name()
        self._busy_timeout_ms = busy_timeout_ms
        self._plans: list[Plan] | None = None
        set_aside_foreign_log(self.path)
        self.set_aside = take_set_aside(self.path)  # a log that was not this file's, moved aside (told once)
        try:
            revision = _inspected(self.path)
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
                time.sleep(RETRY_AFTER)  # one read error (a USB stick waking up, a scanner) is not damage yet
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
            with self._reading() as conn:
                missing = missing_structure(conn)
            if missing:
                raise damaged(self.path, missing)
            try:
                self._complete()
            except IntegrityError as exc:  # e.g. a plan's rows deleted outside the program, its targets left
                raise damaged(self.path, "数据前后不一致，无法补全，可能在本软件之外被改动过") from exc
            if is_held_here(self.path):
                remove_leftovers(self.path)
        except Exception:
            self.engine.dispose()
            raise

    def _create_engine(self) -> Engine:
        return db_engine.open_engine(self.path, self._busy_timeout_ms)

    def _complete(self) -> None:
        """Finish what a first run killed half-way (by an older version) left undone, in one transaction."""
        with self._reading() as conn:
            complete, db_id, town = is_complete(conn), setting(conn, "db.id"), setting(conn, "town")
        if not complete:
            with self._writing() as session:
                db_id = seed(session, self._os_user)
        self.copied_from: Path | None = None
        if db_id and is_held_here(self.path) and (original := copied_from(self.path, db_id)) is not None:
            # A copy made in the explorer ("…- 副本") beside the original: with the original's id it would
            # share its backups, and each would read the other's later rows as its own history cut short.
            with self._writing() as session:
                db_id = DB_ID_PREFIX + uuid.uuid4().hex
                write_setting(session, "db.id", db_id)
                self._audit(session, "db_id", None, None, None, db_id)
            self.copied_from = original
        write_identity_file(self.path, DatabaseIdentity(db_id, town))

    def _writing(self) -> AbstractContextManager[Session]:
        return writing(self.engine)

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        return db_engine.reading(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- backups -----------------------------------------------------------------------------

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

    def backup_before_submission(self) -> Path | None:
        """The backup every signed export makes before its files are written (a failure stops the export)."""
        return self.backup_to_rotation("上报前")

    def backup(self, target: Path) -> Path:
        """A backup where the user chose; recorded in the trail before the copy, so the copy has the row."""
        if target.exists():
            raise DomainError(f"{target} 已存在，未覆盖")
        with self._writing() as session:
            self._audit(session, "backup", None, None, None, path_text(target))
        copy_database(self.path, target)
        return target

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- set-up ------------------------------------------------------------------------------

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

    def set_profile(self, profile: Profile) -> None:
        check_texts({name: getattr(profile, name) for name in PROFILE_LABELS}, PROFILE_LABELS)
        current = self.profile()
        with self._writing() as session:
            for name in PROFILE_LABELS:
                old, new = getattr(current, name), getattr(profile, name).strip()
                if old != new:
                    write_setting(session, f"profile.{name}", new)
                    self._audit(session, "profile", None, name, old or None, new or None)

    # --- plans -------------------------------------------------------------------------------

    def refuse_codes_outside_list(self, quarter: Quarter, figures: Iterable[str], notes: Iterable[str] = ()) -> None:
        """A figure must be one of the quarter's list; a 说明 may also belong to one of its rates."""
        catalogue = self.catalogue_for(quarter)
        plan = self.list_plan_for(quarter)
        for code in figures:
            if code not in catalogue.by_code and code not in catalogue.carry_codes:
                raise DomainError(_not_in_list(code, quarter, catalogue, plan))
        for code in notes:
            if not catalogue.is_known_code(code):
                raise DomainError(_not_in_list(code, quarter, catalogue, plan))

    def import_plan(self, plan: Plan, source: str = "") -> bool:
        """Load a plan's split; a plan of the same name is replaced. Returns True if it replaced one."""
        with self._writing() as session:
            replaced = self._import_plan(session, plan, source)
        self._plans = None
        return replaced

    def _import_plan(self, session: Session, plan: Plan, source: str) -> bool:
        return stored_plans.import_plan(session, self._os_user, plan, source)

    # --- plan packages -----------------------------------------------------------------------

    def import_plan_package(
        self,
        package: PlanPackage,
        source: str,
        origin: str = "signed",
        signed_at: datetime | None = None,
        signature: str | None = None,
    ) -> bool:
        """Record a checked package (see storage.plans.import_package); False if it was there already.

        `signed_at` (a verified signature's time) lets a corrected package replace the one it corrects;
        `signature` (the city root's, over the content) is kept so the package can be verified again."""
        with self._writing() as session:
            imported = stored_plans.import_package(
                session, self._os_user, package, source, origin, signed_at, signature
            )
        self._plans = None
        return imported

    def plan_packages(self) -> list[StoredPackage]:
        with Session(self.engine) as session:
            return stored_plans.stored_packages(session)

    def plan_package(self, plan_id: str) -> PlanPackage | None:
        with Session(self.engine) as session:
            return stored_plans.stored_package(session, plan_id)

    # --- figures -----------------------------------------------------------------------------

    def set_stock_base(self, plan: Plan, code: str, value: int) -> int | None:
        """Enter a stock's 基期数 for `plan` (audited); gives the value it replaces."""
        refuse_base_of_a_flow(code, plan.catalogue)
        town = self.require_town()
        refuse_base_the_plan_gives(plan, town, code)
        with self._writing() as session:
            return stored_plans.set_stock_base(session, self._os_user, town, plan, code, value)

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
        return findings + status_findings(quarter, self.quarter_status(quarter))

    def _check(
        self,
        session: Session,
        town: str,
        quarter: Quarter,
        values: Mapping[str, int | None],
        explanations: Mapping[str, str | None],
        invalid: Mapping[str, str],
    ) -> list[Finding]:
        plan = self.plan_for(quarter)
        return check_quarter(
            quarter_input(
                town,
                quarter,
                self.today(),
                plan,
                stored_figures.history(session, town),
                stored_figures.explanations(session, town, quarter),
                values=values,
                explanations=explanations,
                invalid=invalid,
                bases=stored_plans.stock_bases(session, town, plan),
                catalogue=self.catalogue_for(quarter),
                migrated_case_quarters=stored_figures.migrated_case_quarters(session),
            )
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
        self.refuse_codes_outside_list(quarter, values, explanations)
        town = self.require_town()
        with self._writing() as session:
            submissions.refuse_if_submitted(session, town, quarter)
            if loaded is not None or loaded_explanations is not None:
                stored_figures.refuse_changed_elsewhere(
                    session,
                    town,
                    quarter,
                    values,
                    explanations,
                    loaded,
                    loaded_explanations,
                    self.catalogue_for(quarter),
                )
            findings = self._check(session, town, quarter, values, explanations, {})
            if has_errors(findings):
                raise SaveRefused(findings)
            stored_plans.pin_quarter_plan(session, town, quarter, self.plan_for(quarter))
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

    def note_pending_export(
        self, quarter: Quarter, revision: int, content_hash: str, files: list[tuple[Path, str]]
    ) -> None:
        """The signed files about to be put in place, noted before they are (see reports.export)."""
        note = {
            "quarter": quarter.code,
            "revision": revision,
            "content_hash": content_hash,
            "files": [[os.fsdecode(path), digest] for path, digest in files],
            "signed_at": datetime.now().astimezone().isoformat(timespec="seconds"),  # just after signing
        }
        with self._writing() as session:
            write_setting(session, PENDING_EXPORT, json.dumps(note, ensure_ascii=False))

    def pending_export(self) -> PendingExport | None:
        with self._reading() as conn:
            text = setting(conn, PENDING_EXPORT)
        if not text:
            return None
        try:
            note = json.loads(text)
            files = [(Path(path), str(digest)) for path, digest in note["files"]]
            signed_at = str(note.get("signed_at") or "") or None
            return PendingExport(
                Quarter.parse(note["quarter"]), int(note["revision"]), str(note["content_hash"]), files, signed_at
            )
        except (ValueError, KeyError, TypeError, DomainError):
            return None

    def clear_pending_export(self) -> None:
        with self._writing() as session:
            _clear_setting(session, PENDING_EXPORT)

    def record_export(
        self, quarter: Quarter, revision: int, content_hash: str, files: list[str], signed_at: str | None = None
    ) -> None:
        """A signed export: the quarter becomes 已上报 with this revision, and its figures are locked."""
        town = self.require_town()
        with self._writing() as session:
            _clear_setting(session, PENDING_EXPORT)
            submissions.record_export(session, self._os_user, town, quarter, revision, content_hash, files, signed_at)

    def reopen(self, quarter: Quarter, reason: str) -> QuarterStatus:
        """退回修改: unlock a submitted quarter, with a written reason kept in the audit trail."""
        town = self.require_town()
        with self._writing() as session:
            return submissions.reopen(session, self._os_user, town, quarter, reason)

    # --- the city round trip (issue 27) ------------------------------------------------------

    def import_city_answer(self, answer: CityAnswer, file_sha256: str, content: str, signature: str) -> Outcome:
        """A verified receipt or send-back, judged and recorded in one transaction (see storage.round_trip)."""
        town = self.require_town()
        with self._writing() as session:
            return round_trip.import_answer(
                session, self._os_user, town, answer, file_sha256, content, signature, self.catalogue_for(answer.quarter).display_name
            )

    def record_register(self, entries: Iterable[RegisterEntry]) -> list[RegisterEntry]:
        """The city's register: what it saw of each return, in one transaction; gives the entries as kept."""
        with self._writing() as session:
            return [round_trip.register(session, entry) for entry in entries]

    def city_register(self, quarter: Quarter | None = None) -> list[RegisterEntry]:
        with Session(self.engine) as session:
            return round_trip.registered(session, quarter.code if quarter else None)

    # --- audit -------------------------------------------------------------------------------

    def _audit(
        self, session: Session, action: str, quarter: str | None, code: str | None, old: str | None, new: str | None
    ) -> None:
        trail.append_entry(session, self._os_user, action, quarter, code, old, new)

    def latest_recorded_time(self) -> datetime | None:
        """The latest time the trail recorded since the clerk last confirmed the clock (see confirm_clock)."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT at FROM audit WHERE id > coalesce((SELECT max(id) FROM audit WHERE action = 'clock'), 0)"
            ).fetchall()
        times = []
        for (text,) in rows:
            try:
                moment = datetime.fromisoformat(text)
            except (TypeError, ValueError):
                continue
            times.append(moment if moment.tzinfo is not None else moment.astimezone())
        return max(times, default=None)

    def last_export_time(self, quarter: Quarter) -> datetime | None:
        """When this quarter's last signed export was recorded, or signed if that was later (an export
        finished at a later start carries its signing time)."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT at, new_value FROM audit WHERE action = 'export' AND quarter = ? ORDER BY id DESC LIMIT 1",
                (quarter.code,),
            ).fetchone()
        if row is None:
            return None
        times = [row[0]]
        if row[1] and submissions.SIGNED_AT_OPEN in row[1]:
            times.append(row[1].rsplit(submissions.SIGNED_AT_OPEN, 1)[1].rstrip("）"))
        found = []
        for text in times:
            try:
                moment = datetime.fromisoformat(text)
            except (TypeError, ValueError):
                continue
            found.append(moment if moment.tzinfo is not None else moment.astimezone())
        return max(found, default=None)

    def confirm_clock(self, latest: datetime | None) -> None:
        """The clerk says the clock is right now and the later times recorded before were wrong."""
        with self._writing() as session:
            self._audit(session, "clock", None, None, latest.isoformat(timespec="seconds") if latest else None, "本机时间已确认正确")

    def audit_trail(self, quarter: Quarter | None = None, code: str | None = None) -> list[AuditRow]:
        """The rows, each naming its indicator from its quarter's list (or the profile field it changed)."""
        with Session(self.engine) as session:
            rows = trail.audit_rows(session, quarter, code)
        names: dict[tuple[str, str | None], str] = {}
        for r in rows:
            if r.code and (r.code, r.quarter) not in names:
                names[(r.code, r.quarter)] = PROFILE_LABELS.get(r.code, "") or self.indicator_name(r.code, r.quarter)
        return [replace(r, subject=names[(r.code, r.quarter)]) if r.code else r for r in rows]

    def verify_audit(self) -> AuditCheck:
        """The trail links up, replays to every stored figure and explanation, and still holds every
        row that a backup of this database or a recorded export saw as its end."""
        with Session(self.engine) as session:
            return trail.verify(session, self.path, lambda code: self.indicator_name(code))


RETRY_AFTER = 0.5
PENDING_EXPORT = "export.pending"


@dataclass(frozen=True)
class PendingExport:
    """A signed export noted before its files were renamed in, not yet recorded (see reports.export)."""

    quarter: Quarter
    revision: int
    content_hash: str
    files: list[tuple[Path, str]]
    signed_at: str | None


def _clear_setting(session: Session, key: str) -> None:
    row = session.get(Meta, key)
    if row is not None:
        session.delete(row)



def _inspected(path: Path) -> str | None:
    """The file's schema revision (migrate.inspect_file), read again once before it is called damaged."""
    try:
        return migrate.inspect_file(path)
    except (DatabaseDamaged, DiskIOError):
        time.sleep(RETRY_AFTER)
        return migrate.inspect_file(path)


def all_codes() -> Iterable[str]:
    """The shipped list's codes (see Store.known_codes for those of every stored plan)."""
    yield from SHIPPED.indicator_codes
    yield from SHIPPED.rate_codes


def _not_in_list(code: str, quarter: Quarter, catalogue: Catalogue, plan: Plan | None) -> str:
    listed = "、".join(catalogue.entry_codes)
    if plan is None:
        return f"未知指标代码“{code}”。{quarter.label}的指标：{listed}"
    return f"未知指标代码“{code}”：不是《{plan.name}》的指标，{quarter.label}不能填报。该规划的指标：{listed}"
