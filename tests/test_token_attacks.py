"""Issue 28, attacked from outside: secret files that are devices or pipes, a revoked key asked for again,
a copy of the city root away from its register, relative driver paths, requests that cannot be written,
a clock behind, requests naming two towns or hidden characters, and two tokens with one label."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reports.identity import IdentityError
from tests.helpers import FAKETIME, ROOT, run_main
from tests.test_token import LABEL, PIN, ROOT_PASS, Q, make_hsm, make_pki, token_identity, town_store
from tests.test_token import pytestmark as pytestmark  # SoftHSM2 installed


@pytest.fixture
def hsm(tmp_path, monkeypatch):
    return make_hsm(tmp_path, monkeypatch)


@pytest.fixture
def pki(tmp_path) -> Path:
    return make_pki(tmp_path)


@pytest.fixture
def pin_file(tmp_path) -> Path:
    path = tmp_path / "pin.txt"
    path.write_text(PIN + "\n", "utf-8")
    return path


@pytest.fixture
def guancheng(tmp_path):
    store = town_store(tmp_path / "gc.sqlite3")
    yield store
    store.close()


def run_limited(db: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """run_main with a time limit: a reader that blocks on a pipe or reads /dev/zero forever fails the test."""
    env = {key: value for key, value in os.environ.items() if key not in ("FAKETIME", "LD_PRELOAD")}
    command = [sys.executable, "main.py", "--db", str(db), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, encoding="utf-8", env=env, timeout=timeout)


def request_bytes(key: ec.EllipticCurvePrivateKey, *names: str) -> bytes:
    """A PKCS#10 request signed with a software key, naming each of `names` as a common name."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name) for name in names])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM)


def city_issue(
    folder: Path, csr: Path, out: Path, *extra: str, root: Path | None = None
) -> subprocess.CompletedProcess:
    return run_limited(
        out.parent / "city.sqlite3", "city", "issue", "--csr", str(csr), "--root", str(root or folder / "city_root.p12"),
        "--root-passphrase-file", str(folder / "root.pass"), "--out", str(out), *extra,
    )  # fmt: skip


def private_key_count(module: Path, label: str = LABEL) -> int:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    lib = pkcs11.lib(str(module))
    lib.reinitialize()
    token = lib.get_token(token_label=label)
    with token.open(user_pin=PIN) as session:
        return len(list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})))


# --- 3. secret files: only a small regular file is read -------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_secret_files_that_are_devices_pipes_or_large_are_refused_at_once(tmp_path, hsm, pki, guancheng):
    token_identity(guancheng, hsm, pki, tmp_path / "gc")
    guancheng.close()
    db = tmp_path / "gc.sqlite3"
    fifo = tmp_path / "管道 pin"
    os.mkfifo(fifo)
    big = tmp_path / "big.txt"
    big.write_text(PIN + "\n" + "x" * 20_000)
    out = tmp_path / "out"
    for secret, reason in (("/dev/zero", "不是普通文件"), (str(fifo), "不是普通文件"), (str(big), "超过 4 KB")):
        done = run_limited(db, "export", "--quarter", Q.code, "--out", str(out), "--pin-file", secret)
        assert done.returncode == 2, done.stderr
        assert f"PIN 码文件 {secret} " in done.stderr and reason in done.stderr, done.stderr
        done = run_limited(db, "identity", "request", "--renew", "--pin-file", secret, "--out", str(tmp_path / "r.csr"))
        assert done.returncode == 2 and reason in done.stderr, done.stderr
        done = city_issue(pki, tmp_path / "gc" / "莞城.csr", tmp_path / "x.pem")
        assert done.returncode == 0  # the root's passphrase file itself is fine
        (tmp_path / "x.pem").unlink()
        done = run_limited(
            tmp_path / "city.sqlite3", "city", "issue", "--csr", str(tmp_path / "gc" / "莞城.csr"),
            "--root", str(pki / "city_root.p12"), "--root-passphrase-file", secret, "--out", str(tmp_path / "y.pem"),
        )  # fmt: skip
        assert done.returncode == 2 and reason in done.stderr, done.stderr
        assert not (tmp_path / "y.pem").exists()
    assert not out.exists() or not any(out.iterdir())


# --- 17. one secret at a time; the recorded token among two with one label -------------------------


def test_pin_file_and_passphrase_file_together_are_refused(tmp_path, hsm, pki, guancheng, pin_file):
    token_identity(guancheng, hsm, pki, tmp_path / "gc")
    guancheng.close()
    out = tmp_path / "out"
    done = run_limited(
        tmp_path / "gc.sqlite3", "export", "--quarter", Q.code, "--out", str(out),
        "--pin-file", str(pin_file), "--passphrase-file", str(pin_file),
    )  # fmt: skip
    assert done.returncode == 2
    assert "--pin-file 与 --passphrase-file 不能同时给出" in done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_two_tokens_with_one_label_sign_with_the_recorded_one(tmp_path, hsm, pki, guancheng):
    from actions.returns import export_quarter
    from reports.identity import load_trust_roots
    from reports.verify import Verifier

    token_identity(guancheng, hsm, pki, tmp_path / "gc")
    hsm.init_token()  # a second UKey labelled the same, plugged in beside the first
    result = export_quarter(guancheng, Q.code, tmp_path / "out", lambda: PIN.encode())
    verifier = Verifier(load_trust_roots(pki / "city_root.pem"))
    for path in result.paths:
        verdict = verifier.verify(path)
        assert verdict.valid, verdict.reason


# --- 12. the driver's path is kept absolute -------------------------------------------------------


def test_a_relative_driver_path_is_recorded_absolute(tmp_path, hsm, pki, guancheng, monkeypatch):
    from actions.identity import import_token_identity, show_identity
    from actions.returns import export_quarter
    from reports.identity import issue_for_request
    from reports.token import write_request

    hsm.init_token()
    request = write_request(hsm.module, LABEL, PIN.encode(), "莞城", tmp_path / "莞城.csr", renew=False)
    certificate = tmp_path / "莞城.pem"
    issue_for_request(pki / "city_root.p12", ROOT_PASS, request.path, certificate)
    monkeypatch.chdir(hsm.module.parent.parent)
    import_token_identity(guancheng, certificate, Path("驱动 文件") / "libsofthsm2.so", LABEL, pki / "city_root.pem")
    recorded = show_identity(guancheng).token
    assert recorded is not None
    assert Path(recorded["module"]).is_absolute() and Path(recorded["module"]) == hsm.module.resolve()
    monkeypatch.chdir(tmp_path)  # the window or the command line started from another folder still signs
    assert len(export_quarter(guancheng, Q.code, tmp_path / "out", lambda: PIN.encode()).paths) == 3


# --- 14. a request that cannot be written touches no token ----------------------------------------


def test_a_request_that_cannot_be_written_makes_no_key_and_names_the_users_path(tmp_path, hsm, guancheng, pin_file):
    hsm.init_token()
    guancheng.close()
    blocker = tmp_path / "一个 文件"
    blocker.write_text("not a folder")
    out = blocker / "莞城.csr"
    done = run_limited(
        tmp_path / "gc.sqlite3", "identity", "request", "--town", "莞城", "--pkcs11-module", str(hsm.module),
        "--token-label", LABEL, "--pin-file", str(pin_file), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"无法写出证书申请 {out}" in done.stderr and "没有生成密钥" in done.stderr
    assert ".tmp" not in done.stderr and "Traceback" not in done.stderr
    assert private_key_count(hsm.module) == 0


# --- 15. a clock behind is told as such ---------------------------------------------------------


def test_a_not_yet_valid_certificate_says_the_clock_is_behind(tmp_path, hsm, pki, guancheng):
    import datetime as dt

    from reports.identity import expiry_refusal

    certificate = x509.load_pem_x509_certificate(token_identity(guancheng, hsm, pki, tmp_path / "gc").read_bytes())
    start = certificate.not_valid_before_utc
    refusal = expiry_refusal(certificate, on_token=True, now=start - dt.timedelta(days=3))
    assert refusal is not None
    assert "请先校正电脑时间" in refusal and f"从 {start:%Y-%m-%d} 起才生效" in refusal
    assert "--renew" not in refusal and "申请新的证书" not in refusal


@pytest.mark.skipif(not FAKETIME, reason="libfaketime (Debian's faketime) is not installed")
def test_importing_with_the_clock_behind_asks_to_set_the_clock_not_to_renew(tmp_path, hsm, pki):
    """The city issues today; the town's PC thinks it is two days ago (its database written then too)."""
    import datetime as dt

    from reports.identity import issue_for_request
    from reports.token import write_request

    hsm.init_token()
    request = write_request(hsm.module, LABEL, PIN.encode(), "莞城", tmp_path / "莞城.csr", renew=False)
    certificate = tmp_path / "莞城.pem"
    issued = issue_for_request(pki / "city_root.p12", ROOT_PASS, request.path, certificate)
    earlier = (dt.datetime.now() - dt.timedelta(days=2)).strftime("@%Y-%m-%d %H:%M:%S")
    db = tmp_path / "gc.sqlite3"
    assert run_main(db, "init", "--town", "莞城", clock=earlier).returncode == 0
    done = run_main(
        db, "identity", "import", "--cert", str(certificate), "--pkcs11-module", str(hsm.module),
        "--token-label", LABEL, "--root", str(pki / "city_root.pem"), clock=earlier,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "电脑时间比实际落后，请先校正电脑时间" in done.stderr, done.stderr
    assert f"从 {issued.not_valid_before_utc:%Y-%m-%d} 起才生效" in done.stderr
    assert "--renew" not in done.stderr and "申请新的证书" not in done.stderr
    assert "尚未导入" in run_main(db, "identity", "show", clock=earlier).stdout


# --- 16. a request names exactly one town; hidden characters are shown escaped ---------------------


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (("莞城", "石龙"), "写了 2 个名称（“莞城”、“石龙”）"),
        (("莞城\u200b",), "“莞城\\u200b”不是东莞的 33 个镇街之一"),
        (("\u202e莞城",), "“\\u202e莞城”不是东莞的 33 个镇街之一"),
        (("莞城街道",), "不是镇街的规范名称“莞城”"),
    ],
    ids=["two-towns", "zero-width", "right-to-left", "alias"],
)
def test_a_request_not_naming_exactly_one_town_is_refused_escaped(tmp_path, pki, names, reason):
    csr = tmp_path / "申请.csr"
    csr.write_bytes(request_bytes(ec.generate_private_key(ec.SECP256R1()), *names))
    out = tmp_path / "out.pem"
    done = city_issue(pki, csr, out)
    assert done.returncode == 2, done.stderr
    assert reason in done.stderr, done.stderr
    assert "\u200b" not in done.stderr and "\u202e" not in done.stderr
    assert not out.exists()


def test_identity_request_escapes_a_hidden_character_in_the_town(tmp_path, hsm, guancheng, pin_file):
    hsm.init_token()
    guancheng.close()
    done = run_limited(
        tmp_path / "gc.sqlite3", "identity", "request", "--town", "莞\u202e城", "--pkcs11-module", str(hsm.module),
        "--token-label", LABEL, "--pin-file", str(pin_file), "--out", str(tmp_path / "x.csr"),
    )  # fmt: skip
    assert done.returncode == 2 and "没有名为“莞\\u202e城”的镇街" in done.stderr, done.stderr
    assert "\u202e" not in done.stderr


def test_a_certificate_file_holding_two_certificates_is_refused(tmp_path, hsm, pki, guancheng):
    from actions.identity import import_token_identity

    certificate = token_identity(guancheng, hsm, pki, tmp_path / "gc")
    both = tmp_path / "两个证书.pem"
    both.write_bytes((pki / "city_root.pem").read_bytes() + certificate.read_bytes())
    with pytest.raises(IdentityError, match="中有 2 个证书，不知道导入哪一个"):
        import_token_identity(guancheng, both, hsm.module, LABEL)
    both.write_bytes(certificate.read_bytes() + (pki / "city_root.pem").read_bytes())
    with pytest.raises(IdentityError, match="中有 2 个证书"):
        import_token_identity(guancheng, both, hsm.module, LABEL)


# --- 7. the register does not depend on where the root's file sits --------------------------------


def test_a_copy_of_the_root_elsewhere_does_not_certify_one_key_for_two_towns(tmp_path, pki):
    key = ec.generate_private_key(ec.SECP256R1())
    mine, theirs = tmp_path / "莞城.csr", tmp_path / "石龙.csr"
    mine.write_bytes(request_bytes(key, "莞城"))
    theirs.write_bytes(request_bytes(key, "石龙"))
    done = city_issue(pki, mine, tmp_path / "莞城.pem")
    assert done.returncode == 0, done.stderr
    assert (
        f"签发记录（一把密钥只为一个镇街签发、吊销的密钥不再签发，据此核对）：{(pki / 'issued').resolve()}"
        in done.stdout
    )

    copy = tmp_path / "别处 的副本"
    copy.mkdir()
    shutil.copy(pki / "city_root.p12", copy / "city_root.p12")
    # a .p12 issued from the copy registers nothing there (no register is started beside a copy)
    (copy / "p.pass").write_text("p12-passphrase\n")
    done = run_limited(
        tmp_path / "city.sqlite3", "city", "issue", "--town", "石碣", "--root", str(copy / "city_root.p12"),
        "--root-passphrase-file", str(pki / "root.pass"), "--out", str(tmp_path / "石碣.p12"),
        "--passphrase-file", str(copy / "p.pass"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not (copy / "issued").exists()

    done = city_issue(pki, theirs, tmp_path / "石龙.pem", root=copy / "city_root.p12")
    assert done.returncode == 2, done.stderr
    assert "根证书旁没有签发记录文件夹" in done.stderr and "--register" in done.stderr
    assert not (tmp_path / "石龙.pem").exists()

    done = city_issue(
        pki, theirs, tmp_path / "石龙.pem", "--register", str(pki / "issued"), root=copy / "city_root.p12"
    )
    assert done.returncode == 2 and "这把密钥已在莞城的证书中" in done.stderr, done.stderr
    assert not (tmp_path / "石龙.pem").exists()

    other = ec.generate_private_key(ec.SECP256R1())
    theirs.write_bytes(request_bytes(other, "石龙"))
    done = city_issue(
        pki, theirs, tmp_path / "石龙.pem", "--register", str(pki / "issued"), "--json", root=copy / "city_root.p12"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["register"] == str((pki / "issued").resolve())
    assert len(list((pki / "issued").glob("*.pem"))) == 2


def test_a_revoked_key_the_register_never_saw_is_refused_from_then_on(tmp_path, pki):
    """A certificate issued before the register existed (or elsewhere) and then revoked: its key is entered
    in the register as revoked, so an old request for it is refused."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = tmp_path / "莞城.csr"
    csr.write_bytes(request_bytes(key, "莞城"))
    done = city_issue(pki, csr, tmp_path / "莞城.pem")
    assert done.returncode == 0, done.stderr
    for entry in (pki / "issued").iterdir():
        entry.unlink()  # as if issued before the register
    done = run_limited(
        tmp_path / "city.sqlite3", "city", "revoke", "--root", str(pki / "city_root.p12"),
        "--root-passphrase-file", str(pki / "root.pass"), "--cert", str(tmp_path / "莞城.pem"),
        "--out", str(tmp_path / "revoked.crl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = city_issue(pki, csr, tmp_path / "again.pem")
    assert done.returncode == 2 and "已被吊销" in done.stderr, done.stderr
    assert not (tmp_path / "again.pem").exists()
