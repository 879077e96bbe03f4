"""Actions on the town's signing identity: import the .p12 the city issued, show it; passphrases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reports.identity import CheckedIdentity, IdentityCancelled, IdentityError

if TYPE_CHECKING:
    from storage.store import Store

__all__ = ["IdentityCancelled", "IdentityError"]


def passphrase_from(file: Path | None, ask: Callable[[], str] | None = None, what: str = "口令文件") -> bytes:
    """A passphrase (or a USB key's PIN): the first line of `file`, else what `ask` (a prompt) answers, else a refusal."""
    from reports.identity import read_passphrase_file

    if file is not None:
        return read_passphrase_file(file, what)
    if ask is not None:
        return ask().encode("utf-8")
    raise IdentityError("需要签名证书的口令：请用 --passphrase-file 指定口令文件")


@dataclass(frozen=True)
class IdentityView:
    town: str
    description: str | None  # None: no identity imported yet
    root_sha256: str | None  # the pinned city root's fingerprint
    kind: str | None = None  # "pkcs11" (USB key) or "p12" (passphrase-protected file)
    kind_text: str | None = None
    not_after: str | None = None  # the certificate's last day, YYYY-MM-DD
    warning: str | None = None  # from 30 days before it expires: how many days are left, how to renew
    token: dict[str, str] | None = None  # module, token_label, token_serial, key_id (never a PIN)

    def as_dict(self) -> dict[str, Any]:
        return {
            "town": self.town,
            "identity": self.description,
            "root_sha256": self.root_sha256,
            "kind": self.kind,
            "not_after": self.not_after,
            "warning": self.warning,
            "token": self.token,
        }


def show_identity(store: Store) -> IdentityView:
    town = store.require_town()
    pinned = store.pinned_root()
    fingerprint = None
    if pinned:
        from cryptography import x509

        from reports.identity import fingerprint as sha256_of

        fingerprint = sha256_of(x509.load_pem_x509_certificate(pinned.encode("ascii")))
    description = store.identity_description()
    data = store.identity_p12()
    if data is None:
        return IdentityView(town, description, fingerprint)
    from reports.identity import stored_identity_facts

    facts = stored_identity_facts(data, description)
    token = None
    if facts.token is not None:
        from reports.token import TokenRecord

        record = facts.token
        assert isinstance(record, TokenRecord)
        token = {
            "module": record.module,
            "token_label": record.token_label,
            "token_serial": record.token_serial,
            "key_id": record.key_id,
        }
    return IdentityView(
        town,
        description,
        fingerprint,
        facts.kind,
        facts.kind_text,
        f"{facts.not_after:%Y-%m-%d}" if facts.not_after else None,
        facts.warning(),
        token,
    )


def identity_kind(store: Store) -> str | None:
    """The kept identity's kind: "pkcs11" (a USB key), "p12" (a file), or None before any import."""
    data = store.identity_p12()
    if data is None:
        return None
    from reports.token import TokenRecord

    return "pkcs11" if TokenRecord.parse(data) is not None else "p12"


def signing_refusal(store: Store) -> str | None:
    """Why the kept identity cannot sign now (an expired USB-key certificate, with how to renew), asked
    before a PIN is: a token counts wrong PINs. None when it may."""
    data = store.identity_p12()
    if data is None:
        return None
    from reports.identity import expiry_refusal
    from reports.token import TokenRecord

    record = TokenRecord.parse(data)
    return expiry_refusal(record.certificate, on_token=True) if record is not None else None


def _town_named(name: str) -> str:
    """check_town, with a refused name's hidden characters (U+200B, U+202E) shown escaped, not raw."""
    from core.errors import DomainError
    from core.plans import TOWNS, check_town
    from reports.files import printable

    try:
        return check_town(name)
    except DomainError as exc:
        raise IdentityError(f"没有名为“{printable(name)}”的镇街。可选：{'、'.join(TOWNS)}") from exc


@dataclass(frozen=True)
class Requested:
    file: Path
    town: str
    token_label: str
    key_id: str
    new_key: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "town": self.town,
            "token_label": self.token_label,
            "key_id": self.key_id,
            "new_key": self.new_key,
        }


def request_certificate(
    store: Store,
    town: str | None,
    module: Path | None,
    token_label: str | None,
    pin: Callable[[], bytes],
    out: Path,
    renew: bool = False,
) -> Requested:
    """A certificate request (PKCS#10) for this town's key on a USB key, made there (the key never leaves it).

    `renew` makes a new key on the token the town signs with now (its driver and label are the recorded
    ones unless given)."""
    from reports.token import TokenRecord, write_request

    bound = store.require_town()
    if town is not None:
        town = _town_named(town)
        if town != bound:
            raise IdentityError(f"本数据库是{bound}的，不能为{town}申请证书")
    data = store.identity_p12()
    record = TokenRecord.parse(data) if data is not None else None
    if renew and record is None:
        raise IdentityError(
            "--renew 用于 U 盾上的证书续期，而本镇街现在没有用 U 盾签名：请用 --pkcs11-module 和 --token-label 指定 U 盾，不加 --renew"
        )
    module = module or (Path(record.module) if record is not None else None)
    token_label = token_label or (record.token_label if record is not None else None)
    if module is None or token_label is None:
        raise IdentityError("请用 --pkcs11-module 指定 U 盾的驱动文件，用 --token-label 指定 U 盾的标签")
    prefer = bytes.fromhex(record.key_id) if record is not None else None
    # the recorded token told apart from another with the same label by its serial
    serial = record.token_serial if record is not None and token_label == record.token_label else None
    made = write_request(module.resolve(), token_label, pin(), bound, out, renew, prefer, serial)
    return Requested(made.path, made.town, made.token_label, made.key_id, made.new_key)


def import_token_identity(
    store: Store, certificate: Path, module: Path, token_label: str, root: Path | None = None
) -> ImportedIdentity:
    """Bind a certificate the city issued for a request to the key on the USB key: checked against the
    pinned root (or `root` at the first import) and the token's public key; recorded without a PIN."""
    from reports.identity import token_identity_record

    town = store.require_town()
    data, checked = token_identity_record(certificate, module.resolve(), token_label, root, town, store.pinned_root())
    store.set_identity(data, checked.description, checked.root_pem)
    return ImportedIdentity(town, checked)


def present_tokens(module: Path) -> list[str]:
    """The labels of the tokens the driver sees now (the window offers them)."""
    from reports.token import present_tokens as tokens

    return [token.label for token in tokens(module)]


@dataclass(frozen=True)
class ImportedIdentity:
    town: str
    checked: CheckedIdentity

    @property
    def description(self) -> str:
        return self.checked.description

    @property
    def root_fingerprint(self) -> str:
        return self.checked.root_fingerprint

    def as_dict(self) -> dict[str, Any]:
        return {"town": self.town, "identity": self.description, "root_sha256": self.root_fingerprint}


def import_identity(store: Store, path: Path, passphrase: Callable[[], bytes | None]) -> ImportedIdentity:
    """Check and keep the town's .p12; the first import pins the city's root.

    `passphrase` is asked only once the file passed the checks that need none; None from it means
    cancelled and raises IdentityCancelled.
    """
    from reports.identity import import_identity_file

    town = store.require_town()
    return ImportedIdentity(town, import_identity_file(store, path, passphrase, town))
