"""What the city reads is what the town signed: each forgery, made with real tools, refused with its own reason."""

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import PatternFill
from openpyxl.worksheet.pagebreak import Break
from pypdf import PdfReader

from actions.returns import open_identity as open_town_identity
from actions.returns import prepare_export
from cli import main as cli_main
from core.quarters import Quarter
from reports.excel import build_workbook, figure_row, form_spec, sign_workbook, workbook_parts
from reports.export import ExportRefused, write_return_files
from reports.identity import (
    IdentityError,
    check_identity,
    create_city_root,
    fingerprint,
    import_identity_file,
    issue_town_identity,
    load_trust_roots,
    open_identity,
    revoke,
)
from reports.package import pack, seal
from reports.payload import (
    MANIFEST_PROPERTY,
    SIGNATURE_PROPERTY,
    PayloadError,
    canonical,
    parse_payload,
    payload_of,
)
from reports.returns import NoteLine
from reports.signing import sign_payload, sign_pdf
from reports.verify import Verifier, load_crls
from storage.store import Store
from tests.helpers import TODAY, on_pace_history, signed_off_profile

Q = Quarter(2024, 3)
ROOT_PASS = b"city-root-pass"
PASS = b"guancheng-pass"
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    create_city_root(folder, ROOT_PASS)
    root = folder / "city_root.p12"
    issue_town_identity(root, ROOT_PASS, "莞城", folder / "莞城.p12", PASS, not_before=LONG_AGO, days=3650)
    issue_town_identity(root, ROOT_PASS, "莞城", folder / "莞城_old.p12", PASS, not_before=LONG_AGO, days=30)
    other = folder / "other"
    create_city_root(other, ROOT_PASS)
    issue_town_identity(other / "city_root.p12", ROOT_PASS, "莞城", folder / "莞城_foreign.p12", PASS)
    (folder / "root.pass").write_text(ROOT_PASS.decode() + "\n")
    (folder / "town.pass").write_text(PASS.decode() + "\n")
    return folder


@pytest.fixture(scope="module")
def genuine(pki, tmp_path_factory):
    """One genuine signed return (workbook, PDF, summary), its data and the identity that signed it."""
    folder = tmp_path_factory.mktemp("genuine")
    store = Store(folder / "gc.sqlite3", today=lambda: TODAY)
    store.bind_town("莞城")
    store.set_profile(signed_off_profile())
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    store.set_identity((pki / "莞城.p12").read_bytes(), "莞城")
    identity = open_town_identity(store, PASS)
    data = prepare_export(store, Q, signed=True)
    result = write_return_files(data, folder / "out", identity=identity)
    store.close()
    return data, identity, result


@pytest.fixture
def verifier(pki):
    return Verifier(load_trust_roots(pki / "city_root.pem"))


def copy(path: Path, folder: Path, name: str | None = None) -> Path:
    target = folder / (name or path.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target


def parts_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def write_parts(path, parts: dict[str, bytes]) -> None:
    """The parts packed exactly as the app packs them (so the file differs from the genuine one only where edited)."""
    packed = pack(list(parts.items()))
    if isinstance(path, Path):
        path.write_bytes(packed)
    else:
        path.write(packed)


# Every workbook a town's own tool signs after changing what the app wrote is refused with this reason.
INSIDER = "表格不是本系统按签名数据生成的"
PDF_NOT = "PDF 不是本系统按签名数据生成的"


def refused(verifier, path, expected):
    verdict = verifier.verify(path)
    assert not verdict.valid
    assert verdict.reason.startswith(expected) or expected in verdict.reason, verdict.reason
    return verdict


# --- changed after signing ----------------------------------------------------------------------


def test_a_cell_value_edited_in_the_zip(genuine, verifier, tmp_path):
    data, _, result = genuine
    path = copy(result.workbook, tmp_path)
    parts = parts_of(path)
    row = figure_row(data, "yuecai_certified")
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sheet, count = re.subn(rf'(<c r="C{row}"[^>]*><v>)\d+(</v>)', r"\g<1>999\g<2>", sheet)
    assert count == 1
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    write_parts(path, parts)
    refused(verifier, path, "签名后文件被修改：xl/worksheets/sheet1.xml")


def test_a_number_format_changed_in_the_styles(genuine, verifier, tmp_path):
    path = copy(genuine[2].workbook, tmp_path)
    parts = parts_of(path)
    assert b'formatCode="0.0%"' in parts["xl/styles.xml"]
    parts["xl/styles.xml"] = parts["xl/styles.xml"].replace(b'formatCode="0.0%"', b'formatCode="0%"')
    write_parts(path, parts)
    refused(verifier, path, "签名后文件被修改：xl/styles.xml")


def test_a_part_added_after_signing(genuine, verifier, tmp_path):
    path = copy(genuine[2].workbook, tmp_path)
    parts = parts_of(path)
    parts["xl/drawings/drawing1.xml"] = b"<xdr:wsDr/>"
    write_parts(path, parts)
    refused(verifier, path, "签名后文件被修改：xl/drawings/drawing1.xml（签名后新增的部件）")


def test_a_part_removed_after_signing(genuine, verifier, tmp_path):
    path = copy(genuine[2].workbook, tmp_path)
    parts = parts_of(path)
    del parts["docProps/app.xml"]
    write_parts(path, parts)
    refused(verifier, path, "签名后文件被修改：docProps/app.xml（签名后被删除）")


def test_an_extra_custom_property_beside_the_signature(genuine, verifier, tmp_path):
    path = copy(genuine[2].workbook, tmp_path)
    parts = parts_of(path)
    extra = (
        b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="9" name="note">'
        b"<vt:lpwstr>x</vt:lpwstr></property></Properties>"
    )
    parts["docProps/custom.xml"] = parts["docProps/custom.xml"].replace(b"</Properties>", extra)
    write_parts(path, parts)
    refused(verifier, path, "签名后文件被修改：docProps/custom.xml")


def test_opened_and_saved_again_without_a_change(genuine, verifier, tmp_path):
    path = copy(genuine[2].workbook, tmp_path)
    openpyxl.load_workbook(path).save(path)
    refused(verifier, path, "签名后文件被修改：")


def test_sheet_unprotected_and_a_format_changed(genuine, verifier, tmp_path):
    data, _, result = genuine
    path = copy(result.workbook, tmp_path)
    wb = openpyxl.load_workbook(path)
    form = wb["季报"]
    form.protection.sheet = False
    form[f"C{figure_row(data, 'yuecai_certified')}"].number_format = '0"0"'  # 8 shows as 80
    wb.save(path)
    refused(verifier, path, "签名后文件被修改：")


def test_the_signature_and_manifest_of_another_return(genuine, verifier, tmp_path, pki):
    data, identity, result = genuine
    other = write_return_files(replace(data, revision=2), tmp_path / "other", identity=identity, kinds=("workbook",))
    path = copy(result.workbook, tmp_path)
    donor = parts_of(other.workbook)["docProps/custom.xml"].decode()
    ours = parts_of(result.workbook)["docProps/custom.xml"].decode()
    parts = parts_of(path)

    def prop(xml, name):
        return re.search(rf'name="{name}"><vt:lpwstr>([^<]*)', xml).group(1)

    parts["docProps/custom.xml"] = donor.encode()  # another return's payload, manifest and signature
    write_parts(path, parts)
    refused(verifier, path, "签名后文件被修改：")  # its manifest names the other workbook's parts
    mixed = ours
    for name in (MANIFEST_PROPERTY, SIGNATURE_PROPERTY):  # its manifest and signature with our payload
        mixed = mixed.replace(prop(ours, name), prop(donor, name))
    parts["docProps/custom.xml"] = mixed.encode()
    write_parts(path, parts)
    refused(verifier, path, "签名数据在签名后被改动")
    parts["docProps/custom.xml"] = ours.replace(prop(ours, SIGNATURE_PROPERTY), prop(donor, SIGNATURE_PROPERTY)).encode()
    write_parts(path, parts)
    refused(verifier, path, "签名与本文件的数据不对应")  # its signature alone covers another manifest


# --- a town's own (hostile) tool signs a workbook that shows something else ------------------------


def hostile(data, identity, path, edit_book=None, edit_parts=None):
    """Sign, the way the app does, a workbook changed before signing: through openpyxl (`edit_book`) or in the
    app's own parts (`edit_parts`, which must change something)."""
    payload = payload_of(data).to_bytes()

    def sign(manifest):
        return sign_payload(identity, manifest)

    if edit_parts is None:
        wb = build_workbook(data)
        if edit_book:
            edit_book(wb)
        path.write_bytes(sign_workbook(wb, payload, sign))
        return path
    parts = workbook_parts(data)
    genuine_parts = dict(parts)
    edit_parts(parts)
    assert parts != genuine_parts, "the edit changed nothing"
    path.write_bytes(seal(parts, payload, sign))
    return path


def app_workbook(data, sign) -> bytes:
    """The app's own signed workbook of `data`, signed by `sign` (at a time a test chooses)."""
    return seal(workbook_parts(data), payload_of(data).to_bytes(), sign)


def test_the_hostile_helper_signs_a_valid_return_when_it_changes_nothing(genuine, verifier, tmp_path):
    """The app's parts sealed by the helper are valid; the same return saved by openpyxl is not (its spelling)."""
    data, identity, _ = genuine
    path = tmp_path / "a.xlsx"
    path.write_bytes(app_workbook(data, lambda m: sign_payload(identity, m)))
    assert verifier.verify(path).valid
    refused(verifier, hostile(data, identity, tmp_path / "b.xlsx"), INSIDER)


def test_a_formula_with_a_cached_value(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    row = figure_row(data, "yuecai_certified")

    def edit(parts):
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        sheet, n = re.subn(rf'(<c r="C{row}"[^>]*>)(<v>)', r"\g<1><f>7+1</f>\g<2>", sheet)
        assert n == 1
        parts["xl/worksheets/sheet1.xml"] = sheet.encode()

    path = hostile(data, identity, tmp_path / "f.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_a_number_format_that_shows_another_figure(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    row = figure_row(data, "yuecai_certified")

    def edit(wb):
        wb["季报"][f"C{row}"].number_format = '0"0"'

    path = hostile(data, identity, tmp_path / "n.xlsx", edit)
    refused(verifier, path, INSIDER)


def test_a_conditional_format(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(wb):
        wb["季报"].conditional_formatting.add(
            "C7:C15", CellIsRule(operator="lessThan", formula=["100"], fill=PatternFill("solid", bgColor="FFFFFF"))
        )

    path = hostile(data, identity, tmp_path / "c.xlsx", edit)
    refused(verifier, path, INSIDER)


def test_a_hidden_sheet_with_a_look_alike(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    row = figure_row(data, "yuecai_certified")

    def edit(wb):
        twin = wb.copy_worksheet(wb["季报"])
        twin.title = "季报 "
        twin[f"C{row}"] = 999
        wb["季报"].sheet_state = "hidden"
        wb.move_sheet(twin, offset=-2)

    path = hostile(data, identity, tmp_path / "h.xlsx", edit)
    refused(verifier, path, INSIDER)


def test_a_duplicated_cell(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    row = figure_row(data, "yuecai_certified")

    def edit(parts):
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        cell = re.search(rf'<c r="C{row}"[^>]*><v>\d+</v></c>', sheet).group(0)
        sheet = sheet.replace(cell, cell + re.sub(r"<v>\d+</v>", "<v>999</v>", cell))
        parts["xl/worksheets/sheet1.xml"] = sheet.encode()

    path = hostile(data, identity, tmp_path / "d.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_a_hidden_row(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    row = figure_row(data, "yuecai_certified")

    def edit(wb):
        wb["季报"].row_dimensions[row].hidden = True

    path = hostile(data, identity, tmp_path / "r.xlsx", edit)
    refused(verifier, path, INSIDER)


def test_a_figure_that_differs_from_the_payload(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    row = figure_row(data, "yuecai_certified")

    def edit(wb):
        wb["季报"][f"C{row}"] = 999

    path = hostile(data, identity, tmp_path / "v.xlsx", edit)
    refused(verifier, path, INSIDER)


@pytest.mark.parametrize(
    "column, value",
    [("D", 1), ("E", 1), ("F", 1), ("G", 0.5), ("H", 0.5), ("I", "正常")],
    ids=["ytd", "cumulative", "target", "completion", "time-progress", "status"],
)
def test_every_printed_column_is_checked(genuine, verifier, tmp_path, column, value):
    data, identity, _ = genuine
    row = figure_row(data, "yuecai_certified")

    def edit(wb):
        wb["季报"][f"{column}{row}"] = value if wb["季报"][f"{column}{row}"].value != value else 2

    path = hostile(data, identity, tmp_path / "x.xlsx", edit)
    refused(verifier, path, INSIDER)


@pytest.mark.parametrize("cell, text", [("A3", "填报单位（盖章）：别的单位"), ("A4", "报告期：2024年第2季度")])
def test_the_header_is_checked(genuine, verifier, tmp_path, cell, text):
    data, identity, _ = genuine
    path = hostile(data, identity, tmp_path / "x.xlsx", lambda wb: wb["季报"].__setitem__(cell, text))
    refused(verifier, path, INSIDER)


def test_an_extra_cell_and_a_drawing(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    path = hostile(data, identity, tmp_path / "e.xlsx", lambda wb: wb["季报"].__setitem__("K7", "实为 999"))
    refused(verifier, path, INSIDER)

    def add_drawing(parts):
        parts["xl/drawings/drawing1.xml"] = b"<xdr:wsDr/>"

    path = hostile(data, identity, tmp_path / "g.xlsx", edit_parts=add_drawing)
    refused(verifier, path, INSIDER)


def test_sign_off_and_explanations_are_in_the_payload(genuine):
    data, _, result = genuine
    body = json.loads(payload_of(data).to_bytes())
    assert body["signoff"]["head"] == data.profile.get("head", "")
    assert body["header"]["form_number"] == "" and body["header"]["report_date"] == data.report_date
    assert [line["printed"][2] for line in body["lines"]] == [f"{line.quarter:,}" for line in data.figures]
    assert body["plan_hash"] and len(body["rates"]) == 3


# --- PDF ------------------------------------------------------------------------------------------


def test_a_pdf_that_prints_other_figures_than_its_payload(genuine, verifier, tmp_path):
    from reports.pdf import write_return_pdf

    data, identity, _ = genuine
    index = [line.code for line in data.figures].index("yuecai_certified")
    lines = list(data.figures)
    lines[index] = replace(lines[index], quarter=999)
    shown = replace(data, figures=tuple(lines))
    unsigned = tmp_path / "u.pdf"
    slot = write_return_pdf(shown, unsigned)
    path = tmp_path / "2024Q3_莞城_季报.pdf"
    sign_pdf(unsigned, path, identity, payload_of(data).to_bytes(), slot.box, slot.page or 0)
    verdict = refused(verifier, path, PDF_NOT)
    assert "签名之前的 PDF" in verdict.reason


def test_an_incremental_update_after_signing(genuine, verifier, tmp_path):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    path = copy(genuine[2].pdf, tmp_path)
    with path.open("rb") as f:
        writer = IncrementalPdfFileWriter(f)
        writer.root["/Lang"] = generic.TextStringObject("zh-CN")
        writer.update_root()
        out = io.BytesIO()
        writer.write(out)
    path.write_bytes(out.getvalue())
    refused(verifier, path, "签名之后文件又被追加或改动了内容")


def test_the_pdfs_are_pades_for_poppler_too(genuine):
    if shutil.which("pdfsig") is None:
        pytest.skip("poppler-utils (pdfsig) is not installed")
    for path in (genuine[2].pdf, genuine[2].summary):
        done = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
        assert "Signature Type: ETSI.CAdES.detached" in done.stdout, done.stdout
        assert "Signature is Valid" in done.stdout


def test_pades_carries_signing_certificate_v2(genuine):
    from pyhanko.pdf_utils.reader import PdfFileReader

    with genuine[2].pdf.open("rb") as f:
        signature = PdfFileReader(f).embedded_signatures[0]
        attributes = [a["type"].native for a in signature.signer_info["signed_attrs"]]
        assert str(signature.sig_object["/SubFilter"]) == "/ETSI.CAdES.detached"
    assert "signing_certificate_v2" in attributes and "signing_time" not in attributes  # PAdES: time in /M


# --- time -----------------------------------------------------------------------------------------


def test_signed_at_is_reported(genuine, pki, capsys):
    result = genuine[2]
    before = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert cli_main(["verify", "--trust", str(pki / "city_root.pem"), *map(str, result.paths), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert row["valid"] and dt.datetime.fromisoformat(row["signed_at"]) > before


def test_an_expired_certificate_with_a_back_dated_signing_time(genuine, verifier, tmp_path, pki):
    data, _, _ = genuine
    old = open_identity((pki / "莞城_old.p12").read_bytes(), PASS)  # valid 2020-01-01 .. 2020-01-31
    back = dt.datetime(2020, 1, 15, tzinfo=dt.UTC)
    payload = payload_of(data).to_bytes()
    path = tmp_path / "w.xlsx"
    path.write_bytes(sign_workbook(build_workbook(data), payload, lambda m: sign_payload(old, m, back)))
    refused(verifier, path, "签名时间 2020-01-15 08:00 早于2024年第3季度结束")
    # and without back-dating, the certificate is out of its validity
    path.write_bytes(sign_workbook(build_workbook(data), payload, lambda m: sign_payload(old, m)))
    refused(verifier, path, "签名时证书不在有效期内")


def test_the_pdf_signing_time_is_judged_too(genuine, verifier, tmp_path):
    from reports.pdf import write_return_pdf

    data, identity, _ = genuine
    unsigned = tmp_path / "u.pdf"
    slot = write_return_pdf(data, unsigned)
    path = tmp_path / "p.pdf"
    sign_pdf(unsigned, path, identity, payload_of(data).to_bytes(), slot.box, 0, dt.datetime(2024, 9, 1, tzinfo=dt.UTC))
    refused(verifier, path, "签名时间 2024-09-01 08:00 早于2024年第3季度结束")


def test_a_signing_time_in_the_future(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    path = tmp_path / "w.xlsx"
    path.write_bytes(
        app_workbook(data, lambda m: sign_payload(identity, m, later))
    )
    refused(verifier, path, "晚于现在，签名不可信")
    assert Verifier(verifier.root_certs, now=later).verify(path).valid  # the same file, verified two days later


def test_a_signing_time_before_the_return_was_made(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    made = dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC)
    data = replace(data, generated_at=made)
    path = tmp_path / "w.xlsx"
    sign = lambda m: sign_payload(identity, m, made - dt.timedelta(days=1))  # noqa: E731
    path.write_bytes(app_workbook(data, sign))
    refused(verifier, path, "早于季报生成时间")


def test_a_back_dated_higher_revision_is_a_conflict_not_a_winner(genuine, pki, tmp_path, capsys):
    data, identity, _ = genuine
    inbox = tmp_path / "inbox"
    second = replace(data, revision=2, generated_at=dt.datetime(2025, 1, 5, tzinfo=dt.UTC))
    write_return_files(second, inbox / "a", identity=identity, kinds=("workbook",))
    # back-dated to before the genuine revision 2 was signed (but after the city root was made)
    early = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    forged = replace(data, revision=999, generated_at=early - dt.timedelta(minutes=5))
    path = inbox / "b" / "2024Q3_莞城_季报_第999版.xlsx"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        app_workbook(forged, lambda m: sign_payload(identity, m, early))
    )
    args = ["consolidate", "--trust", str(pki / "city_root.pem"), "--quarter", Q.code, str(inbox), "--json"]
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert "莞城" not in out["valid"]
    assert sorted(c["revision"] for c in out["conflicts"]) == [2, 999]


def test_export_refuses_a_quarter_that_has_not_ended(tmp_path, capsys, pki):
    current = Quarter.containing(dt.date.today())
    db = tmp_path / "t.sqlite3"
    with Store(db) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
    figures = ["card_holders=150000", "yuecai_certified=1", "nanyue_trained=1", "mediation_cases=0"]
    figures += ["mediation_success=0", "arbitration_carried=0", "arbitration_received=0", "arbitration_closed=0"]
    figures += ["inspection_carried=0", "inspection_received=0"]
    figures += ["inspection_closed=0"]
    assert cli_main(["--db", str(db), "enter", "--quarter", current.code, *figures]) == 0  # drafts stay allowed
    capsys.readouterr()
    code = cli_main(["--db", str(db), "export", "--quarter", current.code, "--out", str(tmp_path / "o"), "--unsigned"])
    assert code == 2
    assert f"{current.label}尚未结束" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with Store(db) as store:
        store.set_identity((pki / "莞城.p12").read_bytes(), "莞城")
    code = cli_main(["--db", str(db), "export", "--quarter", current.code, "--out", str(tmp_path / "o")])
    assert code == 2  # refused before any passphrase is asked for (none is given here)
    err = capsys.readouterr().err
    assert f"{current.label}尚未结束" in err and "口令" not in err


def test_export_date_is_injectable(tmp_path):
    store = Store(tmp_path / "t.sqlite3", today=lambda: dt.date(2024, 9, 30))
    store.bind_town("莞城")
    store.set_profile(signed_off_profile())
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    with pytest.raises(ExportRefused, match="尚未结束"):
        prepare_export(store, Q)
    assert prepare_export(store, Q, preview=True).quarter == Q  # a draft can still be previewed and printed
    store._today = lambda: dt.date(2024, 10, 1)
    assert prepare_export(store, Q).quarter == Q
    store.close()


# --- revocation -----------------------------------------------------------------------------------


def test_revocation_refuses_signatures_made_after_it(genuine, pki, tmp_path, capsys):
    data, identity, result = genuine
    assert (pki / "莞城.pem").exists()  # city issue writes the certificate beside the .p12
    crl = tmp_path / "revoked.crl"
    run = [
        "city",
        "revoke",
        "--root",
        str(pki / "city_root.p12"),
        "--root-passphrase-file",
        str(pki / "root.pass"),
        "--cert",
        str(pki / "莞城.pem"),
        "--out",
        str(crl),
    ]
    assert cli_main(run) == 0
    assert "已吊销莞城" in capsys.readouterr().out
    trust = str(pki / "city_root.pem")
    # returns signed before the revocation stay valid; one signed after is refused
    assert cli_main(["verify", "--trust", trust, "--crl", str(crl), *map(str, result.paths)]) == 0
    capsys.readouterr()
    later = tmp_path / "later.xlsx"
    later.write_bytes(
        app_workbook(data, lambda m: sign_payload(identity, m))
    )
    assert cli_main(["verify", "--trust", trust, "--crl", str(crl), str(later), "--json"]) == 1
    row = json.loads(capsys.readouterr().out)[0]
    assert "被市局吊销" in row["reason"] and "签名无效" in row["reason"]
    assert cli_main(["verify", "--trust", trust, str(later)]) == 0  # without the CRL nobody knows
    capsys.readouterr()
    inbox = tmp_path / "inbox"
    copy(later, inbox)
    args = ["consolidate", "--trust", trust, "--crl", str(crl), "--quarter", Q.code, str(inbox), "--json"]
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] == [] and "被市局吊销" in out["invalid"][0]["reason"]
    # a second revocation keeps the first
    again = tmp_path / "again.crl"
    revoke(pki / "city_root.p12", ROOT_PASS, pki / "莞城.pem", again, existing_crl=crl)
    revocations = load_crls([again], load_trust_roots(pki / "city_root.pem"))
    assert len(revocations.revoked) == 1


def test_a_crl_not_signed_by_the_trusted_root_is_refused(pki, tmp_path, capsys):
    crl = tmp_path / "foreign.crl"
    revoke(pki / "other" / "city_root.p12", ROOT_PASS, pki / "莞城_foreign.pem", crl)
    args = ["verify", "--trust", str(pki / "city_root.pem"), "--crl", str(crl), str(tmp_path / "x.xlsx")]
    assert cli_main(args) == 2
    assert "不是由受信任的市局根证书签发" in capsys.readouterr().err


def test_the_city_window_takes_a_crl(pki, genuine, tmp_path, qtbot):
    from gui.app import make_application, open_session

    data, identity, _ = genuine
    make_application()
    db = tmp_path / "city.sqlite3"
    assert cli_main(["--db", str(db), "init", "--city", "--trust", str(pki / "city_root.pem")]) == 0
    crl = tmp_path / "revoked.crl"
    revoke(pki / "city_root.p12", ROOT_PASS, pki / "莞城.pem", crl)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "w.xlsx").write_bytes(
        app_workbook(data, lambda m: sign_payload(identity, m))
    )
    session = open_session(db)
    try:
        window = session.window
        window.set_crls([crl])
        task = window.collect_folder(inbox)
        with qtbot.waitSignal(task.finished, timeout=60000):
            pass
        assert [v.reason for v in window.collection.invalid][0].startswith("签名证书已于")
        window.set_crls([])
    finally:
        session.window.close()
        session.close()


# --- identity import ------------------------------------------------------------------------------


def town_p12(root_p12: Path, town="莞城", *, with_root=True, eku=None, start=None, days=365) -> bytes:
    root_key, root_cert, _ = pkcs12.load_key_and_certificates(root_p12.read_bytes(), ROOT_PASS)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey) and root_cert is not None
    key = ec.generate_private_key(ec.SECP256R1())
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, town)]))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    certificate = builder.sign(root_key, hashes.SHA256())
    return pkcs12.serialize_key_and_certificates(
        b"t", key, certificate, [root_cert] if with_root else None, serialization.BestAvailableEncryption(PASS)
    )


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no-root", "文件中没有签发此证书的市局根证书"),
        ("expired", "证书已过期（有效期 2020-01-01 至 2020-01-31）"),
        ("not-yet", "请先校正电脑时间"),  # a certificate not yet valid means the PC's clock is behind (issue 28)
        ("server-eku", "扩展密钥用途（serverAuth）不含文档签名"),
    ],
)
def test_identity_import_refuses(pki, kind, message):
    root = pki / "city_root.p12"
    data = {
        "no-root": lambda: town_p12(root, with_root=False),
        "expired": lambda: town_p12(root, start=LONG_AGO, days=30),
        "not-yet": lambda: town_p12(root, start=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)),
        "server-eku": lambda: town_p12(root, eku=[x509.ExtendedKeyUsageOID.SERVER_AUTH]),
    }[kind]()
    with pytest.raises(IdentityError, match=re.escape(message)):
        check_identity(data, PASS, "x.p12", "莞城", None)


def test_identity_import_pins_the_root_and_shows_its_fingerprint(pki, tmp_path, capsys):
    db = tmp_path / "gc.sqlite3"
    with Store(db) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
    args = ["--db", str(db), "identity", "import", str(pki / "莞城.p12"), "--passphrase-file", str(pki / "town.pass")]
    assert cli_main(args) == 0
    expected = fingerprint(load_trust_roots(pki / "city_root.pem")[0])
    assert expected in capsys.readouterr().out
    args[4] = str(pki / "莞城_foreign.p12")
    assert cli_main(args) == 2
    assert "不是本机已固定的市局根证书" in capsys.readouterr().err
    with Store(db) as store:
        assert store.pinned_root() == (pki / "city_root.pem").read_text()
        assert "莞城" in store.identity_description()


def test_a_p12_with_an_absurd_iteration_count_is_refused_at_once(pki, tmp_path):
    from asn1crypto import pkcs12 as asn1_pkcs12

    pfx = asn1_pkcs12.Pfx.load((pki / "莞城.p12").read_bytes())
    pfx["mac_data"]["iterations"] = 2_000_000_000
    path = tmp_path / "slow.p12"
    path.write_bytes(pfx.dump(force=True))
    start = dt.datetime.now()
    with Store(tmp_path / "t.sqlite3") as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        with pytest.raises(IdentityError, match="迭代次数为 2,000,000,000"):
            import_identity_file(store, path, lambda: PASS, "莞城")
        big = tmp_path / "big.p12"
        big.write_bytes(b"\x30" * (1024 * 1024))
        with pytest.raises(IdentityError, match="超过 64 KB"):
            import_identity_file(store, big, lambda: PASS, "莞城")
    assert (dt.datetime.now() - start).total_seconds() < 2


# --- verdicts do not depend on the order of files --------------------------------------------------


def test_the_same_verdicts_in_any_order(genuine, pki, tmp_path):
    data, identity, result = genuine
    old = open_identity((pki / "莞城_old.p12").read_bytes(), PASS)
    expired = tmp_path / "expired.xlsx"
    expired.write_bytes(
        app_workbook(data, lambda m: sign_payload(old, m))
    )
    files = [*result.paths, expired]
    roots = load_trust_roots(pki / "city_root.pem")
    forward = {v.file: (v.valid, v.reason) for v in map(Verifier(roots).verify, files)}
    backward = {v.file: (v.valid, v.reason) for v in map(Verifier(roots).verify, reversed(files))}
    assert forward == backward
    assert [forward[str(p)][0] for p in files] == [True, True, True, False]


# --- layout: what hides or covers without changing a value -----------------------------------------


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda wb: wb["季报"].merge_cells("B8:D8"), "“季报”表的合并单元格与本系统生成的不同"),
        (lambda wb: setattr(wb["季报"].sheet_view, "showZeros", False), "“季报”表设为不显示零值"),
        (lambda wb: setattr(wb["季报"].column_dimensions["C"], "width", 0.5), "“季报”表中第 3 列被隐藏"),
        (lambda wb: setattr(wb["季报"].oddHeader.center, "text", "粤菜师傅 999 人次"), "“季报”表打印的页眉页脚与签名数据不符"),
        (lambda wb: setattr(wb["季报"].oddFooter.left, "text", "东人社统 ZJ-01 表　第 9 版"), "“季报”表打印的页眉页脚与签名数据不符"),
        (lambda wb: wb["季报"].row_breaks.append(Break(id=8)), "“季报”表的分页符与本系统生成的不同"),
        (lambda wb: wb["季报"].col_breaks.append(Break(id=2)), "“季报”表的分页符与本系统生成的不同"),
        (lambda wb: setattr(wb["季报"], "print_title_rows", "6:6"), "工作簿中的名称（打印区域、筛选等）与本系统生成的不同"),
    ],
    ids=[
        "merge-over-a-figure",
        "zeros-hidden",
        "column-too-narrow",
        "header-text",
        "footer-revision",
        "row-break",
        "column-break",
        "print-titles",
    ],
)
def test_workbook_layout_that_hides_or_adds(genuine, verifier, tmp_path, edit, message):
    data, identity, _ = genuine
    refused(verifier, hostile(data, identity, tmp_path / "l.xlsx", edit), INSIDER)
    assert message  # what the display checks said before issue 22; the byte comparison refuses them all


def signed_after(data, identity, tmp_path, change):
    """The genuine return PDF, changed with pyHanko before signing (as a hostile tool would), then signed."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from reports.pdf import write_return_pdf

    unsigned = tmp_path / "u.pdf"
    slot = write_return_pdf(data, unsigned)
    with unsigned.open("rb") as f:
        writer = IncrementalPdfFileWriter(f)
        change(writer)
        out = io.BytesIO()
        writer.write(out)
    changed = tmp_path / "c.pdf"
    changed.write_bytes(out.getvalue())
    path = tmp_path / "2024Q3_莞城_季报.pdf"
    sign_pdf(changed, path, identity, payload_of(data).to_bytes(), slot.box, slot.page or 0)
    return path


def test_a_white_box_over_a_figure_in_the_signed_pdf(genuine, verifier, tmp_path):
    from pyhanko.pdf_utils import generic

    data, identity, _ = genuine

    def cover(writer):
        stream = writer.add_object(generic.StreamObject(stream_data=b"q 1 g 200 250 300 120 re f Q"))
        writer.add_stream_to_page(0, stream)

    path = signed_after(data, identity, tmp_path, cover)
    refused(verifier, path, PDF_NOT)


def test_an_annotation_in_the_signed_pdf(genuine, verifier, tmp_path):
    from pyhanko.pdf_utils import generic

    data, identity, _ = genuine

    def annotate(writer):
        page_ref, _ = writer.find_page_for_modification(0)
        page = page_ref.get_object()
        note = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
                generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (200, 300, 400, 330)]),
                generic.NameObject("/Contents"): generic.TextStringObject("999"),
                generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
            }
        )
        page[generic.NameObject("/Annots")] = generic.ArrayObject([writer.add_object(note)])
        writer.update_container(page)

    path = signed_after(data, identity, tmp_path, annotate)
    refused(verifier, path, PDF_NOT)


def test_the_verify_dialog_uses_the_same_crl(pki, genuine, tmp_path, qtbot):
    from gui.app import make_application
    from gui.verify_dialog import VerifyDialog

    data, identity, result = genuine
    make_application()
    crl = tmp_path / "revoked.crl"
    revoke(pki / "city_root.p12", ROOT_PASS, pki / "莞城.pem", crl)
    later = tmp_path / "later.xlsx"
    later.write_bytes(
        app_workbook(data, lambda m: sign_payload(identity, m))
    )
    dialog = VerifyDialog()
    qtbot.addWidget(dialog)
    dialog.set_root(pki / "city_root.pem")
    dialog.crl_button.set_paths([crl])
    task = dialog.verify_files([result.workbook, later])
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    rows = {Path(r.file).name: r for r in dialog.model.rows}
    assert rows[result.workbook.name].valid
    assert not rows["later.xlsx"].valid and "被市局吊销" in rows["later.xlsx"].reason
    dialog.crl_button.set_paths([])


def test_a_summary_that_prints_other_figures(genuine, verifier, tmp_path):
    from reports.pdf import write_summary_pdf

    data, identity, _ = genuine
    shown = replace(data, attention=("一切正常，无需关注。",))
    unsigned = tmp_path / "u.pdf"
    write_summary_pdf(shown, unsigned)
    path = tmp_path / "2024Q3_莞城_摘要.pdf"
    sign_pdf(unsigned, path, identity, payload_of(data).to_bytes(), None)
    refused(verifier, path, PDF_NOT)


def test_a_return_from_the_old_format_is_named_as_such(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    old = {
        "format": "town-returns/1",
        "town": "莞城",
        "quarter": "2024Q3",
        "plan": None,
        "revision": 1,
        "generated_at": "2024-10-09T00:00:00+00:00",
        "figures": data.values,
        "explanations": {},
    }
    raw = json.dumps(old, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    path = tmp_path / "old.xlsx"
    path.write_bytes(sign_workbook(build_workbook(data), raw, lambda m: sign_payload(identity, m)))
    refused(verifier, path, "不是本版本软件生成的季报")


def test_a_payload_with_a_duplicated_key_is_refused(genuine, verifier, tmp_path):
    """JSON readers disagree on which of two equal keys counts; the signed payload has one spelling only."""
    data, identity, _ = genuine
    raw = payload_of(data).to_bytes().decode()
    figures = raw[raw.index('"figures":') : raw.index("}", raw.index('"figures":')) + 1]
    forged = raw.replace(figures, figures.replace('"figures":', '"figures":{"yuecai_certified":999},"figures":', 1), 1)
    assert json.loads(forged)["figures"] == data.values  # Python keeps the last; others keep the first
    path = tmp_path / "dup.xlsx"
    path.write_bytes(sign_workbook(build_workbook(data), forged.encode(), lambda m: sign_payload(identity, m)))
    refused(verifier, path, "签名数据已损坏：签名数据格式不对")


def test_a_print_area_that_leaves_figures_out(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(wb):
        wb["季报"].print_area = "A1:B30"

    refused(verifier, hostile(data, identity, tmp_path / "p.xlsx", edit), INSIDER)


def test_a_pdf_with_a_second_payload_attachment(genuine, verifier, tmp_path):
    from pyhanko.pdf_utils import embed

    data, identity, _ = genuine
    other = replace(data, revision=7)

    def attach(writer):
        blob = embed.EmbeddedFileObject.from_file_data(writer, payload_of(other).to_bytes(), mime_type="application/json")
        embed.embed_file(
            writer, embed.FileSpec(file_spec_string="z.json", file_name="z.json", embedded_data=blob, description="x")
        )

    path = signed_after(data, identity, tmp_path, attach)
    refused(verifier, path, "附件不止一个")


# --- the printed layout of issue 16: 附页, sign-off, approval lines -------------------------------


ANNEX_TEXT = "本季度辖区内两家大型制造企业整体外迁，员工社保关系随之转出，持卡人数有所下降；" * 3


def with_annex(data):
    """The genuine return with two 说明, so the workbook and the PDF carry a 附页 after a row break."""
    notes = (
        NoteLine("card_holders", "社保卡持卡人数", "持卡人数较上季度下降", ANNEX_TEXT),
        NoteLine("mediation_success_rate", "劳动争议调解成功率", "调解成功率低于目标", "案件较多，" + ANNEX_TEXT),
    )
    return replace(data, notes=notes, approval_number="东统制〔2024〕12号", valid_until="2026年12月")


def test_a_return_with_an_annex_and_approval_lines_verifies(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    noted = with_annex(data)
    result = write_return_files(noted, tmp_path / "out", identity=identity)
    for path in (result.workbook, result.pdf):
        verdict = verifier.verify(path)
        assert verdict.valid, verdict.reason
    form = openpyxl.load_workbook(result.workbook)["季报"]
    # renderer 3: a break after page 1 and one after the 同比、环比 table, before the 附页
    assert [b.id for b in form.row_breaks.brk] == list(form_spec(noted).row_breaks) and len(form.row_breaks.brk) == 2
    assert form["F4"].value == "批准文号：东统制〔2024〕12号"
    assert "有效期至：2026年12月" in PdfReader(result.pdf).pages[0].extract_text()


def test_an_annex_pulled_onto_page_one_is_refused(genuine, verifier, tmp_path):
    data, identity, _ = genuine
    noted = with_annex(data)

    def edit(wb):
        wb["季报"].row_breaks.brk = ()

    refused(verifier, hostile(noted, identity, tmp_path / "b.xlsx", edit), INSIDER)

    def shrink(wb):
        wb["季报"].print_area = f"A1:I{form_spec(noted).row_breaks[0]}"  # prints page 1 only, drops the 附页

    refused(verifier, hostile(noted, identity, tmp_path / "p.xlsx", shrink), INSIDER)


def test_a_payload_written_before_the_approval_lines_means_blank_lines(genuine):
    body = dict(payload_of(replace(with_annex(genuine[0]), approval_number="", valid_until="")).body)
    body["header"] = {k: v for k, v in body["header"].items() if k not in ("approval_number", "valid_until")}
    parsed = parse_payload(canonical(body))
    assert (parsed.return_data().approval_number, parsed.return_data().valid_until) == ("", "")
    body["header"] = dict(body["header"], approval_number="东统制〔2024〕12号")  # one without the other
    with pytest.raises(PayloadError):
        parse_payload(canonical(body))


# --- a hostile town tool with the town's own key: only the exact package the app writes ----------


def test_the_signature_widget_placed_over_a_figure(genuine, verifier, tmp_path):
    from reports.pdf import write_return_pdf

    data, identity, _ = genuine
    unsigned = tmp_path / "u.pdf"
    slot = write_return_pdf(data, unsigned)
    x0, y0, x1, y1 = slot.box
    over_a_figure = (200.0, 400.0, 260.0, 415.0)
    assert over_a_figure != slot.box
    path = tmp_path / "2024Q3_莞城_季报.pdf"
    sign_pdf(unsigned, path, identity, payload_of(data).to_bytes(), over_a_figure, slot.page or 0)
    refused(verifier, path, PDF_NOT)
    bigger = tmp_path / "b" / "2024Q3_莞城_季报.pdf"
    bigger.parent.mkdir()
    sign_pdf(unsigned, bigger, identity, payload_of(data).to_bytes(), (x0, y0 - 200, x1, y1), slot.page or 0)
    refused(verifier, bigger, PDF_NOT)


def test_the_summary_signature_widget_must_stay_invisible(genuine, verifier, tmp_path):
    from reports.pdf import write_summary_pdf

    data, identity, _ = genuine
    unsigned = tmp_path / "u.pdf"
    write_summary_pdf(data, unsigned)
    path = tmp_path / "2024Q3_莞城_摘要.pdf"
    sign_pdf(unsigned, path, identity, payload_of(data).to_bytes(), (100.0, 300.0, 300.0, 400.0), 0)
    refused(verifier, path, PDF_NOT)


def test_the_styles_relationship_redirected_to_another_part(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(parts):
        styles = parts["xl/styles.xml"].decode()
        parts["xl/theme/theme1.xml"] = re.sub(r'<xf numFmtId="3" ', '<xf numFmtId="0" ', styles).encode()
        rels = parts["xl/_rels/workbook.xml.rels"].decode()
        assert 'Target="styles.xml"' in rels
        parts["xl/_rels/workbook.xml.rels"] = rels.replace('Target="styles.xml"', 'Target="theme/theme1.xml"').encode()

    path = hostile(data, identity, tmp_path / "c.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_a_content_type_changed(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(parts):
        types = parts["[Content_Types].xml"].decode()
        parts["[Content_Types].xml"] = types.replace("spreadsheetml.styles+xml", "theme+xml").encode()

    path = hostile(data, identity, tmp_path / "t.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_two_header_footers_in_a_sheet(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(parts):
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        start, end = sheet.index("<headerFooter>"), sheet.index("</headerFooter>") + len("</headerFooter>")
        second = "<headerFooter><oddHeader>&amp;R更正：本季实为 999</oddHeader></headerFooter>"
        parts["xl/worksheets/sheet1.xml"] = (sheet[:end] + second + sheet[end:]).encode()
        assert sheet[start:end]

    path = hostile(data, identity, tmp_path / "h.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_fill_alignment_repeats_a_figure(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(parts):
        styles = parts["xl/styles.xml"].decode()
        assert 'horizontal="right"' in styles
        parts["xl/styles.xml"] = styles.replace('horizontal="right"', 'horizontal="fill"').encode()

    path = hostile(data, identity, tmp_path / "b.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_a_white_font_is_refused(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(parts):
        styles = parts["xl/styles.xml"].decode()
        parts["xl/styles.xml"] = styles.replace('<sz val="10"/>', '<color rgb="FFFFFFFF"/><sz val="10"/>', 1).encode()

    path = hostile(data, identity, tmp_path / "w.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_an_inline_string_with_runs_after_its_text(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def edit(parts):
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        row = figure_row(data, "yuecai_certified")
        start = sheet.index(f'<row r="{row}"')
        end = sheet.index("</t></is>", start) + len("</t>")
        sheet = sheet[:end] + "<r><t>（本季实为 999）</t></r>" + sheet[end:]
        parts["xl/worksheets/sheet1.xml"] = sheet.encode()

    path = hostile(data, identity, tmp_path / "r.xlsx", edit_parts=edit)
    refused(verifier, path, INSIDER)


def test_smaller_package_tricks_are_refused(genuine, verifier, tmp_path):
    data, identity, _ = genuine

    def tiny_rows(parts):
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        parts["xl/worksheets/sheet1.xml"] = sheet.replace('defaultRowHeight="15"', 'defaultRowHeight="1"').encode()

    def twice_numfmt(parts):
        styles = parts["xl/styles.xml"].decode()
        extra = '<numFmt numFmtId="164" formatCode="#,##0"/></numFmts>'
        parts["xl/styles.xml"] = styles.replace("</numFmts>", extra).encode()

    def dup_rel_id(parts):
        rels = parts["xl/_rels/workbook.xml.rels"].decode()
        parts["xl/_rels/workbook.xml.rels"] = rels.replace('Id="rId3"', 'Id="rId2"').encode()

    for name, edit, reason in (
        ("g.xlsx", tiny_rows, "“季报”表的默认行高过小"),
        ("e.xlsx", twice_numfmt, "数字格式编号重复"),
        ("i.xlsx", dup_rel_id, "xl/_rels/workbook.xml.rels 中的关系与本系统生成的不同"),
    ):
        verdict = refused(verifier, hostile(data, identity, tmp_path / name, edit_parts=edit), INSIDER)
        assert reason and "xl/" in verdict.reason  # the part that differs is named


def test_a_higher_revision_signed_by_a_certificate_revoked_since_is_a_conflict(genuine, pki, tmp_path, capsys):
    """A stolen key can back-date its signing time to before the CRL date: such a new revision does not win."""
    data, identity, _ = genuine
    inbox = tmp_path / "inbox"
    now = dt.datetime.now(dt.UTC)
    for revision, when in ((1, now - dt.timedelta(minutes=60)), (2, now - dt.timedelta(minutes=30))):
        version = replace(data, revision=revision, generated_at=when - dt.timedelta(minutes=5))
        path = inbox / f"2024Q3_莞城_季报_第{revision}版.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            app_workbook(version, lambda m, w=when: sign_payload(identity, m, w))
        )
    base = ["consolidate", "--trust", str(pki / "city_root.pem"), "--quarter", Q.code, str(inbox), "--json"]
    assert cli_main(base) == 0
    assert "莞城" in json.loads(capsys.readouterr().out)["valid"]
    crl = tmp_path / "revoked.crl"
    revoke(pki / "city_root.p12", ROOT_PASS, pki / "莞城.pem", crl)
    assert cli_main([*base, "--crl", str(crl)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "莞城" not in out["valid"]
    assert sorted(c["revision"] for c in out["conflicts"]) == [1, 2]
