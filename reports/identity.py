"""The city's root and the towns' signing identities (keys and certificates, via `cryptography`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import reports.asn1_names  # noqa: F401 - asn1crypto's CMS names complete before any is used
from core.errors import DomainError, os_reason
from core.plans import check_town

if TYPE_CHECKING:
    from reports.token import TokenKey

CITY_ORG = "东莞市人力资源和社会保障局"
ROOT_COMMON_NAME = "东莞市人社局镇街季报签名根证书"
TOWN_UNIT = "镇街人力资源和社会保障分局"
ROOT_CERT_FILE = "city_root.pem"
ROOT_KEY_FILE = "city_root.p12"
ROOT_YEARS = 20
TOWN_DAYS = 3 * 365
MIN_PASSPHRASE = 6


class IdentityError(DomainError):
    pass


@dataclass(frozen=True)
class Identity:
    """A town's key and certificate, loaded (decrypted) in memory only for as long as a signing takes."""

    town: str
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | None  # None: the key stays on the town's USB key (`token`)
    chain: tuple[x509.Certificate, ...]
    token: TokenKey | None = None

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


MAX_SECRET_BYTES = 4 * 1024  # a passphrase or PIN file: one short line, never a device or a pipe


def read_passphrase_file(path: Path, what: str = "口令文件") -> bytes:
    """The passphrase (or a USB key's PIN: `what` is then "PIN 码文件") is the file's first line.

    Only a small regular file is read: /dev/zero or a named pipe would otherwise be read forever (or
    hang); it is opened without blocking and checked on the open handle, so it cannot be swapped after."""
    import os
    import stat as stat_module

    shown = shown_path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise IdentityError(f"无法读取{what} {shown}：{os_reason(exc)}") from exc
    try:
        info = os.fstat(fd)
        if not stat_module.S_ISREG(info.st_mode):
            raise IdentityError(f"{what} {shown} 不是普通文件（如设备或管道），拒绝读取：请指定只含一行的文本文件")
        if info.st_size > MAX_SECRET_BYTES:
            raise IdentityError(
                f"{what} {shown} 有 {info.st_size:,} 字节，超过 {MAX_SECRET_BYTES // 1024} KB，拒绝读取：请指定只含一行的文本文件"
            )
        data = os.read(fd, MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise IdentityError(f"无法读取{what} {shown}：{os_reason(exc)}") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_BYTES:  # grew after the check
        raise IdentityError(f"{what} {shown} 超过 {MAX_SECRET_BYTES // 1024} KB，拒绝读取：请指定只含一行的文本文件")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IdentityError(f"{what} {shown} 不是文本文件") from exc
    lines = text.splitlines()
    passphrase = lines[0] if lines else ""
    if not passphrase:
        raise IdentityError(f"{what} {shown} 第一行是空的")
    return passphrase.encode("utf-8")


def shown_path(path: Path) -> str:
    """A path to print: its name's invisible and control characters escaped (the folders as typed)."""
    import os

    from reports.files import printable

    return os.path.join(str(path.parent), printable(path.name)) if path.name else str(path)


def _check_new_passphrase(passphrase: bytes) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise IdentityError(f"口令太短，至少 {MIN_PASSPHRASE} 个字符")


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, CITY_ORG),
    ]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_city_root(out_dir: Path, passphrase: bytes) -> tuple[Path, Path]:
    """Write city_root.pem (to trust) and city_root.p12 (the key, under the passphrase)."""
    _check_new_passphrase(passphrase)
    cert_path, key_path = out_dir / ROOT_CERT_FILE, out_dir / ROOT_KEY_FILE
    existing = [p.name for p in (cert_path, key_path) if p.exists()]
    if existing:
        raise IdentityError(f"{out_dir} 中已有 {'、'.join(existing)}，为免覆盖市局根证书，未做任何改动")
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(ROOT_COMMON_NAME)
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365 * ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = pkcs12.serialize_key_and_certificates(
        ROOT_COMMON_NAME.encode(), key, certificate, None, serialization.BestAvailableEncryption(passphrase)
    )
    _write_new(key_path, bundle)
    _write_new(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    (out_dir / ISSUED_FOLDER).mkdir(exist_ok=True)  # the register `city issue --csr` requires beside the root
    return cert_path, key_path


def _write_new(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)


def _key_usage(cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def load_p12(
    data: bytes, passphrase: bytes, what: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, list[x509.Certificate]]:
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, passphrase)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise IdentityError(f"{what}：口令不对，或文件不是有效的证书文件（.p12）") from exc
    if key is None or certificate is None or not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IdentityError(f"{what}：文件中没有可用于签名的私钥和证书")
    return key, certificate, list(extra)


def issue_town_identity(
    root_p12: Path,
    root_passphrase: bytes,
    town: str,
    out: Path,
    passphrase: bytes,
    not_before: dt.datetime | None = None,
    days: int = TOWN_DAYS,
) -> Path:
    """Issue `town` a key and a certificate signed by the city root, as a passphrase-protected .p12."""
    town = check_town(town)
    _check_new_passphrase(passphrase)
    for existing in (out, write_town_certificate(out)):
        if existing.exists():
            raise IdentityError(f"{existing} 已存在，未覆盖")
    try:
        root_data = root_p12.read_bytes()
    except OSError as exc:
        raise IdentityError(f"无法读取根证书文件 {root_p12}：{os_reason(exc)}") from exc
    root_key, root_cert, _ = load_p12(root_data, root_passphrase, root_p12.name)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or (_now() - dt.timedelta(hours=1))
    certificate = town_certificate(town, key.public_key(), root_key, root_cert, start, days)
    bundle = pkcs12.serialize_key_and_certificates(
        town.encode("utf-8"), key, certificate, [root_cert], serialization.BestAvailableEncryption(passphrase)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_new(out, bundle)
    pem = write_town_certificate(out)
    _write_new(pem, certificate.public_bytes(serialization.Encoding.PEM))
    folder = register_folder(root_p12)
    try:  # a fresh key is in no other certificate: the register only completes the city's records here
        if folder.is_dir():  # never made here: a copy of the root elsewhere must not start a register of its own
            register_issued(folder, certificate)
    except OSError:
        logging.getLogger(__name__).warning("issued certificate not registered beside %s", root_p12, exc_info=True)
    return out


def town_certificate(
    town: str,
    public_key: ec.EllipticCurvePublicKey,
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    start: dt.datetime,
    days: int,
) -> x509.Certificate:
    """The town certificate's one profile, for a key made here (.p12) and for a key on a USB key (a request)."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name(town, TOWN_UNIT))
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(root_key, hashes.SHA256())
    )


def town_of(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def open_identity(data: bytes, passphrase: bytes, what: str = "签名证书") -> Identity:
    """The identity the database keeps: a .p12 opened with its passphrase, or the recorded USB key
    logged in to with its PIN (`passphrase`), tried once."""
    from reports.token import TokenRecord

    record = TokenRecord.parse(data)
    if record is not None:
        return open_token_identity(record, passphrase)
    key, certificate, chain = load_p12(data, passphrase, what)
    town = town_of(certificate)
    if not town:
        raise IdentityError(f"{what}：证书中没有镇街名称")
    return Identity(town, certificate, key, tuple(chain))


def describe(certificate: x509.Certificate) -> str:
    return (
        f"{town_of(certificate)}（由“{certificate.issuer.rfc4514_string()}”签发，"
        f"有效期 {certificate.not_valid_before_utc:%Y-%m-%d} 至 {certificate.not_valid_after_utc:%Y-%m-%d}）"
    )


def load_trust_roots(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"无法读取受信任的根证书 {path}：{os_reason(exc)}") from exc
    try:
        roots = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            roots = [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            raise IdentityError(f"{path.name} 不是证书文件（应为 city_root.pem）") from exc
    try:  # cryptography decodes a certificate's parts when first read: a damaged one is refused here
        for root in roots:
            _ = root.subject.public_bytes(), root.issuer.public_bytes(), root.public_key(), list(root.extensions)
            _ = root.not_valid_before_utc, root.not_valid_after_utc, root.serial_number
    except (ValueError, TypeError, x509.DuplicateExtension, x509.InvalidVersion, UnsupportedAlgorithm) as exc:
        raise IdentityError(f"{path.name} 中的证书已损坏，不能作为受信任的根证书") from exc
    if not all(_is_root(root) for root in roots):  # a root signs itself: a changed byte breaks that signature
        raise IdentityError(
            f"{path.name} 中的证书不是完好的市局根证书（自签名不符，文件可能已损坏），不能作为受信任的根证书"
        )
    return roots


# --- importing a town identity: what it holds is checked before it is kept -------------------

MAX_P12_BYTES = 64 * 1024
MAX_KDF_ITERATIONS = 1_000_000
DOCUMENT_SIGNING_EKUS = {
    "2.5.29.37.0",  # anyExtendedKeyUsage
    "1.3.6.1.5.5.7.3.36",  # id-kp-documentSigning
    "1.2.840.113583.1.1.5",  # Adobe Authentic Documents Trust
}
# The names RFC 5280 gives the usages a certificate for something else than documents carries.
EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}


@dataclass(frozen=True)
class CheckedIdentity:
    identity: Identity
    root: x509.Certificate
    description: str

    @property
    def root_pem(self) -> str:
        return self.root.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def root_fingerprint(self) -> str:
        return fingerprint(self.root)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate, as colon-separated hex pairs (what the city announces)."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def check_p12_bounds(data: bytes, what: str) -> None:
    """Refuse at once a .p12 that is oversized or would make key derivation run for minutes."""
    if len(data) > MAX_P12_BYTES:
        raise IdentityError(
            f"{what}：文件大小 {len(data) // 1024} KB，超过 {MAX_P12_BYTES // 1024} KB，不是市局签发的证书文件"
        )
    from asn1crypto import cms as asn1_cms
    from asn1crypto import pkcs12 as asn1_pkcs12

    try:
        pfx = asn1_pkcs12.Pfx.load(data)
        counts = []
        mac = pfx["mac_data"]
        if mac.native is not None:
            counts.append(int(mac["iterations"].native))
        for info in pfx.authenticated_safe:
            kind = info["content_type"].native
            if kind == "encrypted_data":
                algorithm = info["content"]["encrypted_content_info"]["content_encryption_algorithm"]
                counts.append(_kdf_iterations(algorithm))
            elif kind == "data":
                contents = asn1_pkcs12.SafeContents.load(info["content"].native)
                for bag in contents:
                    if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                        counts.append(_kdf_iterations(bag["bag_value"]["encryption_algorithm"]))
            elif not isinstance(info, asn1_cms.ContentInfo):
                raise ValueError("content")
    except (ValueError, TypeError, KeyError) as exc:
        raise IdentityError(f"{what}：不是有效的证书文件（.p12）") from exc
    if any(count > MAX_KDF_ITERATIONS for count in counts):
        raise IdentityError(
            f"{what}：口令保护的迭代次数为 {max(counts):,}，远超正常值（不超过 {MAX_KDF_ITERATIONS:,}），拒绝打开"
        )


def _kdf_iterations(algorithm) -> int:
    name = algorithm["algorithm"].native
    parameters = algorithm["parameters"]
    if name == "pbes2":
        return int(parameters["key_derivation_func"]["parameters"]["iteration_count"].native)
    if hasattr(parameters, "native") and isinstance(parameters.native, dict) and "iterations" in parameters.native:
        return int(parameters.native["iterations"])
    return 0


def check_identity(
    data: bytes,
    passphrase: bytes,
    what: str,
    town: str,
    pinned_root_pem: str | None,
    now: dt.datetime | None = None,
) -> CheckedIdentity:
    """Open a town's .p12 and refuse it unless it holds this town's valid signing certificate and the
    city root that issued it (the root pinned in this database, when one is)."""
    try:
        return _check_identity(data, passphrase, what, town, pinned_root_pem, now)
    # cryptography decodes a certificate's names and extensions when they are first read
    except (ValueError, TypeError, x509.DuplicateExtension, x509.InvalidVersion, UnsupportedAlgorithm) as exc:
        raise IdentityError(f"{what}：文件中的证书已损坏或不是本系统签发的格式，拒绝导入") from exc


def _check_identity(
    data: bytes,
    passphrase: bytes,
    what: str,
    town: str,
    pinned_root_pem: str | None,
    now: dt.datetime | None,
) -> CheckedIdentity:
    check_p12_bounds(data, what)
    identity = open_identity(data, passphrase, what)
    certificate = identity.certificate
    if identity.town != town:
        raise IdentityError(f"这个签名证书属于{identity.town}，而本数据库是{town}的，拒绝导入")
    now = now or _now()
    start, stop = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if now < start:
        raise IdentityError(
            f"{what}：证书从 {start:%Y-%m-%d} 起才生效（有效期 {start:%Y-%m-%d} 至 {stop:%Y-%m-%d}），"
            f"而电脑时间是 {now:%Y-%m-%d}：请先校正电脑时间，再导入"
        )
    if now > stop:
        raise IdentityError(f"{what}：证书已过期（有效期 {start:%Y-%m-%d} 至 {stop:%Y-%m-%d}），请向市局申请新的证书")
    _check_usage(certificate, what)
    issuer = certificate.issuer.rfc4514_string()
    roots = [c for c in identity.chain if c.subject == certificate.issuer and _issued(certificate, c) and _is_root(c)]
    if not roots:
        raise IdentityError(f"{what}：文件中没有签发此证书的市局根证书（签发者“{issuer}”），拒绝导入")
    root = roots[0]
    if pinned_root_pem is not None:
        pinned = x509.load_pem_x509_certificate(pinned_root_pem.encode("ascii"))
        if pinned != root:
            raise IdentityError(
                f"{what}：证书由“{issuer}”（根证书指纹 {fingerprint(root)}）签发，"
                f"不是本机已固定的市局根证书（指纹 {fingerprint(pinned)}），拒绝导入"
            )
    return CheckedIdentity(identity, root, describe(certificate))


def _issued(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _is_root(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca and certificate.subject == certificate.issuer and _issued(certificate, certificate)


def _check_usage(certificate: x509.Certificate, what: str) -> None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.content_commitment:
            raise IdentityError(f"{what}：证书的密钥用途不含“不可否认”（nonRepudiation），不能用于签署季报")
    except x509.ExtensionNotFound:
        pass
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not {oid.dotted_string for oid in eku} & DOCUMENT_SIGNING_EKUS:
        names = "、".join(EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)
        raise IdentityError(f"{what}：证书的扩展密钥用途（{names}）不含文档签名，不能用于签署季报")


def write_town_certificate(out: Path) -> Path:
    """The .pem beside a town's .p12 (for the city's records and for revocation)."""
    return out.with_suffix(".pem")


def revoke(
    root_p12: Path,
    root_passphrase: bytes,
    certificate_path: Path,
    out: Path,
    existing_crl: Path | None = None,
    when: dt.datetime | None = None,
) -> tuple[Path, x509.Certificate]:
    """Write a CRL signed by the city root: the entries of `existing_crl` plus `certificate_path`'s certificate."""
    try:
        root_data = root_p12.read_bytes()
        cert_data = certificate_path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"无法读取文件：{exc.filename}：{os_reason(exc)}") from exc
    root_key, root_cert, _ = load_p12(root_data, root_passphrase, root_p12.name)
    try:
        certificate = x509.load_pem_x509_certificate(cert_data)
    except ValueError:
        try:
            certificate = x509.load_der_x509_certificate(cert_data)
        except ValueError as exc:
            raise IdentityError(f"{certificate_path.name} 不是证书文件（应为镇街的 .pem）") from exc
    if certificate.issuer != root_cert.subject or not _issued(certificate, root_cert):
        raise IdentityError(f"{certificate_path.name} 不是由这个市局根证书签发的，无法吊销")
    now = when or _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=365))
    )
    seen = set()
    number = 1
    if existing_crl is not None:
        try:
            old = x509.load_pem_x509_crl(existing_crl.read_bytes())
        except (OSError, ValueError) as exc:
            raise IdentityError(f"{existing_crl.name} 不是可读的吊销列表（CRL）") from exc
        if old.issuer != root_cert.subject or not old.is_signature_valid(root_key.public_key()):
            raise IdentityError(f"{existing_crl.name} 不是这个市局根证书签发的吊销列表")
        for entry in old:
            builder = builder.add_revoked_certificate(entry)
            seen.add(entry.serial_number)
        try:
            number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
        except x509.ExtensionNotFound:
            number = 2
    if certificate.serial_number not in seen:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(certificate.serial_number).revocation_date(now).build()
        )
    builder = builder.add_extension(x509.CRLNumber(number), critical=False).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
    )
    crl = builder.sign(root_key, hashes.SHA256())
    data = crl.public_bytes(serialization.Encoding.PEM)
    if existing_crl is not None and out.resolve() == existing_crl.resolve():
        out.write_bytes(data)
    else:
        if out.exists():
            raise IdentityError(f"{out} 已存在，未覆盖")
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_new(out, data)
    _register_revoked(register_folder(root_p12), certificate, now)  # its key may now be certified for another town
    return out, certificate


def import_identity_file(store, path: Path, passphrase: Callable[[], bytes | None], town: str) -> CheckedIdentity:
    """Check and keep a town's .p12 (the CLI and the window both call this); the first import pins its root.

    `passphrase` is asked only after the file passed the checks that need no passphrase; it may
    return None (cancelled), which raises IdentityCancelled.
    """
    import stat as stat_module

    try:
        info = path.stat()
    except OSError as exc:
        raise IdentityError(f"无法读取 {path.name}：{os_reason(exc)}") from exc
    if not stat_module.S_ISREG(info.st_mode):
        raise IdentityError(f"{path.name} 不是普通文件，拒绝打开")
    if info.st_size > MAX_P12_BYTES:
        raise IdentityError(
            f"{path.name}：文件大小 {info.st_size // 1024} KB，超过 {MAX_P12_BYTES // 1024} KB，不是市局签发的证书文件"
        )
    try:
        with path.open("rb") as f:
            data = f.read(MAX_P12_BYTES + 1)
    except OSError as exc:
        raise IdentityError(f"无法读取 {path.name}：{os_reason(exc)}") from exc
    check_p12_bounds(data, path.name)
    secret = passphrase()
    if secret is None:
        raise IdentityCancelled("已取消导入")
    checked = check_identity(data, secret, path.name, town, store.pinned_root())
    store.set_identity(data, checked.description, checked.root_pem)
    return checked


class IdentityCancelled(IdentityError):
    pass


# --- the city's revocation lists ------------------------------------------------------------

MAX_CRL_BYTES = 4 * 1024 * 1024  # a list of every town's certificates is a few KB


@dataclass(frozen=True)
class RevocationList:
    """A CRL file, read and decoded to its last entry (a damaged entry is found here, not mid-verification)."""

    path: Path
    crl: x509.CertificateRevocationList
    next_update: dt.datetime | None

    def expired(self, now: dt.datetime | None = None) -> bool:
        return self.next_update is not None and self.next_update < (now or _now())

    def expiry_warning(self) -> str:
        shown = _printable_name(self.path)
        when = f"{self.next_update:%Y-%m-%d}" if self.next_update else ""
        return (
            f"吊销列表已过期：{shown} 应在 {when} 前更新，其中的吊销仍然计入，但此后吊销的证书不在其中；"
            "请向市局索取最新的吊销列表"
        )

    def expiry_refusal(self) -> str:
        when = f"{self.next_update:%Y-%m-%d}" if self.next_update else ""
        return (
            f"吊销列表已过期：{_printable_name(self.path)} 应在 {when} 前更新（要求吊销列表未过期，拒绝使用）；"
            "请向市局索取最新的吊销列表"
        )


def _printable_name(path: Path) -> str:
    from reports.files import printable

    return printable(path.name)


def read_crl(path: Path) -> RevocationList:
    """The CRL in `path` (PEM or DER), or IdentityError saying in Chinese why it cannot be used."""
    import stat as stat_module

    shown = _printable_name(path)
    try:
        info = path.stat()
        if not stat_module.S_ISREG(info.st_mode):
            raise IdentityError(f"{shown} 不是普通文件，不是吊销列表（CRL）")
        if info.st_size > MAX_CRL_BYTES:
            raise IdentityError(f"{shown} 过大（{info.st_size // 1024} KB），不是吊销列表（CRL）")
        with path.open("rb") as f:
            data = f.read(MAX_CRL_BYTES + 1)
    except OSError as exc:
        raise IdentityError(f"无法读取吊销列表 {shown}：{os_reason(exc)}") from exc
    try:
        crl = x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----") else x509.load_der_x509_crl(data)
        # Decoded lazily by cryptography: every field the verifier will read is read once here.
        crl.issuer.public_bytes()
        for entry in crl:
            _ = entry.serial_number, entry.revocation_date_utc
        next_update = crl.next_update_utc
        _ = crl.last_update_utc, crl.signature_hash_algorithm
    except (ValueError, TypeError, OverflowError, x509.InvalidVersion) as exc:
        raise IdentityError(f"{shown} 不是吊销列表（CRL）文件，或已损坏") from exc
    except UnsupportedAlgorithm as exc:
        raise IdentityError(f"{shown} 的签名算法不是本系统使用的，不是市局的吊销列表") from exc
    return RevocationList(path, crl, next_update)


# --- a key on the town's USB key: requests, issuing for them, importing, renewal ------------------

RENEWAL_DAYS = 30
MAX_REQUEST_BYTES = 64 * 1024
ISSUED_FOLDER = "issued"  # beside city_root.p12: every certificate the city issued (and which it revoked)
RENEW_TOKEN = (
    "请在本机运行 python main.py identity request --renew --pin-file PIN文件 --out 新申请.csr（同一个 U 盾上生成新密钥），"
    "把申请交市局签发，再用 identity import --cert 新证书.pem --pkcs11-module 驱动 --token-label 标签 导入"
    "（窗口：文件 → 导入签名证书…）"
)
RENEW_P12 = "请向市局申请新的证书，用 identity import 导入（窗口：文件 → 导入签名证书…）"


def expiry_refusal(certificate: x509.Certificate, on_token: bool, now: dt.datetime | None = None) -> str | None:
    """Why this certificate cannot sign now (not yet valid, expired) and how to get a new one; None if it can."""
    now = now or _now()
    start, stop = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if start <= now <= stop:
        return None
    how = RENEW_TOKEN if on_token else RENEW_P12
    if now > stop:
        return f"签名证书已于 {stop:%Y-%m-%d} 过期（有效期 {start:%Y-%m-%d} 至 {stop:%Y-%m-%d}），不能签名。{how}"
    # not yet valid: a certificate issued today is "from the future" when the PC's clock is behind
    return (
        f"签名证书从 {start:%Y-%m-%d} 起才生效（有效期 {start:%Y-%m-%d} 至 {stop:%Y-%m-%d}），"
        f"而电脑时间是 {now:%Y-%m-%d}：电脑时间比实际落后，请先校正电脑时间，再操作一次（证书无需更新）"
    )


def renewal_warning(not_after: dt.datetime, on_token: bool, now: dt.datetime | None = None) -> str | None:
    """From RENEWAL_DAYS days before the certificate expires: how many days are left and how to renew."""
    now = now or _now()
    left = not_after - now
    if left > dt.timedelta(days=RENEWAL_DAYS):
        return None
    if left < dt.timedelta(0):
        return f"签名证书已于 {not_after:%Y-%m-%d} 过期，不能签名。" + (RENEW_TOKEN if on_token else RENEW_P12)
    days = left.days
    return f"签名证书将于 {not_after:%Y-%m-%d} 到期（还有 {days} 天），请及时更新：" + (
        RENEW_TOKEN if on_token else RENEW_P12
    )


def open_token_identity(record, pin: bytes) -> Identity:
    """The recorded USB key, logged in to with `pin`; an expired certificate is refused before the PIN is
    tried (a token counts wrong PINs)."""
    from reports.token import open_token_key

    certificate, root = record.certificate, record.root
    refusal = expiry_refusal(certificate, on_token=True)
    if refusal:
        raise IdentityError(refusal)
    town = town_of(certificate)
    if not town:
        raise IdentityError("记录的签名证书中没有镇街名称，请重新导入证书")
    return Identity(town, certificate, None, (root,), token=open_token_key(record, pin))


def _read_small(path: Path, limit: int, what: str) -> bytes:
    import stat as stat_module

    shown = _printable_name(path)
    try:
        info = path.stat()
        if not stat_module.S_ISREG(info.st_mode):
            raise IdentityError(f"{shown} 不是普通文件，拒绝打开")
        if info.st_size > limit:
            raise IdentityError(f"{shown}：文件大小 {info.st_size // 1024} KB，超过 {limit // 1024} KB，不是{what}")
        with path.open("rb") as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise IdentityError(f"无法读取 {shown}：{os_reason(exc)}") from exc


def read_request(path: Path) -> x509.CertificateSigningRequest:
    """A certificate request (PKCS#10, PEM or DER) whose signature holds, or a refusal saying why."""
    data = _read_small(path, MAX_REQUEST_BYTES, "证书申请（.csr）")
    shown = _printable_name(path)
    try:
        request = x509.load_pem_x509_csr(data) if data.lstrip().startswith(b"-----") else x509.load_der_x509_csr(data)
        _ = request.subject.public_bytes(), request.public_key()
        valid = request.is_signature_valid
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
        raise IdentityError(f"{shown} 不是证书申请（PKCS#10）文件，或已损坏") from exc
    if not valid:
        raise IdentityError(f"{shown}：证书申请的签名不对（申请被改动过，或不是用其中的密钥签的），拒绝签发")
    return request


def _key_info(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def register_folder(root_p12: Path, register: Path | None = None) -> Path:
    """Where the city's register of issued certificates is: `register` when named, else `issued/` beside
    the root's key file (created there by `city init`)."""
    return register if register is not None else root_p12.parent / ISSUED_FOLDER


def register_issued(folder: Path, certificate: x509.Certificate) -> None:
    """Keep a copy of every certificate the city issues in its register, so a later request for the same
    key (under another town, or after its certificate was revoked) is found (`register_conflict`)."""
    _write_new(folder / f"{certificate.serial_number:x}.pem", certificate.public_bytes(serialization.Encoding.PEM))


def _register_revoked(folder: Path, certificate: x509.Certificate, when: dt.datetime) -> None:
    """Mark the certificate revoked in the register; one the register lacks (issued before it existed) is
    entered first, so its key is still refused from now on."""
    if not folder.is_dir():
        return
    entry = folder / f"{certificate.serial_number:x}.pem"
    if not entry.is_file():
        _write_new(entry, certificate.public_bytes(serialization.Encoding.PEM))
    (folder / f"{certificate.serial_number:x}.revoked").write_text(when.isoformat(), encoding="ascii")


def register_conflict(folder: Path, public_key: object, town: str) -> str | None:
    """Why the register refuses a certificate for this key to `town`: the key is in a certificate the city
    revoked (a lost or retired key is never certified again), or in another town's certificate not
    revoked. None when it may be issued."""
    wanted = _key_info(public_key)
    for path in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        try:
            issued = x509.load_pem_x509_certificate(path.read_bytes())
            same = _key_info(issued.public_key()) == wanted
        except (OSError, ValueError, UnsupportedAlgorithm):
            continue
        if not same:
            continue
        owner = town_of(issued)
        if path.with_suffix(".revoked").exists():
            return (
                f"这把密钥在{owner}的证书（序列号 {issued.serial_number:x}）中，该证书已被吊销：吊销的密钥不能再签发证书，"
                f"请在 U 盾上生成新密钥（identity request --renew）后重新申请"
            )
        if owner != town:
            return (
                f"这把密钥已在{owner}的证书中（序列号 {issued.serial_number:x}，"
                f"有效期至 {issued.not_valid_after_utc:%Y-%m-%d}），该证书未吊销，不能再为{town}签发"
            )
    return None


def _requested_town(request: x509.CertificateSigningRequest, shown: str) -> str:
    """The one town a request names: exactly one common name, exactly a town's name (no alias, no
    hidden character), and no other part of the request naming anything else a town could be taken for."""
    from reports.files import printable

    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    values = [printable(str(n.value)) for n in names]
    if len(names) > 1:
        raise IdentityError(
            f"{shown}：证书申请中写了 {len(names)} 个名称（{'、'.join(f'“{v}”' for v in values)}），"
            "一份申请只能为一个镇街，拒绝签发"
        )
    if any(len(rdn) > 1 for rdn in request.subject.rdns):
        raise IdentityError(f"{shown}：证书申请的名称中有合并在一起的多项，不是本系统生成的申请，拒绝签发")
    named = names[0].value if names and isinstance(names[0].value, str) else ""
    if not named:
        raise IdentityError(f"{shown}：证书申请中没有写镇街名称，拒绝签发")
    try:
        town = check_town(named)
    except DomainError as exc:
        raise IdentityError(f"{shown}：证书申请中的“{values[0]}”不是东莞的 33 个镇街之一，拒绝签发") from exc
    if town != named:
        raise IdentityError(
            f"{shown}：证书申请中的镇街名称写作“{values[0]}”，不是镇街的规范名称“{town}”"
            "（多了空格、不可见字符或“镇/街道”等字样），拒绝签发：请在镇街的电脑上用本软件重新生成申请"
        )
    try:
        alternative = request.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        alternative = None
    if alternative is not None:
        raise IdentityError(
            f"{shown}：证书申请中另有“备用名称”（SubjectAlternativeName），不是本系统生成的申请，拒绝签发"
        )
    return town


def issue_for_request(
    root_p12: Path,
    root_passphrase: bytes,
    request_path: Path,
    out: Path,
    days: int = TOWN_DAYS,
    register: Path | None = None,
) -> x509.Certificate:
    """A town certificate for the key in a request made on a USB key: the request's signature and town
    checked, the same profile as a .p12's certificate, written as PEM to `out`.

    The register (`issued/` beside the root, or `register`) must exist: a copy of the root elsewhere has
    none, and issuing from it would not see the keys already certified (one key, one town)."""
    request = read_request(request_path)
    shown = _printable_name(request_path)
    town = _requested_town(request, shown)
    public_key = request.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        raise IdentityError(f"{shown}：证书申请中的密钥不是本系统使用的 EC P-256（secp256r1）密钥，拒绝签发")
    if out.exists():
        raise IdentityError(f"{shown_path(out)} 已存在，未覆盖")
    try:
        root_data = root_p12.read_bytes()
    except OSError as exc:
        raise IdentityError(f"无法读取根证书文件 {root_p12}：{os_reason(exc)}") from exc
    root_key, root_cert, _ = load_p12(root_data, root_passphrase, root_p12.name)
    folder = register_folder(root_p12, register)
    if register is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IdentityError(f"无法使用签发记录文件夹 {folder}（{os_reason(exc)}），未签发") from exc
    elif not folder.is_dir():
        raise IdentityError(
            f"无法在 {folder} 中记下签发的证书：根证书旁没有签发记录文件夹（{ISSUED_FOLDER}），未签发。"
            "签发记录用来发现同一把密钥为两个镇街申请、或吊销后再申请；根证书被复制到别处时，"
            f"请用 --register 指定原来的签发记录文件夹（city init 时根证书旁的 {ISSUED_FOLDER}）"
        )
    conflict = register_conflict(folder, public_key, town)
    if conflict is not None:
        raise IdentityError(f"{shown}：{conflict}")
    certificate = town_certificate(town, public_key, root_key, root_cert, _now() - dt.timedelta(hours=1), days)
    try:  # recorded before it is handed out: a key on a USB key could be asked for again under another town
        register_issued(folder, certificate)
    except OSError as exc:
        raise IdentityError(
            f"无法在 {folder} 中记下签发的证书（{os_reason(exc)}），未签发："
            "为 U 盾签发时，签发记录文件夹须可写（签发记录用来发现同一把密钥为两个镇街申请）"
        ) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_new(out, certificate.public_bytes(serialization.Encoding.PEM))
    return certificate


def read_certificate(path: Path, what: str = "证书") -> x509.Certificate:
    data = _read_small(path, MAX_P12_BYTES, "市局签发的证书")
    shown = _printable_name(path)
    try:
        if data.lstrip().startswith(b"-----"):
            found = x509.load_pem_x509_certificates(data)
            if len(found) != 1:
                raise IdentityError(
                    f"{shown} 中有 {len(found)} 个证书，不知道导入哪一个：市局签发的证书文件只含本镇街的一个证书，拒绝导入"
                )
            if data.count(b"-----BEGIN") != 1:
                raise IdentityError(f"{shown} 中除证书外还有别的内容（如私钥或申请），不是市局签发的证书文件，拒绝导入")
            certificate = found[0]
        else:
            certificate = x509.load_der_x509_certificate(data)
        _ = certificate.subject.public_bytes(), certificate.public_key(), list(certificate.extensions)
        _ = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion, x509.DuplicateExtension) as exc:
        raise IdentityError(f"{shown} 不是{what}文件（应为市局签发的 .pem），或已损坏") from exc
    return certificate


def check_issued_certificate(
    certificate: x509.Certificate, root: x509.Certificate, town: str, what: str, now: dt.datetime | None = None
) -> None:
    """A town certificate (from a request) refused unless it is this town's, valid now, for signing
    documents and issued by `root`."""
    owner = town_of(certificate)
    if owner != town:
        raise IdentityError(f"这个证书属于{owner or '（没有镇街名称）'}，而本数据库是{town}的，拒绝导入")
    refusal = expiry_refusal(certificate, on_token=True, now=now)
    if refusal:
        raise IdentityError(f"{what}：{refusal}")
    _check_usage(certificate, what)
    if certificate.issuer != root.subject or not _issued(certificate, root):
        raise IdentityError(f"{what}：证书不是由市局根证书（指纹 {fingerprint(root)}）签发的，拒绝导入")


def token_identity_record(
    certificate_path: Path,
    module: Path,
    token_label: str,
    root_path: Path | None,
    town: str,
    pinned_root_pem: str | None,
) -> tuple[bytes, CheckedIdentity]:
    """Check a certificate issued for a key on a USB key and find that key on the token (its public half,
    read without a PIN): the record to keep (never a PIN) and what to show."""
    from reports.token import TokenRecord, find_token, key_id_for, token_serial

    shown = _printable_name(certificate_path)
    certificate = read_certificate(certificate_path)
    pinned = x509.load_pem_x509_certificate(pinned_root_pem.encode("ascii")) if pinned_root_pem else None
    given = load_trust_roots(root_path)[0] if root_path is not None else None
    if pinned is not None and given is not None and given != pinned:
        raise IdentityError(
            f"{_printable_name(root_path or Path())}（指纹 {fingerprint(given)}）不是本机已固定的市局根证书"
            f"（指纹 {fingerprint(pinned)}），拒绝导入"
        )
    root = pinned or given
    if root is None:
        raise IdentityError("第一次导入证书时须用 --root 指定市局根证书 city_root.pem（其指纹请与市局公布的核对）")
    check_issued_certificate(certificate, root, town, shown)
    token = find_token(module, token_label)
    from pkcs11.exceptions import PKCS11Error

    try:
        session = token.open()
        try:
            key_id = key_id_for(session, certificate)
        finally:
            session.close()
    except PKCS11Error as exc:
        raise IdentityError(f"无法读取 U 盾“{token_label}”（错误代码 {type(exc).__name__}），U 盾可能已拔出") from exc
    if key_id is None:
        raise IdentityError(
            f"U 盾“{token_label}”上没有 {shown} 中的公钥：这个证书不是为这个 U 盾上的密钥签发的（插错了 U 盾，"
            "或用了别的申请），拒绝导入"
        )
    record = TokenRecord(
        str(module.resolve()),  # a relative path typed at import would name another file from another folder
        token_label,
        token_serial(token),
        key_id.hex(),
        certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        root.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
    description = f"{describe(certificate)}，密钥在{record.describe()}"
    return record.to_bytes(), CheckedIdentity(Identity(town, certificate, None, (root,)), root, description)


@dataclass(frozen=True)
class StoredIdentity:
    """What `identity show` tells of the kept identity without a passphrase or PIN."""

    kind: str  # "pkcs11" (a USB key) or "p12" (a passphrase-protected file)
    not_after: dt.datetime | None
    token: object | None  # reports.token.TokenRecord for a USB key

    @property
    def kind_text(self) -> str:
        return (
            "U 盾（PKCS#11，密钥在 U 盾里，签名时输入 PIN 码）"
            if self.kind == "pkcs11"
            else "证书文件（.p12，签名时输入口令）"
        )

    def warning(self, now: dt.datetime | None = None) -> str | None:
        return renewal_warning(self.not_after, self.kind == "pkcs11", now) if self.not_after else None


def stored_identity_facts(data: bytes, description: str | None) -> StoredIdentity:
    """The kind and the expiry of the kept identity: a USB key's record holds its certificate; a .p12's
    certificate is encrypted, so its expiry is the one its description (written at import) names."""
    import re

    from reports.token import TokenRecord

    record = TokenRecord.parse(data)
    if record is not None:
        return StoredIdentity("pkcs11", record.certificate.not_valid_after_utc, record)
    found = re.search(r"有效期 \d{4}-\d{2}-\d{2} 至 (\d{4})-(\d{2})-(\d{2})", description or "")
    not_after = None
    if found:
        year, month, day = map(int, found.groups())
        not_after = dt.datetime(year, month, day, 23, 59, 59, tzinfo=dt.UTC)
    return StoredIdentity("p12", not_after, None)
