"""Read what a workbook shows straight from its XML, without openpyxl, bounded against hostile files.

Every part is read with a size cap whatever its zip header claims, and every XML part is parsed
with defusedxml under a cap on depth and element count. `read_display` returns, for every sheet,
each cell's value and number format (together: what Excel or LibreOffice shows), and refuses what
could make a program see one thing and a person another: formulas, conditional formats, hidden
sheets, rows or columns, duplicated cells and cells without a position.
"""

from __future__ import annotations

import posixpath
import weakref
import zipfile
from dataclasses import dataclass
from itertools import chain

from reports.files import printable
from reports.safe_zip import UnsafeFile

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_C, _V, _F, _IS, _T = (f"{MAIN}{tag}" for tag in ("c", "v", "f", "is", "t"))

MAX_PART_BYTES = 8 * 1024 * 1024
MAX_ELEMENTS = 200_000
MAX_DEPTH = 64
# Excel's built-in number formats that a cell can name by id alone.
BUILTIN_FORMATS = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 49: "@"}

CellValue = str | int | float | bool | None
Shown = tuple[CellValue, str]  # the value and its number format


class DisplayProblem(Exception):
    """The workbook can show something other than its cell values (a formula, a hidden sheet, ...)."""


# Per open archive, dropped with it: each part is read, and each tree parsed, once.
_PARTS: weakref.WeakKeyDictionary[zipfile.ZipFile, dict[tuple[str, int], bytes]] = weakref.WeakKeyDictionary()
_TREES: weakref.WeakKeyDictionary[zipfile.ZipFile, dict] = weakref.WeakKeyDictionary()  # type: ignore[type-arg]


def read_part(archive: zipfile.ZipFile, name: str, limit: int = MAX_PART_BYTES) -> bytes:
    """A zip member's bytes, never more than `limit` whatever its header says (kept per open archive)."""
    cache = _PARTS.setdefault(archive, {})
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
    # one level at a time, each level's list built in C: the depth and the number of elements together
    level, depth, elements = [root], 1, 1
    while True:
        level = list(chain.from_iterable(level))
        if not level:
            break
        depth += 1
        elements += len(level)
        if depth > MAX_DEPTH:
            raise UnsafeFile(f"部件 {printable(what)} 的 XML 嵌套超过 {MAX_DEPTH} 层，拒绝读取")
    if elements > MAX_ELEMENTS:
        raise UnsafeFile(f"部件 {printable(what)} 的 XML 元素超过 {MAX_ELEMENTS} 个，拒绝读取")
    return root


# Parts that are byte for byte the same in every return the app writes: their trees are kept by content
# across files (a tree depends on its bytes alone, and is only read), so each is parsed once per run.
SHARED_PARTS = frozenset(
    {"xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels", "[Content_Types].xml"}
)
_SHARED_TREES: dict[tuple[str, bytes], object] = {}
MAX_SHARED_TREES = 32
MAX_SHARED_BYTES = 64 * 1024  # larger parts are not the app's, and are not kept
_STYLE_VERDICTS: dict[object, str] = {}  # a shared styles tree -> why it is refused ("" when it is not)


def _xml(archive: zipfile.ZipFile, name: str):  # type: ignore[no-untyped-def]
    """A part's parsed root, parsed once per open archive (the trees are only read, never changed)."""
    cache = _TREES.setdefault(archive, {})
    if name not in cache:
        data = read_part(archive, name)
        if name in SHARED_PARTS and len(data) <= MAX_SHARED_BYTES:
            key = (name, data)
            if key not in _SHARED_TREES:
                if len(_SHARED_TREES) >= MAX_SHARED_TREES:
                    _STYLE_VERDICTS.pop(_SHARED_TREES.pop(next(iter(_SHARED_TREES))), None)
                _SHARED_TREES[key] = parse_xml(data, name)
            cache[name] = _SHARED_TREES[key]
        else:
            cache[name] = parse_xml(data, name)
    return cache[name]


def _text(element, strict: bool = False) -> str:  # type: ignore[no-untyped-def]
    """The text of an <si> or <is> as Excel shows it: a direct <t> and every run's <t>, phonetic hints left out.

    `strict` refuses anything but the one plain <t> this app writes (rich text, runs, phonetic hints).
    """
    if strict:
        if len(element) != 1 or element[0].tag != _T or len(element[0]):
            raise DisplayProblem("单元格文字含有本系统不生成的富文本、分段或注音，拒绝核验")
        return element[0].text or ""  # the one plain <t>: what the general case below gives
    direct = "".join(t.text or "" for t in element.findall(f"{MAIN}t"))
    return direct + "".join(t.text or "" for r in element.findall(f"{MAIN}r") for t in r.findall(f"{MAIN}t"))


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
        strings = [_text(si, strict) for si in shared.findall(f"{MAIN}si")]
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
        for cell in root.iter(_C):
            ref = cell.get("r")
            if strict and not ref:
                raise DisplayProblem(f"“{name}”表中有不标明位置的单元格")
            ref = ref or ""
            if strict and ref in cells:
                raise DisplayProblem(f"“{name}”表中单元格 {ref} 出现了两次")
            # the first <f>, <v> and <is> child, in one pass over the cell's few children
            formula = value_element = inline = None
            for child in cell:
                tag = child.tag
                if tag == _V:
                    value_element = value_element if value_element is not None else child
                elif tag == _IS:
                    inline = inline if inline is not None else child
                elif tag == _F:
                    formula = formula if formula is not None else child
            if strict and formula is not None:
                raise DisplayProblem(f"“{name}”表中单元格 {ref} 是公式")
            kind = cell.get("t", "n")
            raw = value_element.text if value_element is not None else None
            value: CellValue
            if kind == "s" and raw is not None:
                value = strings[int(raw)]
            elif kind == "inlineStr":
                value = _text(inline, strict) if inline is not None else ""
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
    if strict:  # after the checks above, whose reasons say more
        _refuse_odd_package(archive)
        _refuse_odd_styles(archive)
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
    _refuse_odd_sheet(root, name)


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


# --- only what the app writes ---------------------------------------------------------------

_OD = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_ML = "application/vnd.openxmlformats-officedocument."
# workbook relationships (type, target) and content-type overrides exactly as the app (openpyxl) writes them
_WORKBOOK_RELS = {
    (_OD + "worksheet", "/xl/worksheets/sheet1.xml"),
    (_OD + "worksheet", "/xl/worksheets/sheet2.xml"),
    (_OD + "styles", "styles.xml"),
    (_OD + "theme", "theme/theme1.xml"),
}
_SHARED_REL = (_OD + "sharedStrings", "sharedStrings.xml")
_ROOT_RELS = {
    (_OD + "officeDocument", "xl/workbook.xml"),
    ("http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties", "docProps/core.xml"),
    (_OD + "extended-properties", "docProps/app.xml"),
    (_OD + "custom-properties", "docProps/custom.xml"),
}
_DEFAULTS = {("rels", "application/vnd.openxmlformats-package.relationships+xml"), ("xml", "application/xml")}
_OVERRIDES = {
    ("/xl/styles.xml", _ML + "spreadsheetml.styles+xml"),
    ("/xl/theme/theme1.xml", _ML + "theme+xml"),
    ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
    ("/docProps/app.xml", _ML + "extended-properties+xml"),
    ("/docProps/custom.xml", _ML + "custom-properties+xml"),
    ("/xl/worksheets/sheet1.xml", _ML + "spreadsheetml.worksheet+xml"),
    ("/xl/worksheets/sheet2.xml", _ML + "spreadsheetml.worksheet+xml"),
    ("/xl/workbook.xml", _ML + "spreadsheetml.sheet.main+xml"),
}
_SHARED_OVERRIDE = ("/xl/sharedStrings.xml", _ML + "spreadsheetml.sharedStrings+xml")


def _relationships(archive: zipfile.ZipFile, name: str) -> set[tuple[str, str]]:
    rels = _xml(archive, name)
    found = [(r.get("Id") or "", r.get("Type") or "", r.get("Target") or "") for r in rels]
    ids = [i for i, _t, _g in found]
    if len(set(ids)) != len(ids) or any(r.tag != f"{PKG}Relationship" or set(r.attrib) - {"Id", "Type", "Target"} for r in rels):
        raise DisplayProblem(f"{name} 中的关系与本系统生成的不同（重复的编号或多余的属性）")
    return {(t, g) for _i, t, g in found}


def _refuse_odd_package(archive: zipfile.ZipFile) -> None:
    """The package's relationships and content types must be exactly those the app writes."""
    shared = "xl/sharedStrings.xml" in archive.namelist()
    want = _WORKBOOK_RELS | ({_SHARED_REL} if shared else set())
    if _relationships(archive, "xl/_rels/workbook.xml.rels") != want:
        raise DisplayProblem("工作簿的部件关系（样式、工作表等指向的部件）与本系统生成的不同")
    if _relationships(archive, "_rels/.rels") != _ROOT_RELS:
        raise DisplayProblem("文件包的根关系与本系统生成的不同")
    types = _xml(archive, "[Content_Types].xml")
    defaults = [(d.get("Extension") or "", d.get("ContentType") or "") for d in types.findall(f"{_CT}Default")]
    overrides = [(o.get("PartName") or "", o.get("ContentType") or "") for o in types.findall(f"{_CT}Override")]
    want_overrides = _OVERRIDES | ({_SHARED_OVERRIDE} if shared else set())
    if (
        len(types) != len(defaults) + len(overrides)
        or len(set(defaults)) != len(defaults)
        or len(set(overrides)) != len(overrides)
        or set(defaults) != _DEFAULTS
        or set(overrides) != want_overrides
    ):
        raise DisplayProblem("文件包的内容类型（[Content_Types].xml）与本系统生成的不同")


# the sheet-level elements the app writes, in schema order, each at most once
_SHEET_ELEMENTS = (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetProtection",
    "mergeCells", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks",
)  # fmt: skip
_ATTRIBUTES = {
    "sheetView": {"workbookViewId", "tabSelected"},
    "sheetFormatPr": {"baseColWidth", "defaultRowHeight"},
    "row": {"r", "ht", "customHeight", "spans"},
    "c": {"r", "s", "t"},
    "col": {"min", "max", "width", "customWidth"},
    "printOptions": {"horizontalCentered"},
    "pageSetup": {"orientation", "paperSize", "fitToHeight", "fitToWidth"},
}
_SINGLE_CHILDREN = ("headerFooter", "sheetViews", "mergeCells", "rowBreaks", "sheetPr")


# each tag with attribute rules, in the main namespace and without one (the rules name tags without it)
_ATTRIBUTES_BY_TAG = {spelled: frozenset(allowed) for tag, allowed in _ATTRIBUTES.items() for spelled in (f"{MAIN}{tag}", tag)}


def _refuse_odd_sheet(root, name: str) -> None:  # type: ignore[no-untyped-def]
    """Refuse sheet-level elements and attributes the app never writes, and any written twice."""
    tags = [child.tag.replace(MAIN, "") for child in root]
    order = [t for t in _SHEET_ELEMENTS if t in tags]
    if len(set(tags)) != len(tags) or order != tags or root.attrib:
        odd = next((t for t in tags if t not in _SHEET_ELEMENTS or tags.count(t) > 1), tags[0] if tags else "")
        raise DisplayProblem(f"“{name}”表中有本系统不生成或重复的设置（{printable(odd)}）")
    rules = _ATTRIBUTES_BY_TAG.get
    for element in root.iter():
        allowed = rules(element.tag)
        if allowed is not None and not allowed.issuperset(element.keys()):
            odd = sorted(set(element.keys()) - allowed)[0]
            tag = element.tag.replace(MAIN, "")
            raise DisplayProblem(f"“{name}”表中 {tag} 有本系统不生成的属性 {printable(odd)}")
    for single in _SINGLE_CHILDREN:
        for block in root.iter(f"{MAIN}{single}"):
            inner = [child.tag for child in block]
            if single in ("headerFooter", "sheetPr", "sheetViews") and len(set(inner)) != len(inner):
                raise DisplayProblem(f"“{name}”表的 {single} 中有重复的设置")
    for fmt in root.iter(f"{MAIN}sheetFormatPr"):
        if float(fmt.get("defaultRowHeight") or MIN_ROW_HEIGHT) < MIN_ROW_HEIGHT:
            raise DisplayProblem(f"“{name}”表的默认行高过小，行中的数字看不见")


_XF_ATTRIBUTES = {"numFmtId", "fontId", "fillId", "borderId", "applyAlignment", "applyNumberFormat", "applyFont",
                  "applyFill", "applyBorder", "applyProtection", "pivotButton", "quotePrefix", "xfId"}  # fmt: skip
_ALIGNMENT = {"horizontal": {"left", "center", "right", "general"}, "vertical": {"center"}, "wrapText": {"1", "true"}}
_FONT_COLOURS = ({"theme": "1"}, {"rgb": "00C62828"}, {"rgb": "FFC62828"})
_FILL_COLOURS = ({"rgb": "00DDE6F0"}, {"rgb": "FFDDE6F0"})
_MIN_FONT_SIZE = 8.0
# the custom number formats the app writes (the built-in ids it uses are in BUILTIN_FORMATS)
_FORMATS = {"0.0%", "#,##0"}


def _refuse_odd_styles(archive: zipfile.ZipFile) -> None:
    """Every style must be one the app can write: no fill alignment, hiding colours, tiny fonts, odd formats."""
    if "xl/styles.xml" not in archive.namelist():
        return
    styles = _xml(archive, "xl/styles.xml")
    if not any(styles is tree for tree in _SHARED_TREES.values()):
        _check_styles(styles)
        return
    if styles not in _STYLE_VERDICTS:  # a pure function of the tree, and the tree of its bytes
        try:
            _check_styles(styles)
            _STYLE_VERDICTS[styles] = ""
        except DisplayProblem as exc:
            _STYLE_VERDICTS[styles] = str(exc)
    if _STYLE_VERDICTS[styles]:
        raise DisplayProblem(_STYLE_VERDICTS[styles])


def _check_styles(styles) -> None:  # type: ignore[no-untyped-def]
    def odd(what: str) -> DisplayProblem:
        return DisplayProblem(f"样式表中有本系统不生成的样式（{what}）")

    numfmts = styles.find(f"{MAIN}numFmts")
    ids = [fmt.get("numFmtId") for fmt in (numfmts if numfmts is not None else [])]
    if len(set(ids)) != len(ids):
        raise odd("数字格式编号重复")
    style_xfs = styles.find(f"{MAIN}cellStyleXfs")
    if style_xfs is not None and (
        len(style_xfs) != 1 or any(v != "0" for k, v in style_xfs[0].attrib.items()) or len(style_xfs[0])
    ):
        raise odd("单元格样式")
    xfs = styles.find(f"{MAIN}cellXfs")
    for xf in xfs if xfs is not None else []:
        attributes = xf.attrib
        number = attributes.get("numFmtId", "0")
        if not number.isdigit() or (int(number) not in BUILTIN_FORMATS and number not in ids):
            raise odd(f"数字格式编号 {printable(number)}")
        if set(attributes) - _XF_ATTRIBUTES or attributes.get("xfId", "0") != "0":
            raise odd("单元格格式的属性")
        if any(attributes.get(k) not in (None, "1") for k in attributes if k.startswith("apply")):
            raise odd("单元格格式的 apply 属性")
        if any(attributes.get(k) not in (None, "0") for k in ("pivotButton", "quotePrefix")):
            raise odd("单元格格式的属性")
        for child in xf:
            if child.tag != f"{MAIN}alignment":
                raise odd(child.tag.replace(MAIN, ""))
            for key, value in child.attrib.items():
                if value not in _ALIGNMENT.get(key, ()):
                    raise odd(f"对齐方式 {printable(key)}={printable(value)}")
    fonts = styles.find(f"{MAIN}fonts")
    for font in fonts if fonts is not None else []:
        for child in font:
            tag = child.tag.replace(MAIN, "")
            if tag not in ("name", "b", "sz", "family", "color", "scheme"):
                raise odd(f"字体 {printable(tag)}")
            if tag == "color" and dict(child.attrib) not in _FONT_COLOURS:
                raise odd("字体颜色")
            if tag == "sz" and float(child.get("val") or 0) < _MIN_FONT_SIZE:
                raise odd("字号过小")
            if tag == "b" and child.get("val") not in (None, "1", "true"):
                raise odd("字体")
    fills = styles.find(f"{MAIN}fills")
    for fill in fills if fills is not None else []:
        pattern = fill.find(f"{MAIN}patternFill")
        if len(fill) != 1 or pattern is None or pattern.get("patternType") not in (None, "none", "gray125", "solid"):
            raise odd("填充")
        for child in pattern:
            if child.tag != f"{MAIN}fgColor" or dict(child.attrib) not in _FILL_COLOURS:
                raise odd("填充颜色")
    borders = styles.find(f"{MAIN}borders")
    for border in borders if borders is not None else []:
        if border.attrib:
            raise odd("边框")
        for side in border:
            if side.tag.replace(MAIN, "") not in ("left", "right", "top", "bottom", "diagonal"):
                raise odd("边框")
            if side.tag == f"{MAIN}diagonal" and (side.attrib or len(side)):
                raise odd("斜线边框")
            if side.attrib and side.attrib != {"style": "thin"}:
                raise odd("边框样式")
    dxfs = styles.find(f"{MAIN}dxfs")
    if dxfs is not None and len(dxfs):
        raise odd("条件格式样式")


def odd_number_format(archive: zipfile.ZipFile) -> str:
    """A custom number format the app never writes (one on an empty cell can show any text), or ""."""
    if "xl/styles.xml" not in archive.namelist():
        return ""
    numfmts = _xml(archive, "xl/styles.xml").find(f"{MAIN}numFmts")
    for fmt in numfmts if numfmts is not None else []:
        if fmt.get("formatCode") not in _FORMATS:
            return f"样式表中有本系统不生成的数字格式“{printable(fmt.get('formatCode') or '')}”"
    return ""
