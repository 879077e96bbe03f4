"""Issue 22: a return is valid only if it is, byte for byte, what the app writes from the signed data.

Every case the issue names is rebuilt here from a genuine return: the zip container tricks without any
key (as anyone carrying the file could), the sheet XML and PDF tricks by the town itself, re-signed with
its own key. Each is refused by `verify` with a reason of its own and left out of `consolidate`; the
genuine return verifies and is counted.
"""

import datetime as dt
import io
import json
import re
import struct
import zlib
from pathlib import Path

import openpyxl
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from actions.returns import open_identity, prepare_export
from cli import main as cli_main
from core.quarters import Quarter
from reports.excel import figure_row, workbook_bytes, workbook_parts
from reports.identity import create_city_root, issue_town_identity, load_trust_roots
from reports.package import pack, seal, unpack
from reports.payload import FORMAT, RENDERER, payload_of
from reports.signing import sign_payload, sign_pdf
from reports.verify import Verifier
from storage.store import Store
from tests.helpers import SIGN_OFF_FLAGS, TODAY, on_pace_history, signed_off_profile

Q = Quarter(2024, 3)
TOWN = "莞城"
ROOT_PASS = b"city-root-pass"
PASS = b"guancheng-pass"
SHEET = "xl/worksheets/sheet1.xml"
INSIDER = "表格不是本系统按签名数据生成的：签名的文件清单中 xl/worksheets/sheet1.xml 与签名数据重新生成的不同"
PDF_NOT = "PDF 不是本系统按签名数据生成的"
GOLDEN = Path(__file__).parent / "data" / "golden_town_returns_3"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    create_city_root(folder, ROOT_PASS)
    issue_town_identity(
        folder / "city_root.p12", ROOT_PASS, TOWN, folder / "town.p12", PASS,
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), days=3650,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def genuine(pki, tmp_path_factory):
    """A genuine signed return (workbook, PDF, summary) of the demo figures, its data and the town's identity."""
    folder = tmp_path_factory.mktemp("genuine")
    store = Store(folder / "gc.sqlite3", today=lambda: TODAY)
    store.bind_town(TOWN)
    store.set_profile(signed_off_profile())
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    store.set_identity((pki / "town.p12").read_bytes(), TOWN)
    identity = open_identity(store, PASS)
    data = prepare_export(store, Q, signed=True)
    store.close()
    return data, identity, export_files(data, identity, folder / "out")


class Exported:
    def __init__(self, folder: Path):
        self.workbook, self.pdf, self.summary = (folder / n for n in ("2024Q3_莞城_季报.xlsx", "2024Q3_莞城_季报.pdf", "2024Q3_莞城_摘要.pdf"))
        self.paths = [self.workbook, self.pdf, self.summary]


def export_files(data, identity, folder: Path) -> Exported:
    """The three signed files, written by the very calls reports.export.write_return_files makes."""
    from reports.excel import write_workbook
    from reports.pdf import write_return_pdf, write_summary_pdf

    folder.mkdir(parents=True)
    files = Exported(folder)
    payload = payload_of(data).to_bytes()
    write_workbook(data, files.workbook, payload, lambda manifest: sign_payload(identity, manifest))
    unsigned = folder / "unsigned.pdf"
    slot = write_return_pdf(data, unsigned)
    sign_pdf(unsigned, files.pdf, identity, payload, slot.box, slot.page or 0)
    write_summary_pdf(data, unsigned)
    sign_pdf(unsigned, files.summary, identity, payload, None, 0)
    unsigned.unlink()
    return files


@pytest.fixture
def verifier(pki):
    return Verifier(load_trust_roots(pki / "city_root.pem"))


def refused(verifier, path, expected):
    verdict = verifier.verify(path)
    assert not verdict.valid, path
    assert expected in verdict.reason, verdict.reason
    return verdict.reason


# --- the same data, the same bytes --------------------------------------------------------------


def test_the_workbook_and_the_pdfs_are_the_same_bytes_for_the_same_data(genuine, tmp_path):
    from reports.pdf import write_return_pdf, write_summary_pdf

    data, _, _ = genuine
    assert workbook_bytes(data) == workbook_bytes(data)
    for write in (write_return_pdf, write_summary_pdf, write_return_pdf):
        write(data, tmp_path / "a.pdf")
        write(data, tmp_path / "b b.pdf")
        assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b b.pdf").read_bytes()
        assert b"D:20000101000000" in (tmp_path / "a.pdf").read_bytes()  # reportlab's invariant mode


def test_the_payload_names_its_renderer_and_the_package_is_stored_and_undated(genuine):
    data, _, result = genuine
    raw = result.workbook.read_bytes()
    body = json.loads(payload_of(data).to_bytes())
    assert body["format"] == FORMAT and body["renderer"] == RENDERER
    names = [name for name, _ in unpack(raw)]
    assert names == [*list(workbook_parts(data))[:4], "docProps/custom.xml", *list(workbook_parts(data))[4:]]
    with __import__("zipfile").ZipFile(result.workbook) as z:
        for info in z.infolist():
            assert (info.compress_type, info.flag_bits, info.date_time, info.extra) == (0, 0, (1980, 1, 1, 0, 0, 0), b"")


def test_a_genuine_return_is_valid_and_openpyxl_reads_its_figures(genuine, verifier):
    data, _, result = genuine
    for path in result.paths:
        verdict = verifier.verify(path)
        assert verdict.valid, verdict.reason
    form = openpyxl.load_workbook(result.workbook)["季报"]
    line = next(f for f in data.figures if f.code == "yuecai_certified")
    assert form[f"C{figure_row(data, 'yuecai_certified')}"].value == line.quarter


def test_the_pdf_signature_is_rebuilt_exactly_from_the_files_own_cms(genuine):
    """The verifier's rule for PDFs: re-render, re-run the app's signing with the file's CMS, compare."""
    from asn1crypto import cms

    from reports.payload import BEIJING
    from reports.pdf_text import rendered
    from reports.signing import ReplaySigner, signed_pdf_bytes

    data, _, result = genuine
    for path, summary in ((result.pdf, False), (result.summary, True)):
        raw = path.read_bytes()
        signature = PdfFileReader(io.BytesIO(raw)).embedded_signatures[0]
        content = cms.ContentInfo.load(cms.ContentInfo.load(bytes(signature.sig_object["/Contents"]), strict=False).dump())
        payload = payload_of(data)
        unsigned, slot = rendered(payload, summary)
        assert raw.startswith(unsigned)
        when = signature.self_reported_timestamp.astimezone(BEIJING)
        box = None if summary else slot.box
        again = signed_pdf_bytes(unsigned, TOWN, payload.to_bytes(), box, slot.page or 0 if not summary else 0, when,
                                 ReplaySigner(content, signature.signer_cert))  # fmt: skip
        assert again == raw


# --- the zip container: anyone carrying the file, no key ------------------------------------------

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")


def _entries_with_offsets(entries, start=0):
    """Local headers and data for `entries` starting at `start`; returns (bytes, [(name, data, offset)])."""
    out, placed = io.BytesIO(), []
    for name, body in entries:
        offset = start + out.tell()
        raw = name.encode()
        out.write(_LOCAL.pack(0x04034B50, 20, 0, 0, 0, 33, zlib.crc32(body), len(body), len(body), len(raw), 0))
        out.write(raw + body)
        placed.append((name, body, offset))
    return out.getvalue(), placed


def _directory(placed):
    return b"".join(
        _CENTRAL.pack(0x02014B50, 20, 20, 0, 0, 0, 33, zlib.crc32(b), len(b), len(b), len(n.encode()), 0, 0, 0, 0, 0, o)
        + n.encode()
        for n, b, o in placed
    )


def zip64_second_directory(genuine_bytes: bytes, shown_sheet: bytes) -> bytes:
    """The genuine entries and a copy whose sheet shows another figure; the classic end record points at the
    copy's directory, a ZIP64 end record (found by Python's zipfile through its locator) at the genuine one."""
    entries = unpack(genuine_bytes)
    signed_locals, signed_placed = _entries_with_offsets(entries)
    shown = [(n, shown_sheet if n == SHEET else b) for n, b in entries]
    shown_locals, shown_placed = _entries_with_offsets(shown, len(signed_locals))
    signed_dir, shown_dir = _directory(signed_placed), _directory(shown_placed)
    at = len(signed_locals) + len(shown_locals)
    # zipfile takes the ZIP64 record just before the locator, and the directory just before that record
    body = signed_locals + shown_locals + shown_dir + signed_dir
    zip64_end_at = len(body)
    count = len(entries)
    zip64_end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(signed_dir), at + len(shown_dir))
    locator = struct.pack("<IIQI", 0x07064B50, 0, zip64_end_at, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(shown_dir), at, 0)
    return body + zip64_end + locator + end


def _shown_sheet(data, genuine_bytes, figure=999):
    sheet = dict(unpack(genuine_bytes))[SHEET].decode()
    row = figure_row(data, "yuecai_certified")
    sheet, n = re.subn(rf'(<c r="C{row}"[^>]*><v>)\d+(</v>)', rf"\g<1>{figure}\g<2>", sheet)
    assert n == 1
    return sheet.encode()


def outsider_cases(data, genuine_bytes):
    entries = unpack(genuine_bytes)
    deflated = io.BytesIO()
    with __import__("zipfile").ZipFile(deflated, "w", __import__("zipfile").ZIP_DEFLATED) as z:
        for name, body in entries:
            z.writestr(name, body)
    return {
        "zip64_second_directory": zip64_second_directory(genuine_bytes, _shown_sheet(data, genuine_bytes)),
        "bytes_before_the_first_entry": b"PK\x05\x06" + b"\0" * 60 + genuine_bytes,
        "bytes_after_the_end_record": genuine_bytes + b"\0" * 16,
        "entries_reordered": pack([entries[1], entries[0], *entries[2:]]),
        "entries_deflated_with_the_same_content": deflated.getvalue(),
        "the_sheet_changed_in_place": pack([(n, _shown_sheet(data, genuine_bytes) if n == SHEET else b) for n, b in entries]),
    }


def test_zip64_second_directory_shows_another_figure_to_other_readers(genuine):
    """The case as the issue found it: Python's zipfile reads the signed sheet, a classic reader the copy."""
    import zipfile

    data, _, result = genuine
    forged = zip64_second_directory(result.workbook.read_bytes(), _shown_sheet(data, result.workbook.read_bytes()))
    with zipfile.ZipFile(io.BytesIO(forged)) as z:
        assert z.read(SHEET) == dict(unpack(result.workbook.read_bytes()))[SHEET]
    classic_start = struct.unpack_from("<I", forged, len(forged) - 6)[0]
    assert forged[classic_start : classic_start + 4] == b"PK\x01\x02"
    assert classic_start != struct.unpack_from("<Q", forged, forged.rindex(b"PK\x06\x06") + 48)[0]


def test_zip_container_tricks_are_refused_without_any_key(genuine, verifier, tmp_path):
    data, _, result = genuine
    reasons = {}
    for name, forged in outsider_cases(data, result.workbook.read_bytes()).items():
        path = tmp_path / f"{name}.xlsx"
        path.write_bytes(forged)
        reasons[name] = refused(verifier, path, "签名后文件被修改：")
    assert "ZIP64" in reasons["zip64_second_directory"]
    assert "结尾之后多出 16 字节" in reasons["bytes_after_the_end_record"]
    assert "xl/worksheets/sheet1.xml" in reasons["the_sheet_changed_in_place"]
    assert "压缩方式" in reasons["entries_deflated_with_the_same_content"]
    assert len(set(reasons.values())) == len(reasons)


# --- the sheet XML: the town's own tool, re-signed with its key --------------------------------------

FULL_WIDTH_EIGHT, ARABIC_INDIC_EIGHT = "\uff18", "\u0668"


def sheet_edits(data):
    row = figure_row(data, "yuecai_certified")
    cell = rf'<c r="C{row}" s="(\d+)"><v>(\d+)</v></c>'
    strict = "http://purl.oclc.org/ooxml/spreadsheetml/main"

    def on_cell(replacement):
        def edit(sheet: str) -> str:
            changed, n = re.subn(cell, replacement, sheet)
            assert n == 1
            return changed

        return edit

    return {
        "two_v": on_cell(rf'<c r="C{row}" s="\1"><v>\2</v><v>999</v></c>'),
        "two_is": lambda s: s.replace(
            "<is><t xml:space=\"preserve\">", "<is><t>999</t></is><is><t xml:space=\"preserve\">", 1
        ),
        "strict_namespace_cell": lambda s: s.replace(
            "</sheetData>", f'<x:row xmlns:x="{strict}" r="90"><x:c r="C90"><x:v>999</x:v></x:c></x:row></sheetData>'
        ),
        "number_800_0e-3": on_cell(rf'<c r="C{row}" s="\1"><v>800_0e-3</v></c>'),
        "number_1_33": on_cell(rf'<c r="C{row}" s="\1"><v>1_33</v></c>'),
        "number_full_width": on_cell(rf'<c r="C{row}" s="\1"><v>{FULL_WIDTH_EIGHT}</v></c>'),
        "number_arabic_indic": on_cell(rf'<c r="C{row}" s="\1"><v>{ARABIC_INDIC_EIGHT}</v></c>'),
        "number_after_ideographic_space": on_cell(f'<c r="C{row}" s="\\1"><v>\u3000\\2</v></c>'),
        "shared_string_index_1_0": on_cell(rf'<c r="C{row}" s="\1" t="s"><v>1_0</v></c>'),
        "unknown_cell_type": on_cell(rf'<c r="C{row}" s="\1" t="z"><v>999</v></c>'),
        "cell_outside_any_row": lambda s: s.replace("</sheetData>", '<c r="K7"><v>999</v></c></sheetData>'),
        "style_index_0_7": on_cell(rf'<c r="C{row}" s="0_7"><v>\2</v></c>'),
    }


def insider_workbook(data, identity, path, edit):
    parts = workbook_parts(data)
    before = parts[SHEET]
    parts[SHEET] = edit(before.decode()).encode()
    assert parts[SHEET] != before
    path.write_bytes(seal(parts, payload_of(data).to_bytes(), lambda manifest: sign_payload(identity, manifest)))
    return path


def test_sheet_xml_tricks_signed_by_the_town_are_refused(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    reasons = {}
    for name, edit in sheet_edits(data).items():
        reasons[name] = refused(verifier, insider_workbook(data, identity, tmp_path / f"{name}.xlsx", edit), INSIDER)
    assert len(set(reasons.values())) == len(reasons), reasons  # each names what it found


# --- the PDF: the town's own tool, re-signed with its key --------------------------------------------


def _raw_update(unsigned: bytes, objects: dict[int, bytes], root: bytes | None = None, info: bytes | None = None) -> bytes:
    """`unsigned` with one incremental update holding `objects` (number -> body), written by hand."""
    reader = PdfFileReader(io.BytesIO(unsigned))
    size = int(reader.trailer["/Size"])
    prev = int(unsigned[unsigned.rindex(b"startxref") + 9 :].split()[0])
    out = io.BytesIO(unsigned)
    out.seek(len(unsigned))
    offsets = {}
    for number, body in objects.items():
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(b"xref\n0 1\n0000000000 65535 f \n")
    for number in sorted(offsets):
        out.write(b"%d 1\n%010d 00000 n \n" % (number, offsets[number]))
    top = max([size - 1, *objects])
    root_ref = root or b"%d 0 R" % reader.trailer.raw_get("/Root").idnum
    info_ref = info or b"%d 0 R" % reader.trailer.raw_get("/Info").idnum
    ids = re.findall(rb"/ID\s*\[(.*?)\]", unsigned, re.S)[-1]
    out.write(
        b"trailer\n<< /Size %d /Root %s /Info %s /Prev %d /ID [%s] >>\nstartxref\n%d\n%%%%EOF\n"
        % (top + 1, root_ref, info_ref, prev, ids, xref_at)
    )
    return out.getvalue()


def _serialized(obj) -> bytes:
    buffer = io.BytesIO()
    obj.write_to_stream(buffer, None)
    return buffer.getvalue()


def pdf_edits(unsigned: bytes) -> dict[str, bytes]:
    reader = PdfFileReader(io.BytesIO(unsigned))
    size = int(reader.trailer["/Size"])
    page_ref = reader.root["/Pages"]["/Kids"].raw_get(0)
    page = _serialized(page_ref.get_object())
    root_ref = reader.trailer.raw_get("/Root")
    root = _serialized(reader.root)
    info_ref = reader.trailer.raw_get("/Info")
    info = _serialized(reader.trailer["/Info"])
    annot = size
    free_text = b"<< /Type /Annot /Subtype /FreeText /Rect [200 300 300 330] /Contents (999) /DA (/Helv 14 Tf 0 g) >>"

    def with_keys(dictionary: bytes, extra: bytes) -> bytes:
        return dictionary[: dictionary.rindex(b">>")] + extra + b"\n>>"

    drawing = b"q 1 0 0 RG 10 w 200 300 m 260 360 l S Q q /OP gs 1 g 190 290 80 80 re f Q"
    paths = b"<< /Length %d >>\nstream\n" % len(drawing) + drawing + b"\nendstream"
    contents = re.search(rb"/Contents (\d+ 0 R)", page)
    assert contents is not None
    overprint_page = with_keys(page.replace(b"/Contents", b"/OldContents"), b"/Contents [%s %d 0 R]" % (contents.group(1), size))
    overprint_page = overprint_page.replace(
        b"/Resources <<", b"/Resources <<\n/ExtGState << /OP << /Type /ExtGState /OP true /op true /OPM 1 >> >>", 1
    )
    return {
        "annots_twice": _raw_update(
            unsigned, {annot: free_text, page_ref.idnum: with_keys(page, b"/Annots []\n/Annots [%d 0 R]" % annot)}
        ),
        "paths_under_an_overprinting_white_box": _raw_update(unsigned, {size: paths, page_ref.idnum: overprint_page}),
        "javascript_on_a_widget": _raw_update(
            unsigned,
            {
                annot: b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (x) /Rect [0 0 0 0] /P %d 0 R "
                b"/AA << /PO << /S /JavaScript /JS (this.getField\\('x'\\)) >> >> >>" % page_ref.idnum,
                page_ref.idnum: with_keys(page, b"/Annots [%d 0 R]" % annot),
            },
        ),
        "xfa_form": _raw_update(
            unsigned,
            {
                annot: b"<< /Length 17 >>\nstream\n<xdp>999</xdp>\n\nendstream",
                root_ref.idnum: with_keys(root, b"/AcroForm << /Fields [] /XFA %d 0 R >>" % annot),
            },
        ),
        "outline_with_a_figure": _raw_update(
            unsigned,
            {
                annot: b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count 1 >>" % (annot + 1, annot + 1),
                annot + 1: b"<< /Title (yuecai 999) /Parent %d 0 R /Dest [%d 0 R /Fit] >>" % (annot, page_ref.idnum),
                root_ref.idnum: with_keys(root, b"/Outlines %d 0 R" % annot),
            },
        ),
        "title_with_a_figure": _raw_update(
            unsigned, {info_ref.idnum: re.sub(rb"/Title \([^)]*\)", b"/Title (999)", info)}
        ),
    }


def insider_sign(source: Path, target: Path, identity, payload: bytes, box, page: int) -> None:
    """The town's own tool: pyHanko, not strict (it reads a page with /Annots twice), the app's field and payload."""
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from reports.signing import SIGNATURE_FIELD, make_signer

    writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()), strict=False)
    data = embed.EmbeddedFileObject.from_file_data(writer, payload, mime_type="application/json")
    embed.embed_file(writer, embed.FileSpec(file_spec_string="town_returns_payload.json", embedded_data=data))
    fields.append_signature_field(writer, fields.SigFieldSpec(SIGNATURE_FIELD, on_page=page, box=box))
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name=SIGNATURE_FIELD, subfilter=SigSeedSubFilter.PADES)
    signers.PdfSigner(meta, signer=make_signer(identity)).sign_pdf(writer, output=out)
    target.write_bytes(out.getvalue())


def test_pdf_tricks_signed_by_the_town_are_refused(genuine, verifier, tmp_path):
    from reports.pdf import write_return_pdf

    data, identity, _ = genuine
    unsigned = tmp_path / "u.pdf"
    slot = write_return_pdf(data, unsigned)
    reasons = {}
    for name, changed in pdf_edits(unsigned.read_bytes()).items():
        source, path = tmp_path / f"{name}.unsigned.pdf", tmp_path / f"{name}.pdf"
        source.write_bytes(changed)
        sign = insider_sign if name == "annots_twice" else sign_pdf  # the app's own signing refuses to read that page
        sign(source, path, identity, payload_of(data).to_bytes(), slot.box, slot.page or 0)
        reasons[name] = refused(verifier, path, PDF_NOT)
        assert "签名所附加的内容与本系统签名时写的不同" in reasons[name]  # the signed revision is the app's; what follows is not
    assert len(set(reasons.values())) == len(reasons), reasons


def test_javascript_on_the_signature_widget_itself(genuine, verifier, tmp_path):
    """The town's tool adds /AA JavaScript to the app's own signature widget, in the signing update."""
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from reports.pdf import write_return_pdf
    from reports.signing import SIGNATURE_FIELD, make_signer

    data, identity, _ = genuine
    unsigned = tmp_path / "u.pdf"
    slot = write_return_pdf(data, unsigned)
    writer = IncrementalPdfFileWriter(io.BytesIO(unsigned.read_bytes()))
    attached = embed.EmbeddedFileObject.from_file_data(writer, payload_of(data).to_bytes(), mime_type="application/json")
    embed.embed_file(writer, embed.FileSpec(file_spec_string="town_returns_payload.json", embedded_data=attached))
    fields.append_signature_field(writer, fields.SigFieldSpec(SIGNATURE_FIELD, on_page=slot.page or 0, box=slot.box))
    widget = writer.root["/AcroForm"]["/Fields"][0].get_object()
    action = {generic.NameObject("/S"): generic.NameObject("/JavaScript"), generic.NameObject("/JS"): generic.pdf_string("1")}
    widget["/AA"] = generic.DictionaryObject({generic.NameObject("/PO"): generic.DictionaryObject(action)})
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name=SIGNATURE_FIELD, subfilter=SigSeedSubFilter.PADES)
    signers.PdfSigner(meta, signer=make_signer(identity)).sign_pdf(writer, output=out)
    path = tmp_path / "aa.pdf"
    path.write_bytes(out.getvalue())
    assert b"/JavaScript" in path.read_bytes()
    refused(verifier, path, PDF_NOT + "：签名所附加的内容与本系统签名时写的不同")


# --- consolidate leaves every case out, each with its own reason --------------------------------------


def test_consolidate_counts_the_genuine_return_and_leaves_every_case_out(genuine, pki, tmp_path, capsys):
    from reports.pdf import write_return_pdf

    data, identity, result = genuine
    inbox = tmp_path / "inbox"
    (inbox / "genuine").mkdir(parents=True)
    for path in result.paths:
        (inbox / "genuine" / path.name).write_bytes(path.read_bytes())
    made = []
    for name, forged in outsider_cases(data, result.workbook.read_bytes()).items():
        made.append(inbox / f"zip_{name}.xlsx")
        made[-1].write_bytes(forged)
    for name, edit in sheet_edits(data).items():
        made.append(insider_workbook(data, identity, inbox / f"sheet_{name}.xlsx", edit))
    unsigned = tmp_path / "u.pdf"
    slot = write_return_pdf(data, unsigned)
    for name, changed in pdf_edits(unsigned.read_bytes()).items():
        source = tmp_path / f"{name}.pdf"
        source.write_bytes(changed)
        made.append(inbox / f"pdf_{name}.pdf")
        sign = insider_sign if name == "annots_twice" else sign_pdf
        sign(source, made[-1], identity, payload_of(data).to_bytes(), slot.box, slot.page or 0)
    args = ["consolidate", "--trust", str(pki / "city_root.pem"), "--quarter", Q.code, str(inbox), "--json"]
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] == [TOWN]
    invalid = {Path(item["file"]).name: item["reason"] for item in out["invalid"]}
    assert set(invalid) == {p.name for p in made}, set(invalid) ^ {p.name for p in made}
    assert len(set(invalid.values())) == len(invalid)  # each its own reason
    assert all(invalid.values())


# --- rule 2: a return of an earlier release ----------------------------------------------------------


def test_a_golden_return_of_the_previous_format_is_refused_naming_its_release(capsys):
    """Made by the release before issue 22 (town-returns/3, tests/data/golden_town_returns_3): this release
    has no renderer for it, so it is refused, never 有效 by a looser path."""
    verifier = Verifier(load_trust_roots(GOLDEN / "city_root.pem"))
    files = sorted(GOLDEN.glob("*.xlsx")) + sorted(GOLDEN.glob("*.pdf"))
    assert len(files) == 3
    for path in files:
        verdict = verifier.verify(path)
        assert not verdict.valid
        assert verdict.reason.startswith("不是本版本软件生成的季报：它由本软件较早的版本生成（签名数据格式 town-returns/3")
        assert "请镇街用本版本软件重新导出" in verdict.reason
    assert cli_main(["verify", "--trust", str(GOLDEN / "city_root.pem"), *map(str, files)]) == 1
    assert capsys.readouterr().out.count("不是本版本软件生成的季报") == 3


def test_a_payload_naming_another_renderer_is_refused(genuine, verifier, tmp_path):
    from reports import payload as payload_module

    data, identity, _ = genuine
    body = json.loads(payload_of(data).to_bytes())
    body["renderer"] = "town-returns-render/9"
    raw = payload_module.canonical(body)
    path = tmp_path / "r9.xlsx"
    path.write_bytes(seal(workbook_parts(data), raw, lambda m: sign_payload(identity, m)))
    reason = refused(verifier, path, "不是本版本软件生成的季报：它由生成程序“town-returns-render/9”写出")
    assert RENDERER in reason


def test_a_ber_variant_of_the_pdfs_own_cms_is_refused(genuine, verifier, tmp_path):
    """Found by tools/differential_verify.py: a tag's class bits changed in a certificate inside the CMS in
    /Contents (no key needed: /Contents is outside the signed byte range, the certificate's signature covers
    only its tbsCertificate) read the same to pyHanko and was 有效; the CMS must be DER."""
    from asn1crypto import cms

    _, _, result = genuine
    raw = result.pdf.read_bytes()
    signature = PdfFileReader(io.BytesIO(raw)).embedded_signatures[0]
    der = cms.ContentInfo.load(bytes(signature.sig_object["/Contents"]), strict=False).dump()
    # a certificate's signature BIT STRING (tag 0x03) after ecdsa-with-SHA256, retagged 0x43 (application class)
    marker = bytes.fromhex("06082A8648CE3D040302") + b"\x03"
    at = der.index(marker) + len(marker) - 1
    variant = der[:at] + b"\x43" + der[at + 1 :]
    assert raw.count(der.hex().upper().encode()) == 1
    path = tmp_path / "ber.pdf"
    path.write_bytes(raw.replace(der.hex().upper().encode(), variant.hex().upper().encode()))
    refused(verifier, path, PDF_NOT)


# --- text that reads one way (issue 22 point 4) -------------------------------------------------


def test_a_direction_override_signed_into_the_phone_is_refused_by_the_verifier(genuine, verifier, tmp_path):
    """An insider who puts U+202E into the phone outside the program (with sqlite3) and signs: the
    digits show in another order than they were signed; the verifier refuses it, naming the character."""
    from dataclasses import replace

    data, identity, _files = genuine
    phone = "0769-\u202e1234567"
    forged = export_files(replace(data, profile={**data.profile, "phone": phone}), identity, tmp_path / "out")
    for path in forged.paths:
        reason = refused(verifier, path, "U+202E")
        assert "签名数据" in reason


def test_one_verify_run_calls_a_pdf_after_a_workbook_valid(genuine, pki):
    """Found from outside: in one run, a genuine PDF verified after a workbook was 无效 (asn1crypto's
    name table was built before signing_certificate_v2 was registered). A new process, as the city runs it."""
    import subprocess
    import sys

    _data, _identity, files = genuine
    project = Path(__file__).resolve().parent.parent
    finished = subprocess.run(
        [sys.executable, "main.py", "verify", "--trust", str(pki / "city_root.pem"), *map(str, files.paths)],
        cwd=project,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.count("有效") == 3


def test_text_that_looks_like_an_excel_escape_is_written_so_every_reader_shows_it_as_typed(genuine, verifier, tmp_path):
    """Found from outside: Excel and LibreOffice read "_x000A_" in a cell as a line break (and "_x202E_" as
    U+202E) while the PDF printed the seven characters; the writer now escapes the underscore."""
    import zipfile
    from dataclasses import replace

    data, identity, _files = genuine
    phone = "8888_x0030__x202E_"
    files = export_files(replace(data, profile={**data.profile, "phone": phone}), identity, tmp_path / "out")
    sheet = zipfile.ZipFile(files.workbook).read(SHEET).decode("utf-8")
    assert "8888_x005F_x0030__x005F_x202E_" in sheet
    assert openpyxl.load_workbook(files.workbook)["季报"] is not None
    for path in files.paths:
        assert verifier.verify(path).valid, path


def test_invisible_characters_beyond_the_format_class_are_refused_in_the_profile(tmp_path, capsys):
    db = tmp_path / "town.sqlite3"
    assert cli_main(["--db", str(db), "init", "--town", "莞城"]) == 0
    assert cli_main(["--db", str(db), "profile", *SIGN_OFF_FLAGS]) == 0
    for text in ("1234\u17b45678", "李\U000e0100四", "王\u2800五", "0769\ufdd0", "张三\n李四"):
        assert cli_main(["--db", str(db), "profile", "--head", text]) == 2, ascii(text)
        assert "第" in capsys.readouterr().err
