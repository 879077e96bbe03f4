"""Issue 22 point 3: parsers that cannot crash on input. Every malformed `.plan`, CRL and identity file
is refused by the real command line with exit 2 and a Chinese reason (exit 3 is for the app's own
bugs); a CRL past its nextUpdate is used with a warning naming its date, and `--strict-crl` refuses it.

The insider cases (a .plan the city root signed with another spelling) are signed with the root's
own key, as someone holding it could."""

import datetime as dt
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions import city, database, figures, identity, returns
from cli import main
from core.plan_package import canonical_json, sample_package
from reports.identity import read_crl, revoke
from reports.plan_file import FORMAT, PlanPackageError, open_root, verify_plan_bytes, write_plan_file
from reports.signing import sign_payload
from storage.store import Store
from tests.helpers import SIGN_OFF_FLAGS, on_pace_history, signed_off_profile

ROOT_PASS = b"root-passphrase"
TOWN_PASS = b"town-passphrase"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def refused(code, out, err, *words):
    """Exit 2, a Chinese reason on stderr, no traceback, no internal error."""
    assert code == 2, (code, out, err)
    assert CHINESE.search(err) and "程序内部错误" not in err and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    made = city.create_root(folder, ROOT_PASS)
    city.issue_identity(made.key, ROOT_PASS, "莞城", folder / "莞城.p12", TOWN_PASS)
    (folder / "pw.txt").write_text(TOWN_PASS.decode(), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def genuine_return(pki, tmp_path_factory):
    """A signed 2024Q3 return of 莞城, exported through the actions."""
    folder = tmp_path_factory.mktemp("return")
    with Store(folder / "town.sqlite3") as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        names = {"unit_name": "东莞市莞城人力资源和社会保障分局", "head": "张三", "stats_head": "王五", "preparer": "李四"}
        database.update_profile(store, names)
        for quarter, values in on_pace_history().items():
            figures.save_figures(store, quarter, values, {})
        identity.import_identity(store, pki / "莞城.p12", lambda: TOWN_PASS)
        result = returns.export_quarter(store, "2024Q3", folder / "上报", lambda: TOWN_PASS)
    return [p for p in result.paths if p.suffix == ".xlsx"][0]


def root_identity(pki):
    return open_root(pki / "city_root.p12", ROOT_PASS)


def signed_plan_text(pki, content: bytes, envelope_extra: str = "") -> bytes:
    """A .plan whose content the city root really signed, written as the app writes the envelope."""
    signature = sign_payload(root_identity(pki), content)
    envelope = {"format": FORMAT, "content": content.decode("utf-8"), "signature": signature}
    return json.dumps(envelope, ensure_ascii=False, indent=1).encode("utf-8")


def content_with(**changes) -> dict:
    content = sample_package().content()
    content.update(changes)
    return content


# --- .plan files ------------------------------------------------------------------------------

ENVELOPE_CASES = {
    "lone surrogate in the format": b'{"format": "\\ud800", "content": "x", "signature": "x"}',
    "lone surrogate in a key": b'{"\\udfff": 1, "format": "town-returns-plan/1"}',
    "lone surrogate in the content": b'{"format": "town-returns-plan/1", "content": "{\\"a\\": \\"\\ud800\\"}", "signature": "AAAA"}',
    "NaN": b'{"format": NaN}',
    "Infinity": b'{"format": "town-returns-plan/1", "content": Infinity}',
    "-Infinity": b'{"format": -Infinity}',
    "a float": b'{"format": 1.0}',
    "a huge number": b'{"format": ' + b"9" * 5000 + b"}",
    "a long number": b'{"format": 12345678901234567890}',
    "an exponent": b'{"format": 1e400}',
    "duplicate keys": b'{"format": "town-returns-plan/1", "format": "town-returns-plan/1"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "not UTF-8": b'{"format": "\xff\xfe"}',
    "CESU surrogate bytes": b'{"format": "\xed\xa0\x80"}',
    "a list": b"[]",
    "a string": b'"town-returns-plan/1"',
    "a bidi override": b'{"format": "town-returns-plan/1\xe2\x80\xae"}',
    "signature is a number": b'{"format": "town-returns-plan/1", "content": "{}", "signature": 5}',
    "signature is garbage": b'{"format": "town-returns-plan/1", "content": "{}", "signature": "!!!!"}',
    "truncated": b'{"format": "town-returns-plan/1", "content": "{',
}


def insider_contents(pki):
    genuine = content_with()
    first_town = next(iter(genuine["towns"]))
    flow = genuine["indicators"][0]["code"]
    cases = {
        "version 1.0": canonical_json(content_with(version=1.0)),
        "version true": canonical_json(content_with(version=True)),
        "version as text": canonical_json(content_with(version="1")),
        "sample as 1": canonical_json(content_with(sample=1)),
        "a quarter spelled another way": canonical_json(content_with(first="2026年第1季度")),
        "an unknown key": canonical_json(content_with(extra="x")),
        "a missing key": canonical_json({k: v for k, v in genuine.items() if k != "issuer"}),
        "towns as a list": canonical_json(content_with(towns=[])),
    }
    huge = content_with()
    huge["towns"][first_town]["targets"][flow] = 10**30
    cases["a huge target"] = canonical_json(huge).replace(b"1" + b"0" * 30, b"1" + b"0" * 30)
    rated = content_with()
    rate_code = next(iter(rated["city"]["rates"]))
    for name, spelling in (("rate 1e999999999", "1e999999999"), ("rate Infinity", "Infinity"), ("rate NaN", "NaN"), ("rate ٩٦", "٩٦")):
        doctored = json.loads(json.dumps(rated))
        doctored["city"]["rates"][rate_code] = spelling
        cases[name] = canonical_json(doctored)
    order = content_with()
    order["indicators"][0]["order"] = "1"
    cases["order as text"] = canonical_json(order)
    bidi = content_with(name=sample_package().name + "\u202e")
    cases["a bidi override in the name"] = canonical_json(bidi)
    return cases


@pytest.fixture(scope="module")
def bad_plans(pki, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plans")
    files = {}
    for n, (name, data) in enumerate(ENVELOPE_CASES.items()):
        files[name] = folder / f"{n}.plan"
        files[name].write_bytes(data)
    for n, (name, content) in enumerate(insider_contents(pki).items()):
        files[name] = folder / f"signed{n}.plan"
        files[name].write_bytes(signed_plan_text(pki, content))
    genuine = canonical_json(content_with())
    first_key = genuine[1 : genuine.index(b":")]
    duplicate = b"{" + first_key + b':"",' + genuine[1:]
    files["duplicate keys in the signed content"] = folder / "dup.plan"
    files["duplicate keys in the signed content"].write_bytes(signed_plan_text(pki, duplicate))
    return files


CASES = list(ENVELOPE_CASES) + [
    "version 1.0",
    "version true",
    "version as text",
    "sample as 1",
    "a quarter spelled another way",
    "an unknown key",
    "a missing key",
    "towns as a list",
    "a huge target",
    "rate 1e999999999",
    "rate Infinity",
    "rate NaN",
    "rate ٩٦",
    "order as text",
    "a bidi override in the name",
    "duplicate keys in the signed content",
]


def test_the_genuine_plan_is_read(pki, tmp_path, genuine_return, capsys):
    plan = write_plan_file(sample_package(), root_identity(pki), tmp_path / "2026-2030.plan")
    code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--plan", plan, genuine_return)
    assert code == 0 and "有效" in out, out + err


@pytest.mark.parametrize("case", CASES)
def test_verify_refuses_a_malformed_plan_with_exit_2(pki, bad_plans, genuine_return, capsys, case):
    code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--plan", bad_plans[case], genuine_return)
    refused(code, out, err, "规划文件")


@pytest.mark.parametrize("case", ["version 1.0", "a lone surrogate in the content", "a huge target", "rate Infinity"])
def test_plan_import_refuses_a_malformed_plan_with_exit_2(pki, bad_plans, tmp_path, capsys, case):
    case = {"a lone surrogate in the content": "lone surrogate in the content"}.get(case, case)
    db = tmp_path / "town.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", "莞城")[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    assert run(capsys, "--db", db, "identity", "import", pki / "莞城.p12", "--passphrase-file", pki / "pw.txt")[0] == 0
    code, out, err = run(capsys, "--db", db, "plan", "import", bad_plans[case])
    refused(code, out, err, "未导入")
    code, out, _ = run(capsys, "--db", db, "plan", "list")
    assert "十五五" not in out


def test_the_reasons_name_what_was_found(bad_plans, pki, genuine_return, capsys):
    expected = {
        "lone surrogate in the format": "U+D800",
        "version 1.0": "小数",
        "version true": "版本号不是整数",
        "NaN": "NaN",
        "a huge number": "5000 位",
        "duplicate keys": "出现了两次",
        "a bidi override in the name": "U+202E",
    }
    for case, word in expected.items():
        code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--plan", bad_plans[case], genuine_return)
        refused(code, out, err, word)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_are_a_plan_or_a_refusal(data):
    try:
        verify_plan_bytes(data, [])
    except PlanPackageError as exc:
        assert CHINESE.search(exc.message)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from(["format", "content", "signature", "version"]))
def test_any_json_in_the_envelope_is_a_refusal_never_a_crash(value, key):
    envelope = {"format": FORMAT, "content": "{}", "signature": "AAAA", key: value}
    data = json.dumps(envelope, ensure_ascii=True).encode("ascii")
    with pytest.raises(PlanPackageError) as refusal:
        verify_plan_bytes(data, [])
    assert CHINESE.search(refusal.value.message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["version", "name", "first", "last", "sample", "indicators", "towns", "city", "differences"]), JSON_VALUES)
def test_any_signed_content_the_root_would_sign_is_a_plan_or_a_refusal(pki, key, value):
    from cryptography import x509

    roots = [x509.load_pem_x509_certificate((pki / "city_root.pem").read_bytes())]
    content = json.dumps(content_with(**{key: value}), ensure_ascii=True, sort_keys=True).encode()
    envelope = {"format": FORMAT, "content": content.decode(), "signature": sign_payload(root_identity(pki), content)}
    try:
        verify_plan_bytes(json.dumps(envelope).encode(), roots)
    except PlanPackageError as exc:
        assert CHINESE.search(exc.message)


# --- CRLs ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crls(pki, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crls")
    other = city.issue_identity(pki / "city_root.p12", ROOT_PASS, "石龙", folder / "石龙.p12", TOWN_PASS)
    old, _ = revoke(
        pki / "city_root.p12", ROOT_PASS, other.certificate, folder / "old.crl", when=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    fresh, _ = revoke(pki / "city_root.p12", ROOT_PASS, other.certificate, folder / "fresh.crl")
    der = read_crl(fresh).crl.public_bytes(__import__("cryptography.hazmat.primitives.serialization").hazmat.primitives.serialization.Encoding.DER)
    cases = {
        "garbage": b"not a crl at all",
        "empty": b"",
        "truncated DER": der[: len(der) // 2],
        "a flipped byte": der[:20] + bytes([der[20] ^ 0xFF]) + der[21:],
        "PEM armour around nothing": b"-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n",
        "a certificate": (pki / "city_root.pem").read_bytes(),
    }
    files = {"old": old, "fresh": fresh, "folder": folder}
    for n, (name, data) in enumerate(cases.items()):
        files[name] = folder / f"bad{n}.crl"
        files[name].write_bytes(data)
    return files


def test_a_current_crl_is_used_without_a_word(pki, crls, genuine_return, capsys):
    code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--crl", crls["fresh"], genuine_return)
    assert code == 0 and "有效" in out and "过期" not in err, out + err


def test_an_expired_crl_is_used_with_a_warning_naming_its_date(pki, crls, genuine_return, capsys):
    code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--crl", crls["old"], genuine_return)
    assert code == 0 and "有效" in out, out + err
    assert "吊销列表已过期" in err and "2020-12-31" in err and "old.crl" in err, err


def test_strict_crl_refuses_an_expired_crl_in_verify_and_consolidate(pki, crls, genuine_return, capsys):
    code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--crl", crls["old"], "--strict-crl", genuine_return)
    refused(code, out, err, "吊销列表已过期", "2020-12-31")
    assert "有效" not in out
    code, out, err = run(
        capsys, "consolidate", "--trust", pki / "city_root.pem", "--crl", crls["old"], "--strict-crl",
        "--quarter", "2024Q3", genuine_return.parent,
    )
    refused(code, out, err, "吊销列表已过期")
    code, out, err = run(
        capsys, "consolidate", "--trust", pki / "city_root.pem", "--crl", crls["old"], "--quarter", "2024Q3", genuine_return.parent
    )
    assert code == 0 and "有效 1 个镇街" in out and "吊销列表已过期" in err, out + err
    code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--crl", crls["fresh"], "--strict-crl", genuine_return)
    assert code == 0, out + err


@pytest.mark.parametrize("case", ["garbage", "empty", "truncated DER", "a flipped byte", "PEM armour around nothing", "a certificate", "folder"])
def test_a_malformed_crl_is_refused_with_exit_2(pki, crls, genuine_return, capsys, case):
    code, out, err = run(capsys, "verify", "--trust", pki / "city_root.pem", "--crl", crls[case], genuine_return)
    refused(code, out, err)
    code, out, err = run(
        capsys, "consolidate", "--trust", pki / "city_root.pem", "--crl", crls[case], "--quarter", "2024Q3", genuine_return.parent
    )
    refused(code, out, err)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=255))
def test_any_damaged_crl_is_read_or_refused(crls, tmp_path_factory, position, flip):
    from reports.identity import IdentityError

    data = bytearray(read_crl(crls["fresh"]).crl.public_bytes(__import__("cryptography.hazmat.primitives.serialization").hazmat.primitives.serialization.Encoding.DER))
    data[position % len(data)] ^= flip
    path = crls["folder"] / "fuzz.crl"
    path.write_bytes(bytes(data))
    try:
        read_crl(path)
    except IdentityError as exc:
        assert CHINESE.search(exc.message)


# --- identity files -----------------------------------------------------------------------------


@pytest.fixture
def town_db(tmp_path, capsys):
    db = tmp_path / "town.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", "莞城")[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    return db


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"0\x80", b"0\x82\xff\xff" + b"\x00" * 40, b"\x30\x03\x02\x01\x03"],
    ids=["empty", "garbage", "bad length", "overlong length", "a bare version"],
)
def test_a_malformed_identity_file_is_refused_with_exit_2(pki, town_db, tmp_path, capsys, data):
    bad = tmp_path / "bad.p12"
    bad.write_bytes(data)
    code, out, err = run(capsys, "--db", town_db, "identity", "import", bad, "--passphrase-file", pki / "pw.txt")
    refused(code, out, err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=4000), st.integers(min_value=1, max_value=255))
def test_any_damaged_identity_file_is_opened_or_refused(pki, position, flip):
    from reports.identity import IdentityError, check_identity

    data = bytearray((pki / "莞城.p12").read_bytes())
    data[position % len(data)] ^= flip
    try:
        check_identity(bytes(data), TOWN_PASS, "莞城.p12", "莞城", None)
    except IdentityError as exc:
        assert CHINESE.search(exc.message)


def test_the_window_verifies_with_an_expired_crl_after_saying_so(pki, crls, genuine_return, qtbot, dialogs):
    from gui.app import make_application
    from gui.verify_dialog import VerifyDialog

    make_application()
    dialog = VerifyDialog()
    qtbot.addWidget(dialog)
    dialog.set_root(pki / "city_root.pem")
    dialog.crl_button.set_paths([crls["old"]])
    dialogs.expect("吊销列表已过期")
    task = dialog.verify_files([genuine_return])
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    assert "2020-12-31" in dialogs.texts()[-1]
    assert [row.valid for row in dialog.model.rows] == [True]
    dialog.crl_button.set_paths([])


def test_a_damaged_trust_root_is_refused_with_exit_2(pki, genuine_return, tmp_path, capsys):
    pem = (pki / "city_root.pem").read_bytes()
    lines = pem.splitlines(keepends=True)
    for n, line in enumerate(lines[1:-1], start=1):  # one base64 character changed in each line of the body
        changed = bytearray(line)
        changed[10] = ord("A") if changed[10] != ord("A") else ord("B")
        damaged = tmp_path / f"root{n}.pem"
        damaged.write_bytes(b"".join(lines[:n]) + bytes(changed) + b"".join(lines[n + 1 :]))
        code, out, err = run(capsys, "verify", "--trust", damaged, genuine_return)
        refused(code, out, err, damaged.name)  # never 有效 under a root that is not the one issued
