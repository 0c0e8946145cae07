"""Encryption at rest for secrets we store (Slack tokens, PostHog API keys).

Fernet (AES-128-CBC + HMAC-SHA256) keyed from SECRET_KEY. Several comma-separated keys rotate: the first
encrypts, every one decrypts. The `EncryptedString` column type makes encryption invisible to the rest of the
code and impossible to forget.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.types import Text, TypeDecorator

from core.settings import get_settings


class SecretKeyError(RuntimeError):
    pass


def load_secret_keys(configured: str, generated_key_file: Path) -> list[str]:
    """The configured keys, or a key generated once into `generated_key_file` for single-machine set-ups."""
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    if keys:
        return keys
    path = generated_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: a process starting at the same moment
        # sees either no key file or a complete one, and the first link wins.
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if not key:
        raise SecretKeyError(f"{path} is empty: delete it to generate a new key, or set SECRET_KEY.")
    return [key]


def _fernet_for(key: str) -> Fernet:
    # Any string is accepted as a key: it is stretched to Fernet's 32 bytes with SHA-256.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + key).encode()).digest()))


@lru_cache
def cipher() -> MultiFernet:
    # The one setting read from the process's settings rather than passed in: a column type has no caller to
    # pass it, and every process of a deployment must use the same keys anyway.
    settings = get_settings()
    return MultiFernet([_fernet_for(k) for k in load_secret_keys(settings.secret_key, settings.generated_key_file)])


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretKeyError(
            "A stored secret could not be decrypted: SECRET_KEY differs from the key it was saved with. "
            "Add the old key after the new one (comma-separated) to rotate."
        ) from exc


class EncryptedString(TypeDecorator[str]):
    """A text column whose value is encrypted before it reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else decrypt(value)
