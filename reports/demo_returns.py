"""A demo set for the city's side: a root, 33 town identities and signed returns for the whole 2021–2025 plan,
and for the ended quarters of the sample 2026–2030 plan (示例（非正式目标）), made under that plan."""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.demo import town_figures
from core.plans import TOWNS, Plan, load_shipped_plan
from core.quarters import Quarter
from core.validation import QuarterInput, check_quarter
from reports.export import write_return_files
from reports.identity import create_city_root, issue_town_identity, open_identity
from reports.returns import assemble_return

ROOT_PASSPHRASE = b"demo-city-root"
TOWN_PASSPHRASE = b"demo-town-pass"
# Deliberate gaps and one resubmission, so the city's side has something to find.
MISSING = {
    ("虎门", Quarter(2025, 4)),
    ("洪梅", Quarter(2025, 3)),
    ("谢岗", Quarter(2024, 2)),
    ("清溪", Quarter(2025, 4)),
}
RESUBMITTED = ("东城", Quarter(2024, 3))
BEHIND_TOWNS = {"洪梅": 0.55, "望牛墩": 0.62, "企石": 0.7, "麻涌": 0.78}
EXPLANATION = "已核实：本季度情况特殊，已列入下季度重点工作"


@dataclass(frozen=True)
class DemoSet:
    root: Path
    returns: Path
    files: int


def _town_returns(args: tuple[str, Path, Path, bool, Plan | None, tuple[Quarter, ...]]) -> int:
    town, identity_file, out, with_pdf, sample, sample_quarters = args
    plan = load_shipped_plan()
    identity = open_identity(identity_file.read_bytes(), TOWN_PASSPHRASE)
    figures = town_figures(plan, town, plan.quarters, seed=2021, pace=BEHIND_TOWNS.get(town))
    kinds = ("workbook", "pdf", "summary") if with_pdf else ("workbook",)
    # the demo town's 2020 year-end card stock, entered as its 基期数: a little below its first quarter
    bases = {"card_holders": figures[plan.first]["card_holders"] * 99 // 100}
    written = 0
    history: dict[Quarter, dict[str, int]] = {}
    for quarter in plan.quarters:
        values = figures[quarter]
        findings = check_quarter(
            QuarterInput(town, quarter, dt.date(2026, 1, 15), plan, values, dict(history), bases=bases)
        )
        history[quarter] = values
        if (town, quarter) in MISSING:
            continue
        explanations = {f.indicator: EXPLANATION for f in findings if f.needs_explanation and f.indicator}
        when = dt.datetime.combine(quarter.last_day + dt.timedelta(days=10), dt.time(10), dt.UTC)
        data = assemble_return(
            town, quarter, plan, history, explanations, findings, _profile(town), when, signed=True, bases=bases
        )
        write_return_files(data, out / town, identity=identity, kinds=kinds)
        written += len(kinds)
        if (town, quarter) == RESUBMITTED:
            corrected = dict(values, nanyue_trained=values["nanyue_trained"] + 12)
            history[quarter] = corrected
            data = assemble_return(
                town,
                quarter,
                plan,
                history,
                explanations,
                findings,
                _profile(town),
                when + dt.timedelta(days=5),
                revision=2,
                signed=True,
                bases=bases,
            )
            write_return_files(data, out / town, identity=identity, kinds=kinds)
            written += len(kinds)
    if sample is not None and sample_quarters:
        written += _sample_returns(town, identity, out, kinds, sample, sample_quarters, history)
    return written


def _sample_returns(
    town: str,
    identity: object,
    out: Path,
    kinds: tuple[str, ...],
    plan: Plan,
    quarters: tuple[Quarter, ...],
    history: dict[Quarter, dict[str, int]],
) -> int:
    """The town's returns for the sample plan's ended quarters, under that plan's indicator list."""
    figures = town_figures(plan, town, quarters, seed=2026, pace=BEHIND_TOWNS.get(town))
    # the sample plan's 基期数: a little below its first quarter, as for the 2021–2025 plan
    bases = {code: figures[quarters[0]][code] * 99 // 100 for code in plan.catalogue.stock_codes}
    written = 0
    for quarter in quarters:
        values = figures[quarter]
        findings = check_quarter(
            QuarterInput(town, quarter, quarter.last_day + dt.timedelta(days=5), plan, values, dict(history), bases=bases)
        )
        history[quarter] = values
        explanations = {f.indicator: EXPLANATION for f in findings if f.needs_explanation and f.indicator}
        when = dt.datetime.combine(quarter.last_day + dt.timedelta(days=10), dt.time(10), dt.UTC)
        data = assemble_return(
            town, quarter, plan, history, explanations, findings, _profile(town), when, signed=True, bases=bases
        )
        write_return_files(data, out / town, identity=identity, kinds=kinds)  # type: ignore[arg-type]
        written += len(kinds)
    return written


def _profile(town: str) -> dict[str, str]:
    return {
        "unit_name": f"东莞市人力资源和社会保障局{town}分局",
        "head": "（演示）",
        "stats_head": "（演示）",
        "preparer": "（演示）",
        "phone": "0769-00000000",
    }


def generate_demo_set(
    folder: Path,
    with_pdf: bool = False,
    workers: int | None = None,
    sample: Plan | None = None,
    today: dt.date | None = None,
) -> DemoSet:
    """Write folder/city (root), folder/identities (33 .p12) and folder/returns/<town>/ (signed returns).

    With `sample` (the sample plan), also the returns of its quarters ended by `today`."""
    today = today or dt.date.today()
    sample_quarters = tuple(q for q in sample.quarters if q.last_day < today) if sample is not None else ()
    city, identities, returns = folder / "city", folder / "identities", folder / "returns"
    create_city_root(city, ROOT_PASSPHRASE)
    jobs = []
    for town in TOWNS:
        path = issue_town_identity(
            city / "city_root.p12",
            ROOT_PASSPHRASE,
            town,
            identities / f"{town}.p12",
            TOWN_PASSPHRASE,
            not_before=dt.datetime(2020, 12, 1, tzinfo=dt.UTC),
            days=365 * 8,
        )
        jobs.append((town, path, returns, with_pdf, sample, sample_quarters))
    (folder / "说明.txt").write_text(
        "演示数据：city/city_root.pem 是受信任的根证书；根证书口令 demo-city-root；各镇街证书口令 demo-town-pass。\n"
        f"缺报：{'、'.join(f'{t}{q.label}' for t, q in sorted(MISSING, key=lambda m: (m[1], m[0])))}；"
        f"重报：{RESUBMITTED[0]}{RESUBMITTED[1].label}（第2版）。\n"
        + (
            f"{'、'.join(q.label for q in sample_quarters)}的季报按示例规划（非正式目标）填报，"
            "核验、汇总时须用 --plan 指定同一文件夹中的示例规划文件。\n"
            if sample_quarters
            else ""
        ),
        encoding="utf-8",
    )
    workers = workers or min(os.cpu_count() or 1, 8)
    with ProcessPoolExecutor(workers) as pool:
        files = sum(pool.map(_town_returns, jobs))
    return DemoSet(city / "city_root.pem", returns, files)
