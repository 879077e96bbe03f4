"""A demo database: one town with plausible figures across the 2021–2025 plan, and the sample 2026–2030 plan
(示例（非正式目标）) imported with figures for its quarters that have ended."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.demo import town_figures
from core.plan_package import SAMPLE_MARK, sample_package
from core.plans import load_shipped_plan
from core.quarters import Quarter
from storage.store import Profile, Store, data_dir

DEMO_TOWN = "莞城"


def demo_db_path() -> Path:
    return data_dir() / "demo.sqlite3"


def build_demo_database(path: Path, town: str = DEMO_TOWN, today: date | None = None) -> Quarter:
    """Fill a new database for `town` across the shipped plan and the sample plan's ended quarters;
    returns the last quarter filled."""
    plan = load_shipped_plan()
    sample = sample_package()
    with Store(path, today=(lambda: today) if today else date.today) as store:
        store.bind_town(town)
        store.set_profile(Profile(f"东莞市{town}人力资源和社会保障分局", "陈建华", "林秀珍", "黄晓敏", "0769-22001234"))
        if store.history():
            return max(store.history())
        # signed by the city in real life; the demo records the built-in sample as the city's window would
        store.import_plan_package(sample, source=f"演示数据（{SAMPLE_MARK}）")
        figures = town_figures(plan, town, plan.quarters, seed=2021, pace=0.93)
        explanations = {
            "card_holders": "辖区部分企业外迁，参保人员转出",
            "mediation_success_rate": "个别案件当事人撤回调解申请",
            "arbitration_closure_rate": "跨季度复杂案件较多，已列入下季度督办",
            "yuecai_certified": "本季度集中开班，结业发证人数较多",
            "nanyue_trained": "本季度集中开班，培训人数较多",
        }
        for quarter in plan.quarters:
            values = figures[quarter]
            needed = {f.indicator for f in store.check(quarter, values) if f.needs_explanation and f.indicator}
            store.save_quarter(
                quarter, values, {code: explanations.get(code, "已核实，数据准确无误") for code in needed}
            )
        last = plan.last
        sample_plan = store.plan_for(sample.first)
        assert sample_plan is not None
        ended = [q for q in sample_plan.quarters if q.last_day < store.today()]
        sample_figures = town_figures(sample_plan, town, ended, seed=2026, pace=0.93)
        for code in sample_plan.catalogue.stock_codes:  # a little below the first quarter, as in the city's demo
            if ended:
                store.set_stock_base(sample_plan, code, sample_figures[ended[0]][code] * 99 // 100)
        for quarter, values in sample_figures.items():
            needed = {f.indicator for f in store.check(quarter, values) if f.needs_explanation and f.indicator}
            store.save_quarter(
                quarter, values, {code: explanations.get(code, "已核实，数据准确无误") for code in needed}
            )
            last = quarter
        return last


def ensure_demo_database(path: Path | None = None) -> tuple[Path, Quarter]:
    path = path or demo_db_path()
    return path, build_demo_database(path)
