"""Actions on the plan (规划目标): read and import the city's 指标任务分解表, list the plans imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.plans import Plan
    from storage.store import Store


def read_plan(path: Path, name: str | None = None, first: str | None = None, last: str | None = None) -> Plan:
    """The plan in a 分解表 (.xlsx or .csv); the period is inferred from the file name unless given."""
    from reports.tables import read_plan_file  # openpyxl is only needed here

    return read_plan_file(path, name=name, first=first, last=last)


def needs_period(error: Exception) -> bool:
    """Did reading a plan fail only because its period could not be inferred (ask for it, then retry)?"""
    from core.errors import DomainError

    return isinstance(error, DomainError) and "推断规划期" in error.message


@dataclass(frozen=True)
class PlanImported:
    plan: Plan
    replaced: bool  # a plan of the same name was there and is replaced

    @property
    def description(self) -> str:
        from core.plans import describe_plan

        return describe_plan(self.plan)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.plan.name, "first": self.plan.first.code, "last": self.plan.last.code, "replaced": self.replaced}


def import_plan(store: Store, plan: Plan, source: Path) -> PlanImported:
    """Keep a plan read by `read_plan` from `source` (a plan of the same name is replaced)."""
    return PlanImported(plan, store.import_plan(plan, source=source.name))


@dataclass(frozen=True)
class PlanEntry:
    plan: Plan

    @property
    def description(self) -> str:
        from core.plans import describe_plan

        return describe_plan(self.plan)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.plan.name, "first": self.plan.first.code, "last": self.plan.last.code, "city": self.plan.city.counts}


def list_plans(store: Store) -> list[PlanEntry]:
    return [PlanEntry(p) for p in store.plans()]
