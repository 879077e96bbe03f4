"""Verifying a signed return offline: well-formed, intact, made by a town the city trusts, unaltered,
signed at a believable time by a certificate that was not revoked, and showing what was signed.

A verdict depends on the file, the trusted roots, the CRLs and the moment of verification only:
nothing learnt from one file changes the verdict on another.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import reports.asn1_names  # noqa: F401 - asn1crypto's CMS names complete before any is used
from core.errors import DomainError, os_reason
from core.plans import Plan
from reports.files import printable
from reports.payload import (
    BEIJING,
    MANIFEST_PROPERTY,
    PAYLOAD_PROPERTY,
    PDF_ATTACHMENT,
    SIGNATURE_PROPERTY,
    Payload,
    PayloadError,
    ReturnRefused,
    check_plans_disjoint,
    other_release,
    parse_payload,
)
from reports.safe_zip import MAX_FILE_BYTES, UnsafeFile, check_xlsx

CUSTOM_PROPS = "docProps/custom.xml"
CLOCK_SKEW = dt.timedelta(minutes=10)
NOT_SIGNED = "文件中没有签名"
NOT_REGULAR = "不是普通文件"
OUT_OF_MEMORY = "无法核验：内存超限"
MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PROPS_BYTES = 4 * 1024 * 1024
MAX_SNIFFED_PROPS_BYTES = 256 * 1024  # an earlier release's properties are ≈ 10 KB
MAX_PDF_REVISIONS = 8
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024
MAX_KNOWN_CERTIFICATES = 64  # the towns' 33 and the city's, with room for a renewal each
MAX_KNOWN_CERTIFICATE_BYTES = 8192  # a town's certificate is ≈ 0.6 KB
MAX_SIGNATURE_CERTIFICATES = 4  # the app's signature carries the town's certificate and the city's
Parsed = TypeVar("Parsed")


@dataclass(frozen=True)
class Verdict:
    file: str
    valid: bool
    reason: str
    town: str | None = None
    quarter: str | None = None
    revision: int | None = None
    payload: Payload | None = None
    signer: str | None = None
    signed_at: dt.datetime | None = None
    # the certificate is revoked now, though the signer claims to have signed before the revocation:
    # valid, but a higher revision signed so is not trusted over a lower one (see Collection.resolve)
    revoked_signer: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "valid": self.valid,
            "reason": self.reason,
            "town": self.town,
            "quarter": self.quarter,
            "revision": self.revision,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
        }


class Invalid(DomainError):
    def __init__(self, reason: str, payload: Payload | None = None, signed_at: dt.datetime | None = None):
        super().__init__(reason)
        self.payload = payload
        self.signed_at = signed_at


class Revocations:
    """Certificates the city revoked (from CRLs signed by a trusted root): (issuer, serial) -> date."""

    def __init__(self, crls: list[x509.CertificateRevocationList], roots: list[x509.Certificate]):
        self.revoked: dict[tuple[bytes, int], dt.datetime] = {}
        for crl in crls:
            issuer = next((r for r in roots if r.subject == crl.issuer and _crl_signed_by(crl, r)), None)
            if issuer is None:
                raise DomainError("吊销列表（CRL）不是由受信任的市局根证书签发，拒绝使用")
            for entry in crl:
                key = (crl.issuer.public_bytes(), entry.serial_number)
                when = entry.revocation_date_utc
                self.revoked[key] = min(when, self.revoked.get(key, when))

    def revoked_at(self, certificate: x509.Certificate) -> dt.datetime | None:
        return self.revoked.get((certificate.issuer.public_bytes(), certificate.serial_number))


def _crl_signed_by(crl: x509.CertificateRevocationList, root: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    except Exception:
        return False


def load_crls(paths: list[Path], roots: list[x509.Certificate]) -> Revocations:
    crls = []
    for path in paths:
        try:
            if not stat.S_ISREG(path.stat().st_mode) or path.stat().st_size > MAX_PDF_BYTES:
                raise DomainError(f"{printable(path.name)} 不是普通文件或过大，不是吊销列表")
            data = path.read_bytes()
        except OSError as exc:
            raise DomainError(f"无法读取吊销列表 {printable(str(path))}：{os_reason(exc)}") from exc
        try:
            crl = x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----") else x509.load_der_x509_crl(data)
        except ValueError as exc:
            raise DomainError(f"{printable(path.name)} 不是吊销列表（CRL）文件") from exc
        crls.append(crl)
    return Revocations(crls, roots)


def quarter_end(payload: Payload) -> dt.datetime:
    """The moment the return's quarter ends: midnight after its last day, Beijing time."""
    last = payload.quarter.last_day
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), BEIJING)


class Verifier:
    """Checks files against the city's trusted roots (and, if given, its revocation lists)."""

    def __init__(
        self,
        roots: list[x509.Certificate],
        now: dt.datetime | None = None,
        revocations: Revocations | None = None,
        plans: Sequence[Plan] = (),
    ):
        """`plans`: the plans the city issued (its .plan files or its database's); the built-in
        2021–2025 plan is always trusted. A return under any other plan is refused."""
        check_plans_disjoint(plans)
        self.plans = tuple(plans)
        self.root_certs = list(roots)
        self.roots = [asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots]
        self.now = now
        self.revocations = revocations or Revocations([], roots)
        self._loop = asyncio.new_event_loop()  # one loop for every certificate check
        self._chains: dict[bytes, bool] = {}  # certificate (and the ones sent with it) -> chains to a root
        self._revoked_signer = False  # set per file by _judge
        # a certificate's DER -> its parsed forms; a town's returns all carry the same certificate, and
        # asn1crypto keeps what it works out of a certificate (the prepared issuer name pyHanko compares
        # with the signing-certificate attribute) on the object
        self._certificates: dict[bytes, asn1_x509.Certificate] = {}
        self._crypto_certificates: dict[bytes, x509.Certificate] = {}

    def _certificate(self, der: bytes) -> asn1_x509.Certificate:
        """The certificate of these bytes as asn1crypto reads it, parsed once per verifier."""
        return _remembered(self._certificates, der, asn1_x509.Certificate.load)

    def _crypto_certificate(self, der: bytes) -> x509.Certificate:
        """The certificate of these bytes as cryptography reads it, parsed once per verifier."""
        return _remembered(self._crypto_certificates, der, x509.load_der_x509_certificate)

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutting down
            pass

    def verify(self, path: Path) -> Verdict:
        name = str(path)
        self._revoked_signer = False
        try:
            mode = os.stat(path).st_mode  # stat never opens: a FIFO or device cannot block us here
        except OSError as exc:
            return Verdict(name, False, f"无法读取文件（{os_reason(exc)}）")
        if stat.S_ISDIR(mode):
            return Verdict(
                name, False, f"{NOT_REGULAR}（是文件夹；要核验文件夹中的全部季报，请用 consolidate），已跳过"
            )
        if not stat.S_ISREG(mode):
            return Verdict(name, False, f"{NOT_REGULAR}（管道、设备或套接字），已跳过，未打开")
        try:
            suffix = path.suffix.lower()
            if suffix == ".xlsx":
                payload, signer, signed_at = self._workbook(path)
            elif suffix == ".pdf":
                payload, signer, signed_at = self._pdf(path)
            else:
                raise Invalid("不是季报文件（应为 .xlsx 或 .pdf）")
        except Invalid as exc:
            p = exc.payload
            return Verdict(
                name,
                False,
                exc.message,
                p.town if p else None,
                p.quarter.code if p else None,
                p.revision if p else None,
                p,
                signed_at=exc.signed_at,
            )
        except UnsafeFile as exc:
            return Verdict(name, False, exc.message)
        except MemoryError:
            return Verdict(name, False, OUT_OF_MEMORY)
        except Exception as exc:  # any parser failure on a damaged file is a reason, never a crash
            if isinstance(exc, zlib.error) and "Error -4" in str(exc):  # zlib's Z_MEM_ERROR: no damage
                return Verdict(name, False, OUT_OF_MEMORY)
            return Verdict(name, False, f"文件已损坏或不完整，无法读取（{type(exc).__name__}）")
        return Verdict(
            name,
            True,
            "有效",
            payload.town,
            payload.quarter.code,
            payload.revision,
            payload,
            signer,
            signed_at,
            revoked_signer=self._revoked_signer,
        )

    # --- workbook ----------------------------------------------------------------------------

    def _workbook(self, path: Path) -> tuple[Payload, str, dt.datetime]:
        from reports.package import NotOurZip, unpack

        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnsafeFile(
                f"{printable(path.name)}：文件大小 {size / 1048576:.1f} MB，超过 {MAX_FILE_BYTES // 1048576} MB 上限"
            )
        with path.open("rb") as f:
            data = f.read(min(size, MAX_FILE_BYTES) + 1)  # not a 20 MB buffer for a 30 KB file
        if len(data) > MAX_FILE_BYTES:
            raise UnsafeFile(f"{printable(path.name)}：文件超过 {MAX_FILE_BYTES // 1048576} MB 上限")
        try:
            entries = dict(unpack(data))
        except NotOurZip as exc:
            raise self._not_our_zip(path, str(exc)) from exc
        if CUSTOM_PROPS not in entries:
            raise Invalid(f"{NOT_SIGNED}（未签名的草稿，或不是本系统生成的季报）")
        return self._signed_workbook(data, entries)

    def _not_our_zip(self, path: Path, detail: str) -> Exception:
        """Why a file that is not laid out as the app lays out a workbook is refused: damaged, a draft, an
        earlier release's, or changed after signing (then naming the town and quarter its signature vouches for)."""
        check_xlsx(path)  # a damaged file, or a bomb, is named as such
        with zipfile.ZipFile(path) as archive:
            if CUSTOM_PROPS not in archive.namelist():
                return Invalid(f"{NOT_SIGNED}（未签名的草稿，或不是本系统生成的季报）")
            info = archive.getinfo(CUSTOM_PROPS)
            custom = archive.read(info) if info.file_size <= MAX_SNIFFED_PROPS_BYTES else b""
        changed = f"签名后文件被修改：压缩包不是本系统写出的样子（{printable(detail)}）"
        properties = _lenient_properties(custom)
        try:  # an earlier release's workbook: say so (it is refused all the same)
            body = json.loads(properties.get(PAYLOAD_PROPERTY, ""))
            earlier = other_release(body) if isinstance(body, dict) else ""
        except ValueError:
            earlier = ""
        if earlier:
            return Invalid(earlier)
        try:
            payload, signer, *_ = self._signed_payload(properties)
        except Invalid as exc:
            return exc if exc.payload is not None or NOT_SIGNED not in exc.message else Invalid(changed)
        return Invalid(changed, payload, signer.signing_time)

    def _signed_payload(self, properties: dict[str, str]):
        """The signer, the manifest and the payload of a workbook's three properties, checked and judged (the
        signature over the manifest, the manifest over the payload, the payload itself, its signing time and
        certificate), or Invalid."""
        from reports.package import parse_manifest, signed_data_of

        if not {PAYLOAD_PROPERTY, MANIFEST_PROPERTY, SIGNATURE_PROPERTY} <= set(properties):
            raise Invalid(f"{NOT_SIGNED}（未签名的草稿，或不是本系统生成的季报）")
        raw = properties[PAYLOAD_PROPERTY].encode("utf-8")
        manifest_raw = properties[MANIFEST_PROPERTY].encode("utf-8")
        try:
            signed_data = signed_data_of(properties[SIGNATURE_PROPERTY])
        except Exception as exc:
            raise Invalid("签名已损坏，无法读取") from exc
        signer = _signer_of(signed_data, self._certificate)
        certificate = self._crypto_certificate(signer.certificate.dump())
        if not _intact(signer, manifest_raw):
            raise Invalid("签名与本文件的数据不对应（可能是从别的季报复制来的签名）", signed_at=signer.signing_time)
        try:
            manifest = parse_manifest(manifest_raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Invalid("签名的文件清单格式不对") from exc
        if manifest["payload_sha256"] != hashlib.sha256(raw).hexdigest():
            raise Invalid("签名数据在签名后被改动，与签名不符", signed_at=signer.signing_time)
        try:
            payload = parse_payload(raw, self.plans)
        except ReturnRefused as exc:
            raise Invalid(exc.message, signed_at=signer.signing_time) from exc
        except PayloadError as exc:
            raise Invalid(f"签名数据已损坏：{exc.message}", signed_at=signer.signing_time) from exc
        self._judge(self._trusted(signer), certificate, signer.signing_time, payload)
        return payload, signer, certificate, manifest, raw, manifest_raw

    def _signed_workbook(self, data: bytes, entries: dict[str, bytes]) -> tuple[Payload, str, dt.datetime]:
        from reports.excel import Unrenderable, workbook_parts
        from reports.package import custom_xml, manifest_of, pack, read_custom_xml, with_custom

        custom_raw = entries[CUSTOM_PROPS]
        try:
            properties = read_custom_xml(custom_raw)
        except ValueError as exc:
            raise Invalid(f"签名后文件被修改：{CUSTOM_PROPS}（{exc}）") from exc
        payload, signer, certificate, manifest, raw, manifest_raw = self._signed_payload(properties)
        # One spelling: the workbook must be, byte for byte, what this app writes from the signed payload.
        try:
            parts = workbook_parts(payload.return_data())
        except Unrenderable as exc:
            raise Invalid(f"签名数据{exc}，本系统不会生成这样的季报", payload, signer.signing_time) from exc
        if manifest_of(parts, raw) != manifest_raw:
            signed = manifest["parts"]
            name = next(
                (
                    n
                    for n in sorted(set(parts) | set(signed))
                    if hashlib.sha256(parts.get(n, b"")).hexdigest() != signed.get(n)
                ),
                "",
            )
            raise Invalid(
                f"表格不是本系统按签名数据生成的：签名的文件清单中 {printable(name)} 与签名数据重新生成的不同"
                + _difference(entries.get(name), parts.get(name)),
                payload,
                signer.signing_time,
            )
        if pack(with_custom(parts, custom_xml(properties))) != data:
            added = [n for n in entries if n not in parts and n != CUSTOM_PROPS]
            removed = [n for n in parts if n not in entries]
            if added or removed:
                name, what = (added[0], "签名后新增的部件") if added else (removed[0], "签名后被删除")
                raise Invalid(f"签名后文件被修改：{printable(name)}（{what}）", payload, signer.signing_time)
            name = next((n for n in parts if entries.get(n) != parts[n]), "")
            if not name:
                order = "、".join(entries)
                raise Invalid(
                    f"签名后文件被修改：部件的顺序或组成与本系统写出的不同（{printable(order)[:120]}）",
                    payload,
                    signer.signing_time,
                )
            raise Invalid(
                f"签名后文件被修改：{printable(name)}" + _difference(entries.get(name), parts[name]),
                payload,
                signer.signing_time,
            )
        return payload, _town(certificate) or "", signer.signing_time

    # --- pdf ---------------------------------------------------------------------------------

    def _pdf(self, path: Path) -> tuple[Payload, str, dt.datetime]:
        size = path.stat().st_size
        if size > MAX_PDF_BYTES:
            raise UnsafeFile(f"文件大小 {size / 1048576:.1f} MB，超过 {MAX_PDF_BYTES // 1048576} MB 上限")
        with path.open("rb") as f:
            data = f.read(min(size, MAX_PDF_BYTES) + 1)
        if len(data) > MAX_PDF_BYTES:
            raise UnsafeFile(f"文件超过 {MAX_PDF_BYTES // 1048576} MB 上限")
        if not data.startswith(b"%PDF-"):
            raise Invalid("不是有效的 PDF 文件")
        revisions = max(data.count(b"startxref"), data.count(b"/Prev") + 1)
        if revisions > MAX_PDF_REVISIONS:
            raise UnsafeFile(f"PDF 有 {revisions} 次修订（本系统的季报只有 2 次），拒绝解析")
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko.sign.validation.errors import SignatureValidationError
        from pyhanko.sign.validation.status import SignatureCoverageLevel

        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
        if not signatures:
            raise Invalid(f"{NOT_SIGNED}（未签名的草稿，或不是本系统生成的季报）")
        if len(signatures) > 1:
            raise Invalid("文件中有多个签名，不是本系统生成的季报")
        signature = signatures[0]
        try:
            payload = parse_payload(_attachment(reader), self.plans)
        except ReturnRefused as exc:
            raise Invalid(exc.message) from exc
        except PayloadError as exc:
            raise Invalid(f"签名数据已损坏：{exc.message}") from exc
        signing_time = signature.self_reported_timestamp
        if signing_time is None:
            raise Invalid("签名中没有签名时间", payload)
        if signing_time.tzinfo is None:
            signing_time = signing_time.replace(tzinfo=BEIJING)
        certificate = x509.load_der_x509_certificate(signature.signer_cert.dump())
        try:
            status = validate_pdf_signature(signature, self._context(signing_time))
        except SignatureValidationError as exc:
            raise Invalid("签名已损坏，无法验证", payload, signing_time) from exc
        if not status.intact:
            raise Invalid("签名后文件内容被改动，与签名不符", payload, signing_time)
        if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            raise Invalid("签名之后文件又被追加或改动了内容", payload, signing_time)
        self._judge(status.trusted and status.valid, certificate, signing_time, payload)
        problem = _pdf_difference(data, payload, signature, signing_time)
        if problem:
            raise Invalid(f"PDF 不是本系统按签名数据生成的：{problem}", payload, signing_time)
        return payload, _town(certificate) or "", signing_time

    def _trusted(self, signer: _Signer) -> bool:
        """Does the signer's certificate chain to a trusted root (for non-repudiation)?

        The chain is checked at one moment that depends on the certificates alone (when both the
        certificate and its root are valid), so the answer is a pure function of the certificate and is
        remembered per certificate; the signing time is judged against the certificate's and the root's
        validity in `_judge`. Nothing a file says changes what another file's verdict will be.
        """
        key = signer.certificate.sha256 + b"".join(c.sha256 for c in signer.others)
        if key not in self._chains:
            self._chains[key] = self._chain_ok(signer)
        return self._chains[key]

    def _chain_ok(self, signer: _Signer) -> bool:
        from pyhanko_certvalidator import CertificateValidator
        from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError

        leaf = signer.certificate
        issuers = [r for r in self.root_certs if r.subject.public_bytes() == leaf.issuer.dump()]
        if not issuers:
            return False
        start = max([leaf.not_valid_before, *(r.not_valid_before_utc for r in issuers)])
        validator = CertificateValidator(
            leaf, intermediate_certs=list(signer.others), validation_context=self._context(start)
        )
        try:
            self._loop.run_until_complete(validator.async_validate_usage({"non_repudiation"}))
            return True
        except (PathBuildingError, PathValidationError, ValidationError):
            return False

    # --- shared ------------------------------------------------------------------------------

    def _context(self, moment: dt.datetime):
        from pyhanko_certvalidator import ValidationContext

        return ValidationContext(trust_roots=self.roots, moment=moment, allow_fetching=False)

    def _judge(self, trusted: bool, certificate: x509.Certificate, signing_time: dt.datetime, payload: Payload) -> None:
        now = self.now or dt.datetime.now(dt.UTC)
        local = signing_time.astimezone(BEIJING)
        if signing_time > now + CLOCK_SKEW:
            raise Invalid(f"签名时间 {local:%Y-%m-%d %H:%M} 晚于现在，签名不可信", payload, signing_time)
        end = quarter_end(payload)
        if signing_time < end:
            raise Invalid(
                f"签名时间 {local:%Y-%m-%d %H:%M} 早于{payload.quarter.label}结束（{end:%Y-%m-%d} 0 时），"
                "季度未结束时不能签署季报",
                payload,
                signing_time,
            )
        if signing_time < payload.generated - CLOCK_SKEW:
            raise Invalid(
                f"签名时间 {local:%Y-%m-%d %H:%M} 早于季报生成时间 {payload.generated_at}，签名时间不可信",
                payload,
                signing_time,
            )
        start, stop = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        if not start <= signing_time <= stop:
            raise Invalid(
                f"签名时证书不在有效期内（签名于 {local:%Y-%m-%d}，证书有效期 {start:%Y-%m-%d} 至 {stop:%Y-%m-%d}）",
                payload,
                signing_time,
            )
        if not trusted:
            raise Invalid("签名证书不是由受信任的市局根证书签发", payload, signing_time)
        roots = [r for r in self.root_certs if r.subject == certificate.issuer]
        if not any(r.not_valid_before_utc <= signing_time <= r.not_valid_after_utc for r in roots):
            raise Invalid(f"签名时市局根证书不在有效期内（签名于 {local:%Y-%m-%d}）", payload, signing_time)
        revoked = self.revocations.revoked_at(certificate)
        if revoked is not None and signing_time >= revoked:
            raise Invalid(
                f"签名证书已于 {revoked.astimezone(BEIJING):%Y-%m-%d %H:%M} 被市局吊销，"
                f"签名时间 {local:%Y-%m-%d %H:%M} 在吊销之后，签名无效",
                payload,
                signing_time,
            )
        self._revoked_signer = revoked is not None
        signer_town = _town(certificate)
        if signer_town != payload.town:
            raise Invalid(f"签名证书属于{signer_town}，季报却是{payload.town}的", payload, signing_time)


@dataclass(frozen=True)
class _Signer:
    """The signer of a CMS signature, looked up once per file."""

    info: cms.SignerInfo
    certificate: asn1_x509.Certificate
    others: tuple[asn1_x509.Certificate, ...]
    signing_time: dt.datetime


def _intact(signer: _Signer, signed_bytes: bytes) -> bool:
    """The CMS signature is over exactly these bytes (checked by pyHanko, trust aside)."""
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    algorithm = signer.info["digest_algorithm"]["algorithm"].native
    if algorithm not in ("sha256", "sha384", "sha512"):
        return False
    digest = hashlib.new(algorithm, signed_bytes).digest()
    try:
        digest_ok, signature_ok = validate_sig_integrity(signer.info, signer.certificate, "data", digest)
    except (SignatureValidationError, ValueError):
        return False
    return digest_ok and signature_ok


def _town(certificate: x509.Certificate) -> str | None:
    from reports.identity import town_of

    return town_of(certificate)


def _remembered(cache: dict[bytes, Parsed], der: bytes, parse: Callable[[bytes], Parsed]) -> Parsed:
    """A parsed certificate kept for the files after this one: only one of a real certificate's size,
    and only so many (any file may carry certificates, valid or not — one must not fill the memory
    that the files after it are verified in)."""
    known = cache.get(der)
    if known is not None:
        return known
    parsed = parse(der)
    if len(der) <= MAX_KNOWN_CERTIFICATE_BYTES:
        if len(cache) >= MAX_KNOWN_CERTIFICATES:
            cache.clear()
        cache[der] = parsed
    return parsed


def _signer_of(signed_data: cms.SignedData, known: Callable[[bytes], asn1_x509.Certificate]) -> _Signer:
    """`known` gives the parsed certificate of a certificate's bytes (the same object for the same bytes)."""
    sent = signed_data["certificates"]
    if len(sent) > MAX_SIGNATURE_CERTIFICATES or any(len(c.contents) > MAX_KNOWN_CERTIFICATE_BYTES for c in sent):
        raise Invalid("签名中夹带了多余或过大的证书，不是本系统生成的签名")
    try:
        info = signed_data["signer_infos"][0]
        serial = info["sid"].chosen["serial_number"].native
        certificates = [
            known(c.chosen.dump()) if isinstance(c.chosen, asn1_x509.Certificate) else c.chosen
            for c in signed_data["certificates"]
        ]
        index = next(i for i, c in enumerate(certificates) if c.serial_number == serial)
        certificate = certificates[index]
        times = [a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "signing_time"]
    except (KeyError, IndexError, StopIteration, ValueError, TypeError) as exc:
        raise Invalid("签名中没有签名证书") from exc
    if len(times) != 1 or not isinstance(times[0], dt.datetime):
        raise Invalid("签名中没有签名时间（签名属性中应有 signing-time）")
    signing_time = times[0] if times[0].tzinfo else times[0].replace(tzinfo=dt.UTC)
    others = tuple(c for i, c in enumerate(certificates) if i != index)  # by place: one object may sit at two
    return _Signer(info, certificate, others, signing_time)


def _attachment(reader) -> bytes:
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError as exc:
        raise PayloadError("没有签名数据附件") from exc
    if len(names) != 2 or str(names[0]) != PDF_ATTACHMENT:
        # exactly one attachment, ours: another tool must not find a second payload to believe
        raise PayloadError("附件不止一个，或不是本系统的签名数据")
    for index in range(0, len(names), 2):
        if str(names[index]) == PDF_ATTACHMENT:
            spec = names[index + 1].get_object()
            stream = spec["/EF"]["/F"].get_object()
            if len(stream.encoded_data) > MAX_ATTACHMENT_BYTES:
                raise PayloadError("签名数据附件过大")
            filters = stream.get("/Filter")
            if filters is None:
                return stream.encoded_data
            if str(filters) != "/FlateDecode" or "/DecodeParms" in stream:
                raise PayloadError("签名数据附件的编码不是本系统所用的")
            import zlib

            inflater = zlib.decompressobj()
            data = inflater.decompress(stream.encoded_data, MAX_ATTACHMENT_BYTES + 1)
            if len(data) > MAX_ATTACHMENT_BYTES:
                raise PayloadError("签名数据附件解压后过大")
            return data
    raise PayloadError("没有签名数据附件")


def _pdf_difference(data: bytes, payload: Payload, signature, signing_time: dt.datetime) -> str:
    """Empty when the file is, byte for byte, the PDF this app writes from the payload, signed with the
    file's own CMS at its own signing time; else where it first differs.

    The return (or the summary) is rendered again from the payload alone, and the app's signing is run
    again on it with a signer that hands back the file's CMS (reports.signing.ReplaySigner): whatever a
    viewer could show — another annotation, a second /Annots, an overprinted path, a script, a form,
    outlines, another title — is bytes the app never writes.
    """
    from asn1crypto import cms as asn1_cms
    from pyhanko.sign.general import SigningError

    from reports.pdf_text import rendered
    from reports.signing import ReplaySigner, signed_pdf_bytes

    raw = payload.to_bytes()
    try:
        contents = bytes(signature.sig_object["/Contents"])
        der = asn1_cms.ContentInfo.load(contents, strict=False).dump()
        content = asn1_cms.ContentInfo.load(der)
        # one spelling for the CMS too: a BER variant (a tag's class bits, say) reads the same to pyHanko
        canonical = asn1_cms.ContentInfo.load(der).dump(force=True) == der
    except Exception:
        return "签名内容的编码不是本系统写的"
    if not canonical:
        return "签名（CMS）的编码不是规范的 DER 写法"
    best: tuple[int, str] | None = None
    for summary in (True, False):
        unsigned, slot = rendered(payload, summary)
        if not data.startswith(unsigned):
            at = next((i for i, (x, y) in enumerate(zip(data, unsigned, strict=False)) if x != y), len(unsigned))
            if best is None or at > best[0]:
                best = (at, "签名的部分（签名之前的 PDF）与签名数据重新生成的" + ("摘要" if summary else "季报"))
            continue
        box = None if summary else getattr(slot, "box", None)
        try:
            expected = signed_pdf_bytes(
                unsigned,
                payload.town,
                raw,
                box,
                getattr(slot, "page", None) or 0,
                signing_time.astimezone(BEIJING),
                ReplaySigner(content, signature.signer_cert),
            )
        except (SigningError, ValueError) as exc:
            return f"签名部分无法按本系统的方式重新生成（{printable(str(exc))[:80]}）"
        if expected == data:
            return ""
        at = next(
            (i for i, (x, y) in enumerate(zip(data, expected, strict=False)) if x != y), min(len(data), len(expected))
        )
        return f"签名所附加的内容与本系统签名时写的不同（第 {at} 字节起为“{_excerpt(data, at)}”，应为“{_excerpt(expected, at)}”）"
    assert best is not None
    at, what = best
    return f"{what}不同（第 {at} 字节起为“{_excerpt(data, at)}”，应为“{_excerpt(unsigned, at)}”）"


def _excerpt(data: bytes, at: int) -> str:
    return printable(data[max(0, at - 24) : at + 40].decode("latin-1"))


def _lenient_properties(xml: bytes) -> dict[str, str]:
    """The custom properties of a workbook another program saved (only to say whose return it claims to be)."""
    import defusedxml.ElementTree as safe_xml

    try:
        root = safe_xml.fromstring(xml)
    except Exception:  # any spelling another program may use, or none
        return {}
    found: dict[str, str] = {}
    for prop in root:
        name = prop.get("name")
        if name and len(prop) and name not in found:
            found[name] = prop[0].text or ""
    return found


def _difference(got: bytes | None, want: bytes | None) -> str:
    """Where two spellings of a part first differ, shown briefly (so each refusal says what it found)."""
    if got is None:
        return "（文件中没有这个部件）"
    if want is None:
        return "（本系统不生成这个部件）"
    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))

    def shown(data: bytes) -> str:
        return printable(data[max(0, at - 24) : at + 40].decode("utf-8", "replace"))

    return f"（第 {at} 字节起为“{shown(got)}”，应为“{shown(want)}”）"
