"""Actions on the plans imported (规划目标): list them. A plan comes in only as a package the city signed
(actions.plan_packages.plan_import); the unsigned 分解表 door (`targets import`) is closed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.plans import Plan
    from storage.store import Store

TARGETS_IMPORT_REMOVED = (
    "targets import 已停用：规划目标不再从表格（CSV/Excel）导入。规划只能以市局签名下发的规划文件导入，"
    "请运行 python main.py plan import 文件.plan（窗口中：文件 → 导入规划）"
)


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
