"""Signed returns: each forgery is caught with its own reason, and untouched returns verify."""

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from actions.returns import export_return, prepare_export
from actions.returns import open_identity as open_town_identity
from cli import main as cli_main
from core.quarters import Quarter
from reports.export import write_return_files
from reports.identity import IdentityError, create_city_root, issue_town_identity, load_trust_roots, open_identity
from reports.payload import PAYLOAD_PROPERTY, SIGNATURE_PROPERTY
from reports.signing import SigningError
from reports.verify import Verifier
from storage.store import Store
from tests.helpers import TODAY, on_pace_history, signed_off_profile

Q = Quarter(2024, 3)
ROOT_PASS = b"city-root-pass"
GUANCHENG_PASS = b"guancheng-pass"
SHILONG_PASS = b"shilong-pass"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    create_city_root(folder, ROOT_PASS)
    issue_town_identity(folder / "city_root.p12", ROOT_PASS, "莞城", folder / "莞城.p12", GUANCHENG_PASS)
    issue_town_identity(folder / "city_root.p12", ROOT_PASS, "石龙", folder / "石龙.p12", SHILONG_PASS)
    issue_town_identity(
        folder / "city_root.p12",
        ROOT_PASS,
        "莞城",
        folder / "莞城_expired.p12",
        GUANCHENG_PASS,
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        days=30,
    )
    other = folder / "other"
    create_city_root(other, ROOT_PASS)
    issue_town_identity(other / "city_root.p12", ROOT_PASS, "莞城", folder / "莞城_foreign.p12", GUANCHENG_PASS)
    for name in ("root", "gc"):
        (folder / f"{name}.pass").write_text({"root": ROOT_PASS, "gc": GUANCHENG_PASS}[name].decode() + "\n")
    return folder


def make_store(path: Path, town: str) -> Store:
    store = Store(path, today=lambda: TODAY)
    store.bind_town(town)
    store.set_profile(signed_off_profile())
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    return store


@pytest.fixture
def guancheng(tmp_path, pki):
    store = make_store(tmp_path / "gc.sqlite3", "莞城")
    store.set_identity((pki / "莞城.p12").read_bytes(), "莞城")
    yield store
    store.close()


@pytest.fixture
def verifier(pki):
    return Verifier(load_trust_roots(pki / "city_root.pem"))


def identity(pki, name, passphrase=GUANCHENG_PASS):
    return open_identity((pki / name).read_bytes(), passphrase)


def signed(store, out, pki):
    return export_return(store, Q, out, identity=open_town_identity(store, GUANCHENG_PASS))


def test_untouched_returns_verify(guancheng, verifier, tmp_path, pki):
    result = signed(guancheng, tmp_path / "out", pki)
    assert result.signed and result.revision == 1
    for path in result.paths:
        verdict = verifier.verify(path)
        assert verdict.valid, verdict.reason
        assert (verdict.town, verdict.quarter, verdict.revision) == ("莞城", "2024Q3", 1)
        saved = guancheng.figures(Q)  # entered as 应结 only: the return signs them with 结转 and 受理 (issue 26)
        assert {k: v for k, v in verdict.payload.figures.items() if k in saved} == saved
        assert verdict.payload.figures["arbitration_due"] == (
            verdict.payload.figures["arbitration_carried"] + verdict.payload.figures["arbitration_received"]
        )


def test_verify_on_the_command_line(guancheng, tmp_path, pki, capsys):
    result = signed(guancheng, tmp_path / "out", pki)
    code = cli_main(["verify", "--trust", str(pki / "city_root.pem"), *map(str, result.paths), "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [set(r) >= {"file", "valid", "reason", "town", "quarter", "revision"} for r in rows] == [True] * 3
    assert all(r["valid"] and r["town"] == "莞城" and r["quarter"] == "2024Q3" and r["revision"] == 1 for r in rows)
    code = cli_main(["verify", "--trust", str(pki / "city_root.pem"), str(result.workbook)])
    assert code == 0 and "有效" in capsys.readouterr().out


def test_pyhanko_own_validator_accepts_the_pdfs(guancheng, tmp_path, pki):
    result = signed(guancheng, tmp_path / "out", pki)
    pyhanko = Path(sys.executable).with_name("pyhanko")
    if not pyhanko.exists():
        pytest.skip("pyhanko-cli is not installed")
    for path in (result.pdf, result.summary):
        done = subprocess.run(
            [str(pyhanko), "sign", "validate", "--trust", str(pki / "city_root.pem"), "--trust-replace", str(path)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "INTACT:TRUSTED" in done.stdout


def test_signed_files_carry_no_draft_mark(guancheng, tmp_path, pki):
    from pypdf import PdfReader

    result = signed(guancheng, tmp_path / "out", pki)
    text = "".join(p.extract_text() for p in PdfReader(result.pdf).pages)
    assert "未签名" not in text
    wb = openpyxl.load_workbook(result.workbook)
    assert not any("未签名" in str(c.value) for s in wb for r in s.iter_rows() for c in r if c.value)


def repack(path, edit):
    """Edit a workbook's parts and pack them again exactly as the app does (so only the edit differs)."""
    from reports.package import pack, unpack

    parts = dict(unpack(path.read_bytes()))
    edit(parts)
    path.write_bytes(pack(list(parts.items())))


def edit_property(path, name, change):
    from reports.package import custom_xml, read_custom_xml

    def edit(parts):
        values = read_custom_xml(parts["docProps/custom.xml"])
        values[name] = change(values[name])
        parts["docProps/custom.xml"] = custom_xml(values)

    repack(path, edit)


def test_a_figure_edited_in_the_workbook(guancheng, verifier, tmp_path, pki):
    path = signed(guancheng, tmp_path / "out", pki).workbook
    saved = tmp_path / "saved.xlsx"
    wb = openpyxl.load_workbook(path)
    wb["季报"]["C8"] = 999  # 粤菜师傅 this quarter
    wb.save(saved)
    verdict = verifier.verify(saved)
    assert not verdict.valid and verdict.reason.startswith("签名后文件被修改：压缩包不是本系统写出的样子")

    def edit(parts):
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        parts["xl/worksheets/sheet1.xml"] = re.sub(r'(<c r="C8"[^>]*><v>)\d+', r"\g<1>999", sheet).encode()

    repack(path, edit)
    verdict = verifier.verify(path)
    assert not verdict.valid
    assert verdict.reason.startswith("签名后文件被修改：xl/worksheets/sheet1.xml"), verdict.reason


def test_the_payload_edited(guancheng, verifier, tmp_path, pki):
    path = signed(guancheng, tmp_path / "out", pki).workbook

    def change(value):
        body = json.loads(value)
        body["figures"]["yuecai_certified"] += 100
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    edit_property(path, PAYLOAD_PROPERTY, change)
    verdict = verifier.verify(path)
    assert not verdict.valid and verdict.reason == "签名数据在签名后被改动，与签名不符"


def test_the_signature_of_another_return_pasted_in(guancheng, verifier, tmp_path, pki):
    from reports.package import read_custom_xml, unpack

    this = signed(guancheng, tmp_path / "a", pki).workbook
    other = export_return(
        guancheng, Q.previous(), tmp_path / "b", identity=open_town_identity(guancheng, GUANCHENG_PASS)
    )
    donor = read_custom_xml(dict(unpack(other.workbook.read_bytes()))["docProps/custom.xml"])
    edit_property(this, SIGNATURE_PROPERTY, lambda _: donor[SIGNATURE_PROPERTY])
    verdict = verifier.verify(this)
    assert not verdict.valid and verdict.reason.startswith("签名与本文件的数据不对应")


def test_a_guancheng_return_signed_with_shilong_identity(guancheng, verifier, tmp_path, pki):
    data = prepare_export(guancheng, Q, signed=True)
    result = write_return_files(data, tmp_path / "out", identity=identity(pki, "石龙.p12", SHILONG_PASS))
    for path in result.paths:
        verdict = verifier.verify(path)
        assert not verdict.valid and verdict.reason == "签名证书属于石龙，季报却是莞城的"


def test_the_app_refuses_to_sign_with_another_towns_identity(guancheng, tmp_path, pki):
    guancheng.set_identity((pki / "石龙.p12").read_bytes(), "石龙")
    with pytest.raises(SigningError, match="属于石龙"):
        open_town_identity(guancheng, SHILONG_PASS)


def test_an_identity_from_a_root_the_city_did_not_make(guancheng, verifier, tmp_path, pki):
    data = prepare_export(guancheng, Q, signed=True)
    result = write_return_files(data, tmp_path / "out", identity=identity(pki, "莞城_foreign.p12"))
    for path in result.paths:
        verdict = verifier.verify(path)
        assert not verdict.valid and verdict.reason == "签名证书不是由受信任的市局根证书签发"


def test_an_expired_certificate(guancheng, verifier, tmp_path, pki):
    expired = identity(pki, "莞城_expired.p12")
    guancheng.set_identity((pki / "莞城_expired.p12").read_bytes(), "莞城")
    with pytest.raises(SigningError, match="有效期"):
        open_town_identity(guancheng, GUANCHENG_PASS)  # the app will not sign with it
    data = prepare_export(guancheng, Q, signed=True)
    result = write_return_files(data, tmp_path / "out", identity=expired)
    for path in result.paths:
        verdict = verifier.verify(path)
        assert not verdict.valid and verdict.reason.startswith("签名时证书不在有效期内")


def test_a_truncated_file(guancheng, verifier, tmp_path, pki):
    result = signed(guancheng, tmp_path / "out", pki)
    for path in (result.workbook, result.pdf):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        verdict = verifier.verify(path)
        assert not verdict.valid and ("损坏" in verdict.reason or "不完整" in verdict.reason), verdict.reason


def test_a_text_file_renamed_xlsx(verifier, tmp_path):
    path = tmp_path / "2024Q3_莞城_季报.xlsx"
    path.write_text("莞城 2024Q3 card_holders=170000", encoding="utf-8")
    verdict = verifier.verify(path)
    assert not verdict.valid and "不是有效的 Excel" in verdict.reason


def test_bytes_appended_to_a_signed_pdf(guancheng, verifier, tmp_path, pki):
    path = signed(guancheng, tmp_path / "out", pki).pdf
    with path.open("ab") as f:
        f.write(b"\n% appended after signing\n")
    verdict = verifier.verify(path)
    assert not verdict.valid and verdict.reason == "签名之后文件又被追加或改动了内容"


def test_a_wrong_passphrase_is_a_clear_error_and_writes_nothing(guancheng, tmp_path, capsys):
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-passphrase\n")
    out = tmp_path / "out"
    code = cli_main(
        [
            "--db",
            str(guancheng.path),
            "export",
            "--quarter",
            Q.code,
            "--out",
            str(out),
            "--passphrase-file",
            str(wrong),
        ]
    )
    assert code == 2
    assert "口令不对" in capsys.readouterr().err
    assert not out.exists()


def test_export_without_identity_refuses_unless_unsigned(tmp_path, capsys):
    store = make_store(tmp_path / "plain.sqlite3", "莞城")
    out = tmp_path / "out"
    assert cli_main(["--db", str(store.path), "export", "--quarter", Q.code, "--out", str(out)]) == 2
    assert "--unsigned" in capsys.readouterr().err and not out.exists()
    assert cli_main(["--db", str(store.path), "export", "--quarter", Q.code, "--out", str(out), "--unsigned"]) == 0


def test_identity_import_refuses_another_town_and_keeps_the_key_encrypted(guancheng, pki, tmp_path, capsys):
    store = make_store(tmp_path / "sl.sqlite3", "石龙")
    code = cli_main(
        [
            "--db",
            str(store.path),
            "identity",
            "import",
            str(pki / "莞城.p12"),
            "--passphrase-file",
            str(pki / "gc.pass"),
        ]
    )
    assert code == 2 and "属于莞城" in capsys.readouterr().err
    files = [guancheng.path, Path(f"{guancheng.path}-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    key = open_identity((pki / "莞城.p12").read_bytes(), GUANCHENG_PASS).key
    from cryptography.hazmat.primitives import serialization

    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert plain[-32:] not in raw and b"PRIVATE KEY" not in raw
    from cryptography.hazmat.primitives.serialization import pkcs12

    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(guancheng.identity_p12(), None)  # still needs the passphrase


def test_revisions_increase_only_when_the_content_changes(guancheng, tmp_path, pki):
    first = signed(guancheng, tmp_path / "1", pki)
    again = signed(guancheng, tmp_path / "2", pki)
    assert (first.revision, again.revision) == (1, 1)
    guancheng.reopen(Q, "培训人数统计有误")
    guancheng.save_quarter(Q, {"yuecai_certified": 9})
    changed = signed(guancheng, tmp_path / "3", pki)
    assert changed.revision == 2 and "第2版" in changed.workbook.name
    guancheng.reopen(Q, "再次核对后无需改动")
    assert signed(guancheng, tmp_path / "4", pki).revision == 3  # after 退回修改 the next export is the next revision


def test_city_commands_and_a_full_round_trip(tmp_path, capsys):
    (tmp_path / "root.pass").write_text("root-passphrase\n")
    (tmp_path / "gc.pass").write_text("guancheng-1\n")
    run = lambda *a: cli_main([str(x) for x in a])  # noqa: E731
    assert run("city", "init", "--out", tmp_path / "city", "--passphrase-file", tmp_path / "root.pass") == 0
    assert run("city", "init", "--out", tmp_path / "city", "--passphrase-file", tmp_path / "root.pass") == 2
    assert (
        run(
            "city",
            "issue",
            "--root",
            tmp_path / "city" / "city_root.p12",
            "--root-passphrase-file",
            tmp_path / "root.pass",
            "--town",
            "莞城",
            "--out",
            tmp_path / "莞城.p12",
            "--passphrase-file",
            tmp_path / "gc.pass",
        )
        == 0
    )
    db = tmp_path / "gc.sqlite3"
    make_store(db, "莞城").close()
    assert run("--db", db, "identity", "import", tmp_path / "莞城.p12", "--passphrase-file", tmp_path / "gc.pass") == 0
    assert (
        run(
            "--db",
            db,
            "export",
            "--quarter",
            Q.code,
            "--out",
            tmp_path / "out",
            "--passphrase-file",
            tmp_path / "gc.pass",
        )
        == 0
    )
    capsys.readouterr()
    files = sorted((tmp_path / "out").iterdir())
    assert run("verify", "--trust", tmp_path / "city" / "city_root.pem", *files) == 0
    assert capsys.readouterr().out.count("有效") == 3
    other = tmp_path / "other"
    create_city_root(other, ROOT_PASS)
    assert run("verify", "--trust", other / "city_root.pem", files[0]) == 1


def test_passphrase_file_first_line(tmp_path):
    from reports.identity import read_passphrase_file

    path = tmp_path / "p"
    path.write_text("secret-one\nsecond line\n", encoding="utf-8")
    assert read_passphrase_file(path) == b"secret-one"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(IdentityError):
        read_passphrase_file(path)


def test_the_workbook_shows_in_openpyxl_what_the_sheet_specs_say(guancheng, tmp_path, pki, verifier):
    from reports.excel import data_spec, form_spec

    path = signed(guancheng, tmp_path / "out", pki).workbook
    wb = openpyxl.load_workbook(path)
    data = verifier.verify(path).payload.return_data()
    for name, spec in (("季报", form_spec(data)), ("数据", data_spec(data))):
        expected = {c.ref: c.value for c in spec.cells if c.value is not None}
        shown = {c.coordinate: c.value for row in wb[name].iter_rows() for c in row if c.value is not None}
        assert shown == expected
