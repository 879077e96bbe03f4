"""A town's signing key on a USB key (UKey) through PKCS#11 (python-pkcs11; pyHanko signs with it).

The key pair is made on the token and marked non-extractable; the certificate request (PKCS#10) is
signed there; an export's signatures are made there. The database records which driver, which token
and which key (TokenRecord), never a PIN.
"""

from __future__ import annotations

import json
import logging
import secrets
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reports.identity import CITY_ORG, TOWN_UNIT, IdentityError

if TYPE_CHECKING:
    from pkcs11 import Session, Token

log = logging.getLogger(__name__)
RECORD_FORMAT = "town-returns-token/1"
KEY_LABEL = "镇街季报签名 {town}"
CURVE = "secp256r1"


class TokenError(IdentityError):
    """The token cannot be used; the message says why in words the clerk can act on."""


class WrongPin(TokenError):
    """A wrong PIN: told once and never retried (tokens lock after a few wrong PINs)."""


class TokenMissing(TokenError):
    """The token (or its driver file) is not there: pulled out, or the driver moved away."""


class KeyMismatch(TokenError):
    """The token's key is not the one in the recorded certificate."""


@dataclass(frozen=True)
class TokenRecord:
    """What the database keeps of a token identity: the driver, the token, the key's id, the certificate
    and the root that issued it. Never a PIN."""

    module: str
    token_label: str
    token_serial: str
    key_id: str  # hex
    certificate_pem: str
    root_pem: str

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "format": RECORD_FORMAT,
                "module": self.module,
                "token_label": self.token_label,
                "token_serial": self.token_serial,
                "key_id": self.key_id,
                "certificate": self.certificate_pem,
                "root": self.root_pem,
            },
            ensure_ascii=False,
            sort_keys=True,
        ).encode("utf-8")

    @staticmethod
    def parse(data: bytes) -> TokenRecord | None:
        """The record in `data`, or None when `data` is something else (a .p12 is DER, never '{')."""
        if not data.lstrip().startswith(b"{"):
            return None
        try:
            value = json.loads(data.decode("utf-8"))
            if value.get("format") != RECORD_FORMAT:
                raise ValueError("format")
            fields = ("module", "token_label", "token_serial", "key_id", "certificate", "root")
            if not all(isinstance(value.get(name), str) for name in fields):
                raise ValueError("fields")
            bytes.fromhex(value["key_id"])
            return TokenRecord(
                value["module"],
                value["token_label"],
                value["token_serial"],
                value["key_id"],
                value["certificate"],
                value["root"],
            )
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            raise IdentityError("数据库中记录的签名 U 盾信息已损坏，请重新导入证书（identity import）") from exc

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode("ascii"))

    @property
    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.root_pem.encode("ascii"))

    def describe(self) -> str:
        return f"U 盾“{self.token_label}”（序列号 {self.token_serial}），驱动 {self.module}，密钥编号 {self.key_id}"


# --- the driver and the token ------------------------------------------------------------------

_LOADED: set[str] = set()
_LIVE: weakref.WeakSet[TokenKey] = weakref.WeakSet()


def _error_name(exc: BaseException) -> str:
    """The PKCS#11 error's name as a code for whoever supports the town (the driver's own text is English)."""
    log.info("PKCS#11: %r", exc)
    return f"错误代码 {type(exc).__name__}"


def load_module(module: Path) -> Any:
    """The PKCS#11 driver at `module`, initialised afresh when no signing key of ours is open on it (so a
    token put in since, or another SOFTHSM2_CONF in tests, is seen)."""
    import pkcs11
    from pkcs11.exceptions import PKCS11Error

    if not module.is_file():
        raise TokenMissing(f"找不到 U 盾的驱动文件 {module}：U 盾没有插好，或驱动文件已被移走或卸载")
    module = module.resolve()  # one driver, one key: a relative path to it is the same library
    so = str(module)
    try:
        lib = pkcs11.lib(so)
        if so in _LOADED and not any(key.module == module for key in list(_LIVE)):
            lib.reinitialize()
        _LOADED.add(so)
    except (PKCS11Error, OSError) as exc:
        log.warning("cannot load %s: %s", module, exc)
        raise TokenError(
            f"{module.name} 不是可用的 U 盾驱动（PKCS#11 模块），或与本机不匹配（如 32 位与 64 位）：请选择 U 盾厂商提供的驱动文件"
        ) from exc
    return lib


def present_tokens(module: Path) -> list[Token]:
    """The initialised tokens the driver sees now (the window lists them to choose from)."""
    from pkcs11 import TokenFlag
    from pkcs11.exceptions import PKCS11Error

    lib = load_module(module)
    try:
        tokens = [slot.get_token() for slot in lib.get_slots(token_present=True)]
    except PKCS11Error as exc:
        raise TokenMissing(f"无法读取 U 盾（{_error_name(exc)}），U 盾可能已拔出") from exc
    return [t for t in tokens if t.flags & TokenFlag.TOKEN_INITIALIZED]


def find_token(module: Path, label: str, serial: str | None = None) -> Token:
    """The token labelled `label`; where several carry that label, the one whose serial is `serial` (the
    one recorded at import)."""
    tokens = present_tokens(module)
    found = [t for t in tokens if t.label == label]
    if not found:
        present = "、".join(f"“{t.label}”" for t in tokens) or "没有"
        raise TokenMissing(f"没有插着标签为“{label}”的 U 盾（驱动 {module.name} 现在看到的：{present}）")
    if len(found) > 1 and serial is not None:
        chosen = [t for t in found if token_serial(t) == serial]
        if len(chosen) == 1:
            return chosen[0]
        serials = "、".join(token_serial(t) for t in found)
        raise TokenError(
            f"插着 {len(found)} 个标签为“{label}”的 U 盾（序列号 {serials}），都不是导入证书时的那一个"
            f"（序列号 {serial}）：请只插本镇街签名用的 U 盾"
        )
    if len(found) > 1:
        raise TokenError(f"插着 {len(found)} 个标签为“{label}”的 U 盾，请只插要用的那一个")
    return found[0]


def token_serial(token: Token) -> str:
    serial = token.serial
    return serial.decode("ascii", "replace").strip() if isinstance(serial, bytes) else str(serial).strip()


def login(token: Token, pin: bytes, rw: bool = False) -> Session:
    """A session logged in with `pin`: tried exactly once."""
    from pkcs11 import TokenFlag
    from pkcs11 import exceptions as p11

    try:
        text = pin.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WrongPin("PIN 码不是文本") from exc
    try:
        return token.open(user_pin=text, rw=rw)
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as exc:
        hint = ""
        try:
            flags = token.slot.get_token().flags
            if flags & TokenFlag.USER_PIN_FINAL_TRY:
                hint = "再输错一次 U 盾就会被锁定。"
            elif flags & TokenFlag.USER_PIN_COUNT_LOW:
                hint = "U 盾已记下 PIN 码输错，剩余次数不多。"
        except p11.PKCS11Error:
            pass
        raise WrongPin(
            f"U 盾“{token.label}”的 PIN 码不对。{hint}为免 U 盾被锁定，软件不会自动重试：请核对 PIN 码后再操作一次"
        ) from exc
    except p11.PinLocked as exc:
        raise TokenError(f"U 盾“{token.label}”已被锁定（PIN 码输错次数过多），请找 U 盾的发放单位解锁") from exc
    except (p11.TokenNotPresent, p11.DeviceRemoved, p11.SlotIDInvalid) as exc:
        raise TokenMissing(f"U 盾“{token.label}”已拔出，请插好后再操作") from exc
    except p11.PKCS11Error as exc:
        raise TokenError(f"无法登录 U 盾“{token.label}”（{_error_name(exc)}）") from exc


# --- keys ---------------------------------------------------------------------------------------


def key_label(town: str) -> str:
    return KEY_LABEL.format(town=town)


def public_key_info(public_key_object: Any) -> bytes:
    """The SubjectPublicKeyInfo (DER) of a token's EC public key object."""
    from pkcs11.util.ec import encode_ec_public_key

    return bytes(encode_ec_public_key(public_key_object))


def certificate_key_info(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _keys(session: Session, object_class: Any, **query: Any) -> list[Any]:
    from pkcs11 import Attribute

    attributes = {Attribute.CLASS: object_class}
    if "label" in query:
        attributes[Attribute.LABEL] = query["label"]
    if "id" in query:
        attributes[Attribute.ID] = query["id"]
    return list(session.get_objects(attributes))


def request_key(session: Session, town: str, renew: bool, prefer: bytes | None = None) -> tuple[bytes, Any]:
    """(key id, private key object) for a request: a new pair when renewing or when the token holds no
    key of this town's label, else the one there (the recorded one, when the token holds several)."""
    from pkcs11 import Attribute, ObjectClass

    label = key_label(town)
    existing = _keys(session, ObjectClass.PRIVATE_KEY, label=label)
    if existing and not renew:
        chosen = [k for k in existing if prefer is not None and bytes(k[Attribute.ID]) == prefer] or existing
        if len(chosen) > 1:
            raise TokenError(f"U 盾上有 {len(chosen)} 个“{label}”密钥，不知道用哪一个：要换新密钥请加 --renew")
        return bytes(chosen[0][Attribute.ID]), chosen[0]
    return generate_key(session, label)


def generate_key(session: Session, label: str) -> tuple[bytes, Any]:
    """A new EC P-256 pair on the token; the private half sensitive and never extractable."""
    from pkcs11 import Attribute, KeyType
    from pkcs11 import exceptions as p11
    from pkcs11.util.ec import encode_named_curve_parameters

    key_id = secrets.token_bytes(16)
    try:
        parameters = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(CURVE)}, local=True
        )
        _public, private = parameters.generate_keypair(
            store=True,
            label=label,
            id=key_id,
            public_template={Attribute.VERIFY: True},
            private_template={
                Attribute.SIGN: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            },
        )
        extractable = bool(private[Attribute.EXTRACTABLE])
    except p11.PKCS11Error as exc:
        raise TokenError(f"U 盾不能生成签名密钥（EC P-256，{_error_name(exc)}）") from exc
    if extractable:  # a token that ignored the template: such a key could be copied off it
        private.destroy()
        raise TokenError("这个 U 盾生成的密钥可以被导出，不能用作签名密钥")
    return key_id, private


def public_key_of(session: Session, key_id: bytes) -> bytes | None:
    """The SubjectPublicKeyInfo of the token's public key with this id, or None."""
    from pkcs11 import ObjectClass

    found = _keys(session, ObjectClass.PUBLIC_KEY, id=key_id)
    return public_key_info(found[0]) if len(found) == 1 else None


def key_id_for(session: Session, certificate: x509.Certificate) -> bytes | None:
    """The id of the token's public key that is the certificate's key (read without a PIN), or None."""
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11 import exceptions as p11

    wanted = certificate_key_info(certificate)
    for candidate in _keys(session, ObjectClass.PUBLIC_KEY):
        try:
            if candidate.key_type == KeyType.EC and public_key_info(candidate) == wanted:
                return bytes(candidate[Attribute.ID])
        except (p11.PKCS11Error, ValueError):
            continue
    return None


def sign_digest(private: Any, digest: bytes) -> bytes:
    """An ECDSA signature (DER) over a SHA-256 digest; CKM_ECDSA on the hash, which every EC token has."""
    from pkcs11 import Mechanism
    from pkcs11.util.ec import encode_ecdsa_signature

    return bytes(encode_ecdsa_signature(private.sign(digest, mechanism=Mechanism.ECDSA)))


def certificate_request(private: Any, public_info: bytes, town: str) -> bytes:
    """A PKCS#10 request (PEM) naming `town`, signed on the token with `private`."""
    import hashlib

    from asn1crypto import csr as asn1_csr
    from asn1crypto import keys as asn1_keys
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.build(
                {
                    "country_name": "CN",
                    "organization_name": CITY_ORG,
                    "organizational_unit_name": TOWN_UNIT,
                    "common_name": town,
                }
            ),
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(public_info),
            "attributes": [],
        }
    )
    signature = sign_digest(private, hashlib.sha256(info.dump()).digest())
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    return pem.armor("CERTIFICATE REQUEST", request.dump())


# --- signing with the token ---------------------------------------------------------------------


class TokenKey:
    """A logged-in session on the town's token and the id of its key, for as long as one export signs.

    The session is closed when this is dropped (or `close`d): a later export logs in again.
    """

    def __init__(self, module: Path, token_label: str, key_id: bytes, session: Session):
        self.module = module
        self.token_label = token_label
        self.key_id = key_id
        self.session = session
        self._finalizer = weakref.finalize(self, _close_quietly, session)
        _LIVE.add(self)

    def close(self) -> None:
        self._finalizer()

    def check_present(self) -> None:
        """Before each signature: a UKey whose driver lives on the key loses the driver when pulled out."""
        if not self.module.is_file():
            raise TokenMissing(
                f"U 盾的驱动文件 {self.module} 不见了：U 盾已拔出或驱动被移走，本次没有写出签名文件，请插好后重新导出"
            )


def _close_quietly(session: Session) -> None:
    from pkcs11.exceptions import PKCS11Error

    try:
        session.close()
    except PKCS11Error:
        pass


def removed_message(key: TokenKey, exc: BaseException) -> str:
    return (
        f"U 盾“{key.token_label}”在签名时无法使用（{_error_name(exc)}）：可能已拔出。"
        "本次没有写出签名文件，季度状态未变；请插好后重新导出"
    )


def check_signature(certificate: x509.Certificate, signature: bytes, data: bytes, label: str) -> None:
    """The token's signature checked with the certificate's key: a token that signs with another key is named."""
    public = certificate.public_key()
    try:
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise KeyMismatch(f"U 盾“{label}”签名用的密钥与本镇街的签名证书不符，拒绝签名：是不是插错了 U 盾？") from exc


def open_token_key(record: TokenRecord, pin: bytes) -> TokenKey:
    """Log in to the recorded token with `pin` (once) and find the recorded key; refuse by name a token
    whose key is not the certificate's."""
    from pkcs11 import ObjectClass

    module = Path(record.module)
    token = find_token(module, record.token_label, record.token_serial)
    session = login(token, pin)
    try:
        key_id = bytes.fromhex(record.key_id)
        serial = token_serial(token)
        elsewhere = (
            "" if serial == record.token_serial else f"（插着的是序列号 {serial}，导入证书时是 {record.token_serial}）"
        )
        if not _keys(session, ObjectClass.PRIVATE_KEY, id=key_id):
            raise KeyMismatch(
                f"U 盾“{record.token_label}”{elsewhere}上没有本镇街签名证书的密钥（密钥编号 {record.key_id}）："
                "插错了 U 盾，或 U 盾已重新初始化。拒绝签名"
            )
        if public_key_of(session, key_id) != certificate_key_info(record.certificate):
            raise KeyMismatch(
                f"U 盾“{record.token_label}”{elsewhere}上的密钥（密钥编号 {record.key_id}）与本镇街的签名证书不符：拒绝签名"
            )
    except BaseException:
        _close_quietly(session)
        raise
    return TokenKey(module, record.token_label, key_id, session)


@dataclass(frozen=True)
class Request:
    path: Path
    town: str
    token_label: str
    key_id: str
    new_key: bool


def write_request(
    module: Path,
    token_label: str,
    pin: bytes,
    town: str,
    out: Path,
    renew: bool,
    prefer: bytes | None = None,
    serial: str | None = None,
) -> Request:
    """Log in to the token, make (or reuse) the town's key there and write a PKCS#10 request for it to `out`.

    `out` is made writable (a temp file beside it created) before the token is touched: a request that
    cannot be written leaves no new key on the token."""
    import os

    from pkcs11 import Attribute, ObjectClass

    from core.errors import os_reason
    from reports.identity import shown_path

    shown = shown_path(out)
    if out.exists():
        raise IdentityError(f"{shown} 已存在，未覆盖")
    temp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle = temp.open("wb")
    except OSError as exc:
        raise IdentityError(
            f"无法写出证书申请 {shown}：{os_reason(exc)}。U 盾未被使用（没有生成密钥），请换一个可以写入的位置"
        ) from exc
    written = False
    try:
        token = find_token(module, token_label, serial)
        session = login(token, pin, rw=True)
        try:
            label = key_label(town)
            before = {bytes(k[Attribute.ID]) for k in _keys(session, ObjectClass.PRIVATE_KEY, label=label)}
            key_id, private = request_key(session, town, renew, prefer)
            public = public_key_of(session, key_id)
            if public is None:
                raise TokenError(f"U 盾“{token_label}”上找不到密钥（编号 {key_id.hex()}）的公钥，不能生成证书申请")
            pem = certificate_request(private, public, town)
        finally:
            _close_quietly(session)
        try:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            temp.replace(out)
        except OSError as exc:
            raise IdentityError(f"无法写出证书申请 {shown}：{os_reason(exc)}") from exc
        written = True
    finally:
        if not written:
            handle.close()
            temp.unlink(missing_ok=True)
    return Request(out, town, token_label, key_id.hex(), key_id not in before)
