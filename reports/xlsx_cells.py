"""Read cell values straight from a workbook's XML, without openpyxl, for fast verification.

Only what a return's verification needs: the values of named sheets, shared strings resolved.
The XML is parsed with defusedxml, so entity tricks in a hostile file are refused.
"""

from __future__ import annotations

import posixpath
import zipfile

from defusedxml import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"

CellValue = str | int | float | bool | None


def _text(element) -> str:  # type: ignore[no-untyped-def]
    """The text of an <si> or <is>: plain <t>, or the runs of rich text, phonetic hints left out."""
    direct = element.find(f"{MAIN}t")
    if direct is not None:
        return direct.text or ""
    return "".join(t.text or "" for r in element.findall(f"{MAIN}r") for t in r.findall(f"{MAIN}t"))


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "E" not in text.upper() and "." not in text else value


def read_sheets(archive: zipfile.ZipFile, names: tuple[str, ...]) -> dict[str, dict[str, CellValue]]:
    """sheet name -> cell reference (e.g. "C7") -> value, for the sheets asked for that exist."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.findall(f"{PKG}Relationship")}
    strings: list[str] = []
    if "xl/sharedStrings.xml" in archive.namelist():
        shared = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
        strings = [_text(si) for si in shared.findall(f"{MAIN}si")]
    result: dict[str, dict[str, CellValue]] = {}
    sheets = workbook.find(f"{MAIN}sheets")
    for sheet in sheets if sheets is not None else []:
        name = sheet.get("name")
        if name not in names:
            continue
        target = targets.get(sheet.get(f"{REL}id"), "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        root = ElementTree.fromstring(archive.read(path))
        cells: dict[str, CellValue] = {}
        for cell in root.iter(f"{MAIN}c"):
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
            cells[cell.get("r", "")] = value
        result[name] = cells
    return result
