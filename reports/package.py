"""A signed workbook package: a manifest of every zip part, signed, kept in the custom document properties.

Like a signed JAR: the CMS signature covers a manifest that names every part of the package with
its SHA-256 (and the SHA-256 of the payload). The one part that cannot be in it is the one that
holds the signature, docProps/custom.xml; that part must be exactly what this module writes for
the three properties (payload, manifest, signature) and nothing else, so it cannot carry anything
unsigned either.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from asn1crypto import cms

from reports.payload import MANIFEST_PROPERTY, PAYLOAD_PROPERTY, SIGNATURE_PROPERTY

MANIFEST_FORMAT = "town-returns-manifest/1"
CUSTOM_PROPS = "docProps/custom.xml"
PROPERTY_ORDER = (PAYLOAD_PROPERTY, MANIFEST_PROPERTY, SIGNATURE_PROPERTY)
_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"


def manifest_of(parts: dict[str, bytes], payload: bytes) -> bytes:
    body = {
        "format": MANIFEST_FORMAT,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "parts": {name: hashlib.sha256(data).hexdigest() for name, data in parts.items() if name != CUSTOM_PROPS},
    }
    return json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode("ascii")


def parse_manifest(raw: bytes) -> dict[str, Any]:
    body = json.loads(raw.decode("ascii"))
    if not isinstance(body, dict) or body.get("format") != MANIFEST_FORMAT:
        raise ValueError("manifest format")
    parts = body.get("parts")
    if not isinstance(parts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in parts.items()):
        raise ValueError("manifest parts")
    if not isinstance(body.get("payload_sha256"), str):
        raise ValueError("manifest payload")
    return body


def custom_xml(values: dict[str, str]) -> bytes:
    """docProps/custom.xml holding exactly the payload, the manifest and the signature, in one canonical form."""
    props = "".join(
        f'<property fmtid="{_FMTID}" pid="{pid}" name="{name}"><vt:lpwstr>{escape(values[name])}</vt:lpwstr></property>'
        for pid, name in enumerate(PROPERTY_ORDER, start=2)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"{props}</Properties>"
    ).encode()


def seal(xlsx: bytes, payload: bytes, sign: Callable[[bytes], str]) -> bytes:
    """Sign a workbook (saved with placeholder custom properties) and return the signed package.

    `sign` turns the manifest's bytes into the base64 CMS signature.
    """
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source:
        infos = source.infolist()
        parts = {info.filename: source.read(info) for info in infos}
    if CUSTOM_PROPS not in parts:
        raise ValueError("the workbook was saved without its custom properties")
    manifest = manifest_of(parts, payload)
    signature = sign(manifest)
    parts[CUSTOM_PROPS] = custom_xml(
        {PAYLOAD_PROPERTY: payload.decode("utf-8"), MANIFEST_PROPERTY: manifest.decode("ascii"), SIGNATURE_PROPERTY: signature}
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in infos:
            target.writestr(info.filename, parts[info.filename])
    return out.getvalue()


def signed_data_of(signature_text: str) -> cms.SignedData:
    """The CMS SignedData in a base64 signature property (read without importing pyHanko's signers)."""
    info = cms.ContentInfo.load(base64.b64decode(signature_text, validate=True))
    if info["content_type"].native != "signed_data":
        raise ValueError("not signed data")
    return info["content"]
