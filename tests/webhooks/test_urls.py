"""Webhook URLs: literal private addresses, in every encoding, are refused when set."""

from __future__ import annotations

import pytest

from server.timers import TimerError
from server.webhooks.urls import check_url

UNSAFE = ["https://127.0.0.1/h", "https://[::1]/h", "https://0.0.0.0/h", "https://10.0.0.1/h",
          "https://169.254.169.254/latest/meta-data", "https://[::ffff:127.0.0.1]/h",
          "https://2130706433/h", "https://0177.0.0.1/h", "https://0x7f.1/h",
          "https://100.64.0.1/h", "https://192.168.1.10:8443/h", "https://[fe80::1]/h",
          "https://224.0.0.1/h", "https://[::]/h", "https://localhost/h",
          "https://api.localhost/h", "https://[2002:7f00:1::]/h", "https://240.0.0.1/h",
          # IPv6 forms that carry a private IPv4 address: NAT64 (both prefixes), IPv4-compatible,
          # IPv4-translated
          "https://[64:ff9b::a00:1]/h", "https://[64:ff9b:1::a00:1]/h", "https://[::7f00:1]/h",
          "https://[::ffff:0:7f00:1]/h"]


@pytest.mark.parametrize("url", UNSAFE)
def test_private_and_reserved_literals_are_refused(url):
    with pytest.raises(TimerError, match="only public hosts") as refused:
        check_url(url, allow_private=False)
    assert refused.value.param == "webhook_url"


@pytest.mark.parametrize("url", UNSAFE[:6])
def test_allowed_when_private_targets_are_allowed(url):
    assert check_url(url.replace("https", "http"), allow_private=True)


@pytest.mark.parametrize("url", ["https://example.com/hooks", "https://93.184.215.14/h",
                                 "https://[2606:4700::6810:84e5]/h", "https://hooks.zapier.com"
                                 "/hooks/catch/1/abc", "https://0x7f.example.com/h",
                                 "https://[64:ff9b::808:808]/h"])
def test_public_targets_pass(url):
    assert check_url(url, allow_private=False) == url


@pytest.mark.parametrize("url", ["https://\u2603.net/h", "https://xn--a.com/h"])
def test_hosts_the_client_cannot_encode_are_refused_when_set(url):
    with pytest.raises(TimerError, match="invalid host name"):
        check_url(url, allow_private=False)
