"""The city's root and the towns' signing identities (keys and certificates, via `cryptography`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import reports.asn1_names  # noqa: F401 - asn1crypto's CMS names complete before any is used
from core.errors import DomainError, os_reason
from core.plans import check_town

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
    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


def read_passphrase_file(path: Path) -> bytes:
    """The passphrase is the file's first line (without its line ending)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise IdentityError(f"无法读取口令文件 {path}：{os_reason(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise IdentityError(f"口令文件 {path} 不是文本文件") from exc
    lines = text.splitlines()
    passphrase = lines[0] if lines else ""
    if not passphrase:
        raise IdentityError(f"口令文件 {path} 第一行是空的")
    return passphrase.encode("utf-8")


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
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(town, TOWN_UNIT))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    bundle = pkcs12.serialize_key_and_certificates(
        town.encode("utf-8"), key, certificate, [root_cert], serialization.BestAvailableEncryption(passphrase)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_new(out, bundle)
    pem = write_town_certificate(out)
    _write_new(pem, certificate.public_bytes(serialization.Encoding.PEM))
    return out


def town_of(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def open_identity(data: bytes, passphrase: bytes, what: str = "签名证书") -> Identity:
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
        raise IdentityError(f"{path.name} 中的证书不是完好的市局根证书（自签名不符，文件可能已损坏），不能作为受信任的根证书")
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
        raise IdentityError(f"{what}：文件大小 {len(data) // 1024} KB，超过 {MAX_P12_BYTES // 1024} KB，不是市局签发的证书文件")
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


def _kdf_iterations(algorithm) -> int:  # type: ignore[no-untyped-def]
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
        raise IdentityError(f"{what}：证书尚未生效（有效期 {start:%Y-%m-%d} 至 {stop:%Y-%m-%d}），拒绝导入")
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
    return out, certificate


def import_identity_file(store, path: Path, passphrase: Callable[[], bytes | None], town: str) -> CheckedIdentity:  # type: ignore[no-untyped-def]
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
        raise IdentityError(f"{path.name}：文件大小 {info.st_size // 1024} KB，超过 {MAX_P12_BYTES // 1024} KB，不是市局签发的证书文件")
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
