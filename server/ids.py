"""Random, unguessable identifiers: a product prefix and 128 bits of randomness in base62."""

import base64
import secrets

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


def new_id(prefix: str, bits: int = 128) -> str:
    """`prefix` followed by `bits` of randomness (22 base62 digits for 128 bits)."""
    width = -(-bits * 1000 // 5954)  # log2(62) ≈ 5.954, so this many digits hold `bits`
    return prefix + _base62(secrets.randbits(bits), width)


def timer_id() -> str:
    return new_id("tmr_")


def event_id() -> str:
    return new_id("evt_")


def delivery_id() -> str:
    return new_id("dlv_")


def account_id() -> str:
    return new_id("acct_")


def control_token() -> str:
    return new_id("ctl_", 192)


def api_key() -> str:
    return new_id("ck_live_", 192)


def webhook_secret() -> str:
    # Standard Webhooks: the part after `whsec_` is base64; 24 random bytes encode to 32 chars.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
