"""Secrets at rest: AES-256-GCM under a keyring from the environment.

`CONTROL_ENCRYPTION_KEYS` lists base64url 32-byte keys, comma-separated; the first is the
primary (new secrets are sealed with it), the others still open what they sealed. A sealed
value is `v1.<key id>.<base64url(nonce + ciphertext)>`, the key id being the first 8 bytes of
the key's SHA-256 in hex, so rotation knows what is left to re-seal without trying keys. The
associated data binds a value to its slot (tenant, side and field): a value copied into
another record does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1"


class KeyringError(ValueError):
    """The keyring is misconfigured, or a sealed value cannot be opened with it."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def generate_key() -> str:
    """A new key, in the form `CONTROL_ENCRYPTION_KEYS` takes."""
    return _b64e(AESGCM.generate_key(bit_length=256))


class Keyring:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise KeyringError("no encryption key: set CONTROL_ENCRYPTION_KEYS (im keys generate)")
        for key in keys:
            if len(key) != 32:
                raise KeyringError("each encryption key must be 32 bytes (base64url)")
        self._keys = {key_id(k): AESGCM(k) for k in keys}
        self.primary_id = key_id(keys[0])
        self.key_ids = tuple(key_id(k) for k in keys)

    @classmethod
    def from_text(cls, text: str) -> Keyring:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            keys = [_b64d(p) for p in parts]
        except ValueError:
            raise KeyringError("CONTROL_ENCRYPTION_KEYS holds a value that is not base64") from None
        return cls(keys)

    def seal(self, plaintext: str, aad: bytes) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.primary_id].encrypt(nonce, plaintext.encode(), aad)
        return f"{PREFIX}.{self.primary_id}.{_b64e(nonce + sealed)}"

    def open(self, sealed: str, aad: bytes) -> str:
        kid = self.sealed_with(sealed)
        aead = self._keys.get(kid)
        if aead is None:
            raise KeyringError(f"sealed with key {kid}, which is not in the keyring")
        blob = _b64d(sealed.split(".", 2)[2])
        try:
            return aead.decrypt(blob[:12], blob[12:], aad).decode()
        except InvalidTag:
            raise KeyringError("a sealed value does not open (wrong key or slot)") from None

    @staticmethod
    def sealed_with(sealed: str) -> str:
        parts = sealed.split(".", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise KeyringError("not a sealed value")
        return parts[1]

    def reseal(self, sealed: str, aad: bytes) -> str | None:
        """The value sealed under the primary key, or None if it already is."""
        if self.sealed_with(sealed) == self.primary_id:
            return None
        return self.seal(self.open(sealed, aad), aad)
