"""Verifying a signed return offline: well-formed, intact, made by a town the city trusts, unaltered."""

from __future__ import annotations

import asyncio
import datetime as dt
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
from reports.layout import DATA_SHEET, FIRST_FIGURE_ROW, FORM_SHEET
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
        visible_problem = _visible_mismatch(path, payload)
        certificate, signing_time = _signer_of(signed_data, payload)
        from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

        status = asyncio.run(
            async_validate_detached_cms(raw, signed_data, signer_validation_context=self._context(signing_time))
        )
        if not status.intact:
            if visible_problem:
                raise Invalid("签名数据在签名后被改动，与签名不符", payload)
            raise Invalid("签名与本文件的数据不对应（可能是从别的季报复制来的签名）", payload)
        self._judge(status.trusted and status.valid, certificate, signing_time, payload)
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


def _town(certificate: x509.Certificate) -> str | None:
    from reports.identity import town_of

    return town_of(certificate)


def _signer_of(signed_data: cms.SignedData, payload: Payload) -> tuple[x509.Certificate, dt.datetime]:
    try:
        info = signed_data["signer_infos"][0]
        serial = info["sid"].chosen["serial_number"].native
        certificate = next(c.chosen for c in signed_data["certificates"] if c.chosen.serial_number == serial)
        times = [a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "signing_time"]
    except (KeyError, IndexError, StopIteration, ValueError, TypeError) as exc:
        raise Invalid("签名中没有签名证书", payload) from exc
    signing_time = times[0] if times else dt.datetime.now(dt.UTC)
    return x509.load_der_x509_certificate(certificate.dump()), signing_time


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


def _visible_mismatch(path: Path, payload: Payload) -> str:
    """What the workbook shows that differs from the payload; empty when it all agrees."""
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if FORM_SHEET not in workbook.sheetnames or DATA_SHEET not in workbook.sheetnames:
            return "缺少“季报”或“数据”工作表"
        problems: list[str] = []
        form = workbook[FORM_SHEET]
        rows = list(
            form.iter_rows(
                min_row=FIRST_FIGURE_ROW,
                max_row=FIRST_FIGURE_ROW + len(INDICATOR_CODES) - 1,
                min_col=3,
                max_col=3,
                values_only=True,
            )
        )
        for code, row in zip(INDICATOR_CODES, rows, strict=False):
            if row[0] != payload.figures[code]:
                problems.append(f"“季报”表 {code} 为 {row[0]}，签名数据为 {payload.figures[code]}")
        data_rows = list(workbook[DATA_SHEET].iter_rows(max_col=2, values_only=True))
        meta = {r[0]: r[1] for r in data_rows[:6] if r and r[0]}
        if meta.get("town") != payload.town or meta.get("quarter") != payload.quarter.code:
            problems.append("“数据”表的镇街或季度与签名数据不符")
        table = {r[0]: r[1] for r in data_rows if r and isinstance(r[0], str)}
        for code in INDICATOR_CODES:
            if table.get(code) != payload.figures[code]:
                problems.append(f"“数据”表 {code} 为 {table.get(code)}，签名数据为 {payload.figures[code]}")
        for code, text in payload.explanations.items():
            if table.get(f"explain:{code}") != text:
                problems.append(f"“数据”表中{code}的说明与签名数据不符")
        return "；".join(problems[:3]) + ("等" if len(problems) > 3 else "")
    finally:
        workbook.close()
