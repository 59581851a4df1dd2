"""Webhook bodies and signatures: verified the ways receivers verify them — our own helper, the
`standardwebhooks` package from PyPI, and Node.js running the reference's snippet."""

from __future__ import annotations

import json
import subprocess

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from server import ids, timers
from server.commit import event_body
from server.webhooks.signing import headers, signed_body, verify_signature

T0 = 1_800_000_000_000
TITLES = ["Flash Sale Countdown", "Fête de la musique 🎉", 'He said "go"', "back\\slash",
          "two\nlines\tand\rreturns", "控え室 — 残り時間", "\u2028line separator\u2029",
          "nul\u0000and\u001fcontrol", "emoji 👩🏽‍💻 zwj", "<img src=x onerror=alert(1)>"]


def delivery_body(title: str) -> bytes:
    timer = timers.create("tmr_x", "acct_x", {"type": "countdown", "duration": 5,
                                              "title": title}, T0).timer
    assert timer is not None
    data = {"state": "completed", "duration": 5, "actual_duration": 5, "remaining": 0,
            "started_at": timers.iso(T0), "completed_at": timers.iso(T0 + 5000)}
    return event_body("timer.completed", ids.event_id(), T0 + 5000, timer, data)


@pytest.mark.parametrize("title", TITLES)
def test_both_castimer_signatures_verify(title):
    secret = ids.webhook_secret()
    body = signed_body(delivery_body(title), secret)
    sent = headers("dlv_1", "timer.completed", body, [secret], T0 // 1000)
    assert verify_signature(body, sent["X-Castimer-Signature"], secret)
    assert not verify_signature(body + b" ", sent["X-Castimer-Signature"], secret)
    assert not verify_signature(body, sent["X-Castimer-Signature"], ids.webhook_secret())
    parsed = json.loads(body)
    assert list(parsed) == ["id", "event", "timestamp", "timer_id", "title", "type", "data",
                            "signature"]
    assert parsed["title"] == title
    field = parsed.pop("signature")
    without = body[:body.rindex(b',"signature"')] + b"}"
    assert verify_signature(without, field, secret)


@pytest.mark.parametrize("title", TITLES[:3])
def test_standard_webhooks_headers_verify_with_the_package_also_during_rotation(title):
    import time

    old, new = ids.webhook_secret(), ids.webhook_secret()
    body = signed_body(delivery_body(title), new)
    sent = headers("dlv_2", "timer.completed", body, [new, old], int(time.time()))
    assert sent["webhook-id"] == "dlv_2"
    for secret in (new, old):  # a receiver on either secret accepts it
        assert Webhook(secret).verify(body, sent)["title"] == title
    with pytest.raises(WebhookVerificationError):
        Webhook(ids.webhook_secret()).verify(body, sent)


NODE_CHECK = r"""
const crypto = require('crypto');
let input = '';
process.stdin.on('data', c => input += c).on('end', () => {
  const {body, header, secret} = JSON.parse(input);
  // The reference's snippet, as published: it re-serialises the parsed body.
  function verifyWebhook(payload, signature, secret) {
    const expected = crypto.createHmac('sha256', secret).update(JSON.stringify(payload))
      .digest('hex');
    return `sha256=${expected}` === signature;
  }
  const same = JSON.stringify(JSON.parse(body)) === body;
  process.stdout.write(JSON.stringify({same, verified: verifyWebhook(JSON.parse(body), header,
                                                                     secret)}));
});
"""


def test_the_body_is_what_javascript_re_serialises_and_the_reference_snippet_verifies():
    secret = ids.webhook_secret()
    for title in TITLES:
        body = signed_body(delivery_body(title), secret)
        sent = headers("dlv_3", "timer.completed", body, [secret], T0 // 1000)
        answer = subprocess.run(
            ["node", "-e", NODE_CHECK], check=True, capture_output=True, timeout=30,
            input=json.dumps({"body": body.decode(), "header": sent["X-Castimer-Signature"],
                              "secret": secret}).encode())
        assert json.loads(answer.stdout) == {"same": True, "verified": True}, title
