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


def passphrase_from(file: Path | None, ask: Callable[[], str] | None = None) -> bytes:
    """A passphrase: the first line of `file`, else what `ask` (a prompt) answers, else a refusal."""
    from reports.identity import read_passphrase_file

    if file is not None:
        return read_passphrase_file(file)
    if ask is not None:
        return ask().encode("utf-8")
    raise IdentityError("需要签名证书的口令：请用 --passphrase-file 指定口令文件")


@dataclass(frozen=True)
class IdentityView:
    town: str
    description: str | None  # None: no identity imported yet
    root_sha256: str | None  # the pinned city root's fingerprint

    def as_dict(self) -> dict[str, Any]:
        return {"town": self.town, "identity": self.description, "root_sha256": self.root_sha256}


def show_identity(store: Store) -> IdentityView:
    town = store.require_town()
    pinned = store.pinned_root()
    fingerprint = None
    if pinned:
        from cryptography import x509

        from reports.identity import fingerprint as sha256_of

        fingerprint = sha256_of(x509.load_pem_x509_certificate(pinned.encode("ascii")))
    return IdentityView(town, store.identity_description(), fingerprint)


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
