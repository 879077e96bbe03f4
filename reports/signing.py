"""Signing a return: CMS over the payload for the workbook, PAdES (pyHanko) for the PDFs."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import cast

from asn1crypto import cms, keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.font.api import FontSubsetCollection
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import DocumentMetadata
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

import reports.asn1_names  # noqa: F401 - asn1crypto's CMS names complete before any is used
from core.errors import DomainError
from core.resources import resource_path
from reports.identity import Identity
from reports.payload import BEIJING

STAMP_LABELS = "电子签名镇街签名证书签名时间东莞市人力资源和社会保障局分局季报"
STAMP_FONT = ("fonts", "stamp.ttf")
SIGNATURE_FIELD = "镇街季报签名"


class SigningError(DomainError):
    pass


def _asn1_certificate(certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def make_signer(identity: Identity) -> signers.Signer:
    if identity.token is not None:
        from reports.token_signer import TokenSigner

        return TokenSigner(identity)
    assert identity.key is not None
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
    from reports.identity import expiry_refusal

    refusal = expiry_refusal(identity.certificate, identity.token is not None, now)
    if refusal:
        raise SigningError(refusal)


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


PDF_SIGNATURE_ROOM = 16384  # hex digits kept for the CMS in /Contents (the app's is ≈ 2.5 KB, 5,000 digits)
STAMP_TEXT = "电子签名\n镇街：%(town)s\n签名证书：%(signer)s\n签名时间：%(when)s"


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
    when = (signing_time or dt.datetime.now(dt.UTC)).astimezone(BEIJING).replace(microsecond=0)
    target.write_bytes(
        signed_pdf_bytes(source.read_bytes(), identity.town, payload, box, page, when, make_signer(identity))
    )


def signed_pdf_bytes(
    unsigned: bytes,
    town: str,
    payload: bytes,
    box: tuple[float, float, float, float] | None,
    page: int,
    when: dt.datetime,
    signer: signers.Signer,
) -> bytes:
    """The signed PDF: `unsigned` and, after it, the one incremental update this app's signing writes.

    Every byte of the update follows from its arguments and the CMS the signer returns (no clock, no
    random id, no random font-subset name), so the verifier rebuilds the whole file from the payload and
    the file's own CMS (ReplaySigner) and compares (issue 22).
    """
    writer = _FixedPdfWriter(io.BytesIO(unsigned))
    first_id = writer.document_id[0]
    second = hashlib.sha256(unsigned + payload + when.isoformat().encode()).digest()[:16]
    writer.set_document_id(first_id, second)
    writer.fix_modification_time(when)
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
        stamp_text=STAMP_TEXT,
        text_box_style=TextBoxStyle(font=_StableGlyphs(str(resource_path(*STAMP_FONT)), font_size=10), font_size=10),
        border_width=1,
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        reason="镇街人社指标季报",
        location="东莞",
        name=town,
        subfilter=SigSeedSubFilter.PADES,
    )
    out = io.BytesIO()
    _TimedPdfSigner(metadata, signer=signer, stamp_style=stamp, when=when).sign_pdf(
        writer,
        output=out,
        bytes_reserved=PDF_SIGNATURE_ROOM,
        appearance_text_params={
            "town": town,
            "signer": f"{town}{TOWN_SUFFIX}",
            "when": f"{when:%Y年%m月%d日 %H:%M:%S}",
        },
    )
    return out.getvalue()


class ReplaySigner(signers.Signer):
    """A signer that 'signs' with a CMS it was given: the verifier rebuilds a signed PDF with the file's own CMS."""

    def __init__(self, content: cms.ContentInfo, certificate: asn1_x509.Certificate):
        super().__init__(signing_cert=certificate)
        self._content = content

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        raise SigningError("ReplaySigner never signs")  # pragma: no cover

    async def async_sign(self, *args, **kwargs) -> cms.ContentInfo:
        return self._content


class _StableGlyphs(GlyphAccumulatorFactory):
    """The stamp font, embedded without fontTools stamping the subset with the time it was made."""

    def create_font_engine(self, writer, obj_stream=None):
        engine = super().create_font_engine(writer, obj_stream)
        engine.tt.recalcTimestamp = False
        return engine


class _StableSubsets(FontSubsetCollection):
    """Font subsets named in order (TRAAAA, TRAAAB, …) rather than at random."""

    def add_subset(self) -> str:
        n = len(self.subsets)
        return "TR" + "".join(chr(65 + (n // 26**i) % 26) for i in (3, 2, 1, 0))


class _FixedTimeMeta(DocumentMetadata):
    fixed: dt.datetime | None = None

    @property
    def last_modified(self) -> dt.datetime | None:
        return self.fixed

    @last_modified.setter
    def last_modified(self, _value: object) -> None:
        pass


class _FixedPdfWriter(IncrementalPdfFileWriter):
    def get_subset_collection(self, base_postscript_name: str) -> FontSubsetCollection:
        fsc = self._font_resources.get(base_postscript_name)
        if fsc is None:
            fsc = self._font_resources[base_postscript_name] = _StableSubsets(base_postscript_name)
        return fsc

    def fix_modification_time(self, when: dt.datetime) -> None:
        """pyHanko sets the modification time to 'now' as it writes; this keeps it at `when`."""
        meta = _FixedTimeMeta(**{f.name: getattr(self._meta, f.name) for f in dataclasses.fields(self._meta)})
        meta.fixed = when
        self._meta = meta

    def set_document_id(self, first: bytes, second: bytes) -> None:
        self._document_id = generic.ArrayObject([generic.ByteStringObject(first), generic.ByteStringObject(second)])


TOWN_SUFFIX = "人力资源和社会保障分局"


class _TimedPdfSigner(signers.PdfSigner):
    """pyHanko's PdfSigner with the signing time given rather than read from the clock."""

    def __init__(self, *args, when: dt.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._when = when

    def init_signing_session(self, *args, **kwargs):
        session = super().init_signing_session(*args, **kwargs)
        session.system_time = self._when
        return session
