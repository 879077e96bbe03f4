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
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from asn1crypto import cms

import reports.asn1_names  # noqa: F401 - asn1crypto's CMS names complete before any is used
from reports.payload import MANIFEST_PROPERTY, PAYLOAD_PROPERTY, SIGNATURE_PROPERTY

MANIFEST_FORMAT = "town-returns-manifest/1"
CUSTOM_PROPS = "docProps/custom.xml"
CUSTOM_AFTER = "docProps/core.xml"
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


def _custom_pattern() -> re.Pattern[bytes]:
    marker = "\x00"
    template = custom_xml(dict.fromkeys(PROPERTY_ORDER, marker)).decode()
    pieces = [re.escape(piece.encode()) for piece in template.split(marker)]
    return re.compile(b"([^<]*)".join(pieces), re.DOTALL)


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


def read_custom_xml(raw: bytes) -> dict[str, str]:
    """The three properties of a docProps/custom.xml spelled exactly as custom_xml() spells them, else ValueError."""
    match = _CUSTOM_PATTERN.fullmatch(raw)
    if match is None:
        raise ValueError("不是本系统写出的签名属性")
    values = {
        name: value.decode("utf-8").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        for name, value in zip(PROPERTY_ORDER, match.groups(), strict=True)
    }
    if custom_xml(values) != raw:
        raise ValueError("签名属性的写法不是本系统的")
    return values


def seal(parts: dict[str, bytes], payload: bytes, sign: Callable[[bytes], str]) -> bytes:
    """The signed package of a workbook's parts (all but docProps/custom.xml, in their order).

    `sign` turns the manifest's bytes into the base64 CMS signature.
    """
    manifest = manifest_of(parts, payload)
    custom = custom_xml(
        {
            PAYLOAD_PROPERTY: payload.decode("utf-8"),
            MANIFEST_PROPERTY: manifest.decode("ascii"),
            SIGNATURE_PROPERTY: sign(manifest),
        }
    )
    return pack(with_custom(parts, custom))


def with_custom(parts: dict[str, bytes], custom: bytes) -> list[tuple[str, bytes]]:
    """The parts with docProps/custom.xml after docProps/core.xml (or last, for a package without one)."""
    entries = [(name, data) for name, data in parts.items() if name != CUSTOM_PROPS]
    at = next((i + 1 for i, (name, _) in enumerate(entries) if name == CUSTOM_AFTER), len(entries))
    return [*entries[:at], (CUSTOM_PROPS, custom), *entries[at:]]


# --- the zip container, one layout only -----------------------------------------------------------
# Every entry stored (no compression, so no decompressor can read other bytes than the next one), no
# date (1980-01-01 00:00), no flags, no extra fields, no comments, one central directory, the end
# record last. A package is the app's only if it is exactly pack() of its parts.

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_LOCAL_SIG, _CENTRAL_SIG, _END_SIG = 0x04034B50, 0x02014B50, 0x06054B50
_VERSION = 20
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01


class NotOurZip(ValueError):
    """The container is not laid out the way pack() lays it out; the message says where it differs (in Chinese)."""


def pack(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    central = []
    for name, data in entries:
        raw_name = name.encode("ascii")
        crc = zlib.crc32(data)
        offset = out.tell()
        out.write(_LOCAL.pack(_LOCAL_SIG, _VERSION, 0, 0, 0, _DOS_DATE, crc, len(data), len(data), len(raw_name), 0))
        out.write(raw_name)
        out.write(data)
        central.append(
            _CENTRAL.pack(
                _CENTRAL_SIG,
                _VERSION,
                _VERSION,
                0,
                0,
                0,
                _DOS_DATE,
                crc,
                len(data),
                len(data),
                len(raw_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw_name
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(_END.pack(_END_SIG, 0, 0, len(entries), len(entries), len(directory), start, 0))
    return out.getvalue()


def unpack(data: bytes, max_entries: int = 64) -> list[tuple[str, bytes]]:
    """The entries of a package laid out exactly as pack() lays it out, or NotOurZip saying what differs.

    The local headers are read from the first byte on; the central directory and the end record must
    then repeat them exactly and end the file. (Whatever else a reader might follow — a second
    directory, ZIP64 records, bytes before or after — makes the file something pack() does not write.)
    """
    entries: list[tuple[str, bytes]] = []
    at = 0
    while data.startswith(b"PK\x03\x04", at):
        if len(entries) >= max_entries:
            raise NotOurZip(f"部件超过 {max_entries} 个")
        if at + _LOCAL.size > len(data):
            raise NotOurZip("文件在部件头中截断")
        sig, version, flags, method, time, date, crc, csize, usize, name_len, extra_len = _LOCAL.unpack_from(data, at)
        name_at = at + _LOCAL.size
        raw_name = data[name_at : name_at + name_len]
        shown = raw_name.decode("ascii", "replace")
        if (version, flags, method, time, date, extra_len) != (_VERSION, 0, 0, 0, _DOS_DATE, 0):
            raise NotOurZip(f"部件 {shown} 的压缩方式、标志、日期或附加字段不是本系统写的")
        if csize != usize:
            raise NotOurZip(f"部件 {shown} 的大小记录不一致")
        body_at = name_at + name_len
        body = data[body_at : body_at + usize]
        if len(body) != usize or zlib.crc32(body) != crc:
            raise NotOurZip(f"部件 {shown} 截断或校验码不符")
        try:
            name = raw_name.decode("ascii")
        except UnicodeDecodeError as exc:
            raise NotOurZip("部件名不是本系统写的") from exc
        entries.append((name, body))
        at = body_at + usize
    if not entries:
        raise NotOurZip("文件开头不是本系统写出的压缩包部件")
    expected = pack(entries)
    if data != expected:
        if len(data) > len(expected) and data.startswith(expected[:at]):
            tail = data[at:]
            if b"PK\x06\x06" in tail or b"PK\x06\x07" in tail:
                raise NotOurZip("压缩包中有 ZIP64 记录（本系统从不写），不同的程序会读到不同的内容")
            if tail.count(b"PK\x05\x06") > 1 or tail.count(b"PK\x01\x02") > len(entries):
                raise NotOurZip("压缩包中有多余的中央目录，不同的程序会读到不同的内容")
        if data.startswith(expected):
            raise NotOurZip(f"压缩包结尾之后多出 {len(data) - len(expected)} 字节")
        raise NotOurZip("压缩包的目录与部件不一致，或结尾多出内容")
    return entries


def signed_data_of(signature_text: str) -> cms.SignedData:
    """The CMS SignedData in a base64 signature property (read without importing pyHanko's signers)."""
    info = cms.ContentInfo.load(base64.b64decode(signature_text, validate=True))
    if info["content_type"].native != "signed_data":
        raise ValueError("not signed data")
    return info["content"]


_CUSTOM_PATTERN = _custom_pattern()
