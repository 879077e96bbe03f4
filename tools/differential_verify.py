"""Differential check of `verify` against independent readers (issue 22). Run by hand, not in CI:

    python -m tools.differential_verify [--out folder] [--seed 22] [--xlsx 1000] [--pdf 120]

Writes genuine signed returns of the demo figures, then mutants of them: zip records, XML elements and
attributes, number spellings (the outsider's edits kept as they are; the town's re-signed with its own
key), and PDF objects and keys (added before signing, changed after). Every file is verified; every file
`verify` calls 有效 is then read by readers that share no code with it — LibreOffice headless for the
workbook (the figures as shown, exported to CSV), poppler (pdftotext, pdftoppm) and pdfium (text, and pages
rendered with annotations and forms drawn) for the PDF — and the figures they show are compared with the
signed ones. Prints the counts and every disagreement; exit 1 when there is one.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections import Counter
from pathlib import Path

from pyhanko.pdf_utils.misc import PdfStrictReadError

from core.demo import town_figures
from core.plans import load_shipped_plan
from core.quarters import Quarter
from core.validation import QuarterInput, check_quarter
from reports.excel import FIGURE_COLUMNS, figure_row, workbook_parts, write_workbook
from reports.identity import Identity, create_city_root, issue_town_identity, load_trust_roots, open_identity
from reports.package import pack, seal, unpack
from reports.payload import payload_of
from reports.pdf import write_return_pdf
from reports.returns import ReturnData, assemble_return
from reports.signing import sign_payload, sign_pdf
from reports.verify import Verifier

TOWN = "莞城"
QUARTERS = (Quarter(2024, 1), Quarter(2024, 2), Quarter(2024, 3))
SHEET = "xl/worksheets/sheet1.xml"
ROOT_PASS, TOWN_PASS = b"differential-root", b"differential-town"


# --- genuine returns ------------------------------------------------------------------------------


def genuine_returns(folder: Path) -> tuple[Path, Identity, list[ReturnData]]:
    create_city_root(folder / "city", ROOT_PASS)
    p12 = issue_town_identity(
        folder / "city" / "city_root.p12", ROOT_PASS, TOWN, folder / "town.p12", TOWN_PASS,
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), days=3650,
    )  # fmt: skip
    identity = open_identity(p12.read_bytes(), TOWN_PASS)
    plan = load_shipped_plan()
    figures = town_figures(plan, TOWN, plan.quarters, seed=22)
    history: dict[Quarter, dict[str, int]] = {}
    made = []
    for quarter in plan.quarters:
        if quarter > QUARTERS[-1]:
            break
        values = figures[quarter]
        findings = check_quarter(QuarterInput(TOWN, quarter, quarter.last_day + dt.timedelta(days=5), plan, values, dict(history)))
        history[quarter] = values
        if quarter not in QUARTERS:
            continue
        notes = {f.indicator: "本季度情况已核实，原因已写明。" for f in findings if f.needs_explanation and f.indicator}
        when = dt.datetime.combine(quarter.last_day + dt.timedelta(days=10), dt.time(10), dt.UTC)
        made.append(assemble_return(TOWN, quarter, plan, history, notes, findings, {}, when, signed=True, bases={}))
    return folder / "city" / "city_root.pem", identity, made


def signed_workbook(data: ReturnData, identity, path: Path) -> Path:
    write_workbook(data, path, payload_of(data).to_bytes(), lambda m: sign_payload(identity, m))
    return path


def signed_pdf(data: ReturnData, identity, path: Path, change: bytes | None = None) -> Path:
    unsigned = path.with_suffix(".unsigned.pdf")
    slot = write_return_pdf(data, unsigned)
    if change is not None:
        unsigned.write_bytes(change_unsigned(unsigned.read_bytes(), change))
    try:
        sign_pdf(unsigned, path, identity, payload_of(data).to_bytes(), slot.box, slot.page or 0)
    except PdfStrictReadError:  # a key twice: the app's signing refuses to read it, a town's own tool need not
        hostile_sign(unsigned, path, identity, payload_of(data).to_bytes(), slot.box, slot.page or 0)
    unsigned.unlink()
    return path


def hostile_sign(source: Path, target: Path, identity: Identity, payload: bytes, box, page: int) -> None:
    """pyHanko, not strict, with the app's field name and payload attachment."""
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from reports.signing import SIGNATURE_FIELD, make_signer

    writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()), strict=False)
    attached = embed.EmbeddedFileObject.from_file_data(writer, payload, mime_type="application/json")
    embed.embed_file(writer, embed.FileSpec(file_spec_string="town_returns_payload.json", embedded_data=attached))
    fields.append_signature_field(writer, fields.SigFieldSpec(SIGNATURE_FIELD, on_page=page, box=box))
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name=SIGNATURE_FIELD, subfilter=SigSeedSubFilter.PADES)
    signers.PdfSigner(meta, signer=make_signer(identity)).sign_pdf(writer, output=out)
    target.write_bytes(out.getvalue())


# --- workbook mutants -----------------------------------------------------------------------------

NUMBER_SPELLINGS = (
    "{n}_0", "{n}.0", "{n}e0", "{n}E0", "+{n}", "0{n}", " {n}", "{n} ", "\u3000{n}", "{n}\u00a0", "{n}.",
    "{wide}", "{arabic}", "0x{n}", "{n}_", "1_{n}", "{n}0e-1", "{n}00_0e-3", "-{n}", "{n}e+0", "\t{n}", "{n}\n",
)  # fmt: skip
ELEMENT_EDITS = ("duplicate", "delete", "wrap_in_strict_namespace", "move_after_row", "empty")
ATTRIBUTE_EDITS = (
    ('t', ("s", "str", "b", "e", "z", "inlineStr", "d", "n ")),
    ('s', ("0", "0_7", "1_0", "99", "-1", " 7", "07", "７")),
    ('r', ("C99", "K7", "A1", "c8", "C 8")),
    ('ht', ("0", "0.1", "1e3")),
    ('hidden', ("1", "true")),
)  # fmt: skip


def _wide(n: int) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in str(n))


def _arabic(n: int) -> str:
    return "".join(chr(0x0660 + int(d)) for d in str(n))


def sheet_mutants(data: ReturnData, sheet: str, rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(name, new sheet XML) pairs: number spellings, element and attribute edits on figure cells."""
    cells = list(re.finditer(r'<c r="([A-Z]+)(\d+)"([^>]*)>(.*?)</c>', sheet))
    numbers = [m for m in cells if "<v>" in m.group(4)]
    out: list[tuple[str, str]] = []
    while len(out) < count:
        kind = rng.choice(("number", "element", "attribute", "styles_hint", "row"))
        cell = rng.choice(numbers if kind == "number" else cells)
        whole, inner = cell.group(0), cell.group(4)
        ref = cell.group(1) + cell.group(2)
        if kind == "number":
            value = re.search(r"<v>([^<]*)</v>", inner)
            assert value is not None
            digits = re.sub(r"\D", "", value.group(1)) or "8"
            n = int(digits[:6])
            spelled = rng.choice(NUMBER_SPELLINGS).format(n=n, wide=_wide(n), arabic=_arabic(n))
            new = whole.replace(f"<v>{value.group(1)}</v>", f"<v>{spelled}</v>")
            name = f"number {ref} {spelled!r}"
        elif kind == "element":
            edit = rng.choice(ELEMENT_EDITS)
            if edit == "duplicate":
                child = re.search(r"<(v|is)>.*?</\1>", inner)
                new = whole.replace(inner, inner + (child.group(0).replace(">", ">9", 1) if child else "<v>9</v>"))
            elif edit == "delete":
                new = ""
            elif edit == "wrap_in_strict_namespace":
                new = whole + f'<x:c xmlns:x="http://purl.oclc.org/ooxml/spreadsheetml/main" r="{ref}"><x:v>999</x:v></x:c>'
            elif edit == "move_after_row":
                new = ""
                sheet_changed = sheet.replace(whole, "", 1).replace("</sheetData>", whole + "</sheetData>", 1)
                out.append((f"element {ref} moved out of its row", sheet_changed))
                continue
            else:
                new = f'<c r="{ref}"{cell.group(3)}/>'
            name = f"element {ref} {edit}"
        elif kind == "attribute":
            attribute, values = rng.choice(ATTRIBUTE_EDITS)
            spelled_value = rng.choice(values)
            head = f'<c r="{ref}"{cell.group(3)}'
            if f' {attribute}="' in head:
                changed = re.sub(rf' {attribute}="[^"]*"', f' {attribute}="{spelled_value}"', head, count=1)
            else:
                changed = head + f' {attribute}="{spelled_value}"'
            new = whole.replace(head, changed, 1)
            name = f"attribute {ref} {attribute}={spelled_value!r}"
        elif kind == "row":
            rows = list(re.finditer(r'<row r="(\d+)"([^>]*)>', sheet))
            row = rng.choice(rows)
            extra = rng.choice((' hidden="1"', ' ht="1" customHeight="1"', ' outlineLevel="1" collapsed="1"', ' r="7"'))
            out.append((f"row {row.group(1)}{extra}", sheet.replace(row.group(0), row.group(0)[:-1] + extra + ">", 1)))
            continue
        else:
            extra = rng.choice(
                ('<sheetView showZeros="0"', '<sheetFormatPr zeroHeight="1" defaultRowHeight="15"/>',
                 '<conditionalFormatting sqref="C7:C20"><cfRule type="cellIs" dxfId="0" priority="1" operator="lessThan"><formula>100</formula></cfRule></conditionalFormatting>')
            )  # fmt: skip
            if extra.startswith("<sheetView"):
                changed = sheet.replace('<sheetView tabSelected="1"', extra + ' tabSelected="1"', 1)
            elif extra.startswith("<sheetFormatPr"):
                changed = sheet.replace('<sheetFormatPr defaultRowHeight="15"/>', extra, 1)
            else:
                changed = sheet.replace("<printOptions", extra + "<printOptions", 1)
            out.append((f"sheet setting {extra[:30]}", changed))
            continue
        out.append((name, sheet.replace(whole, new, 1)))
    return out


def zip_mutants(genuine: bytes, data: ReturnData, rng: random.Random, count: int) -> list[tuple[str, bytes]]:
    """Outsider edits of the container (no key): header fields, bytes around, directories, ZIP64, order, compression."""
    entries = unpack(genuine)
    sheet = dict(entries)[SHEET]
    row = figure_row(data, "yuecai_certified")
    shown = re.sub(rf'(<c r="C{row}"[^>]*><v>)\d+', r"\g<1>999", sheet.decode(), count=1).encode()
    out: list[tuple[str, bytes]] = [
        ("zip64 second directory", zip64_second_directory(entries, shown)),
        ("second classic directory after the first", second_directory(entries, shown)),
        ("sheet changed in place", pack([(n, shown if n == SHEET else b) for n, b in entries])),
    ]
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in entries:
            z.writestr(name, body)
    out.append(("deflated, same content", deflated.getvalue()))
    fields = {"version": 4, "flags": 6, "method": 8, "time": 10, "date": 12, "crc": 14, "extra_len": 28}
    while len(out) < count:
        kind = rng.choice(("header", "prefix", "suffix", "swap", "flip"))
        data_bytes = bytearray(genuine)
        if kind == "header":
            field = rng.choice(list(fields))
            starts = [m.start() for m in re.finditer(b"PK\x03\x04", genuine)]
            at = rng.choice(starts) + fields[field]
            data_bytes[at] ^= 1 << rng.randrange(8)
            out.append((f"local header {field} at {at}", bytes(data_bytes)))
        elif kind == "prefix":
            out.append(("bytes before", rng.randbytes(rng.randrange(1, 64)) + genuine))
        elif kind == "suffix":
            out.append(("bytes after", genuine + rng.randbytes(rng.randrange(1, 64))))
        elif kind == "swap":
            i, j = rng.sample(range(len(entries)), 2)
            swapped = list(entries)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            out.append((f"entries {i} and {j} swapped", pack(swapped)))
        else:
            at = rng.randrange(len(genuine))
            data_bytes[at] ^= 1 << rng.randrange(8)
            out.append((f"bit flipped at {at}", bytes(data_bytes)))
    return out


def _locals(entries: list[tuple[str, bytes]], start: int) -> tuple[bytes, list[tuple[str, bytes, int]]]:
    out, placed = io.BytesIO(), []
    for name, body in entries:
        placed.append((name, body, start + out.tell()))
        raw = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 33, zlib.crc32(body), len(body), len(body), len(raw), 0))
        out.write(raw + body)
    return out.getvalue(), placed


def _directory(placed: list[tuple[str, bytes, int]]) -> bytes:
    return b"".join(
        struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 33, zlib.crc32(b), len(b), len(b), len(n.encode()), 0, 0, 0, 0, 0, o)
        + n.encode()
        for n, b, o in placed
    )


def zip64_second_directory(entries: list[tuple[str, bytes]], shown_sheet: bytes) -> bytes:
    signed_locals, signed_placed = _locals(entries, 0)
    shown_locals, shown_placed = _locals([(n, shown_sheet if n == SHEET else b) for n, b in entries], len(signed_locals))
    signed_dir, shown_dir = _directory(signed_placed), _directory(shown_placed)
    at = len(signed_locals) + len(shown_locals)
    body = signed_locals + shown_locals + shown_dir + signed_dir
    n = len(entries)
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(signed_dir), at + len(shown_dir))
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(body), 1)
    return body + record + locator + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(shown_dir), at, 0)


def second_directory(entries: list[tuple[str, bytes]], shown_sheet: bytes) -> bytes:
    genuine = pack(entries)
    shown_locals, placed = _locals([(n, shown_sheet if n == SHEET else b) for n, b in entries], len(genuine))
    directory = _directory(placed)
    n = len(entries)
    return genuine + shown_locals + directory + struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(directory), len(genuine) + len(shown_locals), 0
    )


# --- PDF mutants ----------------------------------------------------------------------------------

PDF_CHANGES = (
    b"/Annots [] /Annots [ANNOT]", b"/Annots [ANNOT]", b"/AA << /O << /S /JavaScript /JS (1) >> >>",
    b"/Group << /S /Transparency /CS /DeviceRGB >>", b"/UserUnit 2", b"/Rotate 90", b"/CropBox [0 0 100 100]",
    b"/MediaBox [0 0 100 100]", b"/Resources << >>", b"/Contents [CONTENTS ANNOT]",
)  # fmt: skip
ROOT_CHANGES = (
    b"/OpenAction << /S /JavaScript /JS (1) >>", b"/AcroForm << /Fields [] /XFA ANNOT >>", b"/Outlines ANNOT",
    b"/OCProperties << /OCGs [] /D << >> >>", b"/PageLabels << /Nums [0 << /P (999) >>] >>", b"/Names << /JavaScript ANNOT >>",
)  # fmt: skip


def change_unsigned(unsigned: bytes, change: bytes) -> bytes:
    """One incremental update by hand: the first page (or the catalog) with `change` added; an extra object."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(unsigned))
    size = int(reader.trailer["/Size"])
    on_root = change in ROOT_CHANGES
    ref = reader.trailer.raw_get("/Root") if on_root else reader.root["/Pages"]["/Kids"].raw_get(0)
    buffer = io.BytesIO()
    ref.get_object().write_to_stream(buffer, None)
    body = buffer.getvalue()
    contents = re.search(rb"/Contents (\d+ 0 R)", body)
    change = change.replace(b"ANNOT", b"%d 0 R" % size).replace(b"CONTENTS", contents.group(1) if contents else b"")
    body = body[: body.rindex(b">>")] + change + b"\n>>"
    extra = (
        b"<< /Type /Annot /Subtype /FreeText /Rect [200 300 300 330] /Contents (999) /DA (/Helv 14 Tf 0 g) >>"
        if b"Annots" in change or b"Outlines" in change or b"Names" in change
        else b"<< /Length 22 >>\nstream\nq 1 g 0 0 500 500 re f Q\nendstream"
    )
    out = io.BytesIO(unsigned)
    out.seek(len(unsigned))
    offsets = {}
    for number, obj in ((size, extra), (ref.idnum, body)):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 1\n0000000000 65535 f \n" + b"".join(b"%d 1\n%010d 00000 n \n" % (n, o) for n, o in sorted(offsets.items())))
    prev = int(unsigned[unsigned.rindex(b"startxref") + 9 :].split()[0])
    ids = re.findall(rb"/ID\s*\[(.*?)\]", unsigned, re.S)[-1]
    root = reader.trailer.raw_get("/Root").idnum
    info = reader.trailer.raw_get("/Info").idnum
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d /ID [%s] >>\nstartxref\n%d\n%%%%EOF\n"
        % (size + 1, root, info, prev, ids, xref)
    )
    return out.getvalue()


def after_signing(signed: bytes, rng: random.Random) -> tuple[str, bytes]:
    """An outsider's change to a signed PDF: a byte flipped, bytes appended, a key renamed."""
    kind = rng.choice(("flip", "append", "rename"))
    data = bytearray(signed)
    if kind == "flip":
        at = rng.randrange(len(signed))
        data[at] ^= 1 << rng.randrange(8)
        return f"bit flipped at {at}", bytes(data)
    if kind == "append":
        return "bytes appended", signed + b"\n%% " + rng.randbytes(16).hex().encode() + b"\n"
    keys = [m.start() for m in re.finditer(rb"/[A-Z][A-Za-z]+", signed)]
    at = rng.choice(keys) + 1
    data[at] = ord("X")
    return f"key renamed at {at}", bytes(data)


# --- independent readers --------------------------------------------------------------------------


def libreoffice_figures(files: list[Path], out: Path) -> dict[Path, list[list[str]]]:
    """Each workbook's first sheet as LibreOffice shows it (formatted text), through a CSV export."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise SystemExit("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui")
    out.mkdir(parents=True, exist_ok=True)
    shown: dict[Path, list[list[str]]] = {}
    for start in range(0, len(files), 50):
        batch = files[start : start + 50]
        subprocess.run(
            [soffice, "--headless", f"-env:UserInstallation=file://{out}/profile", "--convert-to",
             "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true", "--outdir", str(out), *map(str, batch)],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        for path in batch:
            with (out / (path.stem + ".csv")).open(encoding="utf-8", newline="") as f:
                shown[path] = list(csv.reader(f))
    return shown


def workbook_disagreement(data: ReturnData, rows: list[list[str]]) -> str:
    for line in data.figures:
        row = figure_row(data, line.code) - 1
        column = ord(FIGURE_COLUMNS["quarter"]) - ord("A")
        got = rows[row][column] if row < len(rows) and column < len(rows[row]) else ""
        if got.replace(",", "") != str(line.quarter):
            return f"{line.code}: LibreOffice shows {got!r}, signed {line.quarter}"
    return ""


def pdf_views(path: Path) -> tuple[str, str, list[bytes], list[bytes]]:
    """pdftotext's and pdfium's text; each page drawn by pdftoppm and by pdfium with annotations and forms."""
    import pypdfium2 as pdfium

    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout.decode()
    document = pdfium.PdfDocument(str(path))
    texts, drawn = [], []
    try:
        document.init_forms()
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            bitmap = page.render(scale=1, draw_annots=True, may_draw_forms=True)
            drawn.append(hashlib.sha256(bytes(bitmap.buffer)).digest())
            bitmap.close()
            page.close()
    finally:
        document.close()
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", "72", "-gray", str(path), f"{folder}/p"], check=True, capture_output=True)
        poppler = [hashlib.sha256(p.read_bytes()).digest() for p in sorted(Path(folder).glob("p*"))]
    return text, "\n".join(texts), drawn, poppler


def pdf_disagreement(data: ReturnData, path: Path, reference: tuple[str, str, list[bytes], list[bytes]]) -> str:
    text, pdfium_text, drawn, poppler = pdf_views(path)
    for line in data.figures:
        shown = f"{line.quarter:,}"
        for reader, words in (("pdftotext", text), ("pdfium", pdfium_text)):
            if not re.search(rf"(?<![\d,]){re.escape(shown)}(?![\d,])", words):
                return f"{line.code}: {reader} does not show the signed {shown}"
    if "999" in text and "999" not in reference[0]:
        return "pdftotext shows 999"
    if drawn != reference[2]:
        return "pdfium draws the pages (annotations included) otherwise than the genuine return"
    if poppler != reference[3]:
        return "poppler draws the pages otherwise than the genuine return"
    return ""


def sameness(path: Path, originals: tuple[Path, Path]) -> str:
    """How a 有效 mutant relates to the genuine file: the same bytes, or the same parts but the signature."""
    data = path.read_bytes()
    if any(data == original.read_bytes() for original in originals):
        return "same bytes as the genuine file"
    if path.suffix == ".xlsx":
        ours = {n: b for n, b in unpack(data) if n != "docProps/custom.xml"}
        theirs = {n: b for n, b in unpack(originals[0].read_bytes()) if n != "docProps/custom.xml"}
        if ours == theirs:
            return "the genuine parts, signed again (the mutation changed nothing)"
    return "DIFFERENT FROM THE GENUINE FILE"


# --- the run --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the files here (default: a temp folder)")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--xlsx", type=int, default=1000, help="workbook mutants")
    parser.add_argument("--pdf", type=int, default=120, help="PDF mutants")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = args.out or Path(tempfile.mkdtemp(prefix="differential-"))
    folder.mkdir(parents=True, exist_ok=True)
    root, identity, returns = genuine_returns(folder / "pki")
    verifier = Verifier(load_trust_roots(root))
    files: list[tuple[Path, ReturnData, str, str]] = []  # path, the return signed, kind, mutation
    made = folder / "files"
    made.mkdir(exist_ok=True)
    number = 0

    def name(suffix: str) -> Path:
        nonlocal number
        number += 1
        return made / f"{number:05d}{suffix}"

    originals: dict[int, tuple[Path, Path]] = {}
    for data in returns:
        originals[id(data)] = (signed_workbook(data, identity, name(".xlsx")), signed_pdf(data, identity, name(".pdf")))
        files += [(path, data, "genuine", "") for path in originals[id(data)]]
    per_return = -(-args.xlsx // len(returns))
    for data in returns:
        genuine = originals[id(data)][0].read_bytes()
        for label, mutant in zip_mutants(genuine, data, rng, per_return // 4):
            path = name(".xlsx")
            path.write_bytes(mutant)
            files.append((path, data, "zip (no key)", label))
        sheet = dict(unpack(genuine))[SHEET].decode()
        for label, changed in sheet_mutants(data, sheet, rng, per_return - per_return // 4):
            parts = workbook_parts(data)
            parts[SHEET] = changed.encode()
            path = name(".xlsx")
            path.write_bytes(seal(parts, payload_of(data).to_bytes(), lambda m: sign_payload(identity, m)))
            files.append((path, data, "sheet XML (re-signed)", label))
    for index in range(args.pdf):
        data = returns[index % len(returns)]
        if index % 3 == 2:
            genuine = originals[id(data)][1].read_bytes()
            label, mutant = after_signing(genuine, rng)
            path = name(".pdf")
            path.write_bytes(mutant)
            files.append((path, data, "PDF after signing (no key)", label))
        else:
            change = rng.choice(PDF_CHANGES + ROOT_CHANGES)
            path = signed_pdf(data, identity, name(".pdf"), change)
            files.append((path, data, "PDF object/key (re-signed)", change.decode("latin-1")))
    verdicts = {path: verifier.verify(path) for path, *_ in files}
    valid = [(p, d, k, m) for p, d, k, m in files if verdicts[p].valid]
    workbooks = [p for p, *_ in valid if p.suffix == ".xlsx"]
    shown = libreoffice_figures(workbooks, folder / "libreoffice") if workbooks else {}
    references = {}
    for path, data, kind, _ in files:
        if kind == "genuine" and path.suffix == ".pdf":
            references[data.quarter] = pdf_views(path)
    disagreements = []
    for path, data, kind, label in valid:
        if path.suffix == ".xlsx":
            problem = workbook_disagreement(data, shown[path])
        else:
            problem = pdf_disagreement(data, path, references[data.quarter])
        if problem:
            disagreements.append(f"{path.name} [{kind}: {label}] {problem}")
    counts = Counter(kind for _, _, kind, _ in files)
    valid_counts = Counter(kind for _, _, kind, _ in valid)
    reasons = Counter(verdicts[p].reason.split("（")[0][:40] for p, *_ in files if not verdicts[p].valid)
    summary = {
        "files": len(files),
        "by kind (made / 有效)": {k: [counts[k], valid_counts[k]] for k in counts},
        "refusals by reason (first words)": dict(reasons.most_common()),
        "有效 files read by independent readers": len(valid),
        # a mutant can be 有效 only as a genuine return: the same bytes, or (re-signed) the same parts
        "有效 mutants": [
            f"{p.name} [{k}: {m}] " + sameness(p, originals[id(d)])
            for p, d, k, m in valid
            if k != "genuine"
        ],
        "disagreements": disagreements,
        "folder": str(folder),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
