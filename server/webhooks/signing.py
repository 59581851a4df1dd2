"""Webhook bodies and signatures, exactly as DESIGN §6 fixes them.

The body is compact JSON with its keys in the documented order and `signature` last; its bytes
equal JavaScript's `JSON.stringify(JSON.parse(body))` (orjson writes compact JSON, leaves
non-ASCII unescaped and numbers here are integers), so a receiver that re-serialises its parsed
body, as the reference's Node snippet does, gets the very bytes that were signed.

Two signatures with the account's secret (the HMAC key is the secret string's UTF-8 bytes):
`X-Castimer-Signature` covers the raw body; the body's `signature` field covers the body
serialised without that field (a signature cannot cover a body that contains it). The Standard
Webhooks headers are signed as that specification says, with the base64-decoded part of the
secret as key; during a secret rotation both secrets sign, space-separated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from .. import __version__

USER_AGENT = "Castimer-Webhooks/1.0"
_SECRET_PREFIX = "whsec_"  # noqa: S105 -- the prefix of every secret, not a secret


def _hex(secret: str, data: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def signed_body(unsigned: bytes, secret: str) -> bytes:
    """`unsigned` (a JSON object without `signature`, as the outbox stores it) with its
    `signature` field added last."""
    if not unsigned.endswith(b"}"):
        raise ValueError("a webhook body is a JSON object")
    field = b',"signature":"' + _hex(secret, unsigned).encode() + b'"}'
    return unsigned[:-1] + (field if unsigned != b"{}" else field[1:])


def verify_signature(raw_body: bytes, header: str, secret: str) -> bool:
    """True if `header` (the value of X-Castimer-Signature) signs `raw_body` with `secret`.
    For receivers: pass the body's bytes as they arrived, before any JSON parsing."""
    return hmac.compare_digest(header.encode(), _hex(secret, raw_body).encode())


def _standard_key(secret: str) -> bytes:
    encoded = secret[len(_SECRET_PREFIX):] if secret.startswith(_SECRET_PREFIX) else secret
    return base64.b64decode(encoded + "==")


def standard_signature(delivery_id: str, timestamp_s: int, body: bytes,
                       secrets: Sequence[str]) -> str:
    """The `webhook-signature` header: `v1,<base64>` for each secret, space-separated."""
    message = f"{delivery_id}.{timestamp_s}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_standard_key(s), message, hashlib.sha256).digest())
        .decode() for s in secrets)


def headers(delivery_id: str, event: str, body: bytes, secrets: Sequence[str],
            timestamp_s: int) -> dict[str, str]:
    """Every header of one delivery attempt. `secrets[0]` is the account's current secret;
    a second one is the previous secret while a rotation's overlap lasts: it signs the Standard
    Webhooks header beside the current one, and `X-Castimer-Signature-Previous`, so a receiver
    that still holds the old secret verifies until it switches."""
    found = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Castimer-Event": event,
        "X-Castimer-Delivery": delivery_id,
        "X-Castimer-Signature": _hex(secrets[0], body),
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": standard_signature(delivery_id, timestamp_s, body, secrets),
        "X-Castimer-Version": __version__,
    }
    if len(secrets) > 1:
        found["X-Castimer-Signature-Previous"] = _hex(secrets[1], body)
    return found
