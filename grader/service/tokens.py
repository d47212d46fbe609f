"""Bearer tokens: random secrets handed out once; the database keeps only their hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from grader.service.records import Role, Token, timestamp
from grader.service.store import Store

PREFIX = "grader_"  # lets secret scanners and people recognise a leaked token


def digest(secret: str) -> str:
    """The stored form of a token: SHA-256 suffices for 256 random bits, unlike for passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, role: Role, name: str = "") -> tuple[Token, str]:
    """A new token and its secret, which is shown this once and never stored."""
    secret = PREFIX + secrets.token_urlsafe(32)
    token = Token(secrets.token_hex(4), role, name, timestamp())
    store.add_token(token, digest(secret))
    return token, secret


def authenticate(store: Store, secret: str) -> Token | None:
    """The live token with this secret, or None for an unknown or revoked one."""
    wanted = digest(secret)
    found = store.token_by_digest(wanted)
    if found is None:
        return None
    token, stored = found
    if not hmac.compare_digest(stored, wanted) or token.revoked_at is not None:
        return None
    return token
