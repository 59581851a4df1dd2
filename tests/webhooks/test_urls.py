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


#: The IANA special-purpose registries' ranges that are not globally reachable (and the
#: deprecated site-local fec0::/10), each by its first and last address: `is_global` of some
#: Python versions calls several of them global.
NOT_GLOBAL = {
    "fec0::/10": "site-local (deprecated)", "::1/128": "loopback", "::/128": "unspecified",
    "::ffff:0:0/96": "IPv4-mapped", "64:ff9b:1::/48": "local-use IPv4/IPv6 translation",
    "64:ff9b:1::808:808/128": "local-use translation of a public IPv4",
    "100::/64": "discard-only", "100:0:0:1::/64": "dummy prefix", "2001::/23": "IETF protocol "
    "assignments", "2001::/32": "Teredo", "2001:2::/48": "benchmarking", "2001:10::/28":
    "ORCHID", "2001:db8::/32": "documentation", "3fff::/20": "documentation",
    "5f00::/16": "segment routing SIDs", "fc00::/7": "unique local", "fe80::/10": "link-local",
    "2002:a00::/24": "6to4 of 10/8", "2002:c0a8::/32": "6to4 of 192.168/16",
    "192.0.0.0/24": "IETF protocol assignments", "192.0.0.8/32": "dummy address",
    "192.88.99.0/24": "6to4 relay anycast (deprecated)", "192.0.2.0/24": "documentation",
    "198.18.0.0/15": "benchmarking", "198.51.100.0/24": "documentation",
    "203.0.113.0/24": "documentation", "240.0.0.0/4": "reserved", "100.64.0.0/10": "shared",
}


def _ends(network: str) -> list[str]:
    import ipaddress

    net = ipaddress.ip_network(network)
    return [str(net[0]), str(net[-1])]


@pytest.mark.parametrize(("address", "range_"), [
    (address, f"{network} {name}") for network, name in NOT_GLOBAL.items()
    for address in _ends(network)])
def test_special_purpose_addresses_are_refused(address, range_):
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(TimerError, match="only public hosts"):
        check_url(f"https://{host}/h", allow_private=False)


@pytest.mark.parametrize("address", ["2001:4860:4860::8888", "2a00:1450:4001::1",
                                     "2002:808:808::1", "2600::1", "1.1.1.1"])
def test_global_neighbours_of_special_ranges_pass(address):
    host = f"[{address}]" if ":" in address else address
    assert check_url(f"https://{host}/h", allow_private=False)
