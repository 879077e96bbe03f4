"""The one front door to a town's database. Every method takes and returns plain values."""

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
from dataclasses import dataclass, fields
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.errors import DomainError, PlanError, TownError
from core.indicators import BY_CODE, PLANNED_CODES, RATES, display_name, is_known_code
from core.plan_package import PlanPackage, package_from_content, shipped_package
from core.plans import (
    CITY,
    SHIPPED_PLAN_NAME,
    TOWNS,
    Plan,
    TownTargets,
    check_town,
    load_shipped_plan,
    plan_period_label,
)
from core.quarters import Quarter
from core.validation import NOTICE, Finding, QuarterInput, check_quarter, has_errors
from storage import migrate
from storage.audit import (
    GENESIS_HASH,
    AuditCheck,
    ChainHead,
    ChainRow,
    backup_head,
    check_chain,
    check_db_id,
    check_heads,
    check_replay,
    check_states,
    row_hash,
)
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
    looks_like_sqlite,
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
from storage.lock import DatabaseLock, is_held_here
from storage.models import (
    AuditEntry,
    ExplanationRow,
    FigureRow,
    IssuedRevision,
    Meta,
    PlanPackageRow,
    PlanRow,
    QuarterPlanRow,
    QuarterStatusRow,
    StockBase,
    TargetRow,
    Town,
)

log = logging.getLogger(__name__)

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
    "db_id": "数据库编号",
    "set_base": "录入基期数",
}


DRAFT = "draft"
SUBMITTED = "submitted"
REOPENED = "reopened"
# Derived, never stored: a submitted quarter whose 本年累计 / 规划累计 changed after it was exported
# (an earlier quarter of its year or plan, or a 基期数, was revised), and a quarter with nothing entered.
STALE = "stale"
NOT_ENTERED = "not_entered"
STATE_NAMES = {NOT_ENTERED: "未填报", DRAFT: "草稿", SUBMITTED: "已上报", REOPENED: "已退回修改", STALE: "需重新上报"}
MIN_REOPEN_REASON = 4


@dataclass(frozen=True)
class QuarterStatus:
    state: str
    revision: int | None
    stale_because: str = ""  # for 需重新上报: which later changes made the exported return out of date

    @property
    def locked(self) -> bool:
        return self.state in (SUBMITTED, STALE)

    @property
    def name(self) -> str:
        """The state in words: 未填报, 草稿, 已上报, 已退回修改 or 需重新上报."""
        return STATE_NAMES[self.state]

    @property
    def label(self) -> str:
        if self.state == SUBMITTED:
            return f"已上报（第 {self.revision} 版）"
        if self.state == STALE:
            return f"需重新上报（第 {self.revision} 版已过时）"
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
class StoredPackage:
    """An imported plan package as listed (its content is read with Store.plan_package)."""

    id: str
    content_hash: str
    name: str
    first: Quarter
    last: Quarter
    origin: str
    source: str
    imported_at: str


@dataclass(frozen=True)
class QuarterPlan:
    """The plan a quarter was entered under (id and hash unknown for quarters entered before packages)."""

    plan_name: str
    plan_id: str | None
    content_hash: str | None


@dataclass(frozen=True)
class Change:
    quarter: str
    code: str
    old: str | None
    new: str | None


def _stock_bases(session: Session, town: str, plan: Plan | None) -> dict[str, int]:
    if plan is None:
        return {}
    rows = session.scalars(select(StockBase).where(StockBase.town == town, StockBase.plan == plan.name))
    entered = {r.code: r.value for r in rows}
    return {**entered, **plan.targets_for(town).bases} if town in TOWNS else entered


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors where no login name is set
        return "未知用户"


class FiguresChangedElsewhere(DomainError):
    """The figures a form was loaded with have changed in the database since: nothing was saved."""

    def __init__(self, quarter: Quarter, changed: list[str]):
        self.changed = changed
        super().__init__(
            f"{quarter.label}的以下数据在打开此表后已在别处（另一窗口或命令行）被修改：{'、'.join(changed)}。"
            "为免覆盖，本次未保存。"
        )


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
            db_id = self._meta(session, "db.id")
            complete = (
                db_id is not None
                and _chain_db_id(session) is not None
                and session.scalar(select(func.count()).select_from(Town)) == len(TOWNS)
                and session.scalar(select(PlanRow).limit(1)) is not None
            )
            town = self._meta(session, "town")
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
            return self._meta(session, "db.id")

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
            # A copy of an unbound database bound to another town must not share its id (nor its backups).
            db_id = DB_ID_PREFIX + uuid.uuid4().hex
            self._set_meta(session, "db.id", db_id)
            self._audit(session, "db_id", None, None, None, db_id)
        write_identity_file(self.path, DatabaseIdentity(db_id, town))
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
            packages = {p.name: p for p in session.scalars(select(PlanPackageRow))}
            for row in session.scalars(select(PlanRow).order_by(PlanRow.first_quarter)):
                if row.name in packages:  # its indicator list, rates and bases come whole from the package
                    plans.append(_package_of(packages[row.name]).to_plan())
                    continue
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
            replaced = self._import_plan(session, plan, source)
        self._plans = None
        return replaced

    def _import_plan(self, session: Session, plan: Plan, source: str) -> bool:
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
        return existing is not None

    # --- plan packages -----------------------------------------------------------------------

    def import_plan_package(self, package: PlanPackage, source: str, origin: str = "signed") -> bool:
        """Record a checked (and, for "signed", verified) package and load its split; audited.

        The same content again changes nothing (returns False). A different package whose period
        overlaps an imported one, or any other plan's, is refused with PlanError.
        """
        with self._writing() as session:
            if session.scalar(select(PlanPackageRow).where(PlanPackageRow.content_hash == package.content_hash)):
                return False
            for other in session.scalars(select(PlanPackageRow)):
                first, last = Quarter.parse(other.first_quarter), Quarter.parse(other.last_quarter)
                if first <= package.last and package.first <= last:
                    raise PlanError(
                        f"“{package.name}”的规划期（{package.period_label}）与已导入的“{other.name}”"
                        f"（{first.label}至{last.label}，编号 {other.id}）重叠，未导入"
                    )
            session.add(
                PlanPackageRow(
                    id=package.id,
                    content_hash=package.content_hash,
                    name=package.name,
                    first_quarter=package.first.code,
                    last_quarter=package.last.code,
                    content=package.canonical_bytes().decode("utf-8"),
                    origin=origin,
                    source=source,
                    imported_at=_now(),
                )
            )
            session.flush()
            self._import_plan(session, package.to_plan(), f"{source}（规划编号 {package.id}，内容哈希 {package.content_hash}）")
        self._plans = None
        return True

    def plan_packages(self) -> list[StoredPackage]:
        with Session(self.engine) as session:
            return [
                StoredPackage(
                    r.id,
                    r.content_hash,
                    r.name,
                    Quarter.parse(r.first_quarter),
                    Quarter.parse(r.last_quarter),
                    r.origin,
                    r.source,
                    r.imported_at,
                )
                for r in session.scalars(select(PlanPackageRow).order_by(PlanPackageRow.first_quarter))
            ]

    def plan_package(self, plan_id: str) -> PlanPackage | None:
        with Session(self.engine) as session:
            row = session.get(PlanPackageRow, plan_id)
            return None if row is None else _package_of(row)

    def quarter_plan(self, quarter: Quarter) -> QuarterPlan | None:
        """The plan the quarter was entered under, if anything was ever saved for it."""
        town = self.require_town()
        with Session(self.engine) as session:
            row = session.get(QuarterPlanRow, (town, quarter.code))
            return None if row is None else QuarterPlan(row.plan_name, row.plan_id, row.content_hash)

    def _pin_quarter_plan(self, session: Session, town: str, quarter: Quarter) -> None:
        if session.get(QuarterPlanRow, (town, quarter.code)) is not None:
            return
        plan = self.plan_for(quarter)
        if plan is None:
            return
        row = session.scalar(select(PlanPackageRow).where(PlanPackageRow.name == plan.name))
        if row is not None:
            plan_id, content_hash = row.id, row.content_hash
        elif plan.name == SHIPPED_PLAN_NAME:
            plan_id, content_hash = shipped_package().id, shipped_package().content_hash
        else:
            plan_id, content_hash = None, None
        session.add(
            QuarterPlanRow(
                town=town,
                quarter=quarter.code,
                plan_name=plan.name,
                plan_id=plan_id,
                content_hash=content_hash,
                recorded_at=_now(),
            )
        )

    # --- figures -----------------------------------------------------------------------------

    def stock_bases(self, plan: Plan | None) -> dict[str, int]:
        """Each stock's 基期数 for `plan`: the plan's own where it has one, else what this town entered."""
        town = self.require_town()
        with Session(self.engine) as session:
            return _stock_bases(session, town, plan)

    def set_stock_base(self, plan: Plan, code: str, value: int) -> int | None:
        """Enter a stock's 基期数 for `plan` (audited); gives the value it replaces."""
        from core.indicators import Kind

        if code not in BY_CODE or BY_CODE[code].kind is not Kind.STOCK:
            raise DomainError(f"只有季末数指标有基期数，“{display_name(code)}”不是")
        town = self.require_town()
        if code in plan.targets_for(town).bases:
            raise DomainError(f"规划已给出{display_name(code)}的基期数 {plan.targets_for(town).bases[code]:,}，不需录入")
        with self._writing() as session:
            row = session.get(StockBase, (town, plan.name, code))
            old = row.value if row else None
            if row is None:
                row = StockBase(town=town, plan=plan.name, code=code)
                session.add(row)
            row.value, row.updated_at = value, _now()
            self._audit(
                session, "set_base", None, code, None if old is None else str(old), f"{value}（{plan.name}）"
            )
        return old

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
            findings = self._check(session, town, quarter, values or {}, explanations or {}, invalid or {})
        status = self.quarter_status(quarter)
        if status.state == STALE:
            findings.append(
                Finding(
                    NOTICE,
                    "needs_resubmission",
                    None,
                    f"{quarter.label}需重新上报：{status.stale_because}。请退回修改（reopen）后重新导出，"
                    f"新的一版将是第 {(status.revision or 0) + 1} 版",
                )
            )
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
        history = _history(session, town)
        merged = _merge(history.pop(quarter, {}), values)
        texts = _merge(_explanations(session, town, quarter), explanations)
        plan = self.plan_for(quarter)
        bases = _stock_bases(session, town, plan)
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
        changes: list[Change] = []
        with self._writing() as session:
            status = session.get(QuarterStatusRow, (town, quarter.code))
            if status is not None and status.state == SUBMITTED:
                raise QuarterLocked(
                    f"{quarter.label}已上报（第 {status.revision} 版），数值已锁定；如需修改，请先退回修改（reopen）并写明原因"
                )
            if loaded is not None or loaded_explanations is not None:
                self._refuse_changed_elsewhere(session, town, quarter, values, explanations, loaded, loaded_explanations)
            findings = self._check(session, town, quarter, values, explanations, {})
            if has_errors(findings):
                raise SaveRefused(findings)
            self._pin_quarter_plan(session, town, quarter)
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

    def _refuse_changed_elsewhere(
        self,
        session: Session,
        town: str,
        quarter: Quarter,
        values: Mapping[str, int | None],
        explanations: Mapping[str, str | None],
        loaded: Mapping[str, int] | None,
        loaded_explanations: Mapping[str, str] | None,
    ) -> None:
        changed = []
        if loaded is not None:
            now = {row.code: row.value for row in session.scalars(
                select(FigureRow).where(FigureRow.town == town, FigureRow.quarter == quarter.code)
            )}
            changed += [display_name(code) for code in values if now.get(code) != loaded.get(code)]
        if loaded_explanations is not None:
            texts = _explanations(session, town, quarter)
            changed += [
                f"{display_name(code)}的说明" for code in explanations if texts.get(code) != loaded_explanations.get(code)
            ]
        if changed:
            raise FiguresChangedElsewhere(quarter, changed)

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
        return self.quarter_statuses().get(quarter, QuarterStatus(DRAFT, None))

    def quarter_statuses(self) -> dict[Quarter, QuarterStatus]:
        """Every quarter with a status row; a submitted one whose totals changed since is 需重新上报."""
        town = self.require_town()
        with Session(self.engine) as session:
            rows = list(session.scalars(select(QuarterStatusRow).where(QuarterStatusRow.town == town)))
            statuses = {Quarter.parse(r.quarter): QuarterStatus(r.state, r.revision) for r in rows}
            exported = [r for r in rows if r.state == SUBMITTED and r.audit_id is not None]
            if not exported:
                return statuses
            first = min(r.audit_id or 0 for r in exported)
            later = list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.id > first, AuditEntry.action.in_(("set_figure", "set_base")))
                    .order_by(AuditEntry.id)
                )
            )
        for row in exported:
            quarter = Quarter.parse(row.quarter)
            plan = self.plan_for(quarter)
            changed: list[str] = []
            for entry in later:
                if entry.id <= (row.audit_id or 0):
                    continue
                if entry.action == "set_base":
                    if plan is not None and (entry.new_value or "").endswith(f"（{plan.name}）"):
                        changed.append(f"{display_name(entry.code or '')}基期数")
                    continue
                if entry.quarter is None:
                    continue
                earlier = Quarter.parse(entry.quarter)
                same_year = earlier.year == quarter.year
                same_plan = plan is not None and plan.contains(earlier)
                if earlier < quarter and (same_year or same_plan) and earlier.label not in changed:
                    changed.append(earlier.label)
            if changed:
                reason = (
                    f"第 {row.revision} 版上报后，{'、'.join(changed)}的数值被修改，"
                    f"本季度的本年累计、规划累计或完成率已随之变化"
                )
                statuses[quarter] = QuarterStatus(STALE, row.revision, reason)
        return statuses

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
            return _revision_for(session, town, quarter, content_hash)

    def reserve_revision(self, quarter: Quarter, content_hash: str) -> int:
        """Hand out the revision for a signed export, committed before any file is written."""
        town = self.require_town()
        with self._writing() as session:
            revision = _revision_for(session, town, quarter, content_hash)
            _issue_revision(session, town, quarter.code, revision, content_hash)
        return revision

    def last_revision(self, quarter: Quarter) -> int | None:
        return self.quarter_status(quarter).revision

    def record_export(self, quarter: Quarter, revision: int, content_hash: str, files: list[str]) -> None:
        """A signed export: the quarter becomes 已上报 with this revision, and its figures are locked."""
        town = self.require_town()
        self.backup_to_rotation("上报前")
        with self._writing() as session:
            if _issue_revision(session, town, quarter.code, revision, content_hash) != content_hash:
                raise DomainError(f"第 {revision} 版已用于内容不同的季报，未记录本次导出")
            entry = self._audit(session, "export", quarter.code, None, None, f"第 {revision} 版：" + "、".join(files))
            row = session.get(QuarterStatusRow, (town, quarter.code))
            if row is None:
                row = QuarterStatusRow(town=town, quarter=quarter.code)
                session.add(row)
            row.state, row.revision, row.content_hash, row.updated_at = SUBMITTED, revision, content_hash, _now()
            row.audit_id, row.audit_hash = entry.id, entry.hash

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
    ) -> AuditEntry:
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
        entry.hash = row_hash(_chain_row(entry))
        session.add(entry)
        session.flush()
        return entry

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
        """The trail links up, replays to every stored figure and explanation, and still holds every
        row that a backup of this database or a recorded export saw as its end."""
        with Session(self.engine) as session:
            rows = [_chain_row(e) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
            figures = {(r.quarter, r.code): r.value for r in session.scalars(select(FigureRow))}
            texts = {(r.quarter, r.code): r.text for r in session.scalars(select(ExplanationRow))}
            heads = [
                ChainHead(f"{Quarter.parse(r.quarter).label}第 {r.revision} 版的上报", r.audit_id, r.audit_hash)
                for r in session.scalars(select(QuarterStatusRow).where(QuarterStatusRow.audit_id.is_not(None)))
                if r.audit_id is not None and r.audit_hash is not None
            ]
            db_id = self._meta(session, "db.id")
            states = {r.quarter: (r.state, r.revision) for r in session.scalars(select(QuarterStatusRow))}
            bases = {(r.plan, r.code): r.value for r in session.scalars(select(StockBase))}
        heads += [head for path in backups_of(self.path, db_id) if (head := backup_head(path)) is not None]
        problem = (
            check_chain(rows)
            or check_replay(rows, figures, texts, bases)
            or check_states(rows, states)
            or check_db_id(rows, db_id)
            or check_heads(rows, heads)
        )
        if problem is not None:
            return problem
        return AuditCheck(True, len(rows), None, f"审计记录完整，共 {len(rows)} 条，与现有数值一致")


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
    db_id = store._meta(session, "db.id")
    recorded = _chain_db_id(session)
    if db_id is None:
        # Deleted outside the app: put back the id the trail recorded, so its backups are still its own.
        db_id = recorded or DB_ID_PREFIX + uuid.uuid4().hex
        store._set_meta(session, "db.id", db_id)
    if recorded is None:
        store._audit(session, "db_id", None, None, None, db_id)
    if session.scalar(select(PlanRow).limit(1)) is None:
        store._import_plan(session, load_shipped_plan(), "随软件提供")
    return db_id


def _package_of(row: PlanPackageRow) -> PlanPackage:
    import json

    return package_from_content(json.loads(row.content))


def _chain_db_id(session: Session) -> str | None:
    """The database id the audit trail last recorded."""
    return session.scalar(
        select(AuditEntry.new_value).where(AuditEntry.action == "db_id").order_by(AuditEntry.id.desc()).limit(1)
    )


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
            if store._meta(session, "db.id") is None:
                store._set_meta(session, "db.id", live_identity(db_path).db_id or DB_ID_PREFIX + uuid.uuid4().hex)
        with Session(engine) as session:
            rows = [_chain_row(e) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
            figures = {(r.quarter, r.code): r.value for r in session.scalars(select(FigureRow))}
            texts = {(r.quarter, r.code): r.text for r in session.scalars(select(ExplanationRow))}
            states = {r.quarter: (r.state, r.revision) for r in session.scalars(select(QuarterStatusRow))}
        problem = check_chain(rows) or check_replay(rows, figures, texts) or check_states(rows, states)
        if problem is not None:
            raise RestoreRefused(f"备份文件 {backup.name} 的修改记录有问题（{problem.message}），未恢复；当前数据库未作改动")
        handed_out = _revisions_handed_out(db_path)
        with store._writing() as session:
            # Revision numbers given out after the backup was taken stay given out: never reused for other content.
            for town, quarter, number, content in handed_out:
                _issue_revision(session, town, quarter, number, content)
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


def _revisions_handed_out(db_path: Path) -> set[tuple[str, str, int, str]]:
    """Every revision number this database ever gave out, from the live file and its backups."""
    found: set[tuple[str, str, int, str]] = set()
    sources = [db_path] if looks_like_sqlite(db_path) else []
    sources += backups_of(db_path)
    for source in sources:
        try:
            conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
            conn.text_factory = lenient_text
        except sqlite3.Error:
            continue
        try:
            for table in ("issued_revisions", "quarter_status"):
                try:
                    found.update(conn.execute(f"SELECT town, quarter, revision, content_hash FROM {table}"))
                except sqlite3.Error:
                    continue
        finally:
            conn.close()
    return found


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


def _chain_row(entry: AuditEntry) -> ChainRow:
    return ChainRow(
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
        entry.hash,
    )


def _issue_revision(session: Session, town: str, quarter: str, revision: int, content_hash: str) -> str:
    """Record that `revision` was handed out for this content, unless it already was; gives the content it is for."""
    issued = session.get(IssuedRevision, (town, quarter, revision))
    if issued is None:
        session.add(
            IssuedRevision(town=town, quarter=quarter, revision=revision, content_hash=content_hash, issued_at=_now())
        )
        return content_hash
    return issued.content_hash


def _revision_for(session: Session, town: str, quarter: Quarter, content_hash: str) -> int:
    status = session.get(QuarterStatusRow, (town, quarter.code))
    latest = session.scalar(
        select(IssuedRevision)
        .where(IssuedRevision.town == town, IssuedRevision.quarter == quarter.code)
        .order_by(IssuedRevision.revision.desc())
        .limit(1)
    )
    if status is not None and status.state == SUBMITTED and status.content_hash == content_hash:
        return status.revision
    recorded = status.revision if status is not None else 0
    if latest is not None and latest.revision > recorded and latest.content_hash == content_hash:
        return latest.revision  # an export of this content was killed before it was recorded
    return max(recorded, latest.revision if latest is not None else 0) + 1


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
