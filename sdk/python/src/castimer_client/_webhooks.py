"""`verify_webhook`: check that a delivery came from Castimer, from the raw bytes of its body.

Castimer signs every delivery two ways with the account's secret (`whsec_…`):
`X-Castimer-Signature: sha256=<hex HMAC-SHA256 of the body>` with the secret string as key, and
the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature:
v1,<base64 HMAC of "id.timestamp.body">`, the key being the base64-decoded part of the secret).
Only the second covers a timestamp, so it is the one checked, and required: a delivery whose
Standard Webhooks headers were stripped would otherwise be a replay that no clock can refuse.
`allow_legacy_signature=True` accepts `X-Castimer-Signature` alone, for a receiver behind a
proxy that drops those headers (then de-duplicate on the body's `id`, which is signed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping

from ._errors import WebhookVerificationError
from ._models import WebhookEvent

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the prefix of every secret, not a secret
#: How far (seconds) a delivery's webhook-timestamp may be from this machine's clock.
DEFAULT_TOLERANCE = 300


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str, *,
                   tolerance: float = DEFAULT_TOLERANCE, now: float | None = None,
                   allow_legacy_signature: bool = False) -> WebhookEvent:
    """The delivery's event if `headers` sign `body` with `secret`; WebhookVerificationError
    otherwise. Pass the body exactly as it arrived, before any JSON parsing. `now` (epoch
    seconds) is for tests."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    found = {name.lower(): value for name, value in headers.items()}
    if "webhook-signature" in found:
        _check_standard(raw, found, secret, tolerance, time.time() if now is None else now)
    elif "x-castimer-signature" in found and allow_legacy_signature:
        _check_castimer(raw, found, secret)
    elif "x-castimer-signature" in found:
        raise WebhookVerificationError(
            "no webhook-signature header: Castimer sends it with every delivery, and only it "
            "carries a timestamp (a delivery without it may be a replay); pass "
            "allow_legacy_signature=True to accept X-Castimer-Signature alone")
    else:
        raise WebhookVerificationError("no webhook-signature or X-Castimer-Signature header: "
                                       "not a Castimer delivery")
    try:
        event = WebhookEvent.from_json(json.loads(raw))
    except ValueError:
        raise WebhookVerificationError("the signed body is not JSON") from None
    event.delivery_id = found.get("webhook-id") or found.get("x-castimer-delivery")
    return event


def _check_castimer(raw: bytes, headers: dict[str, str], secret: str) -> None:
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    # During a rotation the previous secret signs X-Castimer-Signature-Previous.
    given = [headers.get("x-castimer-signature", ""),
             headers.get("x-castimer-signature-previous", "")]
    if not any(hmac.compare_digest(expected.encode(), g.encode()) for g in given if g):
        raise WebhookVerificationError("X-Castimer-Signature does not match the body: wrong "
                                       "secret, or the body was changed (verify the raw bytes)")


def _check_standard(raw: bytes, headers: dict[str, str], secret: str, tolerance: float,
                    now: float) -> None:
    delivery_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not delivery_id or not re.fullmatch(r"[0-9]{1,12}", stamp):  # ASCII digits only
        raise WebhookVerificationError("webhook-id and webhook-timestamp (epoch seconds) are "
                                       "required with webhook-signature")
    if abs(now - int(stamp)) > tolerance:
        raise WebhookVerificationError(f"webhook-timestamp {stamp} is more than {tolerance:g} s "
                                       "from now: a stale or replayed delivery")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "==")
    except binascii.Error:
        raise WebhookVerificationError("the secret is not a whsec_… signing secret") from None
    message = f"{delivery_id}.{stamp}.".encode() + raw
    expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    for signature in headers["webhook-signature"].split():
        version, _, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return
    raise WebhookVerificationError("webhook-signature does not match: wrong secret, or the "
                                   "body was changed (verify the raw bytes)")
