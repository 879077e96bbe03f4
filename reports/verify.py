"""Verifying a signed return offline: well-formed, intact, made by a town the city trusts, unaltered."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from defusedxml import ElementTree

from core.errors import DomainError
from core.indicators import INDICATOR_CODES
from reports.layout import DATA_SHEET, FIRST_FIGURE_ROW, FORM_SHEET, QUARTER_COLUMN
from reports.payload import PAYLOAD_PROPERTY, PDF_ATTACHMENT, SIGNATURE_PROPERTY, Payload, PayloadError, parse_payload
from reports.safe_zip import UnsafeFile, check_xlsx

CUSTOM_PROPS = "docProps/custom.xml"
CLOCK_SKEW = dt.timedelta(minutes=10)
NOT_SIGNED = "文件中没有签名"


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

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "valid": self.valid,
            "reason": self.reason,
            "town": self.town,
            "quarter": self.quarter,
            "revision": self.revision,
        }


class Invalid(DomainError):
    def __init__(self, reason: str, payload: Payload | None = None):
        super().__init__(reason)
        self.payload = payload


class Verifier:
    """Checks files against the city's trusted roots."""

    def __init__(self, roots: list[x509.Certificate], now: dt.datetime | None = None):
        self.roots = [asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots]
        self.now = now
        self._trust_cache: dict[bytes, bool] = {}

    def verify(self, path: Path) -> Verdict:
        try:
            suffix = path.suffix.lower()
            if suffix == ".xlsx":
                payload, signer = self._workbook(path)
            elif suffix == ".pdf":
                payload, signer = self._pdf(path)
            else:
                raise Invalid("不是季报文件（应为 .xlsx 或 .pdf）")
        except Invalid as exc:
            p = exc.payload
            return Verdict(
                str(path),
                False,
                exc.message,
                p.town if p else None,
                p.quarter.code if p else None,
                p.revision if p else None,
                p,
            )
        except UnsafeFile as exc:
            return Verdict(str(path), False, exc.message)
        except Exception as exc:  # any parser failure on a damaged file is a reason, never a crash
            return Verdict(str(path), False, f"文件已损坏或不完整，无法读取（{type(exc).__name__}）")
        return Verdict(str(path), True, "有效", payload.town, payload.quarter.code, payload.revision, payload, signer)

    # --- workbook ----------------------------------------------------------------------------

    def _workbook(self, path: Path) -> tuple[Payload, str]:
        check_xlsx(path)
        with zipfile.ZipFile(path) as archive:
            if CUSTOM_PROPS not in archive.namelist():
                raise Invalid(f"{NOT_SIGNED}（未签名的草稿，或不是本系统生成的季报）")
            properties = _custom_properties(archive.read(CUSTOM_PROPS))
            return self._signed_workbook(archive, properties)

    def _signed_workbook(self, archive: zipfile.ZipFile, properties: dict[str, str]) -> tuple[Payload, str]:
        if PAYLOAD_PROPERTY not in properties or SIGNATURE_PROPERTY not in properties:
            raise Invalid(f"{NOT_SIGNED}（未签名的草稿，或不是本系统生成的季报）")
        raw = properties[PAYLOAD_PROPERTY].encode("utf-8")
        try:
            payload = parse_payload(raw)
        except PayloadError as exc:
            raise Invalid(f"签名数据已损坏：{exc.message}") from exc
        try:
            from reports.signing import signed_data_of

            signed_data = signed_data_of(properties[SIGNATURE_PROPERTY])
        except Exception as exc:
            raise Invalid("签名已损坏，无法读取", payload) from exc
        visible_problem = _visible_mismatch(archive, payload)
        signer = _signer_of(signed_data, payload)
        certificate = x509.load_der_x509_certificate(signer.certificate.dump())
        if not _intact(signer, raw):
            if visible_problem:
                raise Invalid("签名数据在签名后被改动，与签名不符", payload)
            raise Invalid("签名与本文件的数据不对应（可能是从别的季报复制来的签名）", payload)
        self._judge(self._trusted(signer), certificate, signer.signing_time, payload)
        if visible_problem:
            raise Invalid(f"表中可见数值与签名数据不一致：{visible_problem}", payload)
        return payload, _town(certificate) or ""

    # --- pdf ---------------------------------------------------------------------------------

    def _pdf(self, path: Path) -> tuple[Payload, str]:
        with path.open("rb") as f:
            if f.read(5) != b"%PDF-":
                raise Invalid("不是有效的 PDF 文件")
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko.sign.validation.errors import SignatureValidationError
        from pyhanko.sign.validation.status import SignatureCoverageLevel

        with path.open("rb") as f:
            reader = PdfFileReader(f, strict=False)
            signatures = reader.embedded_signatures
            if not signatures:
                raise Invalid(f"{NOT_SIGNED}（未签名的草稿，或不是本系统生成的季报）")
            if len(signatures) > 1:
                raise Invalid("文件中有多个签名，不是本系统生成的季报")
            signature = signatures[0]
            try:
                payload = parse_payload(_attachment(reader))
            except PayloadError as exc:
                raise Invalid(f"签名数据已损坏：{exc.message}") from exc
            signing_time = signature.self_reported_timestamp or dt.datetime.now(dt.UTC)
            certificate = x509.load_der_x509_certificate(signature.signer_cert.dump())
            try:
                status = validate_pdf_signature(signature, self._context(signing_time))
            except SignatureValidationError as exc:
                raise Invalid("签名已损坏，无法验证", payload) from exc
            if not status.intact:
                raise Invalid("签名后文件内容被改动，与签名不符", payload)
            if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
                raise Invalid("签名之后文件又被追加或改动了内容", payload)
            self._judge(status.trusted and status.valid, certificate, signing_time, payload)
        return payload, _town(certificate) or ""

    def _trusted(self, signer: _Signer) -> bool:
        """Does the signer's certificate chain to a trusted root? Asked once per distinct certificate."""
        key = signer.certificate.sha256
        if key not in self._trust_cache:
            from pyhanko_certvalidator import CertificateValidator
            from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError

            validator = CertificateValidator(
                signer.certificate,
                intermediate_certs=list(signer.others),
                validation_context=self._context(signer.signing_time),
            )
            try:
                asyncio.run(validator.async_validate_usage({"non_repudiation"}))
                self._trust_cache[key] = True
            except (PathBuildingError, PathValidationError, ValidationError):
                self._trust_cache[key] = False
        return self._trust_cache[key]

    # --- shared ------------------------------------------------------------------------------

    def _context(self, moment: dt.datetime):  # type: ignore[no-untyped-def]
        from pyhanko_certvalidator import ValidationContext

        return ValidationContext(trust_roots=self.roots, moment=moment, allow_fetching=False)

    def _judge(self, trusted: bool, certificate: x509.Certificate, signing_time: dt.datetime, payload: Payload) -> None:
        now = self.now or dt.datetime.now(dt.UTC)
        if signing_time > now + CLOCK_SKEW:
            raise Invalid(f"签名时间 {signing_time:%Y-%m-%d %H:%M} 晚于现在，签名不可信", payload)
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        if not start <= signing_time <= end:
            raise Invalid(
                f"签名时证书不在有效期内（签名于 {signing_time:%Y-%m-%d}，证书有效期 {start:%Y-%m-%d} 至 {end:%Y-%m-%d}）",
                payload,
            )
        if not trusted:
            raise Invalid("签名证书不是由受信任的市局根证书签发", payload)
        signer_town = _town(certificate)
        if signer_town != payload.town:
            raise Invalid(f"签名证书属于{signer_town}，季报却是{payload.town}的", payload)


@dataclass(frozen=True)
class _Signer:
    """The signer of a CMS signature, looked up once per file."""

    info: cms.SignerInfo
    certificate: asn1_x509.Certificate
    others: tuple[asn1_x509.Certificate, ...]
    signing_time: dt.datetime


def _intact(signer: _Signer, payload: bytes) -> bool:
    """The CMS signature is over exactly these bytes (checked by pyHanko, trust aside)."""
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    algorithm = signer.info["digest_algorithm"]["algorithm"].native
    if algorithm not in ("sha256", "sha384", "sha512"):
        return False
    digest = hashlib.new(algorithm, payload).digest()
    try:
        digest_ok, signature_ok = validate_sig_integrity(signer.info, signer.certificate, "data", digest)
    except (SignatureValidationError, ValueError):
        return False
    return digest_ok and signature_ok


def _town(certificate: x509.Certificate) -> str | None:
    from reports.identity import town_of

    return town_of(certificate)


def _signer_of(signed_data: cms.SignedData, payload: Payload) -> _Signer:
    try:
        info = signed_data["signer_infos"][0]
        serial = info["sid"].chosen["serial_number"].native
        certificates = [c.chosen for c in signed_data["certificates"]]
        certificate = next(c for c in certificates if c.serial_number == serial)
        times = [a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "signing_time"]
    except (KeyError, IndexError, StopIteration, ValueError, TypeError) as exc:
        raise Invalid("签名中没有签名证书", payload) from exc
    signing_time = times[0] if times else dt.datetime.now(dt.UTC)
    others = tuple(c for c in certificates if c is not certificate)
    return _Signer(info, certificate, others, signing_time)


def _custom_properties(xml: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(xml)
    result: dict[str, str] = {}
    for prop in root:
        name = prop.get("name")
        if name and len(prop):
            result[name] = prop[0].text or ""
    return result


def _attachment(reader) -> bytes:  # type: ignore[no-untyped-def]
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError as exc:
        raise PayloadError("没有签名数据附件") from exc
    for index in range(0, len(names), 2):
        if str(names[index]) == PDF_ATTACHMENT:
            spec = names[index + 1].get_object()
            return spec["/EF"]["/F"].get_object().data
    raise PayloadError("没有签名数据附件")


def _visible_mismatch(archive: zipfile.ZipFile, payload: Payload) -> str:
    """What the workbook shows that differs from the payload; empty when it all agrees."""
    from reports.xlsx_cells import read_sheets

    sheets = read_sheets(archive, (FORM_SHEET, DATA_SHEET))
    if FORM_SHEET not in sheets or DATA_SHEET not in sheets:
        return "缺少“季报”或“数据”工作表"
    problems: list[str] = []
    form = sheets[FORM_SHEET]
    for offset, code in enumerate(INDICATOR_CODES):
        shown = form.get(f"{QUARTER_COLUMN}{FIRST_FIGURE_ROW + offset}")
        if shown != payload.figures[code]:
            problems.append(f"“季报”表 {code} 为 {shown}，签名数据为 {payload.figures[code]}")
    data = sheets[DATA_SHEET]
    keys = {ref: value for ref, value in data.items() if ref.startswith("A")}
    table = {value: data.get("B" + ref[1:]) for ref, value in keys.items() if isinstance(value, str)}
    if table.get("town") != payload.town or table.get("quarter") != payload.quarter.code:
        problems.append("“数据”表的镇街或季度与签名数据不符")
    for code in INDICATOR_CODES:
        if table.get(code) != payload.figures[code]:
            problems.append(f"“数据”表 {code} 为 {table.get(code)}，签名数据为 {payload.figures[code]}")
    for code, text in payload.explanations.items():
        if table.get(f"explain:{code}") != text:
            problems.append(f"“数据”表中{code}的说明与签名数据不符")
    return "；".join(problems[:3]) + ("等" if len(problems) > 3 else "")
