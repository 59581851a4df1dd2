"""Random, unguessable identifiers: a product prefix and 128 bits of randomness in base62.

What an account owns (its timers and rundowns, and their webhook deliveries) carries the
account's *home* in the first two digits after the prefix, so that a store can tell an
object's shard from its id alone, without a lookup (`home_of`; the Redis engine's shard is
the home modulo its shard count). An account's own home is drawn at random, evenly."""

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


#: How many homes there are: two base62 digits.
HOMES = 62 * 62
_DIGIT = {c: n for n, c in enumerate(_ALPHABET)}


def home_of(object_id: str) -> int:
    """The home an id carries (0 ≤ home < HOMES): the two digits after its prefix. A short id
    (made by hand, as tests and benchmarks do: `tmr_1`) has home 0."""
    start = object_id.find("_") + 1
    if not start or len(object_id) - start < 22:
        return 0
    first, second = _DIGIT.get(object_id[start], -1), _DIGIT.get(object_id[start + 1], -1)
    return first * 62 + second if first >= 0 and second >= 0 else 0


def owned_id(prefix: str, owner_id: str | None) -> str:
    """A new id for something `owner_id` (an account) owns: the owner's home, then 116 random
    bits (still far beyond guessing). Without an owner, a random home."""
    if owner_id is None:
        return new_id(prefix)
    return prefix + _base62(home_of(owner_id), 2) + _base62(secrets.randbits(116), 20)


def timer_id(account_id: str | None = None) -> str:
    return owned_id("tmr_", account_id)


def rundown_id(account_id: str | None = None) -> str:
    return owned_id("rnd_", account_id)


def event_id() -> str:
    return new_id("evt_")


def delivery_id(object_id: str | None = None) -> str:
    """A delivery of an event of `object_id` (a timer or a rundown): it lives where that
    object lives, so it carries the object's home."""
    return owned_id("dlv_", object_id)


def account_id() -> str:
    """A new account id, its home drawn evenly (the first digits of 128 random bits would not
    be: 22 base62 digits hold more than 128 bits, so the first is only ever 0 to 7)."""
    return "acct_" + _base62(secrets.randbelow(HOMES), 2) + _base62(secrets.randbits(116), 20)


def control_token() -> str:
    return new_id("ctl_", 192)


def api_key() -> str:
    return new_id("ck_live_", 192)


def webhook_secret() -> str:
    # Standard Webhooks: the part after `whsec_` is base64; 24 random bytes encode to 32 chars.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
