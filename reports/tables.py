"""Read a city-issued target split (.xlsx or .csv, in the annex's layout) into a Plan."""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import PlanError
from core.plans import Plan, plan_from_rows, read_csv_rows
from core.quarters import Quarter
from reports.safe_zip import check_xlsx

MAX_ROWS = 500
MAX_CSV_BYTES = 1024 * 1024  # the 34-row annex is about 3 KB


def read_rows(path: Path) -> list[list[object]]:
    suffix = path.suffix.lower()
    if not path.is_file():  # is_file() stats without opening: a FIFO or device is not a file
        raise PlanError(f"找不到文件 {path}")
    if suffix == ".csv":
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise PlanError(f"{path.name}：文件大小 {size // 1024} KB，超过 {MAX_CSV_BYTES // 1024} KB，不像指标任务分解表")
        return [list(r) for r in read_csv_rows(path)[:MAX_ROWS]]
    if suffix in (".xlsx", ".xlsm"):
        check_xlsx(path)
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged workbook
            raise PlanError(f"{path.name}：无法读取这个 Excel 文件（文件已损坏，或不是 Excel 保存的工作簿）") from exc
        try:
            sheet = workbook.worksheets[0]
            return [list(row) for row in sheet.iter_rows(max_row=MAX_ROWS, max_col=30, values_only=True)]
        finally:
            workbook.close()
    raise PlanError(f"{path.name}：只支持 .xlsx 或 .csv 文件")


def read_plan_file(path: Path, name: str | None = None, first: str | None = None, last: str | None = None) -> Plan:
    years = re.findall(r"(?<!\d)(20\d\d)(?!\d)", path.stem)
    first_q = Quarter.parse(first) if first else (Quarter(int(years[0]), 1) if len(years) >= 2 else None)
    last_q = Quarter.parse(last) if last else (Quarter(int(years[1]), 4) if len(years) >= 2 else None)
    if first_q is None or last_q is None:
        raise PlanError(f"无法从文件名 {path.name} 推断规划期，请用 --first 2026Q1 --last 2030Q4 指定")
    plan_name = name or f"{first_q.year}—{last_q.year}年指标任务分解"
    return plan_from_rows(read_rows(path), plan_name, first_q, last_q, source=path.name)
