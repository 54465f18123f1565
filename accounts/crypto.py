"""Encryption of stored registry secrets with Fernet keys from the environment.

`WAVE_CREDENTIALS_KEYS` lists keys newest first: new secrets are encrypted with the first, any of
them decrypts, and `manage.py rotate_credentials` re-encrypts every stored secret with the first.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _derived_key() -> bytes:
    # Without configured keys, one derived from SECRET_KEY (documented as local-stack only).
    digest = hashlib.sha256(b"wave-credentials\0" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _fernet() -> MultiFernet:
    keys = settings.WAVE_CREDENTIALS_KEYS or [_derived_key()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from exc


def rotate(ciphertext: str) -> str:
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from exc
