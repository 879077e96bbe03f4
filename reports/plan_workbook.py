"""The city's plan workbook: a template it fills in Excel, read back into a plan package.

Sheets (fixed names; row 1 of each is a title, row 2 the column names):
  说明      instructions
  规划信息  the header fields, one per row (项目 | 内容)
  指标清单  one indicator per row, in display order
  分解表    rows = the 33 towns and 全市; row 3 holds each column's key (an indicator code, a
            stock's code + ".base" for its 基期数, or a count pair's rate code), values from row 4
  差额说明  stated differences between the 全市 total and the sum of the towns

The template carries today's nine indicators (the 2021–2025 list) with every number left blank:
a statistician edits a list she knows rather than inventing one, and no figure is pre-filled that
could slip into a real plan unnoticed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from core.errors import NumberError, PlanError
from core.numbers import parse_count
from core.plan_package import (
    BASE_SUFFIX,
    DEFAULT_ISSUER,
    KIND_NAMES,
    MAX_DEFINITION,
    RATE_TEXT,
    SAMPLE_MARK,
    PackageIndicator,
    PackageKind,
    PlanPackage,
    StatedDifference,
    TownSplit,
    package_problems,
    percent_text,
    shipped_package,
)
from core.plans import CITY, TOWNS, column_letter, parse_rate_target
from core.quarters import Quarter
from reports.safe_zip import check_xlsx

SHEET_HELP = "说明"
SHEET_HEADER = "规划信息"
SHEET_LIST = "指标清单"
SHEET_SPLIT = "分解表"
SHEET_DIFFERENCES = "差额说明"
SHEETS = (SHEET_HELP, SHEET_HEADER, SHEET_LIST, SHEET_SPLIT, SHEET_DIFFERENCES)

HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "规划名称"),
    ("first", "开始季度"),
    ("last", "结束季度"),
    ("issuer", "发布单位"),
    ("form_number", "表号"),
    ("approval_number", "批准文号"),
    ("approval_authority", "批准机关"),
    ("valid_until", "有效期至"),
    ("stock_jump_bound", "季末数跳变警戒线"),
    ("sample", "是否示例"),
)
# rows a workbook made before they existed lacks: read as blank (issue 26's 批准机关 and stock bound)
OPTIONAL_HEADER_FIELDS = frozenset({"approval_authority", "stock_jump_bound"})
# the package's own spelling of a rate (RATE_TEXT: at most 3 digits and 6 decimals), with a % sign or none
JUMP_BOUND_TEXT = re.compile(rf"({RATE_TEXT.pattern})\s*[%％]?")
LIST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "代码"),
    ("name", "指标名称"),
    ("short_name", "简称"),
    ("unit", "单位"),
    ("group", "分组"),
    ("kind", "类型"),
    ("sub_code", "其中项代码"),
    ("sub_name", "其中项名称"),
    ("sub_short_name", "其中项简称"),
    ("rate_code", "比率代码"),
    ("rate_name", "比率名称"),
    ("rate_short_name", "比率简称"),
    ("rate_target", "比率目标（%，以上）"),
    ("definition", "指标解释"),
)
KIND_BY_NAME = {name: kind for kind, name in KIND_NAMES.items()} | {kind.value: kind for kind in PackageKind}
FIRST_DATA_ROW = 3
SPLIT_KEY_ROW = 3
SPLIT_FIRST_TOWN_ROW = 4
MAX_ROWS = 200
MAX_COLUMNS = 200

HELP_TEXT = (
    "本工作簿用于编制规划的指标任务分解，填好后由市局用根证书签名，生成 .plan 文件下发各镇街：",
    "python main.py plan build 本文件.xlsx --root city_root.p12 --root-passphrase-file 口令.txt --out 2026-2030.plan",
    "",
    "1. “规划信息”：填写规划名称、开始和结束季度（如 2026Q1、2030Q4）、发布单位、表号、批准文号、批准机关、有效期至。",
    "   表号、批准文号、批准机关、有效期至印在每份季报的表头；不填的，季报上留空白横线由镇街手填。",
    "   “季末数跳变警戒线”：季末数（如社保卡持卡人数）比上季度增减超过这个百分数时，镇街须写说明；不填为 30%。",
    "   “是否示例”填“否”；只有演示用的示例规划填“是”，其名称必须含“示例（非正式目标）”。",
    "2. “指标清单”：每行一项指标，按显示顺序排列。代码以小写字母开头，只含小写字母、数字和下划线。",
    "   类型：流量（规划期内累计，如培训人数）、季末数（季末的存量，如持卡人数，可给基期数）、",
    "   成对计数（一个案件数及其“其中”项，两者之比有最低目标，如调解成功率 ≥78%）。",
    "   成对计数须填其中项代码和名称、比率代码和名称、比率目标（如 78 表示 78% 以上）。",
    f"   “指标解释”（可不填，每项不超过 {MAX_DEFINITION} 字）：该指标的统计口径，印在季报和汇总表的最后一页“指标解释”。",
    "3. “分解表”：第 3 行是各列的代码，软件按它读取，请勿删除。新增或删去指标时，同时增删这里的列：",
    "   流量和季末数的列写指标代码，季末数的基期数列写“代码.base”（可不设此列，由镇街自行录入），",
    "   成对计数的列写比率代码，填百分数（如 78）。每个镇街一行，最后一行为“全市”。",
    "4. 33 个镇街之和应等于全市数；如确有差额（如市级直接承担的部分），在“差额说明”中写明指标代码、",
    "   差额（全市 − 镇街合计）和原因。",
    "5. 检查有误时，软件会列出所有错误，并指明工作表、行和列。",
)


class PlanWorkbookError(PlanError):
    """Every fault found in the workbook, each naming its sheet, row and column."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _at(sheet: str, row: int, column: int | None = None) -> str:
    where = f"工作表“{sheet}”第 {row} 行"
    return f"{where} {column_letter(column)} 列：" if column is not None else f"{where}："


# --- writing ------------------------------------------------------------------------------------


def write_template(out: Path) -> Path:
    """A blank split: the 33 towns and 全市, today's indicator list as the example to edit, no numbers."""
    return write_workbook(out, shipped_package(), blank=True)


def write_workbook(out: Path, package: PlanPackage, blank: bool = False) -> Path:
    """The workbook of `package` (or only its list and towns, `blank`); a sample is marked on every sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    mark = f" {SAMPLE_MARK}" if package.sample else ""
    title_font, bold = Font(bold=True, size=14), Font(bold=True)
    key_fill = PatternFill("solid", fgColor="DDDDDD")
    workbook = Workbook()
    sheets = {name: (workbook.active if i == 0 else workbook.create_sheet()) for i, name in enumerate(SHEETS)}
    for name, sheet in sheets.items():
        sheet.title = name
        plan_name = "" if blank else f"{package.name} "
        sheet.cell(1, 1, f"{plan_name}{name}{mark}").font = title_font
        sheet.oddHeader.center.text = f"{name}{mark}"
        sheet.oddFooter.center.text = "第 &P 页，共 &N 页"

    help_sheet = sheets[SHEET_HELP]
    for i, line in enumerate(HELP_TEXT, start=FIRST_DATA_ROW):
        help_sheet.cell(i, 1, line)
    help_sheet.column_dimensions["A"].width = 110

    header = sheets[SHEET_HEADER]
    header.cell(2, 1, "项目").font = bold
    header.cell(2, 2, "内容").font = bold
    values = {
        "name": package.name,
        "first": package.first.code,
        "last": package.last.code,
        "issuer": package.issuer,
        "form_number": package.form_number,
        "approval_number": package.approval_number,
        "approval_authority": package.approval_authority,
        "valid_until": package.valid_until,
        "stock_jump_bound": None if package.stock_jump_bound is None else f"{percent_text(package.stock_jump_bound)}%",
        "sample": "是" if package.sample else "否",
    }
    for i, (key, label) in enumerate(HEADER_FIELDS, start=FIRST_DATA_ROW):
        header.cell(i, 1, label)
        keep = key in ("issuer", "sample") or not blank
        header.cell(i, 2, values[key] if keep else (DEFAULT_ISSUER if key == "issuer" else None))
    header.column_dimensions["A"].width = 14
    header.column_dimensions["B"].width = 60

    listing = sheets[SHEET_LIST]
    listing.cell(2, 1, "序号").font = bold
    for c, (_, label) in enumerate(LIST_COLUMNS, start=2):
        listing.cell(2, c, label).font = bold
        listing.column_dimensions[column_letter(c - 1)].width = 16
    listing.column_dimensions["C"].width = 32
    for r, item in enumerate(package.indicators, start=FIRST_DATA_ROW):
        listing.cell(r, 1, r - FIRST_DATA_ROW + 1)
        cells = _list_cells(item)
        for c, (key, _) in enumerate(LIST_COLUMNS, start=2):
            listing.cell(r, c, cells.get(key))

    split = sheets[SHEET_SPLIT]
    columns = split_columns(package.indicators)
    split.cell(2, 1, "镇街").font = bold
    split.cell(SPLIT_KEY_ROW, 1, "（代码）").fill = key_fill
    split.column_dimensions["A"].width = 12
    for c, (key, label) in enumerate(columns, start=2):
        split.cell(2, c, label).font = bold
        split.cell(2, c).alignment = Alignment(wrap_text=True)
        split.cell(SPLIT_KEY_ROW, c, key).fill = key_fill
        split.column_dimensions[column_letter(c - 1)].width = 16
    for r, split_row in enumerate((*package.towns, package.city), start=SPLIT_FIRST_TOWN_ROW):
        split.cell(r, 1, split_row.town)
        if blank:
            continue
        for c, (key, _) in enumerate(columns, start=2):
            split.cell(r, c, _split_value(split_row, key))
    split.freeze_panes = split.cell(SPLIT_FIRST_TOWN_ROW, 2)

    differences = sheets[SHEET_DIFFERENCES]
    for c, label in enumerate(("指标代码", "差额（全市 − 镇街合计）", "原因"), start=1):
        differences.cell(2, c, label).font = bold
    for r, difference in enumerate(() if blank else package.differences, start=FIRST_DATA_ROW):
        differences.cell(r, 1, difference.code)
        differences.cell(r, 2, difference.amount)
        differences.cell(r, 3, difference.note)
    differences.column_dimensions["B"].width = 24
    differences.column_dimensions["C"].width = 60

    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
    return out


def split_columns(indicators: tuple[PackageIndicator, ...]) -> list[tuple[str, str]]:
    """The 分解表's columns after 镇街: (key, Chinese column name)."""
    columns = []
    for item in indicators:
        if item.kind is PackageKind.COUNT_PAIR:
            columns.append((item.rate_code, f"{item.rate_name}（%，以上）"))
        else:
            columns.append((item.code, f"{item.name}（{item.unit}）"))
            if item.kind is PackageKind.STOCK:
                columns.append((item.code + BASE_SUFFIX, f"{item.name}基期数（{item.unit}）"))
    return columns


def _list_cells(item: PackageIndicator) -> dict[str, object]:
    cells: dict[str, object] = {
        "code": item.code,
        "name": item.name,
        "short_name": item.short_name or None,
        "unit": item.unit,
        "group": item.group,
        "kind": KIND_NAMES[item.kind],
        "definition": item.definition or None,
    }
    if item.kind is PackageKind.COUNT_PAIR:
        cells.update(
            sub_code=item.sub_code,
            sub_name=item.sub_name,
            sub_short_name=item.sub_short_name or None,
            rate_code=item.rate_code,
            rate_name=item.rate_name,
            rate_short_name=item.rate_short_name or None,
            rate_target=None if item.rate_target is None else _percent_number(item.rate_target),
        )
    return cells


def _percent_number(rate: Fraction) -> int | float:
    text = percent_text(rate)
    return float(text) if "." in text else int(text)


def _split_value(split: TownSplit, key: str) -> object:
    if key.endswith(BASE_SUFFIX):
        return split.bases.get(key[: -len(BASE_SUFFIX)])
    if key in split.rates:
        return _percent_number(split.rates[key])
    return split.targets.get(key)


# --- reading ------------------------------------------------------------------------------------


@dataclass
class _Reader:
    problems: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # places already refused while reading the cells

    def fail(self, sheet: str, row: int, column: int | None, message: str) -> None:
        if _at(sheet, row, column) not in self.refused:
            self.problems.append(f"{_at(sheet, row, column)}{message}")
        if column is not None:
            self.refused.add(_at(sheet, row, column))


def _text(value: object) -> str:
    """A cell as text; names keep their full-width punctuation (“”（）), which NFKC would fold."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _key(value: object) -> str:
    """A code, a town or a quarter as typed, with full-width letters and digits folded."""
    return unicodedata.normalize("NFKC", _text(value))


def read_workbook(path: Path) -> PlanPackage:
    """The package the workbook describes, checked; PlanWorkbookError lists every fault with its place."""
    if not path.is_file():
        raise PlanError(f"找不到文件 {path}")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise PlanError(f"{path.name}：规划工作簿应为 .xlsx 文件")
    check_xlsx(path)
    import openpyxl

    try:
        # Formulas are read as written (not their cached results): a plan's figures are typed numbers.
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise PlanError(f"{path.name}：无法读取这个 Excel 文件（文件已损坏，或不是 Excel 保存的工作簿）") from exc
    try:
        missing = [name for name in SHEETS[1:] if name not in workbook.sheetnames]
        if missing:
            raise PlanWorkbookError([f"{path.name}：缺少工作表“{name}”" for name in missing])
        cell_problems: dict[str, str] = {}
        rows = {
            name: [
                [_cell_value(name, r, c, cell, cell_problems) for c, cell in enumerate(row)]
                for r, row in enumerate(workbook[name].iter_rows(max_row=MAX_ROWS, max_col=MAX_COLUMNS), start=1)
            ]
            for name in SHEETS[1:]
        }
    finally:
        workbook.close()
    return package_from_rows(rows, cell_problems)


def workbook_rate(value: object) -> Fraction:
    """A rate target as the workbook holds it: 78 or "78%" (≥78%), or a percentage-formatted cell
    (read as "78%" by _cell_value). A bare number of at most 1 (0.5, 1) could mean 0.5% or 50%, 1% or
    100%: it is refused and the city asked to write "50%"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 1:
        shown = f"{value:g}"
        raise PlanError(
            f"比率“{shown}”含义不明（是 {shown}% 还是 {float(value) * 100:g}%？）："
            f"请写成带百分号的“{float(value) * 100:g}%”，或把单元格设为百分比格式"
        )
    return parse_rate_target(value)


def _cell_value(sheet: str, row: int, column: int, cell: object, problems: dict[str, str]) -> object:
    """A cell's value as the readers below take it. A formula, or a date where a number or a code
    belongs, is refused here with its place (`problems`, keyed by the place) and read as blank; a
    number in a percentage-formatted cell is read as the percentage it shows (0.78 → "78%")."""
    import datetime as dt

    value = getattr(cell, "value", None)
    number_format = str(getattr(cell, "number_format", "") or "")
    if getattr(cell, "data_type", None) == "f" or (isinstance(value, str) and value.startswith("=")):
        problems[_at(sheet, row, column)] = "是公式，请填写数值（可复制后“粘贴为数值”）"
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        if sheet == SHEET_HEADER and column == 1 and isinstance(value, (dt.datetime, dt.date)):
            return value  # 有效期至 may be typed as a date; the quarters say what they need (_read_header)
        problems[_at(sheet, row, column)] = "是日期，不是数字或代码（请把单元格格式改为“常规”后重新填写）"
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in number_format:
        return f"{percent_text(Fraction(str(value)))}%"
    return value


def package_from_rows(rows: dict[str, list[list[object]]], cell_problems: dict[str, str] | None = None) -> PlanPackage:
    """The package the sheets' rows describe; `cell_problems` (place → fault) were found reading the cells."""
    cell_problems = cell_problems or {}
    reader = _Reader(refused=set(cell_problems))
    header = _read_header(reader, rows[SHEET_HEADER])
    indicators = _read_list(reader, rows[SHEET_LIST])
    towns, city, places = _read_split(reader, rows[SHEET_SPLIT], indicators)
    differences = _read_differences(reader, rows[SHEET_DIFFERENCES])
    if city is None or not indicators:
        raise PlanWorkbookError([place + fault for place, fault in cell_problems.items()] + reader.problems)
    # A faulty header still lets the split be checked, so the city sees every fault at once.
    placeholder = ("-", Quarter(2000, 1), Quarter(2000, 1), DEFAULT_ISSUER, "", "", "", False, "", None)
    name, first, last, issuer, form_number, approval_number, valid_until, sample, authority, jump = (
        header or placeholder
    )
    package = PlanPackage(
        name=name,
        first=first,
        last=last,
        indicators=indicators,
        towns=towns,
        city=city,
        issuer=issuer,
        form_number=form_number,
        approval_number=approval_number,
        valid_until=valid_until,
        sample=sample,
        differences=differences,
        approval_authority=authority,
        stock_jump_bound=jump,
    )

    def where(town: str, code: str) -> str:
        if not town:
            return f"工作表“{SHEET_SPLIT}”："
        row, column = places.get((town, code), (places.get((town, ""), (0, None))[0], None))
        return _at(SHEET_SPLIT, row, column) if row else f"工作表“{SHEET_SPLIT}”："

    # A cell already refused is not reported again by the package check (as a missing target, say).
    later = [p for p in package_problems(package, where) if not any(p.startswith(place) for place in reader.refused)]
    problems = [place + fault for place, fault in cell_problems.items()] + reader.problems + later
    if problems:
        raise PlanWorkbookError(problems)
    return package


def _cell(row: list[object], index: int) -> object:
    return row[index] if index < len(row) else None


def _read_header(reader: _Reader, rows: list[list[object]]) -> tuple | None:
    import datetime as dt

    found: dict[str, tuple[int, str]] = {}
    dates: set[str] = set()  # fields holding a date, already refused
    labels = {label: key for key, label in HEADER_FIELDS}
    for r, row in enumerate(rows[FIRST_DATA_ROW - 1 :], start=FIRST_DATA_ROW):
        label = _text(_cell(row, 0))
        if label in labels:
            value = _cell(row, 1)
            if isinstance(value, dt.date):
                if labels[label] != "valid_until":
                    reader.fail(
                        SHEET_HEADER,
                        r,
                        1,
                        f"“{label}”是日期，不是{'季度，应写成如 2026Q1' if labels[label] in ('first', 'last') else '文字'}",
                    )
                    dates.add(labels[label])
                value = f"{value.year}年{value.month}月"
            found[labels[label]] = (r, _text(value))
    ok = True
    for key, label in HEADER_FIELDS:
        if key not in found and key not in OPTIONAL_HEADER_FIELDS:
            reader.fail(SHEET_HEADER, FIRST_DATA_ROW, 0, f"缺少“{label}”一行")
            ok = False
    if not ok:
        return None
    quarters: dict[str, Quarter] = {}
    for key in ("first", "last"):
        line, text = found[key]
        label = dict(HEADER_FIELDS)[key]
        if key in dates:
            continue
        if not text:
            reader.fail(SHEET_HEADER, line, 1, f"{label}为空，应写成如 2026Q1")
            continue
        try:
            quarters[key] = Quarter.parse(_key(text))
        except Exception:  # QuarterError, or anything odd a cell holds
            reader.fail(SHEET_HEADER, line, 1, f"{label}“{text}”不是季度，应写成如 2026Q1")
    line, name = found["name"]
    if not name:
        reader.fail(SHEET_HEADER, line, 1, "规划名称不能为空")
    line, sample_text = found["sample"]
    if sample_text not in ("是", "否", ""):
        reader.fail(SHEET_HEADER, line, 1, f"“是否示例”应填“是”或“否”，而不是“{sample_text}”")
    jump: Fraction | None = None
    line, jump_text = found.get("stock_jump_bound", (0, ""))
    if jump_text:
        matched = JUMP_BOUND_TEXT.fullmatch(jump_text)
        if matched:
            jump = Fraction(matched.group(1)) / 100
        else:
            reader.fail(SHEET_HEADER, line, 1, f"季末数跳变警戒线“{jump_text}”不是百分数，应写成如 30%（不填为 30%）")
    if len(quarters) < 2:
        return None
    if quarters["last"] < quarters["first"]:
        reader.fail(
            SHEET_HEADER,
            found["last"][0],
            1,
            f"结束季度 {quarters['last'].label}早于开始季度 {quarters['first'].label}（开始季度在第 {found['first'][0]} 行）",
        )
        return None
    return (
        name,
        quarters["first"],
        quarters["last"],
        found["issuer"][1] or DEFAULT_ISSUER,
        found["form_number"][1],
        found["approval_number"][1],
        found["valid_until"][1],
        sample_text == "是",
        found.get("approval_authority", (0, ""))[1],
        jump,
    )


def _read_list(reader: _Reader, rows: list[list[object]]) -> tuple[PackageIndicator, ...]:
    indicators = []
    for r, row in enumerate(rows[FIRST_DATA_ROW - 1 :], start=FIRST_DATA_ROW):
        values = {key: _text(_cell(row, c)) for c, (key, _) in enumerate(LIST_COLUMNS, start=1)}
        for key in ("code", "sub_code", "rate_code", "kind"):
            values[key] = _key(values[key])
        if not any(values.values()):
            continue
        column = {key: c for c, (key, _) in enumerate(LIST_COLUMNS, start=1)}
        for key in ("code", "name", "unit", "group", "kind"):
            if not values[key]:
                reader.fail(SHEET_LIST, r, column[key], f"“{dict(LIST_COLUMNS)[key]}”不能为空")
        kind = KIND_BY_NAME.get(values["kind"])
        if values["kind"] and kind is None:
            reader.fail(SHEET_LIST, r, column["kind"], f"类型“{values['kind']}”应为 流量、季末数 或 成对计数")
        if len(values["definition"]) > MAX_DEFINITION:
            reader.fail(
                SHEET_LIST,
                r,
                column["definition"],
                f"指标解释有 {len(values['definition'])} 个字，超过 {MAX_DEFINITION} 个字（请精简，打印在一页内）",
            )
        rate_target = None
        if kind is PackageKind.COUNT_PAIR:
            for key in ("sub_code", "sub_name", "rate_code", "rate_name"):
                if not values[key]:
                    reader.fail(SHEET_LIST, r, column[key], f"成对计数须填“{dict(LIST_COLUMNS)[key]}”")
            if values["rate_target"]:
                try:
                    rate_target = workbook_rate(_cell(row, column["rate_target"]))
                except PlanError as exc:
                    reader.fail(SHEET_LIST, r, column["rate_target"], exc.message)
        if kind is None:
            continue
        indicators.append(
            PackageIndicator(
                values["code"],
                values["name"],
                values["unit"],
                values["group"],
                kind,
                short_name=values["short_name"],
                sub_code=values["sub_code"] if kind is PackageKind.COUNT_PAIR else "",
                sub_name=values["sub_name"] if kind is PackageKind.COUNT_PAIR else "",
                rate_code=values["rate_code"] if kind is PackageKind.COUNT_PAIR else "",
                rate_name=values["rate_name"] if kind is PackageKind.COUNT_PAIR else "",
                rate_target=rate_target,
                sub_short_name=values["sub_short_name"] if kind is PackageKind.COUNT_PAIR else "",
                rate_short_name=values["rate_short_name"] if kind is PackageKind.COUNT_PAIR else "",
                definition=values["definition"] if len(values["definition"]) <= MAX_DEFINITION else "",
            )
        )
    if not indicators and not reader.problems:
        reader.fail(SHEET_LIST, FIRST_DATA_ROW, None, "指标清单是空的")
    return tuple(indicators)


Places = dict[tuple[str, str], tuple[int, int | None]]


def _read_split(
    reader: _Reader, rows: list[list[object]], indicators: tuple[PackageIndicator, ...]
) -> tuple[tuple[TownSplit, ...], TownSplit | None, Places]:
    places: Places = {}
    if len(rows) < SPLIT_KEY_ROW:
        reader.fail(SHEET_SPLIT, SPLIT_KEY_ROW, None, "缺少代码行")
        return (), None, places
    keys = {c: _key(v) for c, v in enumerate(rows[SPLIT_KEY_ROW - 1]) if c > 0 and _key(v)}
    wanted = dict(split_columns(indicators))
    optional = {key for key in wanted if key.endswith(BASE_SUFFIX)}
    for c, key in keys.items():
        if key not in wanted:
            reader.fail(SHEET_SPLIT, SPLIT_KEY_ROW, c, f"代码“{key}”不在指标清单中（或不是有目标的指标）")
    seen = list(keys.values())
    for key in sorted({k for k in seen if seen.count(k) > 1}):
        reader.fail(SHEET_SPLIT, SPLIT_KEY_ROW, None, f"代码“{key}”的列重复")
    for key, label in wanted.items():
        if key not in seen and key not in optional:
            reader.fail(SHEET_SPLIT, SPLIT_KEY_ROW, None, f"缺少“{label}”的列（第 3 行写代码 {key}）")
    rate_codes = {i.rate_code for i in indicators if i.kind is PackageKind.COUNT_PAIR}
    towns: list[TownSplit] = []
    city: TownSplit | None = None
    for r, row in enumerate(rows[SPLIT_FIRST_TOWN_ROW - 1 :], start=SPLIT_FIRST_TOWN_ROW):
        town = _key(_cell(row, 0))
        if not town and not any(_text(v) for v in row):
            continue
        if town in ("合计", "全市合计"):
            town = CITY
        if not town:
            reader.fail(SHEET_SPLIT, r, 0, "镇街名称为空")
            continue
        if town != CITY and town not in TOWNS:
            reader.fail(SHEET_SPLIT, r, 0, f"“{town}”不是东莞的镇街")
            continue
        if (town == CITY and city is not None) or any(t.town == town for t in towns):
            reader.fail(SHEET_SPLIT, r, 0, f"{town}重复出现")
            continue
        places[(town, "")] = (r, None)
        split = TownSplit(town, {}, {}, {})
        for c, key in keys.items():
            if key not in wanted:
                continue
            places[(town, key)] = (r, c)
            value = _cell(row, c)
            if key in rate_codes:
                if _text(value) == "":
                    continue  # reported by the package check, with this place
                try:
                    split.rates[key] = workbook_rate(value)
                except PlanError as exc:
                    reader.fail(SHEET_SPLIT, r, c, exc.message)
                continue
            try:
                number = parse_count(value)
            except NumberError as exc:
                reader.fail(SHEET_SPLIT, r, c, exc.message)
                continue
            if number is None:
                continue
            if key.endswith(BASE_SUFFIX):
                split.bases[key[: -len(BASE_SUFFIX)]] = number
            else:
                split.targets[key] = number
        if town == CITY:
            city = split
        else:
            towns.append(split)
    if city is None:
        reader.fail(SHEET_SPLIT, SPLIT_FIRST_TOWN_ROW + len(TOWNS), 0, "缺少“全市”行")
    ordered = tuple(sorted(towns, key=lambda t: TOWNS.index(t.town)))
    return ordered, city, places


def _read_differences(reader: _Reader, rows: list[list[object]]) -> tuple[StatedDifference, ...]:
    differences = []
    for r, row in enumerate(rows[FIRST_DATA_ROW - 1 :], start=FIRST_DATA_ROW):
        code, amount, note = _key(_cell(row, 0)), _cell(row, 1), _text(_cell(row, 2))
        if not code and _text(amount) == "" and not note:
            continue
        if not code:
            reader.fail(SHEET_DIFFERENCES, r, 0, "指标代码为空")
            continue
        try:
            text = _text(amount)
            negative = text.startswith(("-", "−"))
            number = parse_count(text.lstrip("-−+") if text else None)
        except NumberError as exc:
            reader.fail(SHEET_DIFFERENCES, r, 1, exc.message)
            continue
        if number is None:
            reader.fail(SHEET_DIFFERENCES, r, 1, "差额为空")
            continue
        if not note:
            reader.fail(SHEET_DIFFERENCES, r, 2, "请写明差额的原因")
        differences.append(StatedDifference(code, -number if negative else number, note))
    return tuple(differences)
