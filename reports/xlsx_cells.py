"""Read what a workbook shows straight from its XML, without openpyxl, bounded against hostile files.

Every part is read with a size cap whatever its zip header claims, and every XML part is parsed
with defusedxml under a cap on depth and element count. `read_display` returns, for every sheet,
each cell's value and number format (together: what Excel or LibreOffice shows), and refuses what
could make a program see one thing and a person another: formulas, conditional formats, hidden
sheets, rows or columns, duplicated cells and cells without a position.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass

from reports.files import printable
from reports.safe_zip import UnsafeFile

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"

MAX_PART_BYTES = 8 * 1024 * 1024
MAX_ELEMENTS = 200_000
MAX_DEPTH = 64
# Excel's built-in number formats that a cell can name by id alone.
BUILTIN_FORMATS = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 49: "@"}

CellValue = str | int | float | bool | None
Shown = tuple[CellValue, str]  # the value and its number format


class DisplayProblem(Exception):
    """The workbook can show something other than its cell values (a formula, a hidden sheet, ...)."""


def read_part(archive: zipfile.ZipFile, name: str, limit: int = MAX_PART_BYTES) -> bytes:
    """A zip member's bytes, never more than `limit` whatever its header says (kept per open archive)."""
    cache = getattr(archive, "_town_returns_parts", None)
    if cache is None:
        cache = {}
        archive._town_returns_parts = cache  # type: ignore[attr-defined]
    key = (name, limit)
    if key not in cache:
        cache[key] = _read_part(archive, name, limit)
    return cache[key]


def _read_part(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise UnsafeFile(f"部件 {printable(name)} 解压后超过 {limit // 1048576} MB，拒绝读取")
    with archive.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"部件 {printable(name)} 解压后超过 {limit // 1048576} MB（与其声明的大小不符），拒绝读取")
    return data


_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!ELEMENT", b"<!ATTLIST", b"<!NOTATION")


def parse_xml(data: bytes, what: str):  # type: ignore[no-untyped-def]
    """The root element of an XML part, refused beyond MAX_DEPTH nesting or MAX_ELEMENTS elements.

    No DTD is accepted (so no entity of any kind can be declared or fetched), the text must be UTF-8,
    and only then does the C parser read it: as safe as defusedxml and several times faster.
    """
    from xml.etree.ElementTree import XMLParser

    start = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not start.lstrip().startswith(b"<"):
        raise UnsafeFile(f"部件 {printable(what)} 不是 UTF-8 编码的 XML，拒绝读取")
    head = start[:200].lower()
    if b"encoding=" in head.split(b"?>")[0] and not any(e in head for e in (b'"utf-8"', b"'utf-8'")):
        raise UnsafeFile(f"部件 {printable(what)} 不是 UTF-8 编码的 XML，拒绝读取")
    if any(marker in data for marker in _FORBIDDEN):
        raise UnsafeFile(f"部件 {printable(what)} 含有 DTD 或实体声明，拒绝读取")
    if data.count(b"<") > 2 * MAX_ELEMENTS + 2:
        raise UnsafeFile(f"部件 {printable(what)} 的 XML 元素超过 {MAX_ELEMENTS} 个，拒绝读取")
    parser = XMLParser()
    parser.feed(data)
    root = parser.close()
    stack = [(root, 1)]  # only elements with children can make the tree deeper
    while stack:
        element, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise UnsafeFile(f"部件 {printable(what)} 的 XML 嵌套超过 {MAX_DEPTH} 层，拒绝读取")
        stack.extend((child, depth + 1) for child in element if len(child))
    if sum(1 for _ in root.iter()) > MAX_ELEMENTS:
        raise UnsafeFile(f"部件 {printable(what)} 的 XML 元素超过 {MAX_ELEMENTS} 个，拒绝读取")
    return root


def _xml(archive: zipfile.ZipFile, name: str):  # type: ignore[no-untyped-def]
    return parse_xml(read_part(archive, name), name)


def _text(element) -> str:  # type: ignore[no-untyped-def]
    """The text of an <si> or <is>: plain <t>, or the runs of rich text, phonetic hints left out."""
    direct = element.find(f"{MAIN}t")
    if direct is not None:
        return direct.text or ""
    return "".join(t.text or "" for r in element.findall(f"{MAIN}r") for t in r.findall(f"{MAIN}t"))


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "E" not in text.upper() and "." not in text else value


def _number_formats(archive: zipfile.ZipFile) -> list[str]:
    """Style index (the cell's s attribute) -> its number format code."""
    if "xl/styles.xml" not in archive.namelist():
        return ["General"]
    styles = _xml(archive, "xl/styles.xml")
    custom = {}
    numfmts = styles.find(f"{MAIN}numFmts")
    for fmt in numfmts if numfmts is not None else []:
        custom[int(fmt.get("numFmtId", "-1"))] = fmt.get("formatCode", "")
    formats = []
    xfs = styles.find(f"{MAIN}cellXfs")
    for xf in xfs if xfs is not None else []:
        number = int(xf.get("numFmtId", "0"))
        formats.append(custom.get(number) or BUILTIN_FORMATS.get(number) or f"内置格式{number}")
    return formats or ["General"]


def defined_names(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(name, formula) of every defined name (print areas, print titles, filters...)."""
    workbook = _xml(archive, "xl/workbook.xml")
    return [(d.get("name") or "", d.text or "") for d in workbook.iter(f"{MAIN}definedName")]


def _sheet_paths(archive: zipfile.ZipFile) -> list[tuple[str, str, str]]:
    """(name, state, part) of every sheet, in workbook order."""
    workbook = _xml(archive, "xl/workbook.xml")
    rels = _xml(archive, "xl/_rels/workbook.xml.rels")
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.findall(f"{PKG}Relationship")}
    result = []
    sheets = workbook.find(f"{MAIN}sheets")
    for sheet in sheets if sheets is not None else []:
        target = targets.get(sheet.get(f"{REL}id"), "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        result.append((sheet.get("name") or "", sheet.get("state") or "visible", path))
    return result


def read_sheets(archive: zipfile.ZipFile, names: tuple[str, ...]) -> dict[str, dict[str, CellValue]]:
    """sheet name -> cell reference (e.g. "C7") -> value, for the sheets asked for that exist."""
    shown = read_display(archive, strict=False)
    return {name: {ref: v for ref, (v, _f) in cells.items()} for name, cells in shown.items() if name in names}


Layout = dict[str, "SheetLayout"]


@dataclass(frozen=True)
class SheetLayout:
    """What a sheet prints beyond its cells: merged ranges, header/footer texts and manual page breaks."""

    merges: frozenset[str]
    texts: dict[str, str]
    row_breaks: tuple[int, ...]
    column_breaks: tuple[int, ...]


def read_display(
    archive: zipfile.ZipFile, strict: bool = True, layout: Layout | None = None, may_hide: tuple[str, ...] = ()
) -> dict[str, dict[str, Shown]]:
    """Every sheet -> cell reference -> (value, number format); strict refuses what can hide or alter a value.

    `may_hide` names sheets that may be hidden (not very hidden): the caller checks their every cell.

    `layout`, when given, is filled with each sheet's merged ranges and header/footer texts.
    """
    strings: list[str] = []
    if "xl/sharedStrings.xml" in archive.namelist():
        shared = _xml(archive, "xl/sharedStrings.xml")
        strings = [_text(si) for si in shared.findall(f"{MAIN}si")]
    formats = _number_formats(archive)
    result: dict[str, dict[str, Shown]] = {}
    for name, state, path in _sheet_paths(archive):
        if strict and state != "visible" and not (state == "hidden" and name in may_hide):
            raise DisplayProblem(f"工作簿中有隐藏的工作表“{name}”")
        if name in result:
            raise DisplayProblem(f"工作簿中有两张名为“{name}”的工作表")
        root = _xml(archive, path)
        if strict:
            _refuse_hidden_parts(root, name)
        if layout is not None:
            layout[name] = _layout_of(root)
        cells: dict[str, Shown] = {}
        for cell in root.iter(f"{MAIN}c"):
            ref = cell.get("r")
            if strict and not ref:
                raise DisplayProblem(f"“{name}”表中有不标明位置的单元格")
            ref = ref or ""
            if strict and ref in cells:
                raise DisplayProblem(f"“{name}”表中单元格 {ref} 出现了两次")
            if strict and cell.find(f"{MAIN}f") is not None:
                raise DisplayProblem(f"“{name}”表中单元格 {ref} 是公式")
            kind = cell.get("t", "n")
            value_element = cell.find(f"{MAIN}v")
            raw = value_element.text if value_element is not None else None
            value: CellValue
            if kind == "s" and raw is not None:
                value = strings[int(raw)]
            elif kind == "inlineStr":
                inline = cell.find(f"{MAIN}is")
                value = _text(inline) if inline is not None else ""
            elif kind in ("str", "e"):
                value = raw
            elif kind == "b":
                value = raw == "1"
            else:
                value = None if raw is None else _number(raw)
            style = int(cell.get("s", "0"))
            number_format = formats[style] if 0 <= style < len(formats) else f"样式{style}"
            cells[ref] = (value, number_format)
        result[name] = cells
    return result


MIN_ROW_HEIGHT = 8.0  # points: lower and a row's figures cannot be read
MIN_COLUMN_WIDTH = 2.0  # characters: narrower and Excel shows ### or nothing


def _refuse_hidden_parts(root, name: str) -> None:  # type: ignore[no-untyped-def]
    if root.find(f"{MAIN}conditionalFormatting") is not None:
        raise DisplayProblem(f"“{name}”表中有条件格式")
    for row in root.iter(f"{MAIN}row"):
        if row.get("hidden") in ("1", "true") or float(row.get("ht") or MIN_ROW_HEIGHT) < MIN_ROW_HEIGHT:
            raise DisplayProblem(f"“{name}”表中第 {row.get('r')} 行被隐藏")
    for col in root.iter(f"{MAIN}col"):
        if col.get("hidden") in ("1", "true") or float(col.get("width") or MIN_COLUMN_WIDTH) < MIN_COLUMN_WIDTH:
            raise DisplayProblem(f"“{name}”表中第 {col.get('min')} 列被隐藏")
    for view in root.iter(f"{MAIN}sheetView"):
        if view.get("showZeros") in ("0", "false"):
            raise DisplayProblem(f"“{name}”表设为不显示零值")
    for fmt in root.iter(f"{MAIN}sheetFormatPr"):
        if fmt.get("zeroHeight") in ("1", "true"):
            raise DisplayProblem(f"“{name}”表的行默认隐藏")


def _layout_of(root) -> SheetLayout:  # type: ignore[no-untyped-def]
    merges = frozenset(m.get("ref") or "" for m in root.iter(f"{MAIN}mergeCell"))
    texts = {}
    for block in root.iter(f"{MAIN}headerFooter"):
        for child in block:
            if child.text:
                texts[child.tag.replace(MAIN, "")] = child.text

    def breaks(tag: str) -> tuple[int, ...]:
        found = []
        for block in root.iter(f"{MAIN}{tag}"):
            for brk in block.iter(f"{MAIN}brk"):
                try:
                    found.append(int(brk.get("id") or "0"))
                except ValueError:
                    found.append(-1)
        return tuple(found)

    return SheetLayout(merges, texts, breaks("rowBreaks"), breaks("colBreaks"))
