"""Signing a return: CMS over the payload for the workbook, PAdES (pyHanko) for the PDFs."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from pathlib import Path
from typing import cast

from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import embed
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.errors import DomainError
from core.resources import resource_path
from reports.identity import Identity

STAMP_LABELS = "电子签名镇街签名证书签名时间东莞市人力资源和社会保障局分局季报"
STAMP_FONT = ("fonts", "stamp.ttf")
SIGNATURE_FIELD = "镇街季报签名"


class SigningError(DomainError):
    pass


def _asn1_certificate(certificate) -> asn1_x509.Certificate:  # type: ignore[no-untyped-def]
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def make_signer(identity: Identity) -> signers.SimpleSigner:
    key_der = identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=_asn1_certificate(identity.certificate),
        signing_key=keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([_asn1_certificate(c) for c in identity.chain]),
    )


def check_can_sign(identity: Identity, town: str, now: dt.datetime | None = None) -> None:
    now = now or dt.datetime.now(dt.UTC)
    if identity.town != town:
        raise SigningError(f"签名证书属于{identity.town}，不能用来签{town}的季报")
    certificate = identity.certificate
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SigningError(
            f"签名证书的有效期是 {certificate.not_valid_before_utc:%Y-%m-%d} 至 {certificate.not_valid_after_utc:%Y-%m-%d}，"
            "现在不在有效期内，请向市局申请新的证书"
        )


def sign_payload(identity: Identity, payload: bytes, signing_time: dt.datetime | None = None) -> str:
    """A detached CMS (CAdES-BES) signature over `payload`, base64 text, with the town's certificate inside.

    The signed attributes carry the signing time (`signing_time`, default now) and the
    signing-certificate-v2 attribute.
    """
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    signer = make_signer(identity)
    when = signing_time or dt.datetime.now(dt.UTC)
    content = asyncio.run(
        signer.async_sign_general_data(
            payload,
            "sha256",
            detached=True,
            use_cades=True,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=when),
        )
    )
    return base64.b64encode(content.dump()).decode("ascii")


def sign_pdf(
    source: Path,
    target: Path,
    identity: Identity,
    payload: bytes,
    box: tuple[float, float, float, float] | None,
    page: int = 0,
    signing_time: dt.datetime | None = None,
) -> None:
    """Attach the payload and add a PAdES baseline signature (ETSI.CAdES.detached); visible in `box` on `page`.

    The signing time goes in the signature dictionary (/M), as PAdES wants; `signing_time`
    (default now) exists so tests can forge a back-dated signature.
    """
    local = (signing_time or dt.datetime.now(dt.UTC)).astimezone()
    with source.open("rb") as inf:
        writer = IncrementalPdfFileWriter(inf)
        attachment = embed.EmbeddedFileObject.from_file_data(writer, payload, mime_type="application/json")
        embed.embed_file(
            writer,
            embed.FileSpec(
                file_spec_string="town_returns_payload.json",
                file_name="town_returns_payload.json",
                embedded_data=attachment,
                description="镇街季报签名数据",
            ),
        )
        if box is not None:
            # pyHanko types the box as ints but writes floats as given; rounding would move the stamp box
            # away from where the layout (and the verifier's check of the widget) puts it
            spec = fields.SigFieldSpec(SIGNATURE_FIELD, on_page=page, box=cast("tuple[int, int, int, int]", box))
            fields.append_signature_field(writer, spec)
        else:
            fields.append_signature_field(writer, fields.SigFieldSpec(SIGNATURE_FIELD))
        stamp = TextStampStyle(
            stamp_text="电子签名\n镇街：%(town)s\n签名证书：%(signer)s\n签名时间：%(when)s",
            text_box_style=TextBoxStyle(
                font=GlyphAccumulatorFactory(str(resource_path(*STAMP_FONT)), font_size=10), font_size=10
            ),
            border_width=1,
        )
        metadata = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD,
            reason="镇街人社指标季报",
            location="东莞",
            name=identity.town,
            subfilter=SigSeedSubFilter.PADES,
        )
        with target.open("wb") as out:
            _TimedPdfSigner(metadata, signer=make_signer(identity), stamp_style=stamp, when=local).sign_pdf(
                writer,
                output=out,
                appearance_text_params={
                    "town": identity.town,
                    "signer": f"{identity.town}{TOWN_SUFFIX}",
                    "when": f"{local:%Y年%m月%d日 %H:%M:%S}",
                },
            )


TOWN_SUFFIX = "人力资源和社会保障分局"


class _TimedPdfSigner(signers.PdfSigner):
    """pyHanko's PdfSigner with the signing time given rather than read from the clock."""

    def __init__(self, *args, when: dt.datetime, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._when = when

    def init_signing_session(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        session = super().init_signing_session(*args, **kwargs)
        session.system_time = self._when
        return session
