"""The signed `.plan` file: a plan package's canonical content, signed by the city root.

Format (one UTF-8 JSON object, see docs/plans.md):

    {"format": "town-returns-plan/1",
     "content": "<the canonical content JSON, as a string: the exact bytes signed>",
     "signature": "<base64 detached CMS (CAdES) over those bytes, by the city root key>"}

The content travels as a string so the signed bytes are carried exactly; it must also be canonical
(re-serialising it gives the same bytes), so two files of one plan always have one content hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import reports.asn1_names  # noqa: F401 - asn1crypto's CMS names complete before any is used
from core.errors import DomainError, PlanError, os_reason
from core.plan_package import JsonRefused, PlanPackage, package_from_canonical, strict_json
from reports.identity import ROOT_COMMON_NAME, Identity, IdentityError, fingerprint, load_p12, town_of

FORMAT = "town-returns-plan/1"
MAX_PLAN_BYTES = 4 * 1024 * 1024
PLAN_SUFFIX = ".plan"


class PlanPackageError(DomainError):
    """A .plan file that is refused: unsigned, untrusted, altered, malformed or oversized."""


@dataclass(frozen=True)
class VerifiedPlan:
    package: PlanPackage
    signed_at: dt.datetime
    root_fingerprint: str  # the trusted root that signed it
    signature: str  # the detached CMS as in the file, kept with an imported package so it can be re-verified


def open_root(root_p12: Path, passphrase: bytes) -> Identity:
    """The city root's key and certificate, to sign a plan with."""
    try:
        data = root_p12.read_bytes()
    except OSError as exc:
        raise IdentityError(f"无法读取根证书文件 {root_p12}：{os_reason(exc)}") from exc
    key, certificate, _ = load_p12(data, passphrase, root_p12.name)
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    if not constraints.ca or certificate.subject != certificate.issuer:
        raise IdentityError(f"{root_p12.name} 不是市局根证书（规划只能由市局根证书签发）")
    return Identity(ROOT_COMMON_NAME, certificate, key, ())


def plan_file_bytes(package: PlanPackage, root: Identity, signing_time: dt.datetime | None = None) -> bytes:
    from reports.signing import sign_payload

    content = package.canonical_bytes()
    envelope = {
        "format": FORMAT,
        "content": content.decode("utf-8"),
        "signature": sign_payload(root, content, signing_time),
    }
    return json.dumps(envelope, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def write_plan_file(package: PlanPackage, root: Identity, out: Path, overwrite: bool = False) -> Path:
    data = plan_file_bytes(package, root)
    if out.exists() and not overwrite:
        raise PlanPackageError(f"{out} 已存在，未覆盖")
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.tmp")
    temp.write_bytes(data)
    temp.replace(out)
    return out


def read_plan_file(path: Path, roots: list[x509.Certificate], now: dt.datetime | None = None) -> VerifiedPlan:
    """The package in `path`, if one of `roots` signed exactly this content; else PlanPackageError with the reason."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise PlanPackageError(f"找不到规划文件 {path}") from exc
    except OSError as exc:
        raise PlanPackageError(f"无法读取规划文件 {path}：{os_reason(exc)}") from exc
    if path.is_dir():
        raise PlanPackageError(f"{path} 是文件夹，不是规划文件")
    if size > MAX_PLAN_BYTES:
        raise PlanPackageError(
            f"规划文件过大（{size / 1048576:.1f} MB，上限 {MAX_PLAN_BYTES // 1048576} MB），不是本系统的规划文件"
        )
    if size == 0:
        raise PlanPackageError("规划文件是空的（0 字节）")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise PlanPackageError(f"无法读取规划文件 {path}：{os_reason(exc)}") from exc
    return verify_plan_bytes(data, roots, now)


def verify_plan_bytes(data: bytes, roots: list[x509.Certificate], now: dt.datetime | None = None) -> VerifiedPlan:
    if len(data) > MAX_PLAN_BYTES:
        raise PlanPackageError("规划文件过大，不是本系统的规划文件")
    try:
        envelope = strict_json(data.decode("utf-8"))
    except JsonRefused as exc:
        raise PlanPackageError(f"规划文件中{exc}（不是本系统写的规划文件），未导入") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise PlanPackageError("规划文件已损坏或不完整（不是有效的 JSON），无法读取") from exc
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        shown = envelope.get("format") if isinstance(envelope, dict) else None
        raise PlanPackageError(f"不是本系统的规划文件（格式标识为“{shown}”，应为“{FORMAT}”）")
    content_text, signature = envelope.get("content"), envelope.get("signature")
    if not isinstance(content_text, str) or not content_text:
        raise PlanPackageError("规划文件中没有规划内容")
    if not signature:
        raise PlanPackageError("规划文件未签名：只能导入由市局根证书签名的规划")
    if not isinstance(signature, str):
        raise PlanPackageError("规划文件的签名已损坏，无法读取")
    return verify_signed_content(content_text, signature, roots, now)


def verify_signed_content(
    content_text: str, signature: str, roots: list[x509.Certificate], now: dt.datetime | None = None
) -> VerifiedPlan:
    """The package whose canonical content `content_text` one of `roots` signed with `signature`
    (a .plan file's, or one a database kept at import); else PlanPackageError with the reason."""
    try:
        content = content_text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no bytes were ever signed for this text
        raise PlanPackageError("规划内容中有不成对的代理码位（不是有效的字符），不是本系统写的规划，未导入") from exc
    signer_info, certificate, signed_at = _signer(signature)
    trusted = [r for r in roots if r.public_bytes(serialization.Encoding.DER) == certificate.dump()]
    if not trusted:
        try:
            leaf = x509.load_der_x509_certificate(certificate.dump())
        except ValueError as exc:
            raise PlanPackageError("规划文件的签名已损坏，无法读取") from exc
        if any(issued_by(leaf, r) for r in roots):
            raise PlanPackageError(
                f"规划文件由{town_of(leaf) or '镇街'}的签名证书签名，不是市局根证书：规划只能由市局签发"
            )
        raise PlanPackageError("规划文件不是由受信任的市局根证书签名（可能来自别的根证书），未导入")
    if not signature_intact(signer_info, certificate, content):
        raise PlanPackageError("规划内容在签名后被改动，与签名不符，未导入")
    root = trusted[0]
    if not root.not_valid_before_utc <= signed_at <= root.not_valid_after_utc:
        raise PlanPackageError(f"签名时市局根证书不在有效期内（签名于 {signed_at:%Y-%m-%d}）")
    if signed_at > (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=1):
        raise PlanPackageError(f"签名时间 {signed_at:%Y-%m-%d %H:%M} 晚于现在，签名不可信")
    try:
        package = package_from_canonical(content)
    except PlanError as exc:
        raise PlanPackageError(f"规划内容有误：{exc.message}") from exc
    return VerifiedPlan(package, signed_at, fingerprint(root), signature)


def _signer(signature: str) -> tuple[cms.SignerInfo, asn1_x509.Certificate, dt.datetime]:
    from reports.package import signed_data_of

    try:
        signed_data = signed_data_of(signature)
        info = signed_data["signer_infos"][0]
        serial = info["sid"].chosen["serial_number"].native
        certificate = next(c.chosen for c in signed_data["certificates"] if c.chosen.serial_number == serial)
        times = [a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "signing_time"]
    except Exception as exc:  # any decoding failure of untrusted bytes is the same refusal
        raise PlanPackageError("规划文件的签名已损坏，无法读取") from exc
    if len(times) != 1 or not isinstance(times[0], dt.datetime):
        raise PlanPackageError("规划文件的签名中没有签名时间")
    signed_at = times[0] if times[0].tzinfo else times[0].replace(tzinfo=dt.UTC)
    return info, certificate, signed_at


def signature_intact(info: cms.SignerInfo, certificate: asn1_x509.Certificate, content: bytes) -> bool:
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    try:
        algorithm = info["digest_algorithm"]["algorithm"].native
        if algorithm not in ("sha256", "sha384", "sha512"):
            return False
        digest = hashlib.new(algorithm, content).digest()
        digest_ok, signature_ok = validate_sig_integrity(info, certificate, "data", digest)
    # what damaged signature bytes raise while they are decoded: a signature that does not hold
    except (SignatureValidationError, ValueError, TypeError, KeyError, OverflowError, NotImplementedError):
        return False
    return bool(digest_ok and signature_ok)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
        return True
    except Exception:  # wrong issuer name, key type or signature: not issued by it
        return False
