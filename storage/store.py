"""The one front door to a town's database. Every method takes and returns plain values."""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path

import platformdirs
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.errors import DomainError, PlanError, TownError
from core.indicators import BY_CODE, PLANNED_CODES, RATES, display_name, is_known_code
from core.plans import CITY, TOWNS, Plan, TownTargets, check_town, load_shipped_plan, plan_period_label
from core.quarters import Quarter
from core.validation import Finding, QuarterInput, check_quarter, has_errors
from storage import migrate
from storage.backup import (
    DatabaseDamaged,
    backup_to_rotation,
    copy_database,
    has_backup_from,
    integrity_problem,
)
from storage.migrate import DatabaseError
from storage.models import (
    AuditEntry,
    ExplanationRow,
    FigureRow,
    Meta,
    PlanRow,
    QuarterStatusRow,
    TargetRow,
    Town,
)

log = logging.getLogger(__name__)

APP_NAME = "town-returns"
DB_FILE_NAME = "town_returns.sqlite3"
DB_ENV = "TOWN_RETURNS_DB"
GENESIS_HASH = "0" * 64

ACTION_NAMES = {
    "bind_town": "绑定镇街",
    "profile": "修改单位信息",
    "set_figure": "修改数值",
    "set_explanation": "修改说明",
    "plan_import": "导入规划目标",
    "identity_import": "导入签名证书",
    "export": "导出上报",
    "city_mode": "设为市局汇总",
    "reopen": "退回修改",
    "backup": "备份",
    "restore": "从备份恢复",
}


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    chosen = os.environ.get(DB_ENV)
    return Path(chosen) if chosen else data_dir() / DB_FILE_NAME


DRAFT = "draft"
SUBMITTED = "submitted"
REOPENED = "reopened"
STATE_NAMES = {DRAFT: "草稿", SUBMITTED: "已上报", REOPENED: "已退回修改"}
MIN_REOPEN_REASON = 4


@dataclass(frozen=True)
class QuarterStatus:
    state: str
    revision: int | None

    @property
    def locked(self) -> bool:
        return self.state == SUBMITTED

    @property
    def label(self) -> str:
        if self.state == SUBMITTED:
            return f"已上报（第 {self.revision} 版）"
        return STATE_NAMES[self.state]


class QuarterLocked(DomainError):
    """Figures of a submitted quarter cannot change until it is reopened."""


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


PROFILE_LABELS = {
    "unit_name": "填报单位",
    "head": "单位负责人",
    "stats_head": "统计负责人",
    "preparer": "填表人",
    "phone": "联系电话",
}


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    os_user: str
    clerk: str
    action: str
    quarter: str | None
    code: str | None
    old_value: str | None
    new_value: str | None

    @property
    def action_name(self) -> str:
        return ACTION_NAMES.get(self.action, self.action)

    @property
    def subject(self) -> str:
        return display_name(self.code) if self.code else ""

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Change:
    quarter: str
    code: str
    old: str | None
    new: str | None


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors where no login name is set
        return "未知用户"


def _row_hash(entry: AuditEntry) -> str:
    body = [
        entry.id,
        entry.at,
        entry.os_user,
        entry.clerk,
        entry.action,
        entry.quarter,
        entry.code,
        entry.old_value,
        entry.new_value,
        entry.prev_hash,
    ]
    return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode("utf-8")).hexdigest()


class Store:
    """A town's SQLite database, migrated to head when opened."""

    def __init__(self, path: Path | str, *, today: Callable[[], date] = date.today, os_user: str | None = None):
        self.path = Path(path)
        self._today = today
        self._os_user = os_user or _os_user()
        self._plans: list[Plan] | None = None
        revision = migrate.inspect_file(self.path)
        if revision is not None:
            problem = integrity_problem(self.path)
            if problem:
                raise DatabaseDamaged(
                    f"数据库 {self.path} 已损坏（{problem}），为保护数据未打开。可以用最近的完好备份恢复：restore 备份文件"
                )
            if revision != migrate.head_revision():
                backup_to_rotation(self.path, "升级前")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = self._create_engine()
        try:
            if revision != migrate.head_revision():  # Alembic costs start-up time; run it only when needed
                with self.engine.begin() as connection:
                    migrate.upgrade(connection)
                self._seed()
        except Exception:
            self.engine.dispose()
            raise

    def _create_engine(self) -> Engine:
        engine = create_engine(f"sqlite+pysqlite:///{self.path}")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not the driver, decide where transactions begin (see "begin" below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):  # type: ignore[no-untyped-def]
            # A writer takes the lock up front, so two writers never deadlock half-way through a save.
            immediate = connection.get_execution_options().get("immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction: committed whole on success, rolled back whole on any error."""
        with Session(self.engine.execution_options(immediate=True)) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # --- backups -----------------------------------------------------------------------------

    def backup_to_rotation(self, reason: str) -> Path | None:
        return backup_to_rotation(self.path, reason)

    def daily_backup(self) -> Path | None:
        """Once a day, at start-up: a backup unless today already has one."""
        if has_backup_from(self.path, datetime.now()):
            return None
        return self.backup_to_rotation("每日")

    def backup(self, target: Path) -> Path:
        if target.exists():
            raise DomainError(f"{target} 已存在，未覆盖")
        copy_database(self.path, target)
        with self._writing() as session:
            self._audit(session, "backup", None, None, None, str(target))
        return target

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def today(self) -> date:
        return self._today()

    # --- set-up ------------------------------------------------------------------------------

    def _seed(self) -> None:
        with self._writing() as session:
            if session.scalar(select(Town).limit(1)) is None:
                session.add_all(Town(name=name, seq=i) for i, name in enumerate(TOWNS, start=1))
            has_plan = session.scalar(select(PlanRow).limit(1)) is not None
        if not has_plan:
            self.import_plan(load_shipped_plan(), source="随软件提供")

    def _meta(self, session: Session, key: str) -> str | None:
        row = session.get(Meta, key)
        return row.value if row else None

    def _set_meta(self, session: Session, key: str, value: str) -> None:
        row = session.get(Meta, key)
        if row is None:
            session.add(Meta(key=key, value=value))
        else:
            row.value = value

    def town(self) -> str | None:
        with Session(self.engine) as session:
            return self._meta(session, "town")

    def require_town(self) -> str:
        town = self.town()
        if town is None:
            raise TownError("此数据库尚未绑定镇街，请先运行 init --town 镇街名 或在软件中完成初次设置")
        return town

    def bind_town(self, name: str) -> str:
        town = check_town(name)
        with self._writing() as session:
            current = self._meta(session, "town")
            if current == town:
                return town
            if current is not None:
                raise TownError(f"此数据库已绑定{current}，不能改为{town}。每个镇街请使用各自的数据库。")
            if self._meta(session, "mode") == "city":
                raise TownError("此数据库是市局汇总用的，不能绑定镇街")
            self._set_meta(session, "town", town)
            self._audit(session, "bind_town", None, None, None, town)
        return town

    def mode(self) -> str:
        """ "town" (a town office entering figures) or "city" (the bureau collecting returns)."""
        with Session(self.engine) as session:
            return self._meta(session, "mode") or "town"

    def set_city_mode(self, trust_root_pem: str) -> None:
        """Use this database for the city's side; it keeps the trusted root, never a town binding."""
        with self._writing() as session:
            town = self._meta(session, "town")
            if town is not None:
                raise TownError(f"此数据库已绑定{town}，不能改作市局汇总用。市局请使用单独的数据库。")
            old = self._meta(session, "city.trust_root")
            self._set_meta(session, "mode", "city")
            self._set_meta(session, "city.trust_root", trust_root_pem)
            if old != trust_root_pem:
                self._audit(session, "city_mode", None, None, None, "设置受信任的市局根证书")

    def trust_root_pem(self) -> str | None:
        with Session(self.engine) as session:
            return self._meta(session, "city.trust_root")

    def profile(self) -> Profile:
        with Session(self.engine) as session:
            return Profile(**{name: self._meta(session, f"profile.{name}") or "" for name in PROFILE_LABELS})

    def set_profile(self, profile: Profile) -> None:
        current = self.profile()
        with self._writing() as session:
            for name in PROFILE_LABELS:
                old, new = getattr(current, name), getattr(profile, name).strip()
                if old != new:
                    self._set_meta(session, f"profile.{name}", new)
                    self._audit(session, "profile", None, name, old or None, new or None)

    # --- plans -------------------------------------------------------------------------------

    def plans(self) -> list[Plan]:
        if self._plans is None:
            self._plans = self._load_plans()
        return list(self._plans)

    def _load_plans(self) -> list[Plan]:
        with Session(self.engine) as session:
            plans = []
            for row in session.scalars(select(PlanRow).order_by(PlanRow.first_quarter)):
                by_town: dict[str, TownTargets] = {}
                for target in session.scalars(select(TargetRow).where(TargetRow.plan_id == row.id)):
                    entry = by_town.setdefault(target.town, TownTargets(target.town, {}, {}))
                    if target.code in PLANNED_CODES:
                        entry.counts[target.code] = int(target.value)
                    else:
                        entry.rates[target.code] = Fraction(target.value)
                plans.append(
                    Plan(
                        row.name,
                        Quarter.parse(row.first_quarter),
                        Quarter.parse(row.last_quarter),
                        tuple(by_town[t] for t in TOWNS),
                        by_town[CITY],
                    )
                )
            return plans

    def plan_for(self, quarter: Quarter) -> Plan | None:
        return next((p for p in self.plans() if p.contains(quarter)), None)

    def current_plan(self) -> Plan | None:
        """The plan of the latest ended quarter, else the latest plan."""
        plans = self.plans()
        return self.plan_for(Quarter.latest_ended(self.today())) or (plans[-1] if plans else None)

    def import_plan(self, plan: Plan, source: str = "") -> bool:
        """Load a plan's split; a plan of the same name is replaced. Returns True if it replaced one."""
        with self._writing() as session:
            existing = session.scalar(select(PlanRow).where(PlanRow.name == plan.name))
            for other in session.scalars(select(PlanRow).where(PlanRow.name != plan.name)):
                first, last = Quarter.parse(other.first_quarter), Quarter.parse(other.last_quarter)
                if first <= plan.last and plan.first <= last:
                    raise PlanError(
                        f"“{plan.name}”的规划期（{plan_period_label(plan)}）与已有的“{other.name}”"
                        f"（{first.label}至{last.label}）重叠"
                    )
            if existing is not None:
                session.delete(existing)
                session.flush()
            row = PlanRow(
                name=plan.name,
                first_quarter=plan.first.code,
                last_quarter=plan.last.code,
                source=source,
                imported_at=_now(),
            )
            session.add(row)
            session.flush()
            for targets in (plan.city, *plan.towns):
                session.add_all(
                    TargetRow(plan_id=row.id, town=targets.town, code=code, value=str(value))
                    for code, value in (*targets.counts.items(), *targets.rates.items())
                )
            self._audit(session, "plan_import", None, None, None, f"{plan.name}（{plan_period_label(plan)}）{source}")
        self._plans = None
        return existing is not None

    # --- figures -----------------------------------------------------------------------------

    def figures(self, quarter: Quarter) -> dict[str, int]:
        town = self.require_town()
        with Session(self.engine) as session:
            rows = session.scalars(select(FigureRow).where(FigureRow.town == town, FigureRow.quarter == quarter.code))
            return {row.code: row.value for row in rows}

    def history(self) -> dict[Quarter, dict[str, int]]:
        town = self.require_town()
        with Session(self.engine) as session:
            return _history(session, town)

    def explanations(self, quarter: Quarter) -> dict[str, str]:
        town = self.require_town()
        with Session(self.engine) as session:
            return _explanations(session, town, quarter)

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
            return self._check(session, town, quarter, values or {}, explanations or {}, invalid or {})

    def _check(
        self,
        session: Session,
        town: str,
        quarter: Quarter,
        values: Mapping[str, int | None],
        explanations: Mapping[str, str | None],
        invalid: Mapping[str, str],
    ) -> list[Finding]:
        history = _history(session, town)
        merged = _merge(history.pop(quarter, {}), values)
        texts = _merge(_explanations(session, town, quarter), explanations)
        return check_quarter(
            QuarterInput(town, quarter, self.today(), self.plan_for(quarter), merged, history, texts, invalid)
        )

    def save_quarter(
        self,
        quarter: Quarter,
        values: Mapping[str, int | None],
        explanations: Mapping[str, str | None] | None = None,
    ) -> list[Change]:
        """Apply changes to one quarter in one transaction, or refuse them all on an error finding.

        A value of None clears a figure (blank means "not entered", never zero).
        """
        explanations = explanations or {}
        for code in values:
            if code not in BY_CODE:
                raise DomainError(f"未知指标代码“{code}”")
        for code in explanations:
            if not is_known_code(code):
                raise DomainError(f"未知指标代码“{code}”")
        town = self.require_town()
        changes: list[Change] = []
        with self._writing() as session:
            status = session.get(QuarterStatusRow, (town, quarter.code))
            if status is not None and status.state == SUBMITTED:
                raise QuarterLocked(
                    f"{quarter.label}已上报（第 {status.revision} 版），数值已锁定；如需修改，请先退回修改（reopen）并写明原因"
                )
            findings = self._check(session, town, quarter, values, explanations, {})
            if has_errors(findings):
                raise SaveRefused(findings)
            now = _now()
            for code, new in values.items():
                row = session.get(FigureRow, (town, quarter.code, code))
                old = row.value if row else None
                if old == new:
                    continue
                if new is None:
                    assert row is not None
                    session.delete(row)
                elif row is None:
                    session.add(FigureRow(town=town, quarter=quarter.code, code=code, value=new, updated_at=now))
                else:
                    row.value, row.updated_at = new, now
                change = Change(quarter.code, code, _text(old), _text(new))
                changes.append(change)
                self._audit(session, "set_figure", quarter.code, code, change.old, change.new)
            for code, text in explanations.items():
                text = (text or "").strip() or None
                note = session.get(ExplanationRow, (town, quarter.code, code))
                old_text = note.text if note else None
                if old_text == text:
                    continue
                if text is None:
                    assert note is not None
                    session.delete(note)
                elif note is None:
                    session.add(ExplanationRow(town=town, quarter=quarter.code, code=code, text=text, updated_at=now))
                else:
                    note.text, note.updated_at = text, now
                changes.append(Change(quarter.code, code, old_text, text))
                self._audit(session, "set_explanation", quarter.code, code, old_text, text)
        return changes

    # --- signing identity and revisions -------------------------------------------------------

    def set_identity(self, p12: bytes, description: str, root_pem: str | None = None) -> None:
        """Keep the town's PKCS#12 as it came: its private key stays encrypted under the passphrase.

        `root_pem`, the city root that issued it, is pinned at the first import and never replaced.
        """
        with self._writing() as session:
            if root_pem is not None and self._meta(session, "identity.pinned_root") is None:
                self._set_meta(session, "identity.pinned_root", root_pem)
            old = self._meta(session, "identity.description")
            self._set_meta(session, "identity.p12", base64.b64encode(p12).decode("ascii"))
            self._set_meta(session, "identity.description", description)
            self._audit(session, "identity_import", None, None, old, description)

    def identity_p12(self) -> bytes | None:
        with Session(self.engine) as session:
            value = self._meta(session, "identity.p12")
        return base64.b64decode(value) if value else None

    def pinned_root(self) -> str | None:
        """The city root (PEM) pinned at the first identity import; later identities must chain to it."""
        with Session(self.engine) as session:
            return self._meta(session, "identity.pinned_root")

    def identity_description(self) -> str | None:
        with Session(self.engine) as session:
            return self._meta(session, "identity.description")

    def quarter_status(self, quarter: Quarter) -> QuarterStatus:
        town = self.require_town()
        with Session(self.engine) as session:
            row = session.get(QuarterStatusRow, (town, quarter.code))
            return QuarterStatus(row.state, row.revision) if row else QuarterStatus(DRAFT, None)

    def quarter_statuses(self) -> dict[Quarter, QuarterStatus]:
        town = self.require_town()
        with Session(self.engine) as session:
            rows = session.scalars(select(QuarterStatusRow).where(QuarterStatusRow.town == town))
            return {Quarter.parse(r.quarter): QuarterStatus(r.state, r.revision) for r in rows}

    def revision_for(self, quarter: Quarter, content_hash: str) -> int:
        """The revision a signed return of this content carries: the last one again, or the next.

        After 退回修改 the next export always carries the next revision.
        """
        town = self.require_town()
        with Session(self.engine) as session:
            row = session.get(QuarterStatusRow, (town, quarter.code))
        if row is None:
            return 1
        if row.state == SUBMITTED and row.content_hash == content_hash:
            return row.revision
        return row.revision + 1

    def last_revision(self, quarter: Quarter) -> int | None:
        return self.quarter_status(quarter).revision

    def record_export(self, quarter: Quarter, revision: int, content_hash: str, files: list[str]) -> None:
        """A signed export: the quarter becomes 已上报 with this revision, and its figures are locked."""
        town = self.require_town()
        self.backup_to_rotation("上报前")
        with self._writing() as session:
            row = session.get(QuarterStatusRow, (town, quarter.code))
            if row is None:
                row = QuarterStatusRow(town=town, quarter=quarter.code)
                session.add(row)
            row.state, row.revision, row.content_hash, row.updated_at = SUBMITTED, revision, content_hash, _now()
            self._audit(session, "export", quarter.code, None, None, f"第 {revision} 版：" + "、".join(files))

    def reopen(self, quarter: Quarter, reason: str) -> QuarterStatus:
        """退回修改: unlock a submitted quarter, with a written reason kept in the audit trail."""
        town = self.require_town()
        reason = reason.strip()
        if len(reason) < MIN_REOPEN_REASON:
            raise DomainError(f"退回修改须写明原因（至少 {MIN_REOPEN_REASON} 个字）")
        with self._writing() as session:
            row = session.get(QuarterStatusRow, (town, quarter.code))
            if row is None or row.state != SUBMITTED:
                raise DomainError(f"{quarter.label}尚未上报，不需要退回修改")
            row.state, row.updated_at = REOPENED, _now()
            self._audit(session, "reopen", quarter.code, None, f"已上报（第 {row.revision} 版）", reason)
            return QuarterStatus(REOPENED, row.revision)

    # --- audit -------------------------------------------------------------------------------

    def _audit(
        self, session: Session, action: str, quarter: str | None, code: str | None, old: str | None, new: str | None
    ) -> None:
        last = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        clerk = self._meta(session, "profile.preparer") or ""
        entry = AuditEntry(
            id=(last.id + 1) if last else 1,
            at=_now(),
            os_user=self._os_user,
            clerk=clerk,
            action=action,
            quarter=quarter,
            code=code,
            old_value=old,
            new_value=new,
            prev_hash=last.hash if last else GENESIS_HASH,
        )
        entry.hash = _row_hash(entry)
        session.add(entry)
        session.flush()

    def audit_trail(self, quarter: Quarter | None = None, code: str | None = None) -> list[AuditRow]:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if quarter is not None:
            query = query.where(AuditEntry.quarter == quarter.code)
        if code is not None:
            query = query.where(AuditEntry.code == code)
        with Session(self.engine) as session:
            return [
                AuditRow(e.id, e.at, e.os_user, e.clerk, e.action, e.quarter, e.code, e.old_value, e.new_value)
                for e in session.scalars(query)
            ]

    def verify_audit(self) -> AuditCheck:
        """Walk the hash chain; report the first row altered, inserted or deleted outside the app."""
        previous_hash = GENESIS_HASH
        expected_id = 1
        count = 0
        with Session(self.engine) as session:
            for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
                count += 1
                if entry.id != expected_id:
                    return AuditCheck(
                        False,
                        count,
                        entry.id,
                        f"第 {expected_id} 条审计记录缺失（下一条是第 {entry.id} 条），记录被删除",
                    )
                if entry.prev_hash != previous_hash:
                    return AuditCheck(
                        False, count, entry.id, f"第 {entry.id} 条审计记录与前一条接不上，其前后记录被删除或插入"
                    )
                if _row_hash(entry) != entry.hash:
                    return AuditCheck(False, count, entry.id, f"第 {entry.id} 条审计记录的内容被改动")
                previous_hash = entry.hash
                expected_id += 1
        return AuditCheck(True, count, None, f"审计记录完整，共 {count} 条")


def restore_database(db_path: Path, backup: Path) -> Path | None:
    """Replace the database with a checked backup; the current file is kept as a backup first.

    Returns the backup made of the current database (None when there was none).
    """
    if not backup.is_file():
        raise DomainError(f"找不到备份文件 {backup}")
    problem = integrity_problem(backup)
    if problem:
        raise DatabaseDamaged(f"备份文件 {backup.name} 已损坏（{problem}），未恢复")
    revision = migrate.inspect_file(backup)
    if revision is None:
        raise DatabaseError(f"{backup.name} 不是本系统的数据库备份")
    backup_town = _town_in(backup)
    if db_path.exists() and integrity_problem(db_path) is None and migrate.inspect_file(db_path) is not None:
        current_town = _town_in(db_path)
        if current_town and backup_town and current_town != backup_town:
            raise DomainError(f"备份属于{backup_town}，当前数据库属于{current_town}，未恢复")
    kept = backup_to_rotation(db_path, "恢复前") if db_path.exists() else None
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    copy_database(backup, db_path)
    with Store(db_path) as store, store._writing() as session:
        store._audit(session, "restore", None, None, None, backup.name)
    return kept


def _town_in(path: Path) -> str | None:
    import sqlite3

    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'town'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return row[0] if row else None


def _history(session: Session, town: str) -> dict[Quarter, dict[str, int]]:
    result: dict[Quarter, dict[str, int]] = {}
    for row in session.scalars(select(FigureRow).where(FigureRow.town == town)):
        result.setdefault(Quarter.parse(row.quarter), {})[row.code] = row.value
    return result


def _explanations(session: Session, town: str, quarter: Quarter) -> dict[str, str]:
    rows = session.scalars(
        select(ExplanationRow).where(ExplanationRow.town == town, ExplanationRow.quarter == quarter.code)
    )
    return {row.code: row.text for row in rows}


def _merge(current: Mapping[str, object], changes: Mapping[str, object]) -> dict:  # type: ignore[type-arg]
    merged = dict(current)
    for code, value in changes.items():
        if value is None or value == "":
            merged.pop(code, None)
        else:
            merged[code] = value
    return merged


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def all_codes() -> Iterable[str]:
    yield from BY_CODE
    yield from (r.code for r in RATES)
