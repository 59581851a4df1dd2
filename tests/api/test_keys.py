"""API keys over the API: made (shown once), listed by prefix with last use, revoked at once."""

from __future__ import annotations

from server.accounts import hash_key
from tests.api.test_errors import error_of
from tests.servers import client


def test_a_key_made_through_the_api_works_and_is_shown_only_then(server, api, key) -> None:
    made = api.post("/keys")
    assert made.status_code == 201, made.text
    new = made.json()
    assert new["key"].startswith("ck_live_") and new["key"].startswith(new["prefix"])
    assert new["current"] is False and new["revoked_at"] is None
    with client(server, new["key"]) as second:
        assert second.get("/account").status_code == 200
        listed = second.get("/keys").json()["data"]
    assert [k["id"] for k in listed][-1] == new["id"]
    assert {k["id"]: k["current"] for k in listed}[new["id"]] is True
    assert listed[-1]["last_used_at"] is not None
    shown = api.get("/keys").text
    for secret in (key, new["key"], hash_key(key), hash_key(new["key"])):
        assert secret not in shown
    assert key[:16] in shown and new["prefix"] in shown


def test_a_revoked_key_gets_401_at_once_and_other_accounts_keys_are_out_of_reach(
        server, api, key, stranger_key) -> None:
    spare = api.post("/keys").json()
    with client(server, spare["key"]) as spare_api:
        assert spare_api.get("/timers").status_code == 200
        revoked = api.delete(f"/keys/{spare['id']}")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] is not None
        error_of(spare_api.get("/timers"), 401, "authentication_error",
                 says="this API key has been revoked")
    listed = {k["id"]: k for k in api.get("/keys").json()["data"]}
    assert listed[spare["id"]]["revoked_at"] is not None

    with client(server, stranger_key) as stranger:
        theirs = stranger.get("/keys").json()["data"]
        assert spare["id"] not in {k["id"] for k in theirs}
        error_of(stranger.delete(f"/keys/{spare['id']}"), 404, "not_found", "id")
        error_of(api.delete(f"/keys/{theirs[0]['id']}"), 404, "not_found", "id",
                 says="no API key")
        assert stranger.get("/timers").status_code == 200


def test_a_key_can_revoke_itself(server, api) -> None:
    own = [k for k in api.get("/keys").json()["data"] if k["current"]]
    assert len(own) == 1
    assert api.delete(f"/keys/{own[0]['id']}").status_code == 200
    error_of(api.get("/keys"), 401, "authentication_error", says="revoked")


def test_making_a_key_takes_no_fields(api) -> None:
    error_of(api.post("/keys", json={"plan": "enterprise"}), 400, "invalid_request", "plan",
             says="unknown field 'plan'")
