"""The city's root and the towns' signing identities (keys and certificates, via `cryptography`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from core.errors import DomainError
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
        raise IdentityError(f"无法读取口令文件 {path}：{exc.strerror}") from exc
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
    except ValueError as exc:
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
    if out.exists():
        raise IdentityError(f"{out} 已存在，未覆盖")
    try:
        root_data = root_p12.read_bytes()
    except OSError as exc:
        raise IdentityError(f"无法读取根证书文件 {root_p12}：{exc.strerror}") from exc
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
        raise IdentityError(f"无法读取受信任的根证书 {path}：{exc.strerror}") from exc
    try:
        roots = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            roots = [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            raise IdentityError(f"{path.name} 不是证书文件（应为 city_root.pem）") from exc
    return roots
