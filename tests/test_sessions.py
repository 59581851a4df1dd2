"""The dashboard's session over plain HTTP: signing in makes an HttpOnly, SameSite=Strict
cookie that names the key without holding it; the API takes it only from this server's own
pages (Origin and CSRF token), with the same limits and errors; revoking the key ends it."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from server.accounts import hash_key
from tests.api.test_errors import error_of
from tests.servers import Server, client

FOREIGN = "http://evil.example"


def sign_in_form(http: httpx.Client) -> str:
    page = http.get("/dashboard")
    assert page.status_code == 200 and "castimer_sign_in" in http.cookies
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def sign_in(http: httpx.Client, key: str, origin: str) -> httpx.Response:
    csrf = sign_in_form(http)
    return http.post("/dashboard/sign-in", data={"key": key, "csrf": csrf},
                     headers={"Origin": origin})


def page_csrf(http: httpx.Client) -> str:
    found = re.search(r'"csrf": ?"([^"]+)"', http.get("/dashboard").text)
    assert found
    return found.group(1)


@pytest.fixture
def browser_like(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, timeout=10) as http:
        yield http


@pytest.fixture
def session(server: Server, key: str, browser_like: httpx.Client) -> httpx.Client:
    """A client signed in with `key`, as the dashboard's page would be."""
    signed_in = sign_in(browser_like, key, server.base)
    assert signed_in.status_code == 303, signed_in.text
    return browser_like


def test_signing_in_sets_a_strict_httponly_cookie_that_does_not_hold_the_key(
        server: Server, key: str, browser_like: httpx.Client) -> None:
    signed_in = sign_in(browser_like, key, server.base)
    assert signed_in.status_code == 303 and signed_in.headers["location"].startswith("/dashboard")
    [cookie] = [c for c in signed_in.headers.get_list("set-cookie")
                if c.startswith("castimer_session=")]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http here; see the https test below
    value = browser_like.cookies["castimer_session"]
    body = value.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    # It names the key by its digest and holds nothing else of it.
    assert set(payload) == {"k", "c", "t"} and payload["k"] == hash_key(key)
    assert key not in value and key[8:] not in json.dumps(payload)
    page = browser_like.get("/dashboard")
    assert 'id="timer-list"' in page.text and key not in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    # Neither the dashboard nor its sign-in page may be framed (clickjacking).
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    sign_in_page = httpx.get(f"{server.base}/dashboard", timeout=10)
    assert "frame-ancestors 'none'" in sign_in_page.headers["content-security-policy"]


def test_the_sign_in_page_speaks_the_language_asked_for(browser_like: httpx.Client) -> None:
    page = browser_like.get("/dashboard", headers={"Accept-Language": "fr-CH, fr;q=0.9"})
    assert '<html lang="fr">' in page.text and "Se connecter" in page.text
    assert 'action="/dashboard/sign-in?lang=fr"' in page.text
    assert "Anmelden" in browser_like.get("/dashboard?lang=de").text


def test_behind_https_the_cookie_is_secure(server: Server, key: str,
                                           browser_like: httpx.Client) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a TLS-terminating proxy.
    https = {"X-Forwarded-Proto": "https"}
    page = browser_like.get("/dashboard", headers=https)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    origin = server.base.replace("http://", "https://")
    # The sign-in form's cookie is Secure as well: httpx would not send it over http.
    [form_cookie] = [c.split(";")[0] for c in page.headers.get_list("set-cookie")
                     if c.startswith("__Host-castimer_sign_in=")]
    signed_in = browser_like.post("/dashboard/sign-in", data={"key": key, "csrf": csrf.group(1)},
                                  headers={**https, "Origin": origin, "Cookie": form_cookie})
    assert signed_in.status_code == 303, signed_in.text
    # __Host-: browsers take it only from this host, Secure, for the whole path, so a sibling
    # subdomain cannot plant a session of its own choosing.
    [cookie] = [c for c in signed_in.headers.get_list("set-cookie")
                if c.startswith("__Host-castimer_session=")]
    assert {"secure", "path=/"} <= {part.strip().lower() for part in cookie.split(";")}
    value = cookie.split(";")[0].split("=", 1)[1]
    own = browser_like.get("/api/v1/account", headers={
        **https, "Cookie": f"__Host-castimer_session={value}"})
    assert own.status_code == 200
    planted = browser_like.get("/api/v1/account", headers={
        **https, "Cookie": f"castimer_session={value}"})
    assert planted.status_code == 401  # the unprefixed name counts only over plain http


def test_the_api_takes_the_session_from_this_servers_pages(server: Server, key: str,
                                                           session: httpx.Client) -> None:
    csrf = page_csrf(session)
    listed = session.get("/api/v1/timers")
    assert listed.status_code == 200, listed.text
    assert "RateLimit-Policy" in listed.headers
    made = session.post("/api/v1/timers", json={"type": "countdown", "duration": 60},
                        headers={"Origin": server.base, "X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    # A browser that sends Sec-Fetch-Site but no Origin (same-origin GET-like fetches).
    started = session.patch(f"/api/v1/timers/{made.json()['id']}/state",
                            json={"action": "start"},
                            headers={"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": csrf})
    assert started.status_code == 200, started.text
    with client(server, key) as api:
        assert api.get(f"/timers/{made.json()['id']}").json()["state"] == "running"
    # The same errors as with a key.
    error_of(session.post("/api/v1/timers", json={"type": "countdown", "duration": 0},
                          headers={"Origin": server.base, "X-CSRF-Token": csrf}),
             422, "validation_error", "duration")


def test_the_session_is_refused_from_other_sites_and_without_its_token(
        server: Server, session: httpx.Client) -> None:
    csrf = page_csrf(session)
    body = {"type": "countdown", "duration": 60}
    refused = [
        session.post("/api/v1/timers", json=body,
                     headers={"Origin": FOREIGN, "X-CSRF-Token": csrf}),
        session.post("/api/v1/timers", json=body, headers={"Origin": "null",
                                                           "X-CSRF-Token": csrf}),
        session.post("/api/v1/timers", json=body, headers={"X-CSRF-Token": csrf}),
        session.post("/api/v1/timers", json=body,
                     headers={"Sec-Fetch-Site": "same-site", "X-CSRF-Token": csrf}),
        session.post("/api/v1/timers", json=body, headers={"Origin": server.base}),
        session.post("/api/v1/timers", json=body,
                     headers={"Origin": server.base, "X-CSRF-Token": csrf + "x"}),
        session.get("/api/v1/account", headers={"Sec-Fetch-Site": "cross-site"}),
        session.get("/api/v1/account", headers={"Origin": FOREIGN}),
    ]
    for response in refused:
        error_of(response, 403, "forbidden")
        assert "webhook_secret" not in response.text
    with_foreign_origin = refused[0].json()["error"]["message"]
    assert FOREIGN in with_foreign_origin and "own pages" in with_foreign_origin
    assert "X-CSRF-Token" in refused[4].json()["error"]["message"]
    assert session.get("/api/v1/timers").json()["data"] == []  # nothing was made


def test_a_session_cookie_signed_elsewhere_or_tampered_with_is_refused(
        server: Server, session: httpx.Client) -> None:
    value = session.cookies["castimer_session"]
    body, _, mac = value.partition(".")
    for forged in (body + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"),
                   body[:-2] + "." + mac, "garbage", body):
        session.cookies.set("castimer_session", forged)
        error_of(session.get("/api/v1/account"), 401, "authentication_error",
                 says="sign in again")


def test_revoking_the_key_ends_its_sessions_at_once(server: Server, key: str,
                                                    session: httpx.Client) -> None:
    csrf = page_csrf(session)
    assert session.get("/api/v1/account").status_code == 200
    mine = [k for k in session.get("/api/v1/keys").json()["data"] if k["current"]]
    revoked = session.delete(f"/api/v1/keys/{mine[0]['id']}",
                             headers={"Origin": server.base, "X-CSRF-Token": csrf})
    assert revoked.status_code == 200, revoked.text
    error_of(session.get("/api/v1/account"), 401, "authentication_error", says="revoked")
    with client(server, key) as api:
        error_of(api.get("/account"), 401, "authentication_error", says="revoked")
    page = session.get("/dashboard")
    assert 'name="key"' in page.text and "Your session has ended" in page.text
    assert "castimer_session" not in session.cookies  # the page cleared it


def test_signing_in_refuses_other_sites_missing_tokens_and_bad_keys(
        server: Server, key: str, browser_like: httpx.Client) -> None:
    foreign = sign_in(browser_like, key, FOREIGN)
    assert foreign.status_code == 403 and "castimer_session" not in browser_like.cookies
    csrf = sign_in_form(browser_like)
    no_token = browser_like.post("/dashboard/sign-in", data={"key": key},
                                 headers={"Origin": server.base})
    assert no_token.status_code == 403 and "castimer_session" not in browser_like.cookies
    browser_like.cookies.delete("castimer_sign_in")
    no_cookie = browser_like.post("/dashboard/sign-in", data={"key": key, "csrf": csrf},
                                  headers={"Origin": server.base})
    assert no_cookie.status_code == 403 and "castimer_session" not in browser_like.cookies
    wrong = sign_in(browser_like, key[:-3] + "abc", server.base)
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert "castimer_session" not in browser_like.cookies


def test_signing_out_needs_the_pages_token_and_ends_the_session(
        server: Server, session: httpx.Client) -> None:
    csrf = page_csrf(session)
    forged = session.post("/dashboard/sign-out", data={"csrf": "guess"},
                          headers={"Origin": server.base})
    assert forged.status_code == 403
    assert session.get("/api/v1/account").status_code == 200
    out = session.post("/dashboard/sign-out", data={"csrf": csrf},
                       headers={"Origin": server.base})
    assert out.status_code == 303
    assert "castimer_session" not in session.cookies
    error_of(session.get("/api/v1/account"), 401, "authentication_error", says="missing")


@pytest.mark.parametrize("path", ["/dashboard/sign-in", "/dashboard/sign-out"])
def test_forms_no_page_sends_are_client_errors_not_500(
        server: Server, session: httpx.Client, path: str) -> None:
    csrf = page_csrf(session)
    many = {"csrf": csrf, **{f"field{n}": "x" for n in range(11)}}
    too_many = session.post(path, data=many, headers={"Origin": server.base})
    assert too_many.status_code == 400 and "at most 10 fields" in too_many.text
    too_large = session.post(path, data={"csrf": csrf, "key": "k" * 5000},
                             headers={"Origin": server.base})
    assert too_large.status_code == 413 and "at most 4096 bytes" in too_large.text
    assert session.get("/api/v1/account").status_code == 200


def test_with_a_public_https_url_the_cookie_is_secure_even_over_plain_http(tmp_path) -> None:
    """Behind a proxy that ends TLS but whose forwarded headers are not trusted, the requests
    arrive as plain http; CASTIMER_PUBLIC_URL says the site is https."""
    from tests.conftest import sqlite_url

    running = Server(sqlite_url(tmp_path), tmp_path,
                     env={"CASTIMER_PUBLIC_URL": "https://timers.example.com"}).start()
    try:
        page = httpx.get(f"{running.base}/dashboard", timeout=10)
        [cookie] = [c for c in page.headers.get_list("set-cookie")
                    if c.startswith("__Host-castimer_sign_in=")]
        assert {"secure", "path=/", "httponly"} <= {p.strip().lower() for p in cookie.split(";")}
    finally:
        running.stop()


def test_api_answers_are_never_stored_by_caches(server: Server, key: str,
                                                session: httpx.Client) -> None:
    assert session.get("/api/v1/account").headers["cache-control"] == "no-store"
    with client(server, key) as api:
        own = api.get("/account")
        assert own.status_code == 200 and own.headers["cache-control"] == "no-store"
        missing = api.get("/timers/tmr_none")
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    with client(server, None) as anonymous:
        refused = anonymous.get("/account")
        assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"
