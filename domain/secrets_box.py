"""Encryption of stored secrets (provider keys, webhook secrets) with AES-GCM.

The key is derived from TALLY_SECRET_KEY; a row encrypted under one tenant cannot
be moved to another, because the tenant id is bound in as associated data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"v1"


class SecretBox:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("TALLY_SECRET_KEY must be at least 16 characters")
        self._aead = AESGCM(hashlib.sha256(b"tally-secret-box:" + secret.encode()).digest())
        self._mac_key = hashlib.sha256(b"tally-mac:" + secret.encode()).digest()

    def mac(self, message: str, *, context: str) -> str:
        """A keyed digest of `message` (hex): the same for the same key and context."""
        data = context.encode() + b"\0" + message.encode()
        return hmac.new(self._mac_key, data, hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return (_VERSION + b":" + base64.urlsafe_b64encode(nonce + sealed)).decode()

    def decrypt(self, token: str, *, context: str) -> str:
        version, _, body = token.encode().partition(b":")
        if version != _VERSION:
            raise ValueError("unknown secret format")
        raw = base64.urlsafe_b64decode(body)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise ValueError("secret cannot be decrypted with this key or context") from None


_box: SecretBox | None = None


def configure(secret: str) -> None:
    """Set the process's box from TALLY_SECRET_KEY (server start, CLI, tests)."""
    global _box
    _box = SecretBox(secret)


def box() -> SecretBox:
    if _box is None:
        raise RuntimeError("secrets_box.configure() was not called at start-up")
    return _box
