"""The city's signed answers to a return: `.receipt` (回执) and `.notice` (退回通知) files.

The same envelope as a `.plan` file (see reports.plan_file): one UTF-8 JSON object

    {"format": "town-returns-receipt/1" | "town-returns-notice/1",
     "content": "<the canonical content JSON, as a string: the exact bytes signed>",
     "signature": "<base64 detached CMS (CAdES) over those bytes, by the city root key>"}

read strictly: a size cap before parsing, one reading of the JSON (no duplicate keys, no lone
surrogates or hidden characters), the content canonical, and the signature by the root itself.
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
from core.errors import os_reason
from core.plan_package import JsonRefused, strict_json
from core.receipts import KIND_NAMES, NOTICE, RECEIPT, AnswerRefused, CityAnswer, answer_from_content, canonical
from reports.identity import Identity, town_of
from reports.plan_file import (  # one check of a root-signed envelope, .plan and .receipt alike
    issued_by,
    signature_intact,
)

FORMATS = {RECEIPT: "town-returns-receipt/1", NOTICE: "town-returns-notice/1"}
SUFFIXES = {RECEIPT: ".receipt", NOTICE: ".notice"}
MAX_ANSWER_BYTES = 256 * 1024
ANSWER_WORD = "回执或退回通知"
UTF8_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = {list: "列表", dict: "对象", int: "数", float: "数", bool: "真假值"}

__all__ = ["AnswerRefused", "VerifiedAnswer", "answer_file_bytes", "read_answer_file", "verify_answer_bytes"]


@dataclass(frozen=True)
class VerifiedAnswer:
    answer: CityAnswer
    file_sha256: str  # of the file's bytes: the same file imported twice is one import
    root_fingerprint: str
    content: str  # the signed content and the signature, exactly as in the file (kept by the town)
    signature: str


def answer_file_bytes(answer: CityAnswer, root: Identity) -> bytes:
    """The signed file of `answer`, signed by the city root at the answer's own time."""
    from reports.signing import sign_payload

    content = answer.canonical_bytes()
    envelope = {
        "format": FORMATS[answer.kind],
        "content": content.decode("utf-8"),
        "signature": sign_payload(root, content, answer.at),
    }
    return json.dumps(envelope, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def write_answer_file(answer: CityAnswer, root: Identity, out: Path) -> Path:
    """Write the signed file through a temp file; an existing file is never replaced."""
    from reports.files import write_atomically

    if out.exists():
        raise AnswerRefused(f"{out} 已存在，未覆盖")
    data = answer_file_bytes(answer, root)

    def write(temp: Path) -> None:
        temp.write_bytes(data)

    return write_atomically(out, write)


def read_answer_file(path: Path, roots: list[x509.Certificate], now: dt.datetime | None = None) -> VerifiedAnswer:
    """The answer in `path` if one of `roots` signed exactly this content; else AnswerRefused with the reason."""
    try:
        if path.is_dir():
            raise AnswerRefused(f"{path.name} 是文件夹，不是{ANSWER_WORD}")
        if not path.is_file():
            if not path.exists():
                raise AnswerRefused(f"找不到文件 {path}")
            raise AnswerRefused(f"{path.name} 不是普通文件（可能是管道或设备），未读取")
        size = path.stat().st_size
        if size > MAX_ANSWER_BYTES:
            raise AnswerRefused(
                f"文件过大（{size // 1024} KB，上限 {MAX_ANSWER_BYTES // 1024} KB），不是本系统的{ANSWER_WORD}"
            )
        with path.open("rb") as f:
            data = f.read(MAX_ANSWER_BYTES + 1)
    except OSError as exc:
        raise AnswerRefused(f"无法读取 {path}：{os_reason(exc)}") from exc
    verified = verify_answer_bytes(data, roots, now)
    suffix = path.suffix.lower()
    expected = SUFFIXES[verified.answer.kind]
    if suffix in SUFFIXES.values() and suffix != expected:
        raise AnswerRefused(f"文件名是 {suffix}，内容却是{verified.answer.name}（应为 {expected}），未导入")
    return verified


def verify_answer_bytes(data: bytes, roots: list[x509.Certificate], now: dt.datetime | None = None) -> VerifiedAnswer:
    if len(data) > MAX_ANSWER_BYTES:
        raise AnswerRefused(f"文件过大，不是本系统的{ANSWER_WORD}")
    if data.startswith(UTF8_BOM):  # Notepad and some mail clients add one when the file is saved again
        data = data[len(UTF8_BOM) :]
    if not data.strip():
        raise AnswerRefused(f"文件是空的，不是{ANSWER_WORD}")
    try:
        envelope = strict_json(data.decode("utf-8"))
    except JsonRefused as exc:
        raise AnswerRefused(f"文件中{exc}（不是本系统写的{ANSWER_WORD}），未导入") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AnswerRefused(f"文件已损坏或不完整（不是有效的 JSON），不是可读的{ANSWER_WORD}") from exc
    kinds = {fmt: kind for kind, fmt in FORMATS.items()}
    name: object = envelope.get("format") if isinstance(envelope, dict) else None
    if not isinstance(envelope, dict) or not isinstance(name, str) or name not in kinds:  # a list is no name either
        shown = name if isinstance(name, str | None) else f"一个{_JSON_TYPES.get(type(name), '值')}"
        raise AnswerRefused(
            f"不是本系统的{ANSWER_WORD}（格式标识为“{shown}”，应为“{FORMATS[RECEIPT]}”或“{FORMATS[NOTICE]}”）"
        )
    kind = kinds[name]
    what = KIND_NAMES[kind]
    if set(envelope) != {"format", "content", "signature"}:
        raise AnswerRefused(f"{what}的结构不是本系统写出的样子（应只有 format、content、signature 三项），未导入")
    content_text, signature = envelope["content"], envelope["signature"]
    if not isinstance(content_text, str) or not content_text:
        raise AnswerRefused(f"{what}中没有内容")
    if not isinstance(signature, str) or not signature:
        raise AnswerRefused(f"{what}未签名：只认市局根证书签名的{what}")
    content = content_text.encode("utf-8")  # strict_json refused lone surrogates already
    try:
        parsed = strict_json(content_text)
    except JsonRefused as exc:
        raise AnswerRefused(f"{what}内容中{exc}，未导入") from exc
    except (ValueError, RecursionError) as exc:
        raise AnswerRefused(f"{what}内容不是有效的 JSON，未导入") from exc
    if not isinstance(parsed, dict) or canonical(parsed) != content:
        raise AnswerRefused(f"{what}内容不是本系统写出的唯一写法，未导入")
    root, signed_at = verify_root_signature(content, signature, roots, what, now)
    answer = answer_from_content(parsed, what)
    if answer.kind != kind:
        raise AnswerRefused(f"格式标识是{what}，内容却是{answer.name}，未导入")
    if abs((signed_at - answer.at).total_seconds()) >= 1:
        raise AnswerRefused(f"{what}中写的时间与签名时间不一致，未导入")
    from reports.identity import fingerprint

    return VerifiedAnswer(answer, hashlib.sha256(data).hexdigest(), fingerprint(root), content_text, signature)


def verify_root_signature(
    content: bytes, signature: str, roots: list[x509.Certificate], what: str, now: dt.datetime | None = None
) -> tuple[x509.Certificate, dt.datetime]:
    """The root among `roots` whose own key signed `content` with `signature`, and when; else AnswerRefused."""
    info, certificate, signed_at = _signer(signature, what)
    trusted = [r for r in roots if r.public_bytes(serialization.Encoding.DER) == certificate.dump()]
    if not trusted:
        try:
            leaf = x509.load_der_x509_certificate(certificate.dump())
        except ValueError as exc:
            raise AnswerRefused(f"{what}的签名已损坏，无法读取") from exc
        if any(issued_by(leaf, r) for r in roots):
            raise AnswerRefused(
                f"{what}由{town_of(leaf) or '镇街'}的签名证书签名，不是市局根证书：{what}只能由市局签发"
            )
        raise AnswerRefused(f"{what}不是由本镇街导入证书时固定的市局根证书签名（可能来自别的根证书），未导入")
    if not signature_intact(info, certificate, content):
        raise AnswerRefused(f"{what}内容在签名后被改动，与签名不符，未导入")
    root = trusted[0]
    if not root.not_valid_before_utc <= signed_at <= root.not_valid_after_utc:
        raise AnswerRefused(f"签名时市局根证书不在有效期内（签名于 {signed_at:%Y-%m-%d}）")
    if signed_at > (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=1):
        raise AnswerRefused(f"签名时间 {signed_at:%Y-%m-%d %H:%M} 晚于现在，签名不可信")
    return root, signed_at


def _signer(signature: str, what: str) -> tuple[cms.SignerInfo, asn1_x509.Certificate, dt.datetime]:
    from reports.package import signed_data_of

    try:
        signed_data = signed_data_of(signature)
        infos = signed_data["signer_infos"]
        if len(infos) != 1:
            raise ValueError("one signer")
        info = infos[0]
        serial = info["sid"].chosen["serial_number"].native
        certificate = next(c.chosen for c in signed_data["certificates"] if c.chosen.serial_number == serial)
        times = [a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "signing_time"]
    except Exception as exc:  # any decoding failure of untrusted bytes is the same refusal
        raise AnswerRefused(f"{what}的签名已损坏，无法读取") from exc
    if len(times) != 1 or not isinstance(times[0], dt.datetime):
        raise AnswerRefused(f"{what}的签名中没有签名时间")
    signed_at = times[0] if times[0].tzinfo else times[0].replace(tzinfo=dt.UTC)
    return info, certificate, signed_at
