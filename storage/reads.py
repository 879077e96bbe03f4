"""What the window reads from a town's database, in plain SQL on a standard `sqlite3` connection.

The same code serves the full `Store` (on the connection under its SQLAlchemy engine) and the window's
start-up (`storage.glance`, on a read-only connection before SQLAlchemy is imported), so what the window
shows first is exactly what the store would show. The store's other reads (the audit trail, revisions,
identity) and all writing stay with the ORM.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from core.errors import DomainError, PlanError, QuarterError, TownError
from core.indicators import SHIPPED, Catalogue
from core.plan_package import PlanPackage, package_from_content, shipped_package
from core.plans import CITY, SHIPPED_PLAN_NAME, TOWNS, Plan, TownTargets
from core.quarters import Quarter
from core.receipts import CityState
from core.submission import DRAFT, NOT_ENTERED, STALE, SUBMITTED, LaterChange, QuarterStatus, stale_because
from storage.basics import PROFILE_LABELS
from storage.city_reads import city_states

_BASE_OF_PLAN = re.compile(r"\d+（(.+)）")


@dataclass(frozen=True)
class Profile:
    """The office profile printed on returns."""

    unit_name: str = ""
    head: str = ""
    stats_head: str = ""
    preparer: str = ""
    phone: str = ""


class StoredPlanAltered(PlanError):
    """A stored package whose content no longer matches what was imported: edited outside the program."""

    def __init__(self, name: str, plan_id: str, quarter: Quarter | None = None):
        what = f"数据库中保存的规划“{name}”（编号 {plan_id}）"
        if quarter is not None:
            what = f"{quarter.label}录入时依据的规划“{name}”（编号 {plan_id}）在数据库中已不存在或与记录不符，"
        super().__init__(
            f"{what}已在本程序之外被改动（规划数据已被改动），"
            "不能再用于录入、检查或导出。请重新导入市局下发的该规划文件（文件 → 导入规划，或 plan import 文件.plan）修复"
        )


@dataclass(frozen=True)
class QuarterPlan:
    """The plan a quarter was entered under (id and hash unknown for quarters entered before packages)."""

    plan_name: str
    plan_id: str | None
    content_hash: str | None


@dataclass(frozen=True)
class PackageRecord:
    """A stored plan package as its row holds it."""

    id: str
    content_hash: str
    name: str
    first_quarter: str
    last_quarter: str
    content: str


class PackageFields(Protocol):
    """What `package_of` reads of a stored package (a PackageRecord or the ORM's row)."""

    @property
    def id(self) -> str: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def first_quarter(self) -> str: ...
    @property
    def last_quarter(self) -> str: ...
    @property
    def content(self) -> str: ...


def package_of(row: PackageFields) -> PlanPackage:
    """The stored package, re-checked: its content must still be canonical, hash to the recorded hash
    and id, have the recorded name and period, and pass the package checks; else StoredPlanAltered."""
    try:
        package = package_from_content(json.loads(row.content))
    except (ValueError, RecursionError, PlanError) as exc:
        raise StoredPlanAltered(row.name, row.id) from exc
    recorded = (row.content.encode("utf-8"), row.content_hash, row.id, row.name, row.first_quarter, row.last_quarter)
    actual = (
        package.canonical_bytes(),
        package.content_hash,
        package.id,
        package.name,
        package.first.code,
        package.last.code,
    )
    if recorded != actual:
        raise StoredPlanAltered(row.name, row.id)
    return package


# --- plain-SQL reads, each on one open connection ---------------------------------------------


def setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def profile(conn: sqlite3.Connection) -> Profile:
    keys = {f"profile.{name}": name for name in PROFILE_LABELS}
    marks = ",".join("?" * len(keys))
    rows = conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", tuple(keys)).fetchall()
    values = {keys[key]: value or "" for key, value in rows}
    return Profile(**{name: values.get(name, "") for name in PROFILE_LABELS})


def package_records(conn: sqlite3.Connection) -> list[PackageRecord]:
    rows = conn.execute(
        "SELECT id, content_hash, name, first_quarter, last_quarter, content FROM plan_packages ORDER BY first_quarter"
    ).fetchall()
    return [PackageRecord(*row) for row in rows]


def plans(conn: sqlite3.Connection) -> list[Plan]:
    """Every stored plan, earliest first."""
    result = []
    packages = {p.name: p for p in package_records(conn)}
    for plan_row_id, name, first, last in conn.execute(
        "SELECT id, name, first_quarter, last_quarter FROM plans ORDER BY first_quarter"
    ).fetchall():
        if name in packages:  # its indicator list, rates and bases come whole from the package
            result.append(package_of(packages[name]).to_plan())
            continue
        if name == SHIPPED_PLAN_NAME:  # built in and trusted: never what a file imported under its name
            result.append(shipped_package().to_plan())
            continue
        by_town: dict[str, TownTargets] = {}
        for town, code, value in conn.execute(
            "SELECT town, code, value FROM targets WHERE plan_id = ? ORDER BY id", (plan_row_id,)
        ):
            entry = by_town.setdefault(town, TownTargets(town, {}, {}))
            if code in SHIPPED.planned_codes:  # targets stored before plans were packages: the shipped list
                entry.counts[code] = int(value)
            else:
                entry.rates[code] = Fraction(value)
        result.append(
            Plan(name, Quarter.parse(first), Quarter.parse(last), tuple(by_town[t] for t in TOWNS), by_town[CITY])
        )
    return result


def quarter_plan(conn: sqlite3.Connection, town: str, quarter: Quarter) -> QuarterPlan | None:
    row = conn.execute(
        "SELECT plan_name, plan_id, content_hash FROM quarter_plans WHERE town = ? AND quarter = ?",
        (town, quarter.code),
    ).fetchone()
    return None if row is None else QuarterPlan(*row)


def stock_bases(conn: sqlite3.Connection, town: str, plan: Plan | None) -> dict[str, int]:
    """Each stock's 基期数 for `plan`: the plan's own where it has one, else what the town entered."""
    if plan is None:
        return {}
    rows = conn.execute("SELECT code, value FROM stock_bases WHERE town = ? AND plan = ?", (town, plan.name))
    entered = {code: value for code, value in rows}
    return {**entered, **plan.targets_for(town).bases} if town in TOWNS else entered


def quarter_figures(conn: sqlite3.Connection, town: str, quarter: Quarter) -> dict[str, int]:
    rows = conn.execute("SELECT code, value FROM figures WHERE town = ? AND quarter = ?", (town, quarter.code))
    return {code: value for code, value in rows}


def migrated_case_quarters(conn: sqlite3.Connection) -> frozenset[Quarter]:
    """The quarters whose 上期结转 the migration 0007 wrote and nobody has typed since: nobody entered them, so
    they are not checked against the quarter before. Read from the hash-chained trail (its migrate_figure
    rows), so an edit outside the program cannot exempt a quarter without `audit verify` seeing it."""
    last: dict[tuple[str, str], str] = {}
    rows = conn.execute(
        "SELECT quarter, code, action FROM audit WHERE action IN ('set_figure', 'migrate_figure') "
        "AND quarter IS NOT NULL AND code IS NOT NULL ORDER BY id"
    )
    for quarter, code, action in rows:
        if code.endswith("_carried"):
            last[(quarter, code)] = action
    try:
        return frozenset(Quarter.parse(q) for (q, _), action in last.items() if action == "migrate_figure")
    except QuarterError:
        return frozenset()


def history(conn: sqlite3.Connection, town: str) -> dict[Quarter, dict[str, int]]:
    result: dict[Quarter, dict[str, int]] = {}
    for quarter, code, value in conn.execute("SELECT quarter, code, value FROM figures WHERE town = ?", (town,)):
        result.setdefault(Quarter.parse(quarter), {})[code] = value
    return result


def explanations(conn: sqlite3.Connection, town: str, quarter: Quarter) -> dict[str, str]:
    rows = conn.execute("SELECT code, text FROM explanations WHERE town = ? AND quarter = ?", (town, quarter.code))
    return {code: text for code, text in rows}


def quarter_statuses(conn: sqlite3.Connection, town: str, plans: Sequence[Plan]) -> dict[Quarter, QuarterStatus]:
    """Every quarter with a status row; a submitted one whose totals changed since is 需重新上报."""
    rows = conn.execute("SELECT quarter, state, revision FROM quarter_status WHERE town = ?", (town,)).fetchall()
    statuses = {Quarter.parse(quarter): QuarterStatus(state, revision) for quarter, state, revision in rows}
    if not any(state == SUBMITTED for _, state, _ in rows):
        return statuses
    # When each quarter was last exported, from the hash-chained trail itself, not from the status row's
    # own note of it (a row edited outside the program must not hide a change made since).
    exported_at = dict(
        conn.execute(
            "SELECT quarter, MAX(id) FROM audit WHERE action = 'export' AND quarter IS NOT NULL GROUP BY quarter"
        )
    )
    exported = [
        (quarter, revision, exported_at[quarter])
        for quarter, state, revision in rows
        if state == SUBMITTED and quarter in exported_at
    ]
    if not exported:
        return statuses
    first = min(audit_id for _, _, audit_id in exported)
    later = [
        (entry_id, _later_change(action, quarter, code, new_value))
        for entry_id, action, quarter, code, new_value in conn.execute(
            "SELECT id, action, quarter, code, new_value FROM audit "
            "WHERE id > ? AND action IN ('set_figure', 'set_base') ORDER BY id",
            (first,),
        )
    ]
    for quarter_code, revision, audit_id in exported:
        quarter = Quarter.parse(quarter_code)
        plan = next((p for p in plans if p.contains(quarter)), None)
        since = [change for entry_id, change in later if change is not None and entry_id > audit_id]
        reason = stale_because(quarter, plan, revision, since)
        if reason:
            statuses[quarter] = QuarterStatus(STALE, revision, reason)
    return statuses


def _later_change(action: str, quarter: str | None, code: str | None, new_value: str | None) -> LaterChange | None:
    if action == "set_base":
        match = _BASE_OF_PLAN.fullmatch(new_value or "")
        return LaterChange(code or "", plan_name=match.group(1)) if match else None
    if quarter is None:
        return None
    return LaterChange(code or "", quarter=Quarter.parse(quarter))


# --- what a store reads, whoever opened the connection -----------------------------------------


class StoreReads:
    """The read side of a town's database. Subclasses say how a connection is had (`_reading`)."""

    path: Path
    _today: Callable[[], date]
    _plans: list[Plan] | None = None

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def today(self) -> date:
        return self._today()

    def db_id(self) -> str | None:
        with self._reading() as conn:
            return setting(conn, "db.id")

    def shows_the_same_as(self, other: StoreReads) -> bool:
        """Would a window show the same from both (the same database, town, plans, figures and states)?"""
        try:
            return all(
                getattr(self, name)() == getattr(other, name)()
                for name in ("db_id", "town", "plans", "history", "quarter_statuses", "profile")
            )
        except (DomainError, sqlite3.Error):
            return False

    def town(self) -> str | None:
        with self._reading() as conn:
            return setting(conn, "town")

    def require_town(self) -> str:
        town = self.town()
        if town is None:
            raise TownError("此数据库尚未绑定镇街，请先运行 init --town 镇街名 或在软件中完成初次设置")
        if town not in TOWNS:
            raise TownError(
                f"数据库中记录的镇街“{town}”不是本市的镇街：数据库可能在本软件之外被改动过。"
                "请用备份恢复（restore 备份文件），或联系市局"
            )
        return town

    def mode(self) -> str:
        """ "town" (a town office entering figures) or "city" (the bureau collecting returns)."""
        with self._reading() as conn:
            return setting(conn, "mode") or "town"

    def trust_root_pem(self) -> str | None:
        with self._reading() as conn:
            return setting(conn, "city.trust_root")

    def profile(self) -> Profile:
        with self._reading() as conn:
            return profile(conn)

    def plans(self) -> list[Plan]:
        if self._plans is None:
            with self._reading() as conn:
                self._plans = plans(conn)
        return list(self._plans)

    def plan_for(self, quarter: Quarter) -> Plan | None:
        """The plan whose period holds `quarter`; for a quarter recorded under a package, that very
        package (else StoredPlanAltered: the database was edited outside the program)."""
        plan = next((p for p in self.plans() if p.contains(quarter)), None)
        with self._reading() as conn:
            town = setting(conn, "town")
            pinned = quarter_plan(conn, town, quarter) if town is not None else None
        if pinned is not None and pinned.content_hash and (plan is None or plan.content_hash != pinned.content_hash):
            raise StoredPlanAltered(pinned.plan_name, pinned.plan_id or "", quarter)
        return plan

    def catalogue_for(self, quarter: Quarter) -> Catalogue:
        """The indicator list a quarter is entered, checked and reported under: its plan's, else the
        list of the latest plan that began before it, else the shipped one."""
        plan = self.list_plan_for(quarter)
        return plan.catalogue if plan is not None else SHIPPED

    def list_plan_for(self, quarter: Quarter) -> Plan | None:
        """The plan whose indicator list the quarter uses (see catalogue_for); None: the shipped list."""
        plan = self.plan_for(quarter)
        if plan is None:
            earlier = [p for p in self.plans() if p.first <= quarter]
            plan = earlier[-1] if earlier else None
        return plan

    def known_codes(self) -> set[str]:
        """Every figure and rate code of any stored plan and of the shipped list (old records stay readable)."""
        codes = set(SHIPPED.indicator_codes) | set(SHIPPED.rate_codes) | set(SHIPPED.carry_codes)
        for plan in self.plans():
            codes |= set(plan.catalogue.indicator_codes) | set(plan.catalogue.rate_codes) | set(plan.catalogue.carry_codes)
        return codes

    def indicator_name(self, code: str, quarter: str | None = None) -> str:
        """A code's Chinese name: from the list of `quarter` (a code such as 2026Q1) if it has it, else from
        any stored plan's list, else the code itself (an audit row names codes of every plan)."""
        catalogues: list[Catalogue] = []
        if quarter:
            try:
                catalogues.append(self.catalogue_for(Quarter.parse(quarter)))
            except QuarterError:  # a row about no single quarter
                pass
        catalogues += [p.catalogue for p in reversed(self.plans())] + [SHIPPED]
        return next((c.display_name(code) for c in catalogues if c.is_known_code(code)), code)

    def current_plan(self) -> Plan | None:
        """The plan of the latest ended quarter, else the latest plan."""
        plans = self.plans()
        return self.plan_for(Quarter.latest_ended(self.today())) or (plans[-1] if plans else None)

    def quarter_plan(self, quarter: Quarter) -> QuarterPlan | None:
        """The plan the quarter was entered under, if anything was ever saved for it."""
        town = self.require_town()
        with self._reading() as conn:
            return quarter_plan(conn, town, quarter)

    def stock_bases(self, plan: Plan | None) -> dict[str, int]:
        """Each stock's 基期数 for `plan`: the plan's own where it has one, else what this town entered."""
        town = self.require_town()
        with self._reading() as conn:
            return stock_bases(conn, town, plan)

    def figures(self, quarter: Quarter) -> dict[str, int]:
        town = self.require_town()
        with self._reading() as conn:
            return quarter_figures(conn, town, quarter)

    def history(self) -> dict[Quarter, dict[str, int]]:
        town = self.require_town()
        with self._reading() as conn:
            return history(conn, town)

    def explanations(self, quarter: Quarter) -> dict[str, str]:
        town = self.require_town()
        with self._reading() as conn:
            return explanations(conn, town, quarter)

    def migrated_case_quarters(self) -> frozenset[Quarter]:
        """The quarters whose 上期结转 the migration 0007 wrote (see migrated_case_quarters): the entry form's
        live check passes them, as Store.check does."""
        with self._reading() as conn:
            return migrated_case_quarters(conn)

    def quarter_status(self, quarter: Quarter) -> QuarterStatus:
        return self.quarter_statuses().get(quarter, QuarterStatus(DRAFT, None))

    def city_states(self) -> dict[Quarter, CityState]:
        """Each quarter's state at the city as the town learned it from receipts and send-backs."""
        town = self.require_town()
        with self._reading() as conn:
            return city_states(conn, town)

    def quarter_statuses(self) -> dict[Quarter, QuarterStatus]:
        """Every quarter with a status row; a submitted one whose totals changed since is 需重新上报."""
        town = self.require_town()
        loaded = self.plans()
        with self._reading() as conn:
            return quarter_statuses(conn, town, loaded)

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
