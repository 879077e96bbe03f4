"""pyHanko's PKCS#11 signer for the town's USB key: the same CMS as a .p12's, made on the token.

Each signature first checks the token is still there and is then checked against the certificate, so a
token pulled out mid-export, or one signing with another key, stops the export with no signed file.
"""

from __future__ import annotations

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pkcs11.exceptions import PKCS11Error
from pyhanko.sign.pkcs11 import PKCS11Signer

from reports.identity import Identity
from reports.token import TokenKey, TokenMissing, check_signature, removed_message


def _asn1(certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


class TokenSigner(PKCS11Signer):
    def __init__(self, identity: Identity):
        assert identity.token is not None
        self._token: TokenKey = identity.token
        self._certificate = identity.certificate
        super().__init__(
            identity.token.session,
            signing_cert=_asn1(identity.certificate),
            ca_chain=[_asn1(c) for c in identity.chain],
            key_id=identity.token.key_id,
            use_raw_mechanism=True,  # CKM_ECDSA on the hash: SoftHSM and many UKeys lack CKM_ECDSA_SHA256
        )

    def _load_objects(self) -> None:
        # pyHanko finds the key handle on first use, also from the signing_cert property: a token gone
        # by then is told as such, not as pyHanko's English
        self._token.check_present()
        try:
            super()._load_objects()
        except PKCS11Error as exc:
            raise TokenMissing(removed_message(self._token, exc)) from exc

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
        self._token.check_present()
        try:
            signature = await super().async_sign_raw(data, digest_algorithm)
        except PKCS11Error as exc:
            raise TokenMissing(removed_message(self._token, exc)) from exc
        check_signature(self._certificate, signature, data, self._token.token_label)
        return signature
