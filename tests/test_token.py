"""A town key on a USB key (PKCS#11), tested against a fresh SoftHSM2 token in a temp folder per test."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from core.quarters import Quarter
from reports.identity import create_city_root, load_trust_roots
from reports.verify import Verifier
from storage.store import Profile, Store
from tests.helpers import FAKETIME, FULL_QUARTER, TODAY, on_pace_history, run_main

MODULE_PLACES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
SOFTHSM = next((Path(p) for p in MODULE_PLACES if Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(
    SOFTHSM is None or not shutil.which("softhsm2-util"), reason="SoftHSM2 (Debian's softhsm2) is not installed"
)

PIN = "pin-7f3a9c"  # distinctive, so a copy of it anywhere in the database would be found
SO_PIN = "so-pin-1234"
LABEL = "莞城UKey"
ROOT_PASS = b"city-root-pass"
Q = Quarter(2024, 3)  # ended on TODAY


@dataclass
class Hsm:
    """A SoftHSM2 with its own token folder (SOFTHSM2_CONF) and its own copy of the driver, which a test
    can move away like a UKey whose driver lives on the key."""

    folder: Path
    module: Path
    tokens: Path

    def init_token(self, label: str = LABEL, pin: str = PIN) -> None:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN],
            check=True,
            capture_output=True,
        )

    def wipe(self) -> None:
        """Every token gone (a re-initialised or different UKey)."""
        shutil.rmtree(self.tokens)
        self.tokens.mkdir()


@pytest.fixture
def hsm(tmp_path, monkeypatch) -> Hsm:
    return make_hsm(tmp_path, monkeypatch)


def make_hsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hsm:
    folder = tmp_path / "令牌 目录"
    tokens = folder / "tokens"
    tokens.mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n", "utf-8")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))  # the command lines run_main starts inherit it
    module = folder / "驱动 文件" / "libsofthsm2.so"
    module.parent.mkdir()
    assert SOFTHSM is not None
    shutil.copy(SOFTHSM, module)
    return Hsm(folder, module, tokens)


@pytest.fixture
def pki(tmp_path) -> Path:
    return make_pki(tmp_path)


def make_pki(tmp_path: Path) -> Path:
    folder = tmp_path / "市局 证书"
    create_city_root(folder, ROOT_PASS)
    (folder / "root.pass").write_text(ROOT_PASS.decode() + "\n", "utf-8")
    return folder


@pytest.fixture
def pin_file(tmp_path) -> Path:
    path = tmp_path / "pin.txt"
    path.write_text(PIN + "\n", "utf-8")
    return path


def town_store(path: Path, town: str = "莞城") -> Store:
    store = Store(path, today=lambda: TODAY)
    store.bind_town(town)
    store.set_profile(
        Profile(unit_name=f"{town}人社分局", head="王五", stats_head="赵六", preparer="李四", phone="0769-12345678")
    )
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    return store


@pytest.fixture
def guancheng(tmp_path):
    store = town_store(tmp_path / "gc.sqlite3")
    yield store
    store.close()


def token_identity(store: Store, hsm: Hsm, pki: Path, folder: Path, days: int = 3 * 365, label: str = LABEL) -> Path:
    """Token made, request written on it, issued by the city, imported: the certificate's path."""
    from actions.identity import import_token_identity
    from reports.identity import issue_for_request
    from reports.token import write_request

    hsm.init_token(label)
    folder.mkdir(parents=True, exist_ok=True)
    request = write_request(hsm.module, label, PIN.encode(), store.require_town(), folder / "莞城.csr", renew=False)
    certificate = folder / "莞城.cert.pem"
    issue_for_request(pki / "city_root.p12", ROOT_PASS, request.path, certificate, days=days)
    import_token_identity(store, certificate, hsm.module, label, pki / "city_root.pem")
    return certificate


def run_city(*args: str) -> subprocess.CompletedProcess:
    """The city's command line (verify, consolidate): no town database."""
    import os
    import sys

    from tests.helpers import ROOT

    env = {key: value for key, value in os.environ.items() if key not in ("FAKETIME", "LD_PRELOAD")}
    command = [sys.executable, "main.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, encoding="utf-8", env=env)


def sign_off(db: Path) -> None:
    done = run_main(
        db, "profile", "--head", "王五", "--stats-head", "赵六", "--preparer", "李四", "--phone", "0769-12345678"
    )
    assert done.returncode == 0, done.stderr


def enter_quarter(db: Path, quarter: str, **changed: int) -> None:
    figures = dict(FULL_QUARTER, **changed)
    # 应结 is computed from 上期结转 + 本期受理 since issue 26: typed as the two it is made of
    for due, stem in (("arbitration_due", "arbitration"), ("inspection_cases", "inspection")):
        if due in figures:
            total = figures.pop(due)
            carried = changed.get(f"{stem}_carried", 0)
            figures.setdefault(f"{stem}_carried", carried)
            figures.setdefault(f"{stem}_received", total - carried)
    done = run_main(db, "enter", "--quarter", quarter, *(f"{code}={value}" for code, value in figures.items()))
    assert done.returncode == 0, done.stderr


# --- the whole path on the command line ---------------------------------------------------------


@pytest.mark.slow  # a dozen command lines in their own processes
def test_end_to_end_token_request_issue_import_export_verify_consolidate(tmp_path, hsm, pki, pin_file):
    hsm.init_token()
    db = tmp_path / "镇街 数据" / "town.sqlite3"
    db.parent.mkdir()
    assert run_main(db, "init", "--town", "莞城").returncode == 0
    sign_off(db)
    enter_quarter(db, "2021Q1")
    csr = tmp_path / "莞城.csr"
    done = run_main(
        db, "identity", "request", "--town", "莞城", "--pkcs11-module", str(hsm.module), "--token-label", LABEL,
        "--pin-file", str(pin_file), "--out", str(csr),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert csr.read_bytes().startswith(b"-----BEGIN CERTIFICATE REQUEST-----")

    cert = tmp_path / "莞城.cert.pem"
    done = run_main(
        db, "city", "issue", "--csr", str(csr), "--root", str(pki / "city_root.p12"),
        "--root-passphrase-file", str(pki / "root.pass"), "--out", str(cert), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    issued = json.loads(done.stdout)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    assert issued["sha256"] == certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert issued["town"] == "莞城"
    # the profile of today's town certificates: same subject shape, key usage, validity
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment
    assert (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days == 3 * 365

    done = run_main(
        db, "identity", "import", "--cert", str(cert), "--pkcs11-module", str(hsm.module), "--token-label", LABEL,
        "--root", str(pki / "city_root.pem"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = run_main(db, "identity", "show", "--json")
    view = json.loads(shown.stdout)
    assert view["kind"] == "pkcs11" and view["warning"] is None
    assert view["token"]["module"] == str(hsm.module) and view["token"]["token_label"] == LABEL
    assert "U 盾" in run_main(db, "identity", "show").stdout

    out = tmp_path / "上报 文件"
    done = run_main(db, "export", "--quarter", "2021Q1", "--out", str(out), "--pin-file", str(pin_file))
    assert done.returncode == 0, done.stderr
    files = sorted(out.iterdir())
    assert sorted(p.name for p in files) == ["2021Q1_莞城_季报.pdf", "2021Q1_莞城_季报.xlsx", "2021Q1_莞城_摘要.pdf"]

    done = run_city("verify", "--trust", str(pki / "city_root.pem"), *map(str, files))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("有效（莞城 2021年第1季度 第 1 版") == 3
    verifier = Verifier(load_trust_roots(pki / "city_root.pem"))
    for path in files:
        verdict = verifier.verify(path)
        assert verdict.valid, verdict.reason
    workbook = next(p for p in files if p.suffix == ".xlsx")
    assert openpyxl.load_workbook(workbook).sheetnames[0] == "季报"
    if shutil.which("pdfsig"):
        for pdf in (p for p in files if p.suffix == ".pdf"):
            report = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout
            assert "Signature is Valid" in report and "Common Name: 莞城" in report, report

    done = run_city("consolidate", "--trust", str(pki / "city_root.pem"), "--quarter", "2021Q1", str(out), "--json")
    summary = json.loads(done.stdout)
    assert summary["valid"] == ["莞城"], summary
    assert summary["towns"]["莞城"]["yuecai_certified"] == FULL_QUARTER["yuecai_certified"]

    # the database records the driver, the token and the key, never the PIN
    for path in db.parent.iterdir():
        if path.is_file():
            assert PIN.encode() not in path.read_bytes(), path


def test_the_private_key_never_leaves_the_token(tmp_path, hsm, guancheng):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    from reports.token import key_label, write_request

    hsm.init_token()
    write_request(hsm.module, LABEL, PIN.encode(), "莞城", tmp_path / "a.csr", renew=False)
    token = pkcs11.lib(str(hsm.module)).get_token(token_label=LABEL)
    with token.open(user_pin=PIN) as session:
        (key,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: key_label("莞城")})
        assert key[Attribute.EXTRACTABLE] is False and key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.SENSITIVE] is True
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[Attribute.VALUE]  # the private scalar: the token refuses to hand it out


# --- the city's side of a request ----------------------------------------------------------------


def software_request(town_name: str, tamper: bytes | None = None, rsa: bool = False) -> bytes:
    """A PKCS#10 request made with a software key (what a forger could send the city)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
    from cryptography.x509.oid import NameOID

    key = rsa_keys.generate_private_key(65537, 2048) if rsa else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, town_name)]) if town_name else x509.Name([])
    der = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    if tamper:
        old, new = tamper.split(b"|")
        assert der.count(old) == 1
        der = der.replace(old, new)
    return der


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (lambda: software_request("北京"), "“北京”不是东莞的 33 个镇街之一"),
        (lambda: software_request(""), "没有写镇街名称"),
        (lambda: software_request("莞城", tamper="莞城|石龙".encode()), "证书申请的签名不对"),
        (lambda: software_request("莞城", rsa=True), "不是本系统使用的 EC P-256"),
        (lambda: b"not a request", "不是证书申请（PKCS#10）文件"),
    ],
    ids=["non-town", "no-town", "edited-town", "rsa", "garbage"],
)
def test_city_refuses_a_request_with_its_reason(tmp_path, pki, request_bytes, reason):
    request = tmp_path / "申请.csr"
    request.write_bytes(request_bytes())
    out = tmp_path / "out.pem"
    done = run_main(
        tmp_path / "city.sqlite3", "city", "issue", "--csr", str(request), "--root", str(pki / "city_root.p12"),
        "--root-passphrase-file", str(pki / "root.pass"), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert reason in done.stderr
    assert not out.exists()


def test_identity_request_for_a_non_town_is_refused(tmp_path, hsm, pin_file, guancheng):
    hsm.init_token()
    guancheng.close()
    out = tmp_path / "x.csr"
    done = run_main(
        tmp_path / "gc.sqlite3", "identity", "request", "--town", "北京", "--pkcs11-module", str(hsm.module),
        "--token-label", LABEL, "--pin-file", str(pin_file), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2 and "没有名为“北京”的镇街" in done.stderr
    done = run_main(
        tmp_path / "gc.sqlite3", "identity", "request", "--town", "石龙", "--pkcs11-module", str(hsm.module),
        "--token-label", LABEL, "--pin-file", str(pin_file), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2 and "本数据库是莞城的，不能为石龙申请证书" in done.stderr
    assert not out.exists()


def test_a_key_certified_for_one_town_is_refused_for_another_and_once_revoked_for_every_town(
    tmp_path, hsm, pki, guancheng
):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    from actions.city import issue_for_request, revoke_identity
    from reports.identity import IdentityError
    from reports.token import certificate_request, key_label, public_key_of

    certificate = token_identity(guancheng, hsm, pki, tmp_path / "gc")
    # the same key on the token, asked for again under another town's name
    token = pkcs11.lib(str(hsm.module)).get_token(token_label=LABEL)
    with token.open(user_pin=PIN) as session:
        (key,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: key_label("莞城")})
        public = public_key_of(session, bytes(key[Attribute.ID]))
        assert public is not None
        other = certificate_request(key, public, "石龙")
    request = tmp_path / "石龙.csr"
    request.write_bytes(other)
    with pytest.raises(IdentityError, match="这把密钥已在莞城的证书中.*未吊销，不能再为石龙签发"):
        issue_for_request(pki / "city_root.p12", ROOT_PASS, request, tmp_path / "石龙.pem")
    assert not (tmp_path / "石龙.pem").exists()
    # a revoked key (lost, or retired) is never certified again, for another town or its own
    revoke_identity(pki / "city_root.p12", ROOT_PASS, certificate, tmp_path / "revoked.crl", None)
    with pytest.raises(IdentityError, match="这把密钥在莞城的证书.*已被吊销：吊销的密钥不能再签发证书"):
        issue_for_request(pki / "city_root.p12", ROOT_PASS, request, tmp_path / "石龙.pem")
    with pytest.raises(IdentityError, match="已被吊销"):
        issue_for_request(pki / "city_root.p12", ROOT_PASS, tmp_path / "gc" / "莞城.csr", tmp_path / "again.pem")
    assert not (tmp_path / "石龙.pem").exists() and not (tmp_path / "again.pem").exists()


# --- binding the certificate to the token ---------------------------------------------------------


def test_import_checks_root_town_and_that_the_key_is_the_tokens(tmp_path, hsm, pki, guancheng):
    from actions.identity import import_token_identity
    from reports.identity import IdentityError, issue_for_request
    from reports.token import write_request

    hsm.init_token()
    hsm.init_token("别的UKey")
    mine = write_request(hsm.module, LABEL, PIN.encode(), "莞城", tmp_path / "mine.csr", renew=False)
    theirs = write_request(hsm.module, "别的UKey", PIN.encode(), "莞城", tmp_path / "theirs.csr", renew=False)
    cert = tmp_path / "mine.pem"
    issue_for_request(pki / "city_root.p12", ROOT_PASS, mine.path, cert)
    issue_for_request(pki / "city_root.p12", ROOT_PASS, theirs.path, tmp_path / "theirs.pem")

    with pytest.raises(IdentityError, match="第一次导入证书时须用 --root"):
        import_token_identity(guancheng, cert, hsm.module, LABEL)
    foreign = tmp_path / "别的根"
    create_city_root(foreign, ROOT_PASS)
    with pytest.raises(IdentityError, match="不是由市局根证书.*签发的"):
        import_token_identity(guancheng, cert, hsm.module, LABEL, foreign / "city_root.pem")
    with pytest.raises(IdentityError, match="U 盾“莞城UKey”上没有 theirs.pem 中的公钥"):
        import_token_identity(guancheng, tmp_path / "theirs.pem", hsm.module, LABEL, pki / "city_root.pem")
    with pytest.raises(IdentityError, match="没有插着标签为“不存在”的 U 盾"):
        import_token_identity(guancheng, cert, hsm.module, "不存在", pki / "city_root.pem")
    assert guancheng.identity_p12() is None  # nothing recorded by a refused import

    imported = import_token_identity(guancheng, cert, hsm.module, LABEL, pki / "city_root.pem")
    assert "U 盾“莞城UKey”" in imported.description
    # later imports are checked against the pinned root: another root is refused even when given
    with pytest.raises(IdentityError, match="不是本机已固定的市局根证书"):
        import_token_identity(guancheng, cert, hsm.module, LABEL, foreign / "city_root.pem")

    shilong = town_store(tmp_path / "sl.sqlite3", "石龙")
    try:
        with pytest.raises(IdentityError, match="这个证书属于莞城，而本数据库是石龙的"):
            import_token_identity(shilong, cert, hsm.module, LABEL, pki / "city_root.pem")
    finally:
        shilong.close()


# --- signing: wrong PIN, token removed, wrong key, expired -----------------------------------------


def test_wrong_pin_is_one_clear_message_and_never_retried(tmp_path, hsm, pki, guancheng, monkeypatch):
    import reports.token
    from actions.returns import export_quarter
    from reports.token import WrongPin

    token_identity(guancheng, hsm, pki, tmp_path / "gc")
    logins = []
    real_login = reports.token.login

    def counted(*args, **kwargs):
        logins.append(args[1])
        return real_login(*args, **kwargs)

    monkeypatch.setattr(reports.token, "login", counted)
    out = tmp_path / "out"
    with pytest.raises(WrongPin, match="PIN 码不对.*不会自动重试"):
        export_quarter(guancheng, Q.code, out, lambda: b"000000")
    assert logins == [b"000000"]  # one attempt, no retry with anything else
    assert not out.exists() or not any(out.iterdir())
    assert guancheng.last_export_time(Q) is None

    guancheng.close()
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("111111\n")
    done = run_main(tmp_path / "gc.sqlite3", "export", "--quarter", Q.code, "--out", str(out), "--pin-file", str(wrong))
    assert done.returncode == 2
    assert done.stderr.count("PIN 码不对") == 1 and "Traceback" not in done.stderr
    assert not out.exists() or not any(out.iterdir())


def staged_export(store: Store, folder: Path, at_step: str, action) -> None:
    """The window's steps: open the identity, reserve, write files; `action` runs when the export reaches
    the step whose label holds `at_step`."""
    from actions.returns import open_identity, prepare_export, record_signed, reserve_for_signing, write_files

    data = prepare_export(store, Q)
    identity = open_identity(store, PIN.encode())
    data = reserve_for_signing(store, data)

    def step(label: str) -> bool:
        if at_step in label:
            action()
        return True

    result = write_files(data, folder, False, step, identity)
    record_signed(store, data, result)


@pytest.mark.parametrize("how", ["driver moved away", "token pulled out"])
def test_a_token_removed_during_signing_leaves_no_file_and_the_quarter_as_it_was(tmp_path, hsm, pki, guancheng, how):
    from reports.token import TokenMissing

    token_identity(guancheng, hsm, pki, tmp_path / "gc")
    before = guancheng.quarter_status(Q)
    away = hsm.folder / "moved away"

    def remove() -> None:
        if how == "driver moved away":
            hsm.module.rename(away)  # the UKey's driver lived on the key
        else:
            hsm.tokens.rename(away)

    out = tmp_path / "out"
    with pytest.raises(TokenMissing, match="没有写出签名文件"):
        staged_export(guancheng, out, "PDF", remove)  # the workbook is signed, then the token goes
    assert sorted(p.name for p in out.iterdir()) == []  # no signed file, no temp file
    assert guancheng.last_export_time(Q) is None
    assert guancheng.quarter_status(Q) == before


def test_a_token_gone_before_signing_is_refused_on_the_command_line(tmp_path, hsm, pki, guancheng, pin_file):
    token_identity(guancheng, hsm, pki, tmp_path / "gc")
    guancheng.close()
    hsm.module.rename(hsm.folder / "elsewhere.so")
    out = tmp_path / "out"
    done = run_main(
        tmp_path / "gc.sqlite3", "export", "--quarter", Q.code, "--out", str(out), "--pin-file", str(pin_file)
    )
    assert done.returncode == 2 and "找不到 U 盾的驱动文件" in done.stderr
    assert not out.exists() or not any(out.iterdir())
    status = json.loads(run_main(tmp_path / "gc.sqlite3", "status", "--json").stdout)
    assert next(s for s in status if s["quarter"] == Q.code)["state"] != "已上报"


def test_a_token_whose_key_is_not_the_certificates_is_refused_by_name(tmp_path, hsm, pki, guancheng, pin_file):
    from reports.token import write_request

    token_identity(guancheng, hsm, pki, tmp_path / "gc")
    hsm.wipe()  # the UKey re-initialised (or another one with the same label) and a new key made on it
    hsm.init_token()
    write_request(hsm.module, LABEL, PIN.encode(), "莞城", tmp_path / "new.csr", renew=False)
    guancheng.close()
    out = tmp_path / "out"
    done = run_main(
        tmp_path / "gc.sqlite3", "export", "--quarter", Q.code, "--out", str(out), "--pin-file", str(pin_file)
    )
    assert done.returncode == 2
    assert "U 盾“莞城UKey”" in done.stderr and "没有本镇街签名证书的密钥" in done.stderr
    assert "插着的是序列号" in done.stderr  # the token is told apart from the one imported
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.skipif(not FAKETIME, reason="libfaketime (Debian's faketime) is not installed")
def test_an_expired_certificate_cannot_sign_and_the_message_says_how_to_renew(tmp_path, hsm, pki, guancheng):
    token_identity(guancheng, hsm, pki, tmp_path / "gc", days=20)
    guancheng.close()
    db = tmp_path / "gc.sqlite3"
    shown = run_main(db, "identity", "show", "--json")
    warning = json.loads(shown.stdout)["warning"]
    assert warning and "到期（还有 19 天）" in warning and "identity request --renew" in warning
    assert "警告：签名证书将于" in run_main(db, "identity", "show").stderr

    wrong = tmp_path / "wrong-pin.txt"
    wrong.write_text("000000\n")  # never tried: the expiry is refused before the PIN
    later = (dt.datetime.now() + dt.timedelta(days=30)).strftime("@%Y-%m-%d %H:%M:%S")
    out = tmp_path / "out"
    done = run_main(db, "export", "--quarter", Q.code, "--out", str(out), "--pin-file", str(wrong), clock=later)
    assert done.returncode == 2, done.stderr
    assert "签名证书已于" in done.stderr and "过期" in done.stderr and "identity request --renew" in done.stderr
    assert "PIN 码不对" not in done.stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow  # a dozen command lines in their own processes
def test_renewal_makes_a_new_key_on_the_same_token_and_old_returns_stay_valid(tmp_path, hsm, pki, guancheng, pin_file):
    from actions.returns import export_quarter

    old_cert = token_identity(guancheng, hsm, pki, tmp_path / "gc")
    old_key = json.loads(guancheng.identity_p12() or b"{}")["key_id"]
    first = export_quarter(guancheng, Q.code, tmp_path / "第1版", lambda: PIN.encode())
    guancheng.close()
    db = tmp_path / "gc.sqlite3"
    csr = tmp_path / "续期.csr"
    done = run_main(db, "identity", "request", "--renew", "--pin-file", str(pin_file), "--out", str(csr), "--json")
    assert done.returncode == 0, done.stderr
    renewed = json.loads(done.stdout)
    assert renewed["new_key"] and renewed["key_id"] != old_key and renewed["token_label"] == LABEL
    new_cert = tmp_path / "续期.pem"
    done = run_main(
        db, "city", "issue", "--csr", str(csr), "--root", str(pki / "city_root.p12"),
        "--root-passphrase-file", str(pki / "root.pass"), "--out", str(new_cert),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run_main(
        db, "identity", "import", "--cert", str(new_cert), "--pkcs11-module", str(hsm.module), "--token-label", LABEL
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(run_main(db, "identity", "show", "--json").stdout)["token"]["key_id"] == renewed["key_id"]

    # the lost/retired key's certificate revoked: what it signed before stays valid
    crl = tmp_path / "revoked.crl"
    done = run_main(
        db, "city", "revoke", "--root", str(pki / "city_root.p12"), "--root-passphrase-file", str(pki / "root.pass"),
        "--cert", str(old_cert), "--out", str(crl),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run_city("verify", "--trust", str(pki / "city_root.pem"), "--crl", str(crl), *map(str, first.paths))
    assert done.returncode == 0 and done.stdout.count("有效") == 3, done.stdout

    enter_quarter(db, "2024Q4", card_holders=170_000)
    out = tmp_path / "新密钥"
    done = run_main(db, "export", "--quarter", "2024Q4", "--out", str(out), "--pin-file", str(pin_file))
    assert done.returncode == 0, done.stderr
    done = run_city("verify", "--trust", str(pki / "city_root.pem"), "--crl", str(crl), *map(str, out.iterdir()))
    assert done.returncode == 0 and done.stdout.count("有效") == 3, done.stdout


# --- the .p12 path stays, and the two are not confused ---------------------------------------------


def test_identity_show_says_which_kind_and_secrets_are_not_confused(tmp_path, hsm, pki, guancheng, pin_file):
    from reports.identity import issue_town_identity

    issue_town_identity(pki / "city_root.p12", ROOT_PASS, "莞城", tmp_path / "莞城.p12", b"p12-pass", days=25)
    (tmp_path / "p12.pass").write_text("p12-pass\n")
    guancheng.close()
    db = tmp_path / "gc.sqlite3"
    assert (
        run_main(
            db, "identity", "import", str(tmp_path / "莞城.p12"), "--passphrase-file", str(tmp_path / "p12.pass")
        ).returncode
        == 0
    )
    view = json.loads(run_main(db, "identity", "show", "--json").stdout)
    assert view["kind"] == "p12" and view["token"] is None
    assert re.search(r"到期（还有 2[45] 天）", view["warning"])
    assert "类型：证书文件（.p12" in run_main(db, "identity", "show").stdout
    done = run_main(db, "export", "--quarter", Q.code, "--out", str(tmp_path / "out"), "--pin-file", str(pin_file))
    assert done.returncode == 2 and "请用 --passphrase-file" in done.stderr

    with Store(db, today=lambda: TODAY) as store:
        token_identity(store, hsm, pki, tmp_path / "gc")
    done = run_main(
        db, "export", "--quarter", Q.code, "--out", str(tmp_path / "out"), "--passphrase-file", str(pin_file)
    )
    assert done.returncode == 2 and "请用 --pin-file" in done.stderr
    done = run_main(db, "identity", "import", "--cert", str(tmp_path / "gc" / "莞城.cert.pem"))
    assert done.returncode == 2 and "--pkcs11-module" in done.stderr


def test_without_a_register_beside_the_root_a_request_is_not_issued_but_a_p12_still_is(tmp_path, pki):
    """A file where the register folder should be (the root's folder unusable for it): issuing for a request is
    refused before any certificate exists, since the register is what finds a key asked for twice; a .p12's
    fresh key needs no register and is issued as before."""
    from reports.identity import IdentityError, issue_for_request, issue_town_identity

    (pki / "issued").rmdir()  # city init made it
    (pki / "issued").write_text("not a folder")
    request = tmp_path / "莞城.csr"
    request.write_bytes(software_request("莞城"))
    with pytest.raises(IdentityError, match="无法在 .*issued 中记下签发的证书.*未签发"):
        issue_for_request(pki / "city_root.p12", ROOT_PASS, request, tmp_path / "莞城.pem")
    assert not (tmp_path / "莞城.pem").exists()
    issue_town_identity(pki / "city_root.p12", ROOT_PASS, "石龙", tmp_path / "石龙.p12", b"passphrase")
    assert (tmp_path / "石龙.p12").is_file() and (tmp_path / "石龙.pem").is_file()
