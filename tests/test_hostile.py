"""Hostile files cannot stall or stop the city: each is reported with a reason while the rest consolidates."""

import datetime as dt
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from cli import main as cli_main
from core.demo import town_figures
from core.errors import DomainError
from core.plans import load_shipped_plan
from core.quarters import Quarter
from reports.collect import OUT_OF_MEMORY, TIMED_OUT, verify_isolated
from reports.identity import load_trust_roots
from reports.tables import read_plan_file as read_plan_table
from reports.verify import Verifier, printable
from tests.test_city import single_town_identity, write_returns

Q = Quarter(2024, 3)
PLAN = load_shipped_plan()


def xlsx_with(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(name, data)
    return path


def zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * (150 * 1024 * 1024))
    return path


def lying_zip(path: Path) -> Path:
    """A member whose central-directory entry claims 100 bytes but which inflates to 12 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("docProps/custom.xml", b" " * (12 * 1024 * 1024))
    data = bytearray(buffer.getvalue())
    central = data.find(b"PK\x01\x02")
    entry = data.find(b"docProps/custom.xml", central) - 46
    assert data[entry : entry + 4] == b"PK\x01\x02"
    data[entry + 24 : entry + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def many_revisions_pdf(path: Path, count: int) -> Path:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = [out.tell()]
    out.write(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
    offsets.append(out.tell())
    out.write(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
    start = out.tell()
    out.write(b"xref\n0 3\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % start)
    previous = start
    for _ in range(count):
        offset = out.tell()
        out.write(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
        here = out.tell()
        out.write(b"xref\n1 1\n%010d 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R /Prev %d >>\n" % (offset, previous))
        previous = here
    out.write(b"startxref\n%d\n%%%%EOF\n" % previous)
    path.write_bytes(out.getvalue())
    return path


def many_fields_pdf(path: Path, count: int) -> Path:
    """One revision whose form has `count` fields: pyHanko walks them all looking for signatures."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []

    def obj(body: bytes) -> None:
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % len(offsets) + body + b"\nendobj\n")

    obj(b"<< /Type /Catalog /Pages 2 0 R /AcroForm 3 0 R >>")
    obj(b"<< /Type /Pages /Kids [] /Count 0 >>")
    obj(b"<< /Fields [" + b" ".join(b"%d 0 R" % (i + 4) for i in range(count)) + b"] >>")
    for i in range(count):
        obj(b"<< /FT /Tx /T (f%d) >>" % i)
    start = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, start))
    path.write_bytes(out.getvalue())
    return path


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    identity = single_town_identity(folder, "茶山")
    figures = town_figures(PLAN, "茶山", PLAN.quarters, seed=3)
    return folder, identity, figures


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_folder_of_hostile_files_is_reported_while_the_rest_consolidates(town, tmp_path, capsys):
    folder, identity, figures = town
    inbox = tmp_path / "inbox"
    write_returns(inbox, identity, "茶山", figures, [Q], kinds=("workbook", "pdf"))
    hostile = inbox / "hostile"
    hostile.mkdir()
    zip_bomb(hostile / "bomb.xlsx")
    lying_zip(hostile / "lying.xlsx")
    xlsx_with(hostile / "deep.xlsx", "docProps/custom.xml", b"<a>" * 100_000 + b"</a>" * 100_000)
    xlsx_with(hostile / "wide.xlsx", "docProps/custom.xml", b"<a>" + b"".join(b'<b n="%x"/>' % i for i in range(210_000)) + b"</a>")
    os.mkfifo(hostile / "fifo.xlsx")
    many_revisions_pdf(hostile / "revisions.pdf", 100_000)
    many_fields_pdf(hostile / "fields.pdf", 200_000)
    (hostile / "evil\n有效.xlsx").write_text("not a workbook")
    trust = str(folder / "pki" / "city_root.pem")

    # No wall-clock bound here (speed lives in bench/): a file that would take long is cut off by the
    # worker's time limit, and says so (TIMED_OUT below).
    assert cli_main(["consolidate", "--trust", trust, "--quarter", Q.code, str(inbox), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] == ["茶山"]
    reasons = {Path(i["file"]).name: i["reason"] for i in out["invalid"] + out["skipped"]}
    assert "压缩炸弹" in reasons["bomb.xlsx"]
    assert "损坏" in reasons["lying.xlsx"] or "拒绝" in reasons["lying.xlsx"]
    # nothing parses their XML since issue 22: they are simply not the app's package
    assert "压缩包不是本系统写出的样子" in reasons["deep.xlsx"]
    assert "压缩包不是本系统写出的样子" in reasons["wide.xlsx"]
    assert reasons["fifo.xlsx"].startswith("不是普通文件")
    assert "次修订" in reasons["revisions.pdf"]
    assert reasons["fields.pdf"] == TIMED_OUT

    assert cli_main(["consolidate", "--trust", trust, "--quarter", Q.code, str(inbox)]) == 0
    text = capsys.readouterr().out
    assert "evil\\x0a有效.xlsx" in text
    assert not any(line.startswith("有效.xlsx") for line in text.splitlines())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_verify_skips_a_fifo_without_opening_it(tmp_path, capsys):
    fifo = tmp_path / "2024Q3_莞城_季报.pdf"
    os.mkfifo(fifo)
    verdict = Verifier([]).verify(fifo)  # opening a FIFO with no writer would block forever
    assert not verdict.valid and verdict.reason.startswith("不是普通文件")


def test_file_names_are_printed_with_control_characters_escaped():
    assert printable("a\nb\x1b[31m\u202ec.xlsx") == "a\\x0ab\\x1b[31m\\u202ec.xlsx"
    assert printable("2024Q3_莞城_季报.xlsx") == "2024Q3_莞城_季报.xlsx"


@pytest.mark.skipif(sys.platform != "linux", reason="the memory limit is RLIMIT_AS, enforced on Linux")
def test_a_worker_over_its_memory_limit_is_reported_and_the_run_goes_on(town, tmp_path):
    """Each file is verified within a memory limit (500 MB by default; 12 MB here), so a workbook laid out
    as the app lays one out but holding a 12 MB part exceeds it, while a genuine return verifies in the same run."""
    from reports.package import pack

    folder, identity, figures = town
    good = write_returns(tmp_path / "in", identity, "茶山", figures, [Q])
    heavy = tmp_path / "in" / "heavy.xlsx"
    heavy.write_bytes(pack([("[Content_Types].xml", os.urandom(12 * 1024 * 1024))]))
    roots = load_trust_roots(folder / "pki" / "city_root.pem")
    verdicts = list(verify_isolated([heavy, *good], roots, workers=1, memory=12 * 1024 * 1024))
    assert verdicts[0].reason == OUT_OF_MEMORY
    assert verdicts[1].valid, verdicts[1].reason


@pytest.mark.slow
def test_a_worker_that_overruns_is_replaced(town, tmp_path):
    folder, identity, figures = town
    good = write_returns(tmp_path / "in", identity, "茶山", figures, [Q])
    slow = many_fields_pdf(tmp_path / "in" / "slow.pdf", 60_000)  # pyHanko needs ≈ 3 s to read its form
    roots = load_trust_roots(folder / "pki" / "city_root.pem")
    verdicts = list(verify_isolated([slow, *good, slow], roots, workers=1, time_limit=1.5))
    assert [v.reason for v in verdicts] == [TIMED_OUT, "有效", TIMED_OUT]  # the genuine return between, verified


def test_a_huge_targets_csv_is_refused_before_it_is_read(tmp_path, capsys):
    path = tmp_path / "targets_2026_2030.csv"
    path.write_bytes(b"a," * (1024 * 1024))
    with pytest.raises(DomainError, match="超过 1024 KB"):
        read_plan_table(path)


def test_a_quarter_ends_at_midnight_beijing_time():
    from reports.payload import BEIJING
    from reports.verify import quarter_end

    class P:
        quarter = Q

    assert quarter_end(P) == dt.datetime(2024, 10, 1, tzinfo=BEIJING)


def with_big_certificate(genuine: Path, path: Path, number: int, size: int) -> Path:
    """A copy of a return whose signature also carries a large certificate of its own (nobody's)."""
    import base64
    import re

    from asn1crypto import cms
    from asn1crypto import x509 as asn1_x509

    from reports.package import SIGNATURE_PROPERTY, pack

    with zipfile.ZipFile(genuine) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    custom = parts["docProps/custom.xml"].decode()
    match = re.search(rf'name="{SIGNATURE_PROPERTY}"><vt:lpwstr>([^<]*)', custom)
    assert match is not None
    info = cms.ContentInfo.load(base64.b64decode(match.group(1)))
    signed = info["content"]
    real = signed["certificates"][0].chosen
    big = asn1_x509.Certificate(
        {
            "tbs_certificate": real["tbs_certificate"],
            "signature_algorithm": real["signature_algorithm"],
            # random enough to pass the compression-ratio check, as an attacker's would
            "signature_value": os.urandom(size // 50) + number.to_bytes(4, "big") + b"\0" * size,
        }
    )
    signed["certificates"] = [cms.CertificateChoices(name="certificate", value=big), *signed["certificates"]]
    forged = base64.b64encode(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()).decode()
    parts["docProps/custom.xml"] = custom.replace(match.group(1), forged).encode()
    path.write_bytes(pack(list(parts.items())))  # laid out as the app lays a workbook out
    return path


@pytest.mark.skipif(sys.platform != "linux", reason="the memory limit is RLIMIT_AS, enforced on Linux")
def test_certificates_carried_by_earlier_files_do_not_fill_the_memory_later_files_need(town, tmp_path):
    """Certificates may be added to a signature after signing; the app's carries two small ones, so one
    with a 2 MB certificate is refused, and 30 such files before a genuine return in one worker limited
    to 60 MB leave it the memory it needs (an outside attack filled the verifier's certificate cache)."""
    folder, identity, figures = town
    good = write_returns(tmp_path / "in", identity, "茶山", figures, [Q])
    workbook = next(p for p in good if p.suffix == ".xlsx")
    heavy = [with_big_certificate(workbook, tmp_path / "in" / f"big{n:02d}.xlsx", n, 2_000_000) for n in range(30)]
    roots = load_trust_roots(folder / "pki" / "city_root.pem")
    verdicts = list(verify_isolated([*heavy, *good], roots, workers=1, memory=60 * 1024 * 1024))
    assert {v.reason for v in verdicts[:30]} == {"签名中夹带了多余或过大的证书，不是本系统生成的签名"}
    assert all(v.valid for v in verdicts[30:]), [v.reason for v in verdicts[30:]]
