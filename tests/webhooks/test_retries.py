"""The retry schedule as a table: (attempts so far, answer) → (status, next due)."""

from __future__ import annotations

import pytest

from server.webhooks.retries import (
    DEFAULT_SCHEDULE,
    next_step,
    parse_schedule,
    retry_after_s,
)

NOW = 1_800_000_000_000


@pytest.mark.parametrize(("attempts", "code", "retry_after", "expected"), [
    (1, 200, None, ("succeeded", None)),
    (1, 204, None, ("succeeded", None)),
    (5, 299, None, ("succeeded", None)),
    (1, 500, None, ("pending", NOW + 60_000)),
    (2, None, None, ("pending", NOW + 300_000)),  # no answer at all
    (3, 302, None, ("pending", NOW + 1_800_000)),  # redirects are failures
    (4, 404, None, ("pending", NOW + 7_200_000)),
    (5, 500, None, ("failed", None)),  # five attempts in all
    (1, 410, None, ("cancelled", None)),
    (1, 429, 120, ("pending", NOW + 120_000)),  # Retry-After pushes later …
    (1, 503, 5, ("pending", NOW + 60_000)),  # … never sooner
    (1, 500, 600, ("pending", NOW + 60_000)),  # only on 429 and 503
    (1, 429, 10**9, ("pending", NOW + 86_400_000)),  # and within a day
    (5, 429, 30, ("failed", None)),
])
def test_next_step(attempts, code, retry_after, expected):
    assert next_step(attempts, code, retry_after, NOW, DEFAULT_SCHEDULE) == expected


def test_parse_schedule():
    assert parse_schedule("0,60,300,1800,7200") == DEFAULT_SCHEDULE
    assert parse_schedule("0, 0.5") == (0.0, 0.5)
    for bad in ("", "1,2", "0,x", "0,-1", "0,100000"):
        with pytest.raises(ValueError, match="CASTIMER_WEBHOOK_RETRY_SCHEDULE"):
            parse_schedule(bad)


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("120", 120.0), (" 7 ", 7.0), ("soon", None), ("-5", None),
    ("Fri, 15 Jan 2027 08:00:30 GMT", 30.0),  # NOW is 2027-01-15T08:00:00Z
    ("Fri, 15 Jan 2027 07:00:00 GMT", 0.0),
])
def test_retry_after(header, expected):
    assert retry_after_s(header, NOW) == expected
